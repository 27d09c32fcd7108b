//! Users: signup, lookups, and case-insensitive email uniqueness (`EmailTaken`).

use store::{Store, StoreError};
use uuid::Uuid;

use crate::common::new_user;

on_both!(
    create_and_look_up,
    email_taken_in_any_case,
    lookups_of_unknown_users_are_none
);

async fn create_and_look_up(store: &Store) {
    let created = store
        .create_user(new_user("Ana.Gomez@Example.com", Some("Bogotá")))
        .await
        .unwrap();
    assert_eq!(created.email, "Ana.Gomez@Example.com");
    assert_eq!(created.city.as_deref(), Some("Bogotá"));
    assert_eq!(created.country.as_deref(), Some("Colombia"));
    assert!(created.password_hash.starts_with("$argon2id$"));

    // What comes back from the database equals what was returned, timestamps included.
    let by_id = store.user_by_id(created.id).await.unwrap();
    assert_eq!(by_id.as_ref(), Some(&created));
    for spelling in [
        "Ana.Gomez@Example.com",
        "ana.gomez@example.com",
        "ANA.GOMEZ@EXAMPLE.COM",
    ] {
        assert_eq!(
            store.user_by_email(spelling).await.unwrap().as_ref(),
            Some(&created)
        );
    }

    let no_city = store
        .create_user(new_user("ben@example.com", None))
        .await
        .unwrap();
    let read = store.user_by_id(no_city.id).await.unwrap().unwrap();
    assert_eq!(read.city, None);
    assert_eq!(read.country, None);
    assert_eq!(read, no_city);

    // The hash never shows in logs.
    assert!(!format!("{created:?}").contains("argon2"));
}

async fn email_taken_in_any_case(store: &Store) {
    let first = store
        .create_user(new_user("Dup@Example.com", None))
        .await
        .unwrap();
    for spelling in ["Dup@Example.com", "dup@example.com", "DUP@EXAMPLE.COM"] {
        let err = store
            .create_user(new_user(spelling, None))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::EmailTaken), "{spelling}: {err:?}");
        assert!(!err.is_retryable());
    }
    // Non-ASCII letters fold the same way on both backends (lower-cased in Rust).
    store
        .create_user(new_user("ÉLODIE@example.com", None))
        .await
        .unwrap();
    let err = store
        .create_user(new_user("élodie@example.com", None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmailTaken), "{err:?}");

    assert_eq!(
        store.user_by_email("dup@example.com").await.unwrap(),
        Some(first)
    );
}

async fn lookups_of_unknown_users_are_none(store: &Store) {
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.user_by_id(Uuid::new_v4()).await.unwrap(), None);
}
