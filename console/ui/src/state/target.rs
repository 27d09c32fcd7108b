//! Which profile and region the data on screen belongs to, and a switch in progress.

use crate::model::TargetInfo;

#[derive(Debug, Clone, Default)]
pub struct TargetState {
    /// Confirmed by the agents (`Report::Target`); `None` before the first report.
    pub current: Option<TargetInfo>,
    /// A switch asked for and not confirmed yet: its `seq` and where it goes. While it is set,
    /// reports about AWS data are dropped: they may still come from the old target.
    pub pending: Option<(u64, TargetInfo)>,
    pub(crate) last_seq: u64,
    /// Profile names from the AWS config and credentials files, for `:profile`.
    pub profiles: Vec<String>,
}

impl TargetState {
    /// The regions `:region` completes from: the known ones plus the current one.
    pub fn regions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = crate::target::REGIONS.to_vec();
        if let Some(t) = &self.current {
            out.push(t.region.as_str());
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Where the agents are or are going: the pending switch, else the current target.
    pub fn heading(&self) -> Option<&TargetInfo> {
        self.pending
            .as_ref()
            .map(|(_, t)| t)
            .or(self.current.as_ref())
    }
}
