//! The API end to end through `app(..).oneshot(..)`: real S3 and SQS (a private moto per
//! test), real SQLite (a temp file) and, when `FLIGHTDECK_TEST_POSTGRES_URL` is set, real
//! PostgreSQL (a schema per test).

// Fixtures outside #[test] functions panic on failure too: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod auth;
mod binary;
mod faults;
mod fuzz;
mod ops;
mod public;
mod slow;
mod upload;
mod videos;
