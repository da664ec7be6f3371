//! Group commit: transactions commit without an fsync each, and every writer waits, before
//! it returns, until an fdatasync of the WAL that started after its commit has finished.
//! Writers that commit while one fsync runs share the next one, so under concurrency one
//! fsync makes many commits durable, and no writer holds the writer's mutex across one.
//!
//! Why this equals `synchronous=FULL` for what a caller sees: SQLite (WAL mode,
//! `synchronous=NORMAL`) writes a transaction's frames and its commit frame to the WAL with
//! `write(2)` at COMMIT; FULL would then fsync the WAL, NORMAL leaves that to checkpoints.
//! An fdatasync of the WAL file after the COMMIT returned makes those frames durable just the
//! same (recovery replays every frame up to the last valid commit frame; NORMAL still syncs
//! the WAL header whenever the WAL is reused and the WAL before every checkpoint). So a
//! method that returned `Ok` has its transaction on disk, as before.
//!
//! What others may see early: a committed transaction is visible to the read connections
//! before its fsync. So reads wait too ([`Syncer::wait_visible`]): nothing is answered from
//! the database before it is durable; a CRL, a status list or a record is never served and
//! then lost to a power cut.
//!
//! An fsync that fails aborts the process: after a failed fsync the kernel may have dropped
//! the dirty pages and a retry can report success for data that is gone (the PostgreSQL
//! "fsyncgate" finding), so no later answer could be trusted. Restart recovers from the WAL.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

thread_local! {
    /// Inside [`Syncer::deferred`] on this thread: the syncer (by address) and the newest
    /// commit a read has seen, which the scope waits for once, at its end.
    static OWED: Cell<Option<(usize, u64)>> = const { Cell::new(None) };
}

#[derive(Debug, Default)]
struct State {
    /// Commits numbered: a number is taken just before COMMIT (under the writer's mutex, so
    /// numbers follow commit order), and a reader may see that commit from then on.
    reserved: u64,
    /// Commits whose COMMIT has returned: what an fsync now would cover.
    done: u64,
    /// Every commit up to this one is durable.
    synced: u64,
    /// An fsync is running (its leader will publish how far it got).
    syncing: bool,
}

#[derive(Debug)]
pub(super) struct Syncer {
    state: Mutex<State>,
    /// Signalled when `done` advances (a commit returned) and when an fsync finishes.
    done: Condvar,
    /// Signalled when an fsync finishes: those waiting for one in progress wait here, so a
    /// commit returning meanwhile does not wake them only to sleep again (that was two
    /// context switches per waiter per commit under load).
    synced: Condvar,
    wal: PathBuf,
    /// fsyncs made, and commits they covered (tests and metrics).
    fsyncs: std::sync::atomic::AtomicU64,
}

impl Syncer {
    pub fn new(db: &std::path::Path) -> Syncer {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Syncer {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            synced: Condvar::new(),
            wal: wal.into(),
            fsyncs: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number the commit about to be made (under the writer's mutex, before COMMIT).
    pub fn reserve(&self) -> u64 {
        let mut s = self.lock();
        s.reserved += 1;
        s.reserved
    }

    /// Commit `seq` has returned (successfully or not; under the writer's mutex).
    pub fn finish(&self, seq: u64) {
        let mut s = self.lock();
        s.done = s.done.max(seq);
        self.done.notify_all();
    }

    /// Wait until commit `seq` is durable, making the fsync if none is running.
    pub fn wait_durable(&self, seq: u64) {
        let mut s = self.lock();
        while s.synced < seq {
            // Not yet committed (a reader saw it mid-COMMIT): wait for its COMMIT.
            if s.done < seq {
                s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Committed, and an fsync is running: wait for it to finish (it may not cover
            // `seq`; then the loop leads the next one).
            if s.syncing {
                s = self.synced.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Lead: one fdatasync covers every commit that has returned.
            s.syncing = true;
            let target = s.done;
            drop(s);
            let result = std::fs::File::open(&self.wal).and_then(|f| f.sync_data());
            if let Err(e) = result {
                // See the module comment: nothing after a failed fsync can be trusted.
                tracing::error!(wal = %self.wal.display(), error = %e, "fsync of the WAL failed; aborting");
                std::process::abort();
            }
            self.fsyncs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s = self.lock();
            s.syncing = false;
            s.synced = s.synced.max(target);
            // (Waiters on `done` have a COMMIT still to return; its `finish` wakes them.)
            self.synced.notify_all();
        }
    }

    /// Wait until every commit a read could have seen is durable; inside [`Self::deferred`],
    /// note it instead, for the scope's end.
    pub fn wait_visible(&self) {
        let seq = self.lock().reserved;
        self.wait_visible_upto(seq);
    }

    /// Run `f`, whose reads are answered only through its result, and wait once at its end
    /// for every commit they could have seen. For an operation that writes, its own commit
    /// (numbered after each of its reads) is durable by then, so its reads cost no wait of
    /// their own: without this each read waited for, or led, an fsync of its own, three or
    /// four context switches per request.
    pub fn deferred<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<(usize, u64)>);
        impl Drop for Restore {
            fn drop(&mut self) {
                OWED.with(|o| o.set(self.0));
            }
        }
        let me = self as *const Syncer as usize;
        let outer = Restore(OWED.with(|o| o.replace(Some((me, 0)))));
        let r = f();
        let owed = OWED.with(|o| o.get()).map_or(0, |(_, seq)| seq);
        drop(outer);
        // Nested in a scope of the same syncer: that scope waits; else wait here.
        self.wait_visible_upto(owed);
        r
    }

    /// [`Self::wait_visible`] for a number noted earlier.
    fn wait_visible_upto(&self, seq: u64) {
        let me = self as *const Syncer as usize;
        let noted = OWED.with(|o| match o.get() {
            Some((who, owed)) if who == me => {
                o.set(Some((me, owed.max(seq))));
                true
            }
            _ => false,
        });
        if !noted {
            self.wait_durable(seq);
        }
    }

    /// (reserved, done, synced).
    #[cfg(test)]
    pub fn state_for_test(&self) -> (u64, u64, u64) {
        let s = self.lock();
        (s.reserved, s.done, s.synced)
    }

    #[cfg(test)]
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::mpsc;
    use std::time::Duration;

    fn syncer() -> (tempfile::TempDir, Arc<Syncer>) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::write(dir.path().join("db-wal"), b"").unwrap();
        (dir, Arc::new(Syncer::new(&db)))
    }

    #[test]
    fn a_read_waits_for_what_it_could_see_to_be_durable() {
        let (_dir, s) = syncer();
        let seq = s.reserve(); // a commit in flight: a reader may see it
        let (tx, rx) = mpsc::channel();
        let t = {
            let s = s.clone();
            std::thread::spawn(move || {
                s.wait_visible();
                tx.send(()).unwrap();
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "answered before the commit it saw was durable"
        );
        s.finish(seq);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        assert!(s.state_for_test().2 >= seq);
    }

    #[test]
    fn deferred_reads_wait_once_at_the_end_of_their_scope() {
        let (_dir, s) = syncer();
        let seq = s.reserve();
        let (tx, rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel();
        let t = {
            let s = s.clone();
            std::thread::spawn(move || {
                s.deferred(|| {
                    s.wait_visible();
                    s.wait_visible();
                    tx.send(()).unwrap();
                });
                done_tx.send(()).unwrap();
            })
        };
        // The reads inside the scope do not wait...
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // ...but the scope does, for what they saw.
        assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err());
        s.finish(seq);
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
        assert!(s.state_for_test().2 >= seq);
        // Outside a scope reads wait again (nothing is left noted on the thread).
        assert!(OWED.with(|o| o.get()).is_none());
    }
}
