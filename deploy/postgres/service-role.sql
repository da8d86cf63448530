-- The login role the query API connects as: `tandemu_service`, a member of `tandemu_app` (created
-- by migrations/, NOLOGIN, owns nothing, cannot bypass row-level security). `tandemu query-api`
-- refuses a role that is a superuser, has BYPASSRLS, owns a table or is not a member of
-- tandemu_app; this script makes one that passes, and is safe to run again (it resets the
-- password, so a rotated POSTGRES_SERVICE_PASSWORD takes effect on the next `up`).
--
-- Run by docker-compose.yml's one-shot `postgres-service-role`, after `migrate` (tandemu_app must
-- exist), as the schema owner:
--   SERVICE_ROLE_PASSWORD=... psql -v ON_ERROR_STOP=1 -f service-role.sql
-- The password comes from the environment (psql's \getenv, PostgreSQL 15+) so it never appears on
-- a command line. The role name is also in docker-compose.yml's DATABASE_URL.

\set ON_ERROR_STOP on
\getenv service_password SERVICE_ROLE_PASSWORD
\if :{?service_password}
\else
    \echo 'service-role.sql: SERVICE_ROLE_PASSWORD is not set'
    SELECT 1 / 0 AS service_role_password_is_not_set;
\endif
SELECT :'service_password' = '' AS service_password_empty \gset
\if :service_password_empty
    \echo 'service-role.sql: SERVICE_ROLE_PASSWORD is empty'
    SELECT 1 / 0 AS service_role_password_is_empty;
\endif

SELECT 'CREATE ROLE tandemu_service LOGIN'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tandemu_service') \gexec

ALTER ROLE tandemu_service WITH LOGIN INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'service_password';

GRANT tandemu_app TO tandemu_service;
