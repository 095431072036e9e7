//! The one thread that writes to SQLite, committing concurrent uploads together.
//!
//! SQLite takes one writer at a time, and each commit rewrites every index page it
//! touched; the dedup index takes random keys, so a commit costs about a page per event
//! whatever its size. Batches that arrive while a commit is running are therefore merged
//! into the next transaction (group commit) instead of each paying for its own.

use std::sync::mpsc;
use std::thread::JoinHandle;

use beckon::protocol::ExportedEvent;
use rusqlite::{Connection, TransactionBehavior};

use super::{sqlite, InsertOutcome, InsertRules, StoreError};

/// Bounds a group so one commit, and the wait of the batches in it, stays short.
const MAX_GROUP_EVENTS: usize = 10_000;

type Reply = Result<InsertOutcome, StoreError>;

struct Job {
    events: Vec<ExportedEvent>,
    rules: InsertRules,
    done: mpsc::SyncSender<Reply>,
}

/// Stops the thread when dropped, after the jobs already queued are written.
pub struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("beckon-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|err| StoreError::Task(format!("cannot start the writer thread: {err}")))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Blocks until the events are committed (with whatever else was queued alongside).
    pub fn insert(&self, events: Vec<ExportedEvent>, rules: InsertRules) -> Reply {
        let stopped = || StoreError::Task("the database writer has stopped".into());
        let (done, wait) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(Job {
            events,
            rules,
            done,
        })
        .map_err(|_| stopped())?;
        wait.recv().map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    // Set by the first commit that finds the file damaged; from then on no job is
    // written, not even one queued before the store heard of the damage.
    let mut damaged = None;
    while let Ok(first) = queue.recv() {
        let mut size = first.events.len();
        let mut group = vec![first];
        while size < MAX_GROUP_EVENTS {
            let Ok(job) = queue.try_recv() else { break };
            size += job.events.len();
            group.push(job);
        }
        match commit(&mut conn, &group, &mut damaged) {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.done.send(Ok(outcome));
                }
            }
            // Each batch alone, so one that cannot be stored does not fail the others
            // and each gets its own error (on a damaged file, at once).
            Err(err) if group.len() == 1 => {
                let _ = group[0].done.send(Err(err));
            }
            Err(_) => {
                for job in group {
                    let reply = commit(&mut conn, std::slice::from_ref(&job), &mut damaged)
                        .map(|mut outcomes| outcomes.remove(0));
                    let _ = job.done.send(reply);
                }
            }
        }
    }
}

/// Writes `group` in one transaction, unless the file is known to be damaged; the
/// first damage found is kept in `damaged`.
fn commit(
    conn: &mut Connection,
    group: &[Job],
    damaged: &mut Option<String>,
) -> Result<Vec<InsertOutcome>, StoreError> {
    if let Some(detail) = damaged {
        return Err(StoreError::Damaged {
            detail: detail.clone(),
        });
    }
    let written = transaction(conn, group);
    if let Err(StoreError::Damaged { detail }) = &written {
        *damaged = Some(detail.clone());
    }
    written
}

fn transaction(conn: &mut Connection, group: &[Job]) -> Result<Vec<InsertOutcome>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = group
        .iter()
        .map(|job| sqlite::insert_events(&tx, &job.events, job.rules))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(outcomes)
}
