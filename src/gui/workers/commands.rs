//! Slow commands (enrolling photos, importing a folder, re-embedding) run on a named worker
//! thread with its own connection to the database, so the window never freezes; their results
//! come back as notices on a later frame.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use crate::gui::command::{self, Command, Outcome};
use crate::gui::pipeline_cell::PipelineCell;
use crate::store::Store;

struct Done {
    label: String,
    result: anyhow::Result<Outcome>,
}

/// How far the running job is: (done, total), `None` when it reports nothing.
type Progress = Arc<Mutex<Option<(usize, usize)>>>;

/// The worker thread and its queue.
pub struct Jobs {
    requests: Option<SyncSender<(String, Command)>>,
    results: Receiver<Done>,
    pending: Vec<String>,
    progress: Progress,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Jobs {
    /// Starts the worker on the database file `db` (`None` for a database in memory, where
    /// slow commands cannot run); `wake` repaints the window when a job is done.
    #[must_use]
    pub fn new(db: Option<crate::store::Location>, wake: impl Fn() + Send + 'static) -> Self {
        let (req_tx, req_rx) = sync_channel::<(String, Command)>(16);
        let (res_tx, res_rx) = sync_channel::<Done>(16);
        let progress: Progress = Arc::default();
        let shared = Arc::clone(&progress);
        let spawned = db.map(|db| {
            std::thread::Builder::new()
                .name("jobs".into())
                .spawn(move || {
                    let mut store: Option<Store> = None;
                    let mut pipeline = PipelineCell::default();
                    for (label, cmd) in req_rx {
                        let result = (|| -> anyhow::Result<Outcome> {
                            if store.is_none() {
                                store = Some(crate::workflow::open(&db)?);
                            }
                            let Some(s) = store.as_ref() else {
                                anyhow::bail!("no database")
                            };
                            let waker = &wake;
                            let report = |done: usize, total: usize| {
                                if let Ok(mut p) = shared.lock() {
                                    *p = Some((done, total));
                                }
                                waker();
                            };
                            command::run(s, &mut pipeline, &cmd, &report)
                        })();
                        if let Ok(mut p) = shared.lock() {
                            *p = None;
                        }
                        if res_tx.send(Done { label, result }).is_err() {
                            break;
                        }
                        wake();
                    }
                })
        });
        let requests = match spawned {
            Some(Ok(_)) => Some(req_tx),
            Some(Err(err)) => {
                log::warn!("could not start the worker thread: {err}");
                None
            }
            None => None,
        };
        Self {
            requests,
            results: res_rx,
            pending: Vec::new(),
            progress,
        }
    }

    /// How far the running job is, when it reports it: (done, total).
    #[must_use]
    pub fn progress(&self) -> Option<(usize, usize)> {
        self.progress.lock().ok().and_then(|p| *p)
    }

    /// Queues a slow command; an error when the worker is not available or too busy.
    pub fn submit(&mut self, label: impl Into<String>, cmd: Command) -> anyhow::Result<()> {
        let label = label.into();
        let Some(tx) = &self.requests else {
            anyhow::bail!("{label}: this needs the database to be a file");
        };
        match tx.try_send((label.clone(), cmd)) {
            Ok(()) => {
                self.pending.push(label);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                anyhow::bail!("{label}: too much work queued, try again in a moment")
            }
            Err(TrySendError::Disconnected(_)) => {
                anyhow::bail!("{label}: the worker thread stopped")
            }
        }
    }

    /// Finished jobs since the last call: their label and outcome.
    pub fn poll(&mut self) -> Vec<(String, anyhow::Result<Outcome>)> {
        let mut done = Vec::new();
        while let Ok(d) = self.results.try_recv() {
            if let Some(i) = self.pending.iter().position(|l| *l == d.label) {
                self.pending.remove(i);
            }
            done.push((d.label, d.result));
        }
        done
    }

    /// What is running or queued, oldest first.
    #[must_use]
    pub fn pending(&self) -> &[String] {
        &self.pending
    }
}
