//! Applies agents' reports to the data, recording freshness; superseded replies are dropped.

use crate::model::{Agent, Report};
use crate::state::health::AgentFailure;
use crate::state::State;

pub(super) fn apply(state: &mut State, report: Report) {
    match report {
        Report::Groups { at, groups } => {
            if state.groups.apply(at, groups) {
                state.health.ok(Agent::Groups, at);
            }
        }
        Report::Queues { at, queues } => {
            if state.queues.apply(at, queues) {
                state.health.ok(Agent::Queues, at);
            }
        }
        Report::Metrics {
            at,
            period_s,
            series,
        } => {
            state.metrics.apply(at, period_s, series);
            state.health.ok(Agent::Metrics, at);
        }
        Report::Calls { at, stats } => {
            if state.calls.as_ref().is_none_or(|(prev, _)| *prev <= at) {
                state.calls = Some((at, stats));
            }
        }
        Report::AgentError {
            at,
            agent,
            class,
            message,
            next_retry_in,
        } => {
            state.health.failed(
                agent,
                AgentFailure {
                    at,
                    class,
                    message,
                    next_retry_in,
                },
            );
        }
    }
}
