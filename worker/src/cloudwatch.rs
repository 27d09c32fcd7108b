//! The CloudWatch publisher: every interval, one PutMetricData call to the `Flightdeck`
//! namespace with the jobs that succeeded and failed, the megabytes processed and the job
//! durations, all with the worker group's `AutoScalingGroupName` dimension; a final flush
//! on shutdown. A batch that cannot be sent is kept for the next call.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit, StatisticSet};
use stack::errors::AwsFailure;
use stack::metrics::{
    DIM_ASG_NAME, FLIGHTDECK_NAMESPACE, JOBS_FAILED, JOBS_SUCCEEDED, JOB_SECONDS,
    PROCESSED_MEGABYTES,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::metrics::{Interval, Metrics};

/// The environment variable naming the worker's Auto Scaling group; unset means no
/// CloudWatch metrics (a worker outside a group has no dimension to publish under).
pub const ASG_NAME_ENV: &str = "FLIGHTDECK_ASG_NAME";

pub struct Publisher {
    cloudwatch: aws_sdk_cloudwatch::Client,
    group: String,
    metrics: Arc<Metrics>,
    interval: Duration,
}

impl Publisher {
    pub fn new(
        cloudwatch: aws_sdk_cloudwatch::Client,
        group: impl Into<String>,
        metrics: Arc<Metrics>,
        interval: Duration,
    ) -> Publisher {
        Publisher {
            cloudwatch,
            group: group.into(),
            metrics,
            interval: interval.max(Duration::from_secs(1)),
        }
    }

    /// Publish every interval until `stop`, then flush what is left once.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate; nothing to send yet
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticks.tick() => {
                    if let Err(e) = self.flush().await {
                        warn!(error = %e, "could not publish the CloudWatch metrics; keeping them for the next interval");
                    }
                }
            }
        }
        if let Err(e) = self.flush().await {
            warn!(error = %e, "could not publish the last CloudWatch metrics");
        }
    }

    /// Sends everything recorded since the last flush in one PutMetricData call. Counts are
    /// sent even when zero, so the series has no gaps while the worker runs.
    pub async fn flush(&self) -> Result<(), AwsFailure> {
        let batch = self.metrics.take_interval();
        let data = datums(&batch, &self.group, SystemTime::now());
        let sent = self
            .cloudwatch
            .put_metric_data()
            .namespace(FLIGHTDECK_NAMESPACE)
            .set_metric_data(Some(data))
            .send()
            .await;
        match sent {
            Ok(_) => {
                debug!(
                    succeeded = batch.succeeded,
                    failed = batch.failed,
                    "published CloudWatch metrics"
                );
                Ok(())
            }
            Err(e) => {
                self.metrics.restore_interval(batch);
                Err(stack::errors::describe(&e))
            }
        }
    }
}

/// The batch as CloudWatch datums: three counts, and the durations as a statistic set when
/// any job finished.
pub fn datums(batch: &Interval, group: &str, at: SystemTime) -> Vec<MetricDatum> {
    let dim = Dimension::builder().name(DIM_ASG_NAME).value(group).build();
    let at = DateTime::from(at);
    let datum = |name: &str, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(dim.clone())
            .timestamp(at)
            .unit(unit)
    };
    let mut out = vec![
        datum(JOBS_SUCCEEDED, StandardUnit::Count)
            .value(batch.succeeded as f64)
            .build(),
        datum(JOBS_FAILED, StandardUnit::Count)
            .value(batch.failed as f64)
            .build(),
        datum(PROCESSED_MEGABYTES, StandardUnit::Megabytes)
            .value(batch.processed_bytes as f64 / 1e6)
            .build(),
    ];
    if let Some(s) = batch.seconds.filter(|s| s.count > 0) {
        out.push(
            datum(JOB_SECONDS, StandardUnit::Seconds)
                .statistic_values(
                    StatisticSet::builder()
                        .sample_count(s.count as f64)
                        .sum(s.sum)
                        .minimum(s.min)
                        .maximum(s.max)
                        .build(),
                )
                .build(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SecondsStats;

    #[test]
    fn an_idle_interval_sends_zero_counts_and_no_durations() {
        let d = datums(&Interval::default(), "wg", SystemTime::now());
        let names: Vec<_> = d.iter().filter_map(|d| d.metric_name()).collect();
        assert_eq!(names, [JOBS_SUCCEEDED, JOBS_FAILED, PROCESSED_MEGABYTES]);
        assert!(d.iter().all(|d| d.value() == Some(0.0)));
        let dim = &d[0].dimensions()[0];
        assert_eq!((dim.name(), dim.value()), (Some(DIM_ASG_NAME), Some("wg")));
    }

    #[test]
    fn a_busy_interval_sends_megabytes_and_a_statistic_set() {
        let batch = Interval {
            succeeded: 2,
            failed: 1,
            processed_bytes: 54_000_000,
            seconds: Some(SecondsStats {
                count: 3,
                sum: 13.5,
                min: 0.3,
                max: 9.0,
            }),
        };
        let d = datums(&batch, "wg", SystemTime::now());
        assert_eq!(d[0].value(), Some(2.0));
        assert_eq!(d[1].value(), Some(1.0));
        assert_eq!(d[2].value(), Some(54.0));
        assert_eq!(d[2].unit(), Some(&StandardUnit::Megabytes));
        let s = d[3].statistic_values().unwrap();
        assert_eq!(
            (s.sample_count(), s.sum(), s.minimum(), s.maximum()),
            (Some(3.0), Some(13.5), Some(0.3), Some(9.0))
        );
    }
}
