//! A user's own videos: upload (see `upload`), list, read and delete (`/api/videos*`).
//! Reads and writes the store; delete also removes the video's S3 objects.

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::AppState;

pub const DEFAULT_PAGE_SIZE: u32 = 20;

pub fn router(state: &AppState) -> Router<AppState> {
    let body_limit =
        usize::try_from(crate::upload::body_limit(state.config())).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/api/videos/upload",
            post(crate::upload::upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/videos", get(list))
        .route("/api/videos/{id}", get(read).delete(remove))
}

#[derive(Debug, Serialize)]
pub struct VideoResponse {
    pub id: Uuid,
    pub title: String,
    pub status: &'static str,
    pub failure_reason: Option<String>,
    pub original_filename: String,
    pub size_bytes: u64,
    pub content_type: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    /// The S3 key of the transformed video, once `processed`.
    pub output_key: Option<String>,
    /// How many times processing started.
    pub attempts: u32,
    /// The latest failure's reason (permanent or retryable), kept after a redrive.
    pub last_failure: Option<String>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

impl From<store::Video> for VideoResponse {
    fn from(v: store::Video) -> Self {
        VideoResponse {
            id: v.id,
            title: v.title,
            status: v.status.as_str(),
            failure_reason: v.failure_reason,
            original_filename: v.original_filename,
            size_bytes: v.size_bytes,
            content_type: v.content_type,
            created_at: v.created_at,
            updated_at: v.updated_at,
            processed_at: v.processed_at,
            output_key: v.processed_key,
            attempts: v.attempts,
            last_failure: v.last_failure,
            last_failure_at: v.last_failure_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PageResponse<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub city: Option<String>,
}

pub(crate) fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", e.body_text())
}

/// `limit` defaults to 20 and is capped at the configured maximum; 0 is refused (400
/// `invalid_query`), as the OpenAPI document's `minimum: 1` says.
pub(crate) fn page_limit(state: &AppState, limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE_SIZE) {
        0 => Err(ApiError::bad_request(
            "invalid_query",
            "limit must be at least 1",
        )),
        n => Ok(n.min(state.config().max_page_size.max(1))),
    }
}

/// A path id that is not a UUID names no video: 404, like an unknown one.
pub(crate) fn video_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)
}

async fn list(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<PageResponse<VideoResponse>>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let limit = page_limit(&state, q.limit)?;
    let offset = q.offset.unwrap_or(0);
    let page = state
        .store()
        .list_videos_by_owner(owner, limit, offset)
        .await?;
    Ok(Json(PageResponse {
        items: page.items.into_iter().map(VideoResponse::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}

async fn owned(state: &AppState, owner: Uuid, raw_id: &str) -> Result<store::Video, ApiError> {
    let video = state
        .store()
        .get_video(video_id(raw_id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    if video.owner_id != owner {
        return Err(ApiError::Forbidden);
    }
    Ok(video)
}

async fn read(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<VideoResponse>, ApiError> {
    owned(&state, owner, &id).await.map(|v| Json(v.into()))
}

async fn remove(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let video = owned(&state, owner, &id).await?;
    let keys = state.store().delete_video(video.id).await?;
    // The row is gone first: a failure below leaves an orphan object (logged), never a row
    // that points at nothing.
    for key in std::iter::once(keys.source_key).chain(keys.processed_key) {
        if let Err(e) = delete_object_versions(&state, &key).await {
            tracing::error!(key, "deleting a deleted video's object: {e}");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Whether HeadObject answers 404 for `key`: no current version. (A key whose current version
/// is a delete marker answers 404 too, with its older versions still stored: only for keys
/// nothing has deleted does this mean nothing is stored.)
pub async fn object_absent(state: &AppState, key: &str) -> Result<bool, String> {
    match state
        .s3()
        .head_object()
        .bucket(state.bucket())
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(true),
        Err(e) => Err(stack::errors::describe(&e).to_string()),
    }
}

/// Remove every version (and delete marker) of `key`: the bucket is versioned, and a plain
/// DeleteObject would only hide the bytes behind a marker.
pub async fn delete_object_versions(state: &AppState, key: &str) -> Result<(), String> {
    let listed = state
        .s3()
        .list_object_versions()
        .bucket(state.bucket())
        .prefix(key)
        .send()
        .await
        .map_err(|e| stack::errors::describe(&e).to_string())?;
    let versions = listed
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| v.version_id().map(str::to_owned));
    let markers = listed
        .delete_markers()
        .iter()
        .filter(|m| m.key() == Some(key))
        .map(|m| m.version_id().map(str::to_owned));
    let mut any = false;
    for version in versions.chain(markers) {
        any = true;
        delete_version(state, key, version).await?;
    }
    if !any {
        // An unversioned bucket lists nothing here; delete the object itself.
        delete_version(state, key, None).await?;
    }
    Ok(())
}

/// Remove one version of `key` (`None`: the object itself, in an unversioned bucket).
pub async fn delete_version(
    state: &AppState,
    key: &str,
    version: Option<String>,
) -> Result<(), String> {
    state
        .s3()
        .delete_object()
        .bucket(state.bucket())
        .key(key)
        .set_version_id(version)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| stack::errors::describe(&e).to_string())
}
