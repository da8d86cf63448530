//! `/openapi.json`, generated from the same endpoint table the router is built from, so the
//! document cannot list a route that does not exist or miss one that does.

use serde_json::{Value, json};

/// One aggregate endpoint: what the router mounts and what the document describes.
pub struct Endpoint {
    pub path: &'static str,
    pub summary: &'static str,
    pub group_by: &'static [&'static str],
    /// A paged list (takes `limit` and `cursor`).
    pub list: bool,
}

/// The management endpoints: (method, path, summary, who may call it). The router mounts the
/// same list (`router.rs`); the test `openapi_matches_the_routes…` calls every one.
pub const MANAGEMENT: &[(&str, &str, &str, &str)] = &[
    ("get", "/v1/org", "The caller's organization and role", "every role"),
    ("post", "/v1/org", "Register the token's organization with the caller as first owner (body: name, email)", "an owner token, once"),
    ("delete", "/v1/org", "Delete the organization and its tenancy data", "owners"),
    ("get", "/v1/members", "Members and their roles", "every role"),
    ("put", "/v1/members/{user}", "Add a member or change a role (body: email, role)", "owners and admins; only owners make owners"),
    ("delete", "/v1/members/{user}", "Remove a member (never the last owner)", "owners and admins"),
    ("get", "/v1/teams", "Teams and their members", "every role"),
    ("post", "/v1/teams", "Create a team (body: name, members)", "owners and admins"),
    ("put", "/v1/teams/{id}", "Rename a team or set its members", "owners and admins"),
    ("delete", "/v1/teams/{id}", "Delete a team", "owners and admins"),
    ("get", "/v1/integrations", "Integrations (provider, scope; never the token)", "owners and admins"),
    ("post", "/v1/integrations", "Add an integration (body: provider, scope, token); the token is sealed with AES-256-GCM", "owners and admins"),
    ("delete", "/v1/integrations/{id}", "Remove an integration", "owners and admins"),
    ("post", "/v1/tokens", "Issue a token for a member (body: user, ttl_days)", "owners and admins"),
    ("delete", "/v1/tokens/{jti}", "Revoke a token by its id", "owners and admins; anyone for their own token"),
    ("get", "/v1/invites", "Invites and their status (pending, accepted, expired); never the codes", "owners and admins"),
    ("post", "/v1/invites", "Invite by email (body: email, role, ttl_days); the answer carries the code, once", "owners and admins; only owners invite owners"),
    ("delete", "/v1/invites/{id}", "Withdraw an invite", "owners and admins"),
    ("post", "/v1/invites/accept", "Accept an invite (body: code, ttl_days): become a member and get a token", "anyone with the code (no token)"),
    ("get", "/v1/retention", "Retention per table: the default, the organization's override, what applies, and the bounds", "owners and admins"),
    (
        "put",
        "/v1/retention",
        "Set (days) or remove (null) the organization's overrides, per table (body: {\"sessions\": 800, \"friction\": null})",
        "owners and admins",
    ),
];

fn param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

pub fn document(endpoints: &[Endpoint]) -> Value {
    let mut paths = serde_json::Map::new();
    for e in endpoints {
        let mut params = vec![
            param("from", "RFC 3339 time, inclusive", json!({"type": "string", "format": "date-time"})),
            param("to", "RFC 3339 time, exclusive", json!({"type": "string", "format": "date-time"})),
            param("user", "only this user's rows", json!({"type": "string", "format": "uuid"})),
            param("team", "only this team's members (when teams are defined)", json!({"type": "string"})),
            param("format", "json (default), csv or arrow", json!({"type": "string", "enum": ["json", "csv", "arrow"]})),
        ];
        if !e.group_by.is_empty() {
            params.push(param("group_by", &format!("default {}", e.group_by[0]), json!({"type": "string", "enum": e.group_by})));
        }
        if e.list {
            params.push(param("limit", "rows per page, 1 to 1000 (default 100)", json!({"type": "integer", "minimum": 1, "maximum": 1000})));
            params.push(param("cursor", "next_cursor of the previous page", json!({"type": "string"})));
        }
        paths.insert(
            e.path.to_owned(),
            json!({"get": {
                "summary": e.summary,
                "security": [{"bearer": []}],
                "parameters": params,
                "responses": {
                    "200": {"description": "rows", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Rows"}},
                        "text/csv": {"schema": {"type": "string"}},
                        "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}}
                    }},
                    "400": {"$ref": "#/components/responses/Error"},
                    "401": {"$ref": "#/components/responses/Error"},
                    "503": {"$ref": "#/components/responses/Error"}
                }
            }}),
        );
    }
    for (method, path, summary, who) in MANAGEMENT {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        // Accepting an invite is the one call without a token: the code is the credential.
        let security = if *path == "/v1/invites/accept" { json!([]) } else { json!([{"bearer": []}]) };
        entry[*method] = json!({
            "summary": summary,
            "description": format!("Allowed to: {who}. Others get 403."),
            "security": security,
            "responses": {
                "200": {"description": "done"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "409": {"$ref": "#/components/responses/Error"}
            }
        });
    }
    for (path, summary) in
        [("/healthz", "liveness"), ("/readyz", "the projection store answers"), ("/metrics", "Prometheus metrics"), ("/openapi.json", "this document")]
    {
        paths.insert(path.to_owned(), json!({"get": {"summary": summary, "responses": {"200": {"description": "ok"}}}}));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tandemu query API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Tenant-scoped aggregates of Claude Code telemetry. The organization is the bearer token's; no parameter can name another."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Rows": {"type": "object", "required": ["data", "next_cursor"], "properties": {
                    "data": {"type": "array", "items": {"type": "object"}},
                    "next_cursor": {"type": ["string", "null"]}
                }},
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}
                }}
            },
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
        }
    })
}
