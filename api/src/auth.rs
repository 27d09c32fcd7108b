//! Accounts and tokens: signup, login and refresh (`/auth/*`), argon2id password hashes,
//! HS256 access and refresh JWTs, and the `AuthUser` extractor that guards the other routes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as ArgonAlgorithm, Argon2, Version};
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

pub const MIN_PASSWORD_LEN: usize = 8;

/// The HS256 signing secret.
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> JwtSecret {
        JwtSecret(bytes.into())
    }

    /// 32 random bytes, for development and tests.
    pub fn random() -> JwtSecret {
        let mut bytes = vec![0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        JwtSecret(bytes)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecretError {
    #[error("FLIGHTDECK_JWT_SECRET is not set; production mode (FLIGHTDECK_ENV=production) refuses to start without it")]
    Missing,
    #[error("FLIGHTDECK_JWT_SECRET is {0} bytes; production mode needs at least 32")]
    TooShort(usize),
}

/// The secret from `FLIGHTDECK_JWT_SECRET`. In production (`FLIGHTDECK_ENV=production`) it is
/// required; otherwise a random one is made (tokens then die with the process) and the
/// second value is true so the caller can warn.
pub fn resolve_jwt_secret(
    env: Option<&str>,
    secret: Option<&str>,
) -> Result<(JwtSecret, bool), SecretError> {
    let production = env.is_some_and(|e| e.eq_ignore_ascii_case("production"));
    match secret.filter(|s| !s.is_empty()) {
        Some(s) if production && s.len() < 32 => Err(SecretError::TooShort(s.len())),
        Some(s) => Ok((JwtSecret::new(s.as_bytes()), false)),
        None if production => Err(SecretError::Missing),
        None => Ok((JwtSecret::random(), true)),
    }
}

pub(crate) struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Keys {
    pub(crate) fn new(secret: &JwtSecret) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(&secret.0),
            decoding: DecodingKey::from_secret(&secret.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub iat: u64,
    pub exp: u64,
    pub typ: TokenKind,
    pub jti: Uuid,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Sign a token for `user` that expires `ttl` after `issued_at` (seconds since the epoch).
pub fn sign_token(
    state: &AppState,
    user: Uuid,
    kind: TokenKind,
    issued_at: u64,
    ttl: Duration,
) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user,
        iat: issued_at,
        exp: issued_at + ttl.as_secs(),
        typ: kind,
        jti: Uuid::new_v4(),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &state.keys().encoding,
    )
    .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
}

fn verify_token(state: &AppState, token: &str, kind: TokenKind) -> Result<Uuid, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data = decode::<Claims>(token, &state.keys().decoding, &validation).map_err(|e| match e
        .kind()
    {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            ApiError::unauthorized("token_expired", "the token has expired")
        }
        _ => ApiError::unauthorized("invalid_token", "the token is not valid"),
    })?;
    if data.claims.typ != kind {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the token is not valid",
        ));
    }
    Ok(data.claims.sub)
}

/// The user a valid access token names. Rejects with 401 `missing_token`, `token_expired`
/// or `invalid_token`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Uuid);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "an Authorization: Bearer token is required",
                )
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "an Authorization: Bearer token is required",
                )
            })?;
        verify_token(state, token, TokenKind::Access).map(AuthUser)
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
}

#[derive(Debug, Deserialize)]
pub struct SignupRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password1: String,
    pub password2: String,
    pub city: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UserResponse {
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub city: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// Map axum's JSON rejection to the API's error shape.
pub(crate) fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::bad_request("invalid_body", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(
            "unsupported_content_type",
            "expected Content-Type: application/json",
        ),
        other => ApiError::bad_request("malformed_json", other.body_text()),
    }
}

fn non_blank(field: &'static str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} must be 1 to 200 printable characters"),
        ));
    }
    Ok(v.to_owned())
}

fn optional(field: &'static str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if !v.trim().is_empty() => non_blank(field, &v).map(Some),
        _ => Ok(None),
    }
}

async fn signup(
    State(state): State<AppState>,
    body: Result<Json<SignupRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    let email = req.email.trim().to_owned();
    let valid_email = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !valid_email {
        return Err(ApiError::bad_request(
            "invalid_email",
            "email is not a valid address",
        ));
    }
    if req.password1 != req.password2 {
        return Err(ApiError::bad_request(
            "password_mismatch",
            "password1 and password2 differ",
        ));
    }
    if req.password1.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            "password_too_short",
            format!("the password needs at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let new = store::NewUser {
        first_name: non_blank("first_name", &req.first_name)?,
        last_name: non_blank("last_name", &req.last_name)?,
        city: optional("city", req.city)?,
        country: optional("country", req.country)?,
        password_hash: hash_password(&state, req.password1).await?,
        email,
    };
    let user = state.store().create_user(new).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserResponse {
            id: user.id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            city: user.city,
            country: user.country,
        }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

async fn login(
    State(state): State<AppState>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Form(form) = form.map_err(|e| ApiError::bad_request("invalid_form", e.body_text()))?;
    let user = state.store().user_by_email(form.username.trim()).await?;
    // Without a user, still spend the time of a verification so timing does not tell
    // which emails are registered.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_password(&state, form.password, hash).await?;
    match user {
        Some(user) if ok => issue_tokens(&state, user.id).map(Json),
        _ => Err(ApiError::unauthorized(
            "invalid_credentials",
            "wrong email or password",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    let user = verify_token(&state, &req.refresh_token, TokenKind::Refresh)?;
    if state.store().user_by_id(user).await?.is_none() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the token is not valid",
        ));
    }
    issue_tokens(&state, user).map(Json)
}

fn issue_tokens(state: &AppState, user: Uuid) -> Result<TokenResponse, ApiError> {
    let now = now_secs();
    let config = state.config();
    Ok(TokenResponse {
        access_token: sign_token(state, user, TokenKind::Access, now, config.access_ttl)?,
        refresh_token: sign_token(state, user, TokenKind::Refresh, now, config.refresh_ttl)?,
        token_type: "bearer",
        expires_in: config.access_ttl.as_secs(),
    })
}

fn argon2(state: &AppState) -> Argon2<'static> {
    Argon2::new(
        ArgonAlgorithm::Argon2id,
        Version::V0x13,
        state.config().password_params.clone(),
    )
}

/// argon2id is deliberately slow: hash on a blocking thread, not on the async workers.
async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    let hasher = argon2(state);
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?
}

async fn verify_password(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let hasher = argon2(state);
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| ApiError::Internal(format!("stored password hash: {e}")))?;
            // The stored hash carries its own parameters.
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        }
        None => {
            let salt = SaltString::generate(&mut OsRng);
            let _ = hasher.hash_password(password.as_bytes(), &salt);
            Ok(false)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password check task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_needs_a_real_secret() {
        assert_eq!(
            resolve_jwt_secret(Some("production"), None).err(),
            Some(SecretError::Missing)
        );
        assert_eq!(
            resolve_jwt_secret(Some("production"), Some("")).err(),
            Some(SecretError::Missing)
        );
        assert_eq!(
            resolve_jwt_secret(Some("PRODUCTION"), Some("short")).err(),
            Some(SecretError::TooShort(5))
        );
        let (secret, generated) =
            resolve_jwt_secret(Some("production"), Some(&"k".repeat(32))).unwrap();
        assert!(!generated);
        assert_eq!(secret.0.len(), 32);
    }

    #[test]
    fn development_generates_a_random_secret() {
        let (a, generated) = resolve_jwt_secret(None, None).unwrap();
        assert!(generated);
        let (b, _) = resolve_jwt_secret(Some("development"), None).unwrap();
        assert_ne!(a.0, b.0);
        let (c, generated) = resolve_jwt_secret(None, Some("dev-secret")).unwrap();
        assert!(!generated);
        assert_eq!(c.0, b"dev-secret");
    }
}
