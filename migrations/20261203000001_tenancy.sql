-- Tenancy: organizations and their members.
--
-- Tenant isolation is enforced by PostgreSQL itself, so a bug in application code cannot leak
-- rows across organizations:
--   * the service runs as a member of `tandemu_app`, which owns nothing and cannot bypass RLS;
--   * every tenant table has ENABLE and FORCE ROW LEVEL SECURITY;
--   * every transaction sets the tenant with set_config('app.current_tenant', $1, true);
--   * an unset tenant reads as NULL (pooled connections keep '' after a transaction), which
--     matches no row, so a query without a tenant sees nothing instead of everything.

DO $$
BEGIN
    CREATE ROLE tandemu_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION
    -- Roles are cluster-wide: another database of the cluster may have created it already.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE FUNCTION tandemu_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid $$;

CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE member_role AS ENUM ('owner', 'admin', 'member');

CREATE TABLE memberships (
    org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    email      text NOT NULL,
    role       member_role NOT NULL DEFAULT 'member',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id),
    UNIQUE (org_id, email)
);

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = tandemu_current_tenant())
    WITH CHECK (id = tandemu_current_tenant());

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
    USING (org_id = tandemu_current_tenant())
    WITH CHECK (org_id = tandemu_current_tenant());

GRANT USAGE ON SCHEMA public TO tandemu_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, memberships TO tandemu_app;
GRANT EXECUTE ON FUNCTION tandemu_current_tenant() TO tandemu_app;
