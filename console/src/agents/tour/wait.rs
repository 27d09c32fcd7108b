//! How the tour waits: for an effect (polled until it comes, cannot come or times out), for
//! an AWS call, for the console to show a caption's claim, and for the audience to read it.

use super::*;

impl Tour {
    /// Polls `check` every `timing.poll` until it is ready, fails, `limit` passes (an error
    /// naming what was last seen) or the token is cancelled. A check that could not look
    /// (`Err`, e.g. an AWS call failed) is noted and tried again.
    pub(super) async fn until<T, F, Fut>(
        &self,
        token: &CancellationToken,
        limit: Duration,
        mut check: F,
    ) -> Result<T, Waited>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Poll<T>, String>>,
    {
        let deadline = Instant::now() + limit;
        loop {
            let attempt = tokio::select! {
                _ = token.cancelled() => return Err(Waited::Cancelled),
                r = tokio::time::timeout(Duration::from_secs(20), check()) => r,
            };
            let last = match attempt {
                Ok(Ok(Poll::Ready(value))) => return Ok(value),
                Ok(Ok(Poll::Failed(why))) => return Err(Waited::Failed(why)),
                Ok(Ok(Poll::Pending(seen)) | Err(seen)) => seen,
                Err(_) => "a check took over 20 s".into(),
            };
            if Instant::now() >= deadline {
                return Err(Waited::TimedOut { limit, last });
            }
            tokio::select! {
                _ = token.cancelled() => return Err(Waited::Cancelled),
                _ = tokio::time::sleep(self.timing.poll) => {}
            }
        }
    }

    /// Runs one AWS call (or any future) unless the tour is stopped first.
    pub(super) async fn call<T>(
        &self,
        token: &CancellationToken,
        fut: impl std::future::Future<Output = T>,
    ) -> Told<T> {
        tokio::select! {
            _ = token.cancelled() => Err(Stop::Cancelled),
            r = tokio::time::timeout(Duration::from_secs(60), fut) => {
                r.map_err(|_| Stop::Failed("an AWS call got no answer within 60 s".into()))
            }
        }
    }

    /// Shows a caption with a result once the console's screen shows what it claims (`{}` in
    /// `text` becomes the value on screen), and waits until it is drawn; without a console,
    /// prints it with the value the tour saw.
    pub(super) async fn show(
        &self,
        tx: &mpsc::Sender<Report>,
        token: &CancellationToken,
        text: String,
        claim: Claim,
        seen: f64,
    ) -> Told<()> {
        let Some(shown) = &self.shown else {
            return caption(tx, Claim::fill(&text, seen)).await;
        };
        let mut shown = shown.clone();
        let on_screen = |c: &Option<String>| {
            c.as_deref()
                .is_some_and(|c| match text.split_once(Claim::VALUE) {
                    Some((head, tail)) => {
                        c.len() > head.len() + tail.len()
                            && c.starts_with(head)
                            && c.ends_with(tail)
                    }
                    None => c == text,
                })
        };
        tx.send(Report::Caption {
            at: Utc::now(),
            text: Some(text.clone()),
            claim: Some(claim.clone()),
        })
        .await
        .map_err(|_| Stop::Cancelled)?;
        let wait = shown.wait_for(on_screen);
        tokio::select! {
            _ = token.cancelled() => Err(Stop::Cancelled),
            r = tokio::time::timeout(SHOWN_WITHIN, wait) => match r {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(_)) => Err(Stop::Cancelled),
                Err(_) => Err(Stop::Failed(format!(
                    "the console did not show {claim:?} within {} s (the tour saw {seen:.0})",
                    SHOWN_WITHIN.as_secs()
                ))),
            },
        }
    }

    pub(super) async fn dwell(&self, token: &CancellationToken) -> Told<()> {
        tokio::select! {
            _ = token.cancelled() => Err(Stop::Cancelled),
            _ = tokio::time::sleep(self.timing.dwell) => Ok(()),
        }
    }
}

pub(super) enum Poll<T> {
    Ready(T),
    /// Not yet; what was seen instead.
    Pending(String),
    /// It cannot come any more.
    Failed(String),
}

/// Not yet, with what was seen instead.
pub(super) fn not_yet<T>(seen: String) -> Result<Poll<T>, String> {
    Ok(Poll::Pending(seen))
}

/// How a wait ended without its effect.
pub(super) enum Waited {
    Cancelled,
    Failed(String),
    TimedOut { limit: Duration, last: String },
}

impl Waited {
    /// `what` did not happen: the caption says so, with the limit and what was last seen.
    pub(super) fn failed(self, what: String) -> Stop {
        match self {
            Waited::Cancelled => Stop::Cancelled,
            Waited::Failed(why) => Stop::Failed(format!("{what}: {why}")),
            Waited::TimedOut { limit, last } => Stop::Failed(format!(
                "{what} within {} s; last seen: {last}",
                limit.as_secs()
            )),
        }
    }
}

pub(super) async fn caption(tx: &mpsc::Sender<Report>, text: impl Into<String>) -> Told<()> {
    tx.send(Report::Caption {
        at: Utc::now(),
        text: Some(text.into()),
        claim: None,
    })
    .await
    // The receiver is gone only when the console (or the printer) has stopped.
    .map_err(|_| Stop::Cancelled)
}
