//! Integration tests of `store` against real databases: a temp SQLite file always, and the
//! PostgreSQL server named by FLIGHTDECK_TEST_POSTGRES_URL (required when CI=true).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod connect;
mod equivalence;
mod public;
mod sqlite_sharing;
mod transitions;
mod users;
mod videos;
mod votes;
