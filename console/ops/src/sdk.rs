//! Small facts about the AWS SDK and APIs the console calls, shared by the agents and the
//! headless commands: timestamp conversion and request limits.

/// The most metric queries one GetMetricData call takes.
pub const GET_METRIC_DATA_MAX_QUERIES: usize = 500;

/// Converts an SDK timestamp; out-of-range values (never sent by AWS) become `None`.
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<ui::Timestamp> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
