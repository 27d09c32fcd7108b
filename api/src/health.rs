//! `GET /api/health` for the load balancer: pings the database and asks SQS for the task
//! queue's attributes, each within a timeout. 200 when both answer, 503 with which did not.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/health", get(health))
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub ok: bool,
    /// A short reason when not ok: `timeout`, `unreachable`, or the error class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HealthResponse {
    pub status: &'static str,
    pub database: Check,
    pub queue: Check,
}

async fn within<F>(limit: Duration, what: &str, check: F) -> Check
where
    F: Future<Output = Result<(), (String, String)>>,
{
    match tokio::time::timeout(limit, check).await {
        Ok(Ok(())) => Check {
            ok: true,
            error: None,
        },
        Ok(Err((reason, detail))) => {
            tracing::warn!("health: {what} failed: {detail}");
            Check {
                ok: false,
                error: Some(reason),
            }
        }
        Err(_) => {
            tracing::warn!("health: {what} did not answer within {limit:?}");
            Check {
                ok: false,
                error: Some("timeout".into()),
            }
        }
    }
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    let limit = state.config().health_timeout;
    let database = within(limit, "database", async {
        state.store().ping().await.map_err(|e| {
            let reason = if e.is_retryable() {
                "unavailable"
            } else {
                "error"
            };
            (reason.to_owned(), e.to_string())
        })
    });
    let queue = within(limit, "queue", async {
        let url = state.queue_url().await.map_err(|e| {
            let f = stack::errors::describe(&e);
            (reason(&f), f.to_string())
        })?;
        state
            .sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let f = stack::errors::describe(&e);
                (reason(&f), f.to_string())
            })
    });
    let (database, queue) = tokio::join!(database, queue);
    let ok = database.ok && queue.ok;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(HealthResponse {
            status: if ok { "ok" } else { "unavailable" },
            database,
            queue,
        }),
    )
}

fn reason(f: &stack::errors::AwsFailure) -> String {
    if f.unreachable {
        "unreachable".into()
    } else {
        f.class.as_str().into()
    }
}
