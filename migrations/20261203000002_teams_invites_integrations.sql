-- The rest of the tenancy data: teams and their members, invites, integrations (tokens stored
-- encrypted by the application, AES-256-GCM under ENCRYPTION_KEY), retention overrides and
-- revoked token ids. Every table carries org_id and the same row-level security as the first
-- migration: ENABLE + FORCE, one policy reading tandemu_current_tenant() for both USING and
-- WITH CHECK, privileges for tandemu_app only.

CREATE TABLE teams (
    org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    org_id  uuid NOT NULL,
    team_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (org_id, team_id, user_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);

CREATE TABLE invites (
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    email       text NOT NULL,
    role        member_role NOT NULL DEFAULT 'member',
    -- Only a digest of the invite code is kept: the code itself is shown once, when issued.
    code_sha256 bytea NOT NULL,
    invited_by  uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);

CREATE TABLE integrations (
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    provider     text NOT NULL CHECK (provider IN ('jira', 'linear', 'github', 'gitlab', 'slack')),
    scope        text NOT NULL DEFAULT '',
    -- AES-256-GCM: 12-byte nonce, then ciphertext and tag. Never returned by the API.
    token_nonce  bytea NOT NULL CHECK (length(token_nonce) = 12),
    token_cipher bytea NOT NULL,
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, scope)
);

CREATE TABLE retention_settings (
    org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    table_name text NOT NULL CHECK (table_name IN ('sessions', 'friction', 'completion', 'rollups')),
    days       integer NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_by uuid NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, table_name)
);

-- No foreign key: a revocation outlives its organization (a deleted organization's tokens stay
-- refused), and tokens of an organization not registered yet can be revoked too.
CREATE TABLE revoked_tokens (
    org_id     uuid NOT NULL,
    jti        uuid NOT NULL,
    -- When the token would have expired anyway: the row can go after that.
    expires_at timestamptz NOT NULL,
    revoked_by uuid NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, jti)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['teams', 'team_members', 'invites', 'integrations', 'retention_settings', 'revoked_tokens'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (org_id = tandemu_current_tenant()) '
                       'WITH CHECK (org_id = tandemu_current_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO tandemu_app', t);
    END LOOP;
END
$$;
