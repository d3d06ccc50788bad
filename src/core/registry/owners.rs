//! Which process owns which running work. Every process that opens a registry registers
//! itself as an owner (a random id, its pid and host) and renews a heartbeat from a thread
//! of its own while it lives; a clean exit removes it. Work recorded with an owner (a
//! pending upload, a multipart upload, a rotation) belongs to that process while it is
//! alive, and is touched by another (resume, abort, settle) only once it is gone: on this
//! host, its pid no longer runs (a suspended process is alive); on another host sharing the
//! home, its heartbeat is older than `OWNER_TTL`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, params};

use super::{Registry, RegistryError, Result};

/// How often a live process renews its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A heartbeat older than this means the owner is gone (it was suspended or killed on
/// another host, where its pid cannot be checked).
pub const OWNER_TTL: i64 = 30;

pub(super) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// This machine's name, so a pid is only checked where it means something.
pub(super) fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Whether a process runs on this machine (a zombie does not count).
pub fn pid_alive(pid: i64) -> bool {
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the command name, which is in parentheses.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        // SAFETY: signal 0 checks for existence only.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The heartbeat of this process's ownership, renewed on a thread of its own (with its own
/// SQLite connection, so a long transaction elsewhere never delays it).
pub struct Lease {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Lease {
    pub(super) fn start(path: PathBuf, owner: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ssec-lease".into())
            .spawn(move || renew(&path, &owner, &flag))
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn renew(path: &std::path::Path, owner: &str, stop: &AtomicBool) {
    let Ok(db) = Connection::open(path) else {
        return;
    };
    let _ = db.busy_timeout(Duration::from_secs(10));
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        waited += step;
        if waited >= HEARTBEAT {
            waited = Duration::ZERO;
            let _ = db.execute(
                "UPDATE owners SET heartbeat = ?2 WHERE owner = ?1",
                params![owner, now_secs()],
            );
        }
    }
}

impl Registry {
    /// This process's owner id (random, made when the registry was opened).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub(super) fn register_owner(&self) -> Result<()> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO owners(owner, pid, host, heartbeat) VALUES (?1, ?2, ?3, ?4)",
                params![self.owner, std::process::id(), host(), now_secs()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(super) fn release_owner(&self) {
        let _ = self
            .db()
            .execute("DELETE FROM owners WHERE owner = ?1", [&self.owner]);
    }

    /// The owners still alive: a fresh heartbeat, and on this host a running pid. Owners
    /// found gone are removed.
    pub fn live_owners(&self) -> Result<HashSet<String>> {
        let rows: Vec<(String, i64, String, i64)> = {
            let db = self.db();
            let mut stmt = db
                .prepare("SELECT owner, pid, host, heartbeat FROM owners")
                .map_err(|e| self.err(e))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(|e| self.err(e))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| self.err(e))?
        };
        let (now, here) = (now_secs(), host());
        let mut live = HashSet::new();
        for (owner, pid, on, beat) in rows {
            // On this host the pid decides (a suspended process is alive); elsewhere only
            // the heartbeat can.
            let alive = owner == self.owner
                || if on == here {
                    pid_alive(pid)
                } else {
                    now - beat <= OWNER_TTL
                };
            if alive {
                live.insert(owner);
            } else {
                let _ = self
                    .db()
                    .execute("DELETE FROM owners WHERE owner = ?1", [&owner]);
            }
        }
        Ok(live)
    }

    /// The pid of a live owner, for messages ("another ssec-manager, pid 1234, is ...").
    pub fn owner_pid(&self, owner: &str) -> Option<i64> {
        self.db()
            .query_row("SELECT pid FROM owners WHERE owner = ?1", [owner], |r| {
                r.get(0)
            })
            .ok()
    }
}

/// Why a registry entry owned by another live process was not touched.
pub(super) fn owned_elsewhere(what: String, pid: Option<i64>) -> RegistryError {
    RegistryError::OwnedElsewhere {
        what,
        pid: pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
    }
}
