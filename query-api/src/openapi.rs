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
    for (path, summary) in [("/healthz", "liveness"), ("/readyz", "the projection store answers"), ("/metrics", "Prometheus metrics"), ("/openapi.json", "this document")] {
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
