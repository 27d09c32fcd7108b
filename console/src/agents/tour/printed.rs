//! The tour without a console (`demo --tour --no-tui`): its captions printed as lines.

use super::*;

/// The tour without the console (`demo --tour --no-tui`): captions printed as lines.
pub struct Printed {
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Printed {
    pub fn start(tour: Tour) -> Printed {
        let token = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel(64);
        let feed = tour.feed()(tx, token.clone());
        let task = tokio::spawn(async move {
            let print = async {
                while let Some(report) = rx.recv().await {
                    if let Report::Caption {
                        text: Some(text), ..
                    } = report
                    {
                        println!("tour: {text}");
                    }
                }
            };
            tokio::join!(feed, print);
        });
        Printed { token, task }
    }

    /// Stops the tour (and its load run) and waits for it.
    pub async fn stop(self) {
        self.token.cancel();
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}
