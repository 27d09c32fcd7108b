//! Signup, login, refresh and the 401s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::auth::{sign_token, TokenKind};
use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

async fn signup_login_refresh(db: Db) {
    let Some(h) = Harness::without_cloud(db).await else {
        return;
    };
    let (id, access, refresh) = h.user("ana@example.com", Some("Bogotá")).await;

    // The access token opens the API.
    let r = h.send(get("/api/videos", Some(&access))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Duplicate email, compared case-insensitively: 400 email_taken.
    let dup = json!({"first_name": "A", "last_name": "B", "email": "ANA@example.com",
        "password1": "12345678", "password2": "12345678"});
    let r = h.send(json_post("/auth/signup", dup)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "email_taken")
    );

    let mismatch = json!({"first_name": "A", "last_name": "B", "email": "b@example.com",
        "password1": "12345678", "password2": "12345679"});
    let r = h.send(json_post("/auth/signup", mismatch)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "password_mismatch")
    );

    let short = json!({"first_name": "A", "last_name": "B", "email": "b@example.com",
        "password1": "1234567", "password2": "1234567"});
    let r = h.send(json_post("/auth/signup", short)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "password_too_short")
    );

    let r = h
        .send(
            axum::http::Request::post("/auth/signup")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"email\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );

    // Wrong password and unknown user look the same.
    let r = h.send(login("ana@example.com", "wrong password")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let r = h.send(login("nobody@example.com", "correct horse")).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    // Refresh gives a working pair; an access token is not a refresh token.
    let r = h
        .send(json_post(
            "/auth/refresh",
            json!({"refresh_token": refresh}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 900);
    let new_access = v["access_token"].as_str().unwrap().to_owned();
    let r = h.send(get("/api/videos", Some(&new_access))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(json_post("/auth/refresh", json!({"refresh_token": access})))
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    // ...and a refresh token does not open the API.
    let r = h.send(get("/api/videos", Some(&refresh))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    // Missing, expired and forged tokens.
    let r = h.send(get("/api/videos", None)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
    assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
    let long_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let expired = sign_token(
        &h.state,
        id,
        TokenKind::Access,
        long_ago,
        Duration::from_secs(60),
    )
    .unwrap();
    let r = h.send(get("/api/videos", Some(&expired))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );
    let other = Harness::without_cloud(Db::Sqlite).await.unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = sign_token(
        &other.state,
        id,
        TokenKind::Access,
        now,
        Duration::from_secs(600),
    )
    .unwrap();
    let r = h.send(get("/api/videos", Some(&forged))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let r = h.send(get("/api/videos", Some("not.a.jwt"))).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    // The stored hash is argon2id, never the password.
    let user = h
        .store
        .user_by_email("ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    other.finish().await;
    h.finish().await;
}

on_both!(signup_login_refresh);
