//! `GET /api/openapi.json`: the API described as an OpenAPI 3.0 document, written by hand
//! next to the routes (a test checks it names exactly the routes `app` serves).

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(|| async { Json(document()) }))
}

fn error(description: &str, codes: &[&str]) -> Value {
    json!({
        "description": format!("{description} (error_code: {})", codes.join(", ")),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn unauthorized() -> Value {
    error(
        "No valid access token",
        &["missing_token", "token_expired", "invalid_token"],
    )
}

fn unavailable() -> Value {
    error(
        "A dependency is down",
        &[
            "database_unavailable",
            "storage_unavailable",
            "queue_unavailable",
        ],
    )
}

/// The largest value a `u32` query parameter takes; larger numbers are refused (400).
const U32_MAX: u32 = u32::MAX;

fn limit_param() -> Value {
    json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": U32_MAX, "default": 20}, "description": "page size, at least 1; values above 100 are capped at 100"})
}

fn page_params(with_city: bool) -> Value {
    let mut params = vec![
        limit_param(),
        json!({"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": U32_MAX, "default": 0}}),
    ];
    if with_city {
        params.push(json!({"name": "city", "in": "query", "schema": {"type": "string"}, "description": "exact match on the owner's city"}));
    }
    Value::Array(params)
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

pub fn document() -> Value {
    let bearer = json!([{"bearer": []}]);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "flightdeck-api",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Upload videos to S3, queue their transform, list, vote and rank. Every error is JSON {error_code, message}, including 404 not_found for unknown paths and 405 method_not_allowed (with Allow) for a known path with another method; every response carries X-Correlation-Id (sent or generated)."
        },
        "paths": {
            "/auth/signup": {"post": {
                "summary": "Create an account",
                "requestBody": {"required": true, "content": {"application/json": {"schema": reference("Signup")}}},
                "responses": {
                    "201": ok("The new user", reference("User")),
                    "400": error("Invalid input or duplicate email", &["malformed_json", "invalid_body", "unsupported_content_type", "invalid_email", "invalid_field", "password_mismatch", "password_too_short", "email_taken"]),
                    "503": unavailable()
                }
            }},
            "/auth/login": {"post": {
                "summary": "Exchange email and password for tokens",
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["username", "password"],
                    "properties": {"username": {"type": "string", "description": "the email"}, "password": {"type": "string"}}
                }}}},
                "responses": {
                    "200": ok("Access and refresh tokens", reference("Tokens")),
                    "400": error("Not a form", &["invalid_form"]),
                    "401": error("Wrong email or password", &["invalid_credentials"]),
                    "503": unavailable()
                }
            }},
            "/auth/refresh": {"post": {
                "summary": "Exchange a refresh token for new tokens",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["refresh_token"], "properties": {"refresh_token": {"type": "string"}}
                }}}},
                "responses": {
                    "200": ok("New access and refresh tokens", reference("Tokens")),
                    "400": error("Malformed body", &["malformed_json", "invalid_body", "unsupported_content_type"]),
                    "401": error("Invalid or expired refresh token", &["invalid_token", "token_expired"])
                }
            }},
            "/api/videos/upload": {"post": {
                "summary": "Upload a video; 201 once it is stored in S3, recorded and queued",
                "security": bearer,
                "requestBody": {"required": true, "content": {"multipart/form-data": {
                    "schema": {
                        "type": "object", "required": ["video_file", "title"],
                        "properties": {
                            "video_file": {
                                "type": "string", "format": "binary",
                                "description": "The video. Its part's file name must end in .mp4, .mov or .avi (any case) and be a plain name of at most 255 bytes (x-filename-pattern: no path parts, no leading dot; besides, no control or Unicode format characters such as U+202E); the bytes must be such a container (an ISO-BMFF ftyp box for .mp4/.mov, RIFF....AVI for .avi). At most 100 MiB by default.",
                                "x-filename-pattern": "^[^./\\\\][^/\\\\]*\\.([mM][pP]4|[mM][oO][vV]|[aA][vV][iI])$"
                            },
                            "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "printable, without bidi controls; blank after trimming is refused"}
                        }
                    },
                    "encoding": {"video_file": {"contentType": "video/mp4, video/quicktime, video/x-msvideo, application/octet-stream"}}
                }}},
                "responses": {
                    "201": {
                        "description": "Stored and queued",
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "/api/videos/{video_id}"}},
                        "content": {"application/json": {"schema": reference("UploadResult")}},
                        "links": {
                            "GetVideo": {"operationId": "getVideo", "parameters": {"id": "$response.body#/video_id"}},
                            "DeleteVideo": {"operationId": "deleteVideo", "parameters": {"id": "$response.body#/video_id"}}
                        }
                    },
                    "400": error("Bad upload", &["invalid_multipart", "missing_file", "missing_title", "invalid_title", "empty_file", "invalid_filename", "unsupported_extension", "not_a_video", "duplicate_field", "unexpected_field"]),
                    "401": unauthorized(),
                    "408": error("The body arrived slower than the minimum rate (32 KiB/s over 5 s by default); nothing was stored", &["client_too_slow"]),
                    "413": error("Larger than the limit (100 MiB by default)", &["too_large"]),
                    "503": {
                        "description": "A dependency is down, or the API is at its upload capacity (server_busy: every part buffer is in use and the queue for them is full, or none came free within the wait; retry after Retry-After seconds). Nothing was stored (error_code: database_unavailable, storage_unavailable, queue_unavailable, server_busy)",
                        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "with server_busy: seconds to wait before retrying"}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                    }
                }
            }},
            "/api/videos": {"get": {
                "summary": "The caller's videos, newest first",
                "security": bearer,
                "parameters": page_params(false),
                "responses": {
                    "200": ok("A page of videos", json!({"type": "object", "properties": {
                        "items": {"type": "array", "items": reference("Video")},
                        "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}
                    }})),
                    "400": error("Bad query", &["invalid_query"]),
                    "401": unauthorized()
                }
            }},
            "/api/videos/{id}": {
                "get": {
                    "operationId": "getVideo",
                    "summary": "One of the caller's videos",
                    "security": bearer,
                    "parameters": [id_param()],
                    "responses": {
                        "200": ok("The video", reference("Video")),
                        "401": unauthorized(),
                        "403": error("Another user's video", &["forbidden"]),
                        "404": error("No such video", &["not_found"])
                    }
                },
                "delete": {
                    "operationId": "deleteVideo",
                    "summary": "Delete one of the caller's videos and its S3 objects",
                    "security": bearer,
                    "parameters": [id_param()],
                    "responses": {
                        "204": {"description": "Deleted"},
                        "401": unauthorized(),
                        "403": error("Another user's video", &["forbidden"]),
                        "404": error("No such video", &["not_found"])
                    }
                }
            },
            "/api/public/videos": {"get": {
                "summary": "Processed videos, with their votes",
                "parameters": page_params(true),
                "responses": {
                    "200": ok("A page of public videos", json!({"type": "object", "properties": {
                        "items": {"type": "array", "items": reference("PublicVideo")},
                        "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}
                    }})),
                    "400": error("Bad query", &["invalid_query"])
                }
            }},
            "/api/public/videos/{id}/vote": {"post": {
                "summary": "Vote for a processed video, once per user",
                "security": bearer,
                "parameters": [id_param()],
                "responses": {
                    "200": ok("Vote recorded", json!({"type": "object", "properties": {"video_id": {"type": "string", "format": "uuid"}, "voted": {"type": "boolean"}}})),
                    "401": unauthorized(),
                    "404": error("No such processed video", &["not_found"]),
                    "409": error("Already voted", &["already_voted"])
                }
            }},
            "/api/public/rankings": {"get": {
                "summary": "Players ranked by the votes their processed videos received",
                "parameters": [
                    {"name": "city", "in": "query", "schema": {"type": "string"}},
                    limit_param()
                ],
                "responses": {
                    "200": ok("The rankings", json!({"type": "array", "items": reference("Ranking")})),
                    "400": error("Bad query", &["invalid_query"])
                }
            }},
            "/api/health": {"get": {
                "summary": "Database and queue reachable",
                "responses": {
                    "200": ok("Healthy", reference("Health")),
                    "503": ok("A dependency is down", reference("Health"))
                }
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {}}}}
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error_code", "message"], "properties": {
                    "error_code": {"type": "string"}, "message": {"type": "string"}
                }},
                "Signup": {"type": "object", "required": ["first_name", "last_name", "email", "password1", "password2"], "properties": {
                    "first_name": {"type": "string"}, "last_name": {"type": "string"}, "email": {"type": "string", "format": "email"},
                    "password1": {"type": "string", "minLength": 8}, "password2": {"type": "string"},
                    "city": {"type": "string"}, "country": {"type": "string"}
                }},
                "User": {"type": "object", "properties": {
                    "id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
                    "first_name": {"type": "string"}, "last_name": {"type": "string"},
                    "city": {"type": "string", "nullable": true}, "country": {"type": "string", "nullable": true}
                }},
                "Tokens": {"type": "object", "properties": {
                    "access_token": {"type": "string"}, "refresh_token": {"type": "string"},
                    "token_type": {"type": "string", "enum": ["bearer"]}, "expires_in": {"type": "integer", "description": "seconds"}
                }},
                "UploadResult": {"type": "object", "properties": {
                    "video_id": {"type": "string", "format": "uuid"}, "task_id": {"type": "string", "description": "the SQS message id"}
                }},
                "Video": {"type": "object", "properties": {
                    "id": {"type": "string", "format": "uuid"}, "title": {"type": "string"},
                    "status": {"type": "string", "enum": ["queued", "processing", "processed", "failed"]},
                    "failure_reason": {"type": "string", "nullable": true},
                    "original_filename": {"type": "string"}, "size_bytes": {"type": "integer"}, "content_type": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
                    "processed_at": {"type": "string", "format": "date-time", "nullable": true},
                    "output_key": {"type": "string", "nullable": true, "description": "S3 key of the transformed video (processed/YYYY/MM/DD/<id>.mp4), set once processed"},
                    "attempts": {"type": "integer", "minimum": 0, "description": "how many times processing started (retries and redrives included)"},
                    "last_failure": {"type": "string", "nullable": true, "description": "the latest failure's reason, permanent or retryable (e.g. corrupt_input, storage_unavailable); kept after a redrive"},
                    "last_failure_at": {"type": "string", "format": "date-time", "nullable": true}
                }},
                "PublicVideo": {"type": "object", "properties": {
                    "id": {"type": "string", "format": "uuid"}, "title": {"type": "string"},
                    "owner_id": {"type": "string", "format": "uuid"}, "owner_name": {"type": "string"},
                    "city": {"type": "string", "nullable": true},
                    "processed_at": {"type": "string", "format": "date-time"}, "votes": {"type": "integer"}
                }},
                "Ranking": {"type": "object", "properties": {
                    "position": {"type": "integer"}, "user_id": {"type": "string", "format": "uuid"},
                    "player": {"type": "string"}, "city": {"type": "string", "nullable": true}, "votes": {"type": "integer"}
                }},
                "Health": {"type": "object", "properties": {
                    "status": {"type": "string", "enum": ["ok", "unavailable"]},
                    "database": reference("Check"), "queue": reference("Check")
                }},
                "Check": {"type": "object", "properties": {"ok": {"type": "boolean"}, "error": {"type": "string"}}}
            }
        }
    })
}
