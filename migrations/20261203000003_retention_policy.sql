-- The operator's half of the retention policy (processor/src/retention.rs): a default per table
-- and the bounds organizations' overrides must stay within. Not tenant data: one row per table,
-- written by the operator (`tandemu retention set`, connecting as the owner of these tables) and
-- only read by the service.

CREATE TABLE retention_defaults (
    table_name text PRIMARY KEY CHECK (table_name IN ('sessions', 'friction', 'completion', 'rollups')),
    days       integer NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE retention_bounds (
    -- One row at most.
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    min_days   integer NOT NULL,
    max_days   integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (1 <= min_days AND min_days <= max_days AND max_days <= 3650)
);

GRANT SELECT ON retention_defaults, retention_bounds TO tandemu_app;

-- The processor stamps every organization's rows with its override, so it reads them all: the one
-- cross-tenant read of the service, and only of (org, table, days). It runs with the definer's
-- rights through a policy that admits the definer alone; the service role still sees no row of
-- retention_settings without its tenant set.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY definer_reads_all ON retention_settings FOR SELECT TO %I USING (true)', current_user);
END
$$;

CREATE FUNCTION tandemu_retention_overrides() RETURNS TABLE (org_id uuid, table_name text, days integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT org_id, table_name, days FROM public.retention_settings $$;

REVOKE ALL ON FUNCTION tandemu_retention_overrides() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tandemu_retention_overrides() TO tandemu_app;
