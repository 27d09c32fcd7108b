//! flightdeck's records (users, videos, votes) behind one interface, [`Store`], used by the
//! upload API and the queue worker: SQLite (embedded default) or PostgreSQL (production).
//!
//! ```no_run
//! # async fn demo() -> Result<(), store::StoreError> {
//! let store = store::Store::connect("sqlite:///var/lib/flightdeck/flightdeck.db").await?;
//! store.ping().await?;
//! # Ok(()) }
//! ```

mod error;
mod migrate;
mod model;
mod rows;
mod store;

pub use crate::error::{BoxError, Entity, StoreError};
pub use crate::model::{
    NewUser, NewVideo, Page, PublicVideo, RankingEntry, UnknownStatus, User, Video, VideoKeys,
    VideoStatus,
};
pub use crate::store::{Result, Store};
