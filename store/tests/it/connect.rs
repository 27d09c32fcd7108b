//! Connecting and health: URL schemes (`Config`), unreachable or closed databases
//! (`Unavailable`, retryable), and `ping`.

use store::{Store, StoreError};

use crate::common::temp_sqlite_url;

on_both!(ping_and_close);

async fn ping_and_close(store: &Store) {
    store.ping().await.unwrap();
    let clone = store.clone();
    clone.close().await;
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    let err = store.user_by_email("x@example.com").await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn unknown_scheme_is_a_config_error() {
    for url in ["mysql://localhost/db", "", "/tmp/plain/path.db", "http://x"] {
        let err = Store::connect(url).await.unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{url}: {err:?}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn bad_url_parameters_are_config_errors() {
    let (_dir, url) = temp_sqlite_url();
    let err = Store::connect(&format!("{url}?mode=sideways"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    let err = Store::connect("postgres://u@127.0.0.1:notaport/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_and_retryable() {
    // Port 1 on loopback: nothing listens. sqlx retries refused connections until the
    // acquire timeout (5 s), then gives up.
    let err = Store::connect("postgres://u:hunter2@127.0.0.1:1/flightdeck")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn backend_names() {
    let (_dir, url) = temp_sqlite_url();
    assert_eq!(Store::connect(&url).await.unwrap().backend_name(), "sqlite");
    if let Some(db) = crate::common::postgres().await {
        assert_eq!(db.store.backend_name(), "postgres");
        db.finish().await;
    }
}
