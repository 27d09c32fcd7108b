//! The UI's clock type, shared by the model and the data modules it is built from.

use chrono::{DateTime, Utc};

/// A point in time, always UTC.
pub type Timestamp = DateTime<Utc>;
