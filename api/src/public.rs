//! The public side: processed videos (`GET /api/public/videos`), votes (one per user and
//! video) and the players' rankings by city. Reads and writes the store only.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::videos::{page_limit, query_rejection, video_id, PageQuery, PageResponse};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/public/videos", get(list))
        .route("/api/public/videos/{id}/vote", post(vote))
        .route("/api/public/rankings", get(rankings))
}

#[derive(Debug, Serialize)]
pub struct PublicVideoResponse {
    pub id: Uuid,
    pub title: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub city: Option<String>,
    pub processed_at: DateTime<Utc>,
    pub votes: u64,
}

#[derive(Debug, Serialize)]
pub struct RankingResponse {
    pub position: u32,
    pub user_id: Uuid,
    pub player: String,
    pub city: Option<String>,
    pub votes: u64,
}

#[derive(Debug, Serialize)]
pub struct VoteResponse {
    pub video_id: Uuid,
    pub voted: bool,
}

fn city(q: &PageQuery) -> Option<&str> {
    q.city.as_deref().map(str::trim).filter(|c| !c.is_empty())
}

async fn list(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<PageResponse<PublicVideoResponse>>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let limit = page_limit(&state, q.limit)?;
    let offset = q.offset.unwrap_or(0);
    let page = state.store().list_public(city(&q), limit, offset).await?;
    Ok(Json(PageResponse {
        items: page
            .items
            .into_iter()
            .map(|v| PublicVideoResponse {
                id: v.id,
                title: v.title,
                owner_id: v.owner_id,
                owner_name: format!("{} {}", v.owner_first_name, v.owner_last_name),
                city: v.city,
                processed_at: v.processed_at,
                votes: v.votes,
            })
            .collect(),
        total: page.total,
        limit,
        offset,
    }))
}

async fn vote(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<VoteResponse>, ApiError> {
    let id = video_id(&id)?;
    state.store().vote(user, id).await?;
    Ok(Json(VoteResponse {
        video_id: id,
        voted: true,
    }))
}

async fn rankings(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Vec<RankingResponse>>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let limit = page_limit(&state, q.limit)?;
    let entries = state.store().rankings(city(&q), limit).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| RankingResponse {
                position: e.position,
                user_id: e.user_id,
                player: format!("{} {}", e.first_name, e.last_name),
                city: e.city,
                votes: e.votes,
            })
            .collect(),
    ))
}
