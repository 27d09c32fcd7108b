//! The API's own 5xx count in CloudWatch: every interval, one PutMetricData to the
//! `Flightdeck` namespace with `Api5xxResponses` (zero included, so the series has no gaps
//! while the API runs) under the `AutoScalingGroupName` dimension of the API's group. The
//! stack's API 5xx alarm reads it, on AWS and in the local cloud alike (the load balancer's
//! own 5xx metric exists only on AWS). A count that cannot be sent is kept for the next call.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use stack::metrics::{API_5XX, DIM_ASG_NAME, FLIGHTDECK_NAMESPACE};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::AppState;

/// The environment variable naming the API's Auto Scaling group; unset means no CloudWatch
/// metrics (an API outside a group has no dimension to publish under).
pub const ASG_NAME_ENV: &str = "FLIGHTDECK_ASG_NAME";

/// How often the count is sent (CloudWatch's standard resolution).
pub const INTERVAL: Duration = Duration::from_secs(60);

pub struct Publisher {
    cloudwatch: aws_sdk_cloudwatch::Client,
    group: String,
    interval: Duration,
}

impl Publisher {
    pub fn new(cloudwatch: aws_sdk_cloudwatch::Client, group: impl Into<String>) -> Publisher {
        Publisher {
            cloudwatch,
            group: group.into(),
            interval: INTERVAL,
        }
    }

    /// Publish every interval until `stop` turns true, then once more.
    pub async fn run(self, state: AppState, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = stopped(&mut stop) => break,
                _ = ticks.tick() => self.flush(state.metrics()).await,
            }
        }
        self.flush(state.metrics()).await;
    }

    async fn flush(&self, metrics: &Metrics) {
        let n = metrics.take_5xx();
        let sent = self
            .cloudwatch
            .put_metric_data()
            .namespace(FLIGHTDECK_NAMESPACE)
            .metric_data(datum(&self.group, n, SystemTime::now()))
            .send()
            .await;
        if let Err(e) = sent {
            metrics.restore_5xx(n);
            tracing::warn!(error = %stack::errors::describe(&e), "could not publish the 5xx count; keeping it for the next interval");
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.is_ok();
}

/// One interval's count.
pub fn datum(group: &str, count: u64, at: SystemTime) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(API_5XX)
        .dimensions(Dimension::builder().name(DIM_ASG_NAME).value(group).build())
        .timestamp(DateTime::from(at))
        .unit(StandardUnit::Count)
        .value(count as f64)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_hundreds_are_counted_taken_and_restored() {
        let m = Metrics::default();
        m.record_request("GET", "/a", 200, Duration::ZERO);
        m.record_request("GET", "/a", 503, Duration::ZERO);
        m.record_request("POST", "/b", 500, Duration::ZERO);
        m.record_request("POST", "/b", 404, Duration::ZERO);
        assert_eq!(m.take_5xx(), 2);
        assert_eq!(m.take_5xx(), 0);
        m.restore_5xx(2);
        assert_eq!(m.take_5xx(), 2);
        let d = datum("flightdeck-api", 7, SystemTime::UNIX_EPOCH);
        assert_eq!(d.metric_name(), Some(API_5XX));
        assert_eq!(d.value(), Some(7.0));
        assert_eq!(d.dimensions()[0].value(), Some("flightdeck-api"));
    }
}
