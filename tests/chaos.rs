#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The fault campaign (issue 13): operations repeated while a fault strikes each at a random
//! instant, then a recovery (the server back, `reconcile`), then the ledger's invariants
//! checked against the server with every key the campaign ever made:
//! - (a) every object on the server that one of our keys opens is in the registry as stored
//!   or in doubt under that key;
//! - (b) every stored row opens with its key, with its size and its content checksum;
//! - (c) no key is gone from the keyring while a row may depend on it;
//! - (d) no partial or temp file at a download target, which is untouched or complete;
//! - (e) a source changed during its upload is never recorded with a checksum the server's
//!   object does not have (checked by (b) on every stored row);
//! - and no command panics or hangs.
//!
//! Bounded by SSEC_CHAOS_FAULTS (default 100) and SSEC_CHAOS_MINUTES (default 5); the seed is
//! SSEC_CHAOS_SEED (printed, so a run can be replayed); SSEC_CHAOS_REPORT names a file the
//! table is written to (scripts/chaos.sh puts it in docs/RELIABILITY.md). Loopback only: a
//! private server of the bench's kind behind the fault relay.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::relay::{Action, Relay};
use common::{PrivateServer, TestHome};
use md5::Digest as _;

const MIB: usize = 1024 * 1024;
const PASSPHRASE: &str = "campaign passphrase";
/// The app's read timeout in the campaign: a delayed answer outlives it.
const READ_TIMEOUT_SECS: u64 = 2;
/// A command still running after this long has hung.
const HANG_SECS: u64 = 150;

/// xorshift64*: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    UploadSingle,
    UploadMultipart,
    UploadFolder,
    Download,
    Resume,
    Rotate,
    Backup,
    Restore,
    ScanAdopt,
    KeyDelete,
    Reconcile,
}

const OPS: [Op; 11] = [
    Op::UploadSingle,
    Op::UploadMultipart,
    Op::UploadFolder,
    Op::Download,
    Op::Resume,
    Op::Rotate,
    Op::Backup,
    Op::Restore,
    Op::ScanAdopt,
    Op::KeyDelete,
    Op::Reconcile,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::UploadSingle => "upload (single)",
            Op::UploadMultipart => "upload (multipart)",
            Op::UploadFolder => "upload (folder)",
            Op::Download => "download",
            Op::Resume => "resume",
            Op::Rotate => "rotate (copy, part copy)",
            Op::Backup => "backup",
            Op::Restore => "restore",
            Op::ScanAdopt => "scan --adopt",
            Op::KeyDelete => "key delete",
            Op::Reconcile => "reconcile",
        }
    }
    /// About how long the operation runs, so a fault lands inside it.
    fn span_ms(self) -> u64 {
        match self {
            Op::UploadMultipart | Op::Backup | Op::Restore => 1500,
            Op::UploadFolder | Op::Download | Op::Rotate | Op::Resume => 900,
            _ => 400,
        }
    }
    fn talks_to_server(self) -> bool {
        !matches!(self, Op::Backup | Op::Restore | Op::KeyDelete)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    KillApp,
    ServerStopKill,
    ServerStopCont,
    RelayDropRequest,
    RelayReset,
    RelayDropAnswer,
    RelayTruncate,
    RelayDelayAnswer,
    RelayStall,
    SourceGrown,
    SourceShrunk,
    SourceRewritten,
    DiskFull,
    ReadOnlyTarget,
    SecondProcess,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::KillApp => "SIGKILL of the app",
            Fault::ServerStopKill => "server SIGSTOP, SIGKILL, restart",
            Fault::ServerStopCont => "server SIGSTOP, SIGCONT",
            Fault::RelayDropRequest => "relay: request dropped",
            Fault::RelayReset => "relay: connection reset",
            Fault::RelayDropAnswer => "relay: answer dropped",
            Fault::RelayTruncate => "relay: answer truncated",
            Fault::RelayDelayAnswer => "relay: answer delayed past the timeout",
            Fault::RelayStall => "relay: request stalled",
            Fault::SourceGrown => "source grown during upload",
            Fault::SourceShrunk => "source shrunk during upload",
            Fault::SourceRewritten => "source rewritten during upload",
            Fault::DiskFull => "download target's filesystem full",
            Fault::ReadOnlyTarget => "download target read-only",
            Fault::SecondProcess => "second process, conflicting work",
        }
    }
}

fn faults_for(op: Op, mounts: bool) -> Vec<Fault> {
    let mut f = vec![Fault::KillApp, Fault::SecondProcess];
    if op.talks_to_server() {
        f.extend([
            Fault::ServerStopKill,
            Fault::ServerStopCont,
            Fault::RelayDropRequest,
            Fault::RelayReset,
            Fault::RelayDropAnswer,
            Fault::RelayTruncate,
            Fault::RelayDelayAnswer,
            Fault::RelayStall,
        ]);
    }
    if matches!(op, Op::UploadSingle | Op::UploadMultipart) {
        f.extend([
            Fault::SourceGrown,
            Fault::SourceShrunk,
            Fault::SourceRewritten,
        ]);
    }
    if op == Op::Download && mounts {
        f.extend([Fault::DiskFull, Fault::ReadOnlyTarget]);
    }
    f
}

struct CampaignKey {
    label: String,
    bytes: [u8; 32],
    fingerprint: String,
    /// Deleted by the app (its bytes stay here, to find objects it still opens).
    deleted: bool,
}

impl CampaignKey {
    fn headers(&self) -> (String, String) {
        let b64 = base64::engine::general_purpose::STANDARD;
        (
            b64.encode(self.bytes),
            b64.encode(md5::Md5::digest(self.bytes)),
        )
    }
}

/// A registry row, read with SQL (the campaign trusts nothing the app prints).
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    object_key: String,
    fingerprint: String,
    state: String,
    size: Option<i64>,
    blake3: Option<String>,
}

/// A command of the app, started, with where its output goes.
struct Running {
    child: Child,
    out: PathBuf,
}

/// An operation's arguments, the source file a fault may change, the download to check.
type Prepared = (Vec<String>, Option<PathBuf>, Option<DownloadCheck>);

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// What one download was asked to do, to check (d) after it.
struct DownloadCheck {
    dir: PathBuf,
    target: PathBuf,
    basename: String,
    prior: Option<String>,
}

#[derive(Default)]
struct Tally {
    /// (operation, fault) -> (faults injected, commands that failed).
    injected: BTreeMap<(Op, Fault), (u64, u64)>,
    violations: Vec<String>,
    longest_recovery: Duration,
    recoveries: u64,
    unsettled_after_recovery: u64,
    unavailable: Vec<String>,
    /// Objects on the server checked (a), stored rows checked (b), contents read and hashed.
    objects_checked: u64,
    rows_checked: u64,
    contents_read: u64,
    /// Command outcomes: (succeeded, failed) for the struck commands.
    outcomes: (u64, u64),
}

struct Campaign {
    h: TestHome,
    server: PrivateServer,
    relay: Relay,
    rng: Rng,
    keys: Vec<CampaignKey>,
    s3: aws_sdk_s3::Client,
    rt: tokio::runtime::Runtime,
    /// Content checksums ever uploaded (or found on the server) per object base name.
    contents: HashMap<String, HashSet<String>>,
    /// (object key, ETag, key fingerprint) -> content checksum, so content is read once.
    content_seen: HashMap<(String, String, String), String>,
    /// (object key, ETag) -> fingerprint of the key that opens it ("" for none).
    opener_seen: HashMap<(String, String), String>,
    backups: Vec<PathBuf>,
    mounts: bool,
    iteration: usize,
    tally: Tally,
    /// "[i] " in a campaign of several streams, for its log lines.
    name: String,
}

fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

fn basename(object_key: &str) -> String {
    object_key.rsplit('/').next().unwrap_or("").to_string()
}

impl Campaign {
    fn new(seed: u64) -> Self {
        let server = PrivateServer::start();
        let relay = Relay::start(&server.endpoint);
        let h = TestHome::new("chaos");
        h.add_connection("own", &relay.endpoint);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let region = h.bench.region.clone();
        let endpoint = server.endpoint.clone();
        let s3 = rt.block_on(async move {
            let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region))
                .endpoint_url(endpoint)
                .load()
                .await;
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(true)
                    .build(),
            )
        });
        for d in ["src", "dl", "bk", "mnt", "keys"] {
            std::fs::create_dir_all(h.path(d)).unwrap();
        }
        let mounts = try_mount(&h.path("mnt"), "size=64k").is_ok();
        if mounts {
            unmount(&h.path("mnt"));
        }
        let mut c = Self {
            h,
            server,
            relay,
            rng: Rng(seed | 1),
            keys: Vec::new(),
            s3,
            rt,
            contents: HashMap::new(),
            content_seen: HashMap::new(),
            opener_seen: HashMap::new(),
            backups: Vec::new(),
            mounts,
            iteration: 0,
            tally: Tally::default(),
            name: String::new(),
        };
        if !mounts {
            c.tally
                .unavailable
                .push("full and read-only download targets: mounting a tmpfs needs root".into());
        }
        for label in ["ka", "kb", "kc"] {
            c.import_key(label);
        }
        c
    }

    fn import_key(&mut self, label: &str) {
        let bytes: [u8; 32] = self.rng.bytes(32).try_into().unwrap();
        let file = self.h.path("keys").join(label);
        std::fs::write(&file, bytes).unwrap();
        self.h.ok(&["key", "import", label, file.to_str().unwrap()]);
        let fingerprint = self.h.fingerprint(label);
        self.keys.push(CampaignKey {
            label: label.into(),
            bytes,
            fingerprint,
            deleted: false,
        });
    }

    /// Marks the keys a command deleted (a second process may delete one), and keeps two
    /// keys to upload and rotate with.
    fn sync_keys(&mut self) {
        let live: HashSet<String> = {
            let conn = self.db();
            let mut stmt = conn
                .prepare("SELECT fingerprint FROM keys WHERE deleted_at IS NULL")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        for k in &mut self.keys {
            k.deleted = !live.contains(&k.fingerprint);
        }
        while self.live_keys().len() < 2 {
            let label = format!("k{}", self.keys.len());
            self.import_key(&label);
        }
    }

    fn live_keys(&self) -> Vec<String> {
        self.keys
            .iter()
            .filter(|k| !k.deleted && k.label.starts_with('k'))
            .map(|k| k.label.clone())
            .collect()
    }

    fn cmd(&self, args: &[String]) -> Command {
        let mut c = self.h.cmd();
        c.args(args)
            .env("SSEC_MANAGER_READ_TIMEOUT", READ_TIMEOUT_SECS.to_string())
            .env("SSEC_MANAGER_PASSPHRASE", PASSPHRASE);
        c
    }

    fn spawn(&self, args: &[String], tag: &str) -> Running {
        let out = self
            .h
            .path(&format!("out-{}-{tag}.log", self.iteration % 4));
        let file = std::fs::File::create(&out).unwrap();
        let child = self
            .cmd(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Running { child, out }
    }

    /// Waits for a command; a panic or a hang is a violation. Returns whether it succeeded.
    fn finish(&mut self, mut r: Running, what: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(HANG_SECS);
        let status: ExitStatus = loop {
            if let Some(s) = r.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = r.child.kill();
                let _ = r.child.wait();
                self.violation(format!("{what} hung for more than {HANG_SECS} s"));
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = std::fs::read_to_string(&r.out).unwrap_or_default();
        if err.contains("panicked") {
            self.violation(format!("{what} panicked: {err}"));
        }
        status.success()
    }

    fn violation(&mut self, what: String) {
        eprintln!("VIOLATION at {}fault {}: {what}", self.name, self.iteration);
        self.tally
            .violations
            .push(format!("{}fault {}: {what}", self.name, self.iteration));
    }

    fn url(&self, name: &str) -> String {
        self.h.url(name)
    }

    /// The registry, read-only, as another process would read it.
    fn db(&self) -> rusqlite::Connection {
        let db = self.h.home.join("registry.sqlite3");
        let conn =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// The registry's rows under the campaign's prefix.
    fn rows(&self) -> Vec<Row> {
        let conn = self.db();
        let mut stmt = conn
            .prepare(
                "SELECT id, object_key, key_fingerprint, state, size, blake3 FROM objects
                 WHERE object_key LIKE ?1 || '/%' ORDER BY id",
            )
            .unwrap();
        stmt.query_map([&self.h.prefix], |r| {
            Ok(Row {
                id: r.get(0)?,
                object_key: r.get(1)?,
                fingerprint: r.get(2)?,
                state: r.get(3)?,
                size: r.get(4)?,
                blake3: r.get(5)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// Fingerprints a pending rotation may have put on an object (by row id).
    fn rotation_targets(&self) -> HashMap<i64, String> {
        let conn = self.db();
        let mut stmt = conn
            .prepare("SELECT object_id, to_fingerprint FROM rotations")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    // ----- operations -----

    /// Prepares an operation; returns its arguments, the source file a source fault may
    /// change, and the download to check. (The random draws keep their order: a seed
    /// replays a campaign.)
    fn prepare(&mut self, op: Op, fault: Fault) -> Option<Prepared> {
        let live = self.live_keys();
        let key = self.rng.pick(&live).clone();
        match op {
            Op::UploadSingle | Op::UploadMultipart => Some(self.prepare_upload(op, &key)),
            Op::UploadFolder => Some(self.prepare_folder(&key)),
            Op::Download => self.prepare_download(fault),
            Op::Resume => Some((words(&["resume", "-q"]), None, None)),
            Op::Rotate => self.prepare_rotate(&live),
            Op::Backup => {
                let out = self
                    .h
                    .path("bk")
                    .join(format!("backup-{}.age", self.iteration));
                let args = words(&["backup", "--out", out.to_str().unwrap()]);
                Some((args, None, None))
            }
            Op::Restore => {
                let file = self.backups.last()?.clone();
                Some((words(&["restore", file.to_str().unwrap()]), None, None))
            }
            Op::ScanAdopt => {
                let prefix = format!("s3://{}/{}/", self.h.bench.bucket, self.h.prefix);
                Some((words(&["scan", &prefix, "--adopt"]), None, None))
            }
            Op::KeyDelete => Some(self.prepare_key_delete()),
            Op::Reconcile => Some((words(&["reconcile"]), None, None)),
        }
    }

    /// A file of random size (multipart: over 5 MiB) to one of a few object names.
    fn prepare_upload(&mut self, op: Op, key: &str) -> Prepared {
        let (name, size) = if op == Op::UploadSingle {
            let n = format!("s{}", self.rng.below(4));
            (n, 1024 + self.rng.below(MIB as u64) as usize)
        } else {
            let n = format!("m{}", self.rng.below(2));
            (n, 6 * MIB + self.rng.below(5 * MIB as u64) as usize)
        };
        let src = self
            .h
            .path("src")
            .join(format!("{name}-{}", self.iteration));
        let data = self.rng.bytes(size);
        std::fs::write(&src, &data).unwrap();
        self.note_content(&name, &data);
        let mut args = words(&["upload", src.to_str().unwrap(), &self.url(&name)]);
        args.extend(words(&["--key", key, "--multipart-threshold", "5MiB"]));
        args.extend(words(&["--part-size", "5MiB", "-q", "--bwlimit", "8MiB"]));
        (args, Some(src), None)
    }

    /// A folder of three files to f/.
    fn prepare_folder(&mut self, key: &str) -> Prepared {
        let dir = self
            .h
            .path("src")
            .join(format!("folder-{}", self.iteration));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["fa", "fb", "fc"] {
            let size = 1 + self.rng.below(200 * 1024) as usize;
            let data = self.rng.bytes(size);
            std::fs::write(dir.join(name), &data).unwrap();
            self.note_content(name, &data);
        }
        let mut args = words(&["upload", dir.to_str().unwrap(), &self.url("f/")]);
        args.extend(words(&["--key", key, "-q", "--bwlimit", "8MiB"]));
        (args, None, None)
    }

    /// One of the stored rows, at random.
    fn pick_stored(&mut self) -> Option<Row> {
        let rows: Vec<Row> = self
            .rows()
            .into_iter()
            .filter(|r| r.state == "stored")
            .collect();
        (!rows.is_empty()).then(|| self.rng.pick(&rows).clone())
    }

    /// A stored object to another key (part copy for the multipart ones).
    fn prepare_rotate(&mut self, live: &[String]) -> Option<Prepared> {
        let row = self.pick_stored()?;
        let from = self
            .keys
            .iter()
            .find(|k| k.fingerprint == row.fingerprint)?;
        let others: Vec<String> = live.iter().filter(|l| **l != from.label).cloned().collect();
        let to = self.rng.pick(&others).clone();
        let url = format!("s3://{}/{}", self.h.bench.bucket, row.object_key);
        let mut args = words(&["rotate", &url, "--to", &to]);
        args.extend(words(&[
            "--copy-threshold",
            "5MiB",
            "--copy-part-size",
            "5MiB",
        ]));
        Some((args, None, None))
    }

    /// A new key, with an object half the time, to delete (refused while it has one).
    fn prepare_key_delete(&mut self) -> Prepared {
        let label = format!("t{}", self.iteration);
        self.import_key(&label);
        if self.rng.chance(50) {
            let src = self.h.path("src").join(&label);
            let data = self.rng.bytes(2048);
            std::fs::write(&src, &data).unwrap();
            self.note_content(&label, &data);
            let url = self.url(&label);
            self.h
                .ok(&["upload", src.to_str().unwrap(), &url, "--key", &label]);
        }
        (words(&["key", "delete", &label]), None, None)
    }

    /// A stored object into the download folder (or a full or read-only one), over an
    /// earlier file there 40 % of the time.
    fn prepare_download(&mut self, fault: Fault) -> Option<Prepared> {
        let row = self.pick_stored()?;
        let name = basename(&row.object_key);
        let dir = if matches!(fault, Fault::DiskFull | Fault::ReadOnlyTarget) {
            let dir = self.h.path("mnt");
            let size = (row.size.unwrap_or(0) as u64 / 2).max(8192);
            let opts = format!("size={size}");
            try_mount(&dir, &opts).ok()?;
            dir
        } else {
            self.h.path("dl")
        };
        let target = dir.join(&name);
        let prior = if target.exists() {
            Some(blake3_hex(&std::fs::read(&target).unwrap()))
        } else if self.rng.chance(40) {
            let data = self.rng.bytes(1000);
            std::fs::write(&target, &data).unwrap();
            Some(blake3_hex(&data))
        } else {
            None
        };
        if fault == Fault::ReadOnlyTarget {
            remount_ro(&dir);
        }
        let url = format!("s3://{}/{}", self.h.bench.bucket, row.object_key);
        let args = vec![
            "download".to_string(),
            url,
            target.to_str().unwrap().to_string(),
            "-q".into(),
            "--bwlimit".into(),
            "8MiB".into(),
        ];
        Some((
            args,
            None,
            Some(DownloadCheck {
                dir,
                target,
                basename: name,
                prior,
            }),
        ))
    }

    fn note_content(&mut self, name: &str, data: &[u8]) {
        self.contents
            .entry(name.to_string())
            .or_default()
            .insert(blake3_hex(data));
    }

    /// A conflicting command on the same home: delete a key in use, rotate, upload over,
    /// reconcile or resume.
    fn second_process(&mut self) -> Vec<String> {
        let live = self.live_keys();
        let key = self.rng.pick(&live).clone();
        let name = format!("s{}", self.rng.below(4));
        match self.rng.below(5) {
            0 => vec!["key".into(), "delete".into(), key],
            1 => vec![
                "rotate".into(),
                "--from".into(),
                key.clone(),
                "--to".into(),
                {
                    let others: Vec<&String> = live.iter().filter(|l| **l != key).collect();
                    (*self.rng.pick(&others)).clone()
                },
            ],
            2 => {
                let src = self
                    .h
                    .path("src")
                    .join(format!("second-{}", self.iteration));
                let size = 4096 + self.rng.below(64 * 1024) as usize;
                let data = self.rng.bytes(size);
                std::fs::write(&src, &data).unwrap();
                self.note_content(&name, &data);
                let url = self.url(&name);
                vec![
                    "upload".into(),
                    src.to_str().unwrap().into(),
                    url,
                    "--key".into(),
                    key,
                    "-q".into(),
                ]
            }
            3 => vec!["reconcile".into()],
            _ => vec!["resume".into(), "-q".into()],
        }
    }

    // ----- one fault -----

    fn round(&mut self) {
        let op = *self.rng.pick(&OPS);
        let faults = faults_for(op, self.mounts);
        let fault = *self.rng.pick(&faults);
        let Some((args, source, download)) = self.prepare(op, fault) else {
            return;
        };
        self.iteration += 1;
        eprintln!(
            "{}fault {}: {} / {}: {}",
            self.name,
            self.iteration,
            op.name(),
            fault.name(),
            args.join(" ")
        );
        let delay = Duration::from_millis(self.rng.below(op.span_ms()));
        self.arm_relay(fault);
        let running = self.spawn(&args, "op");
        let mut second = None;
        match fault {
            Fault::KillApp => {
                std::thread::sleep(delay);
                let mut r = running;
                let _ = r.child.kill();
                let _ = r.child.wait();
                self.tally_fault(op, fault, false);
                return self.recover_and_check(download);
            }
            Fault::ServerStopKill | Fault::ServerStopCont => {
                std::thread::sleep(delay);
                signal(self.server.pid.get(), "-STOP");
                std::thread::sleep(Duration::from_millis(500 + self.rng.below(2500)));
                if fault == Fault::ServerStopKill {
                    self.server.kill();
                    std::thread::sleep(Duration::from_millis(self.rng.below(1000)));
                    self.server.restart();
                } else {
                    signal(self.server.pid.get(), "-CONT");
                }
            }
            Fault::SourceGrown | Fault::SourceShrunk | Fault::SourceRewritten => {
                std::thread::sleep(delay);
                if let Some(src) = &source {
                    self.change_source(src, fault, &args);
                }
            }
            Fault::SecondProcess => {
                std::thread::sleep(delay / 2);
                let args2 = self.second_process();
                second = Some((self.spawn(&args2, "second"), args2));
            }
            _ => {}
        }
        let ok = self.finish(running, &format!("`{}` ({})", args.join(" "), fault.name()));
        if let Some((r, args2)) = second {
            self.finish(r, &format!("second process `{}`", args2.join(" ")));
        }
        self.tally_fault(op, fault, ok);
        if op == Op::Backup && ok {
            self.backups.push(PathBuf::from(&args[2]));
        }
        if op == Op::KeyDelete && ok {
            let label = &args[2];
            if let Some(k) = self.keys.iter_mut().find(|k| &k.label == label) {
                k.deleted = true;
            }
        }
        self.recover_and_check(download);
    }

    fn tally_fault(&mut self, op: Op, fault: Fault, ok: bool) {
        if ok {
            self.tally.outcomes.0 += 1;
        } else {
            self.tally.outcomes.1 += 1;
        }
        let e = self.tally.injected.entry((op, fault)).or_default();
        e.0 += 1;
        if !ok {
            e.1 += 1;
        }
    }

    fn arm_relay(&mut self, fault: Fault) {
        let action = match fault {
            Fault::RelayDropRequest => Action::DropRequest,
            Fault::RelayReset => Action::ResetRequest,
            Fault::RelayDropAnswer => Action::DropAnswer,
            Fault::RelayTruncate => Action::TruncateAnswer,
            Fault::RelayDelayAnswer => {
                Action::DelayAnswer(Duration::from_secs(READ_TIMEOUT_SECS + 1))
            }
            Fault::RelayStall => Action::DelayRequest(Duration::from_secs(READ_TIMEOUT_SECS + 1)),
            _ => return,
        };
        // Which request it strikes: one of the first few the operation makes.
        let skip = self.rng.below(6) as usize;
        self.relay.rule_after(|_| true, action, skip);
    }

    /// Grows, shrinks or rewrites a source file while it is being uploaded. A rewrite goes
    /// through a new file renamed over it half the time (as editors save), else in place.
    fn change_source(&mut self, src: &Path, fault: Fault, args: &[String]) {
        let name = basename(&args[2]);
        let old = std::fs::read(src).unwrap_or_default();
        let new = match fault {
            Fault::SourceGrown => {
                let mut d = old.clone();
                d.extend(self.rng.bytes(100 * 1024));
                d
            }
            Fault::SourceShrunk => old[..old.len() / 2].to_vec(),
            _ => self.rng.bytes(old.len()),
        };
        if fault == Fault::SourceRewritten && self.rng.chance(50) {
            let tmp = src.with_extension("new");
            std::fs::write(&tmp, &new).unwrap();
            std::fs::rename(&tmp, src).unwrap();
        } else {
            let mut f = std::fs::OpenOptions::new().write(true).open(src).unwrap();
            f.write_all(&new).unwrap();
            f.set_len(new.len() as u64).unwrap();
        }
        self.note_content(&name, &new);
    }

    // ----- recovery and the invariants -----

    fn recover_and_check(&mut self, download: Option<DownloadCheck>) {
        self.relay.clear();
        self.sync_keys();
        if !server_answers(&self.server) {
            signal(self.server.pid.get(), "-CONT");
            if !server_answers(&self.server) {
                self.server.kill();
                self.server.restart();
            }
        }
        if let Some(d) = &download {
            self.check_download(d);
            if d.dir == self.h.path("mnt") {
                unmount(&d.dir);
            }
        }
        let t0 = Instant::now();
        let mut settled = false;
        for _ in 0..5 {
            let r = self.spawn(&["reconcile".to_string()], "reconcile");
            if self.finish(r, "reconcile after the fault") {
                settled = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let took = t0.elapsed();
        self.tally.recoveries += 1;
        self.tally.longest_recovery = self.tally.longest_recovery.max(took);
        if !settled {
            self.tally.unsettled_after_recovery += 1;
        }
        self.check_server_against_registry();
    }

    /// (d): only the target in the folder, untouched or complete.
    fn check_download(&mut self, d: &DownloadCheck) {
        let names: Vec<String> = std::fs::read_dir(&d.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for name in &names {
            if d.dir == self.h.path("dl") {
                if !self.contents.contains_key(name) {
                    self.violation(format!("(d) {name} left in the download folder"));
                }
            } else if *name != d.basename && name != "lost+found" {
                self.violation(format!("(d) {name} left beside {}", d.basename));
            }
        }
        if d.target.exists() {
            let now = blake3_hex(&std::fs::read(&d.target).unwrap());
            let complete = self
                .contents
                .get(&d.basename)
                .is_some_and(|set| set.contains(&now));
            if Some(&now) != d.prior.as_ref() && !complete {
                self.violation(format!(
                    "(d) {} is neither untouched nor a complete object",
                    d.target.display()
                ));
            }
        } else if d.prior.is_some() {
            self.violation(format!("(d) {} was removed", d.target.display()));
        }
    }

    /// (a), (b), (c), (e).
    fn check_server_against_registry(&mut self) {
        let rows = self.rows();
        let rotating = self.rotation_targets();
        let home = ssec_manager::core::Home::open_with_keyring(&self.h.home).unwrap();
        let mut in_keyring: HashMap<String, bool> = HashMap::new();
        let mut has_key = |fp: &str| -> bool {
            *in_keyring.entry(fp.to_string()).or_insert_with(|| {
                home.key_in_keyring(&ssec_manager::core::key::KeyFingerprint::from_stored(fp))
                    .unwrap_or(false)
            })
        };
        let mut problems = Vec::new();
        // (c)
        for r in &rows {
            let may = matches!(
                r.state.as_str(),
                "stored" | "pending" | "in_doubt" | "old_version"
            );
            if may && !has_key(&r.fingerprint) {
                problems.push(format!(
                    "(c) {} is {} under a key gone from the keyring",
                    r.object_key, r.state
                ));
            }
            if let Some(to) = rotating.get(&r.id)
                && !has_key(to)
            {
                problems.push(format!(
                    "(c) {} is rotating to a key gone from the keyring",
                    r.object_key
                ));
            }
        }
        // (a)
        for (object_key, etag) in self.list_server() {
            self.tally.objects_checked += 1;
            let Some(opener) = self.opener(&object_key, &etag) else {
                problems.push(format!(
                    "(a) {object_key} is on the server under none of the campaign's keys"
                ));
                continue;
            };
            let known = rows.iter().any(|r| {
                r.object_key == object_key
                    && ((r.fingerprint == opener
                        && matches!(r.state.as_str(), "stored" | "in_doubt" | "pending"))
                        || rotating.get(&r.id) == Some(&opener))
            });
            let label = self.label_of(&opener);
            if !known {
                let states: Vec<String> = rows
                    .iter()
                    .filter(|r| r.object_key == object_key)
                    .map(|r| format!("#{} {} {}", r.id, self.label_of(&r.fingerprint), r.state))
                    .collect();
                problems.push(format!(
                    "(a) {object_key} opens with key {label}, but no row says it may be there \
                     under it (rows: {})",
                    states.join(", ")
                ));
            }
            if !has_key(&opener) {
                problems.push(format!(
                    "(c) {object_key} opens with key {label}, which is gone from the keyring"
                ));
            }
        }
        // (b), (e)
        for r in rows.iter().filter(|r| r.state == "stored") {
            self.tally.rows_checked += 1;
            if let Err(why) = self.check_stored(r) {
                problems.push(format!("(b) {} (#{}): {why}", r.object_key, r.id));
            }
        }
        for p in problems {
            self.violation(p);
        }
    }

    fn label_of(&self, fp: &str) -> String {
        self.keys
            .iter()
            .find(|k| k.fingerprint == fp)
            .map_or_else(|| format!("?{fp}"), |k| k.label.clone())
    }

    /// Every object under the prefix with its ETag and time (which tell versions apart).
    fn list_server(&self) -> Vec<(String, String)> {
        let prefix = format!("{}/", self.h.prefix);
        let bucket = self.h.bench.bucket.clone();
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut pages = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for o in page.unwrap().contents() {
                    // A copy may keep the ETag (a rotation re-keys the same content): the
                    // time tells versions apart.
                    let version =
                        format!("{}@{:?}", o.e_tag().unwrap_or_default(), o.last_modified());
                    out.push((o.key().unwrap_or_default().to_string(), version));
                }
            }
            out
        })
    }

    /// The fingerprint of the campaign key that opens an object (a HEAD with each).
    fn opener(&mut self, object_key: &str, etag: &str) -> Option<String> {
        let cache = (object_key.to_string(), etag.to_string());
        if let Some(fp) = self.opener_seen.get(&cache) {
            return (!fp.is_empty()).then(|| fp.clone());
        }
        let mut found = String::new();
        for k in &self.keys {
            if self.head(object_key, k).is_ok() {
                found = k.fingerprint.clone();
                break;
            }
        }
        self.opener_seen.insert(cache, found.clone());
        (!found.is_empty()).then_some(found)
    }

    fn head(&self, object_key: &str, k: &CampaignKey) -> Result<(i64, String), String> {
        let (key, md5) = k.headers();
        self.rt.block_on(async {
            self.s3
                .head_object()
                .bucket(&self.h.bench.bucket)
                .key(object_key)
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(md5)
                .send()
                .await
                .map(|h| {
                    (
                        h.content_length().unwrap_or(-1),
                        h.e_tag().unwrap_or_default().to_string(),
                    )
                })
                .map_err(|e| format!("{:?}", e.raw_response().map(|r| r.status().as_u16())))
        })
    }

    /// (b): the row's key opens the object, with the row's size and content checksum.
    fn check_stored(&mut self, r: &Row) -> Result<(), String> {
        let Some(k) = self.keys.iter().find(|k| k.fingerprint == r.fingerprint) else {
            return Err("its key is not one of the campaign's".into());
        };
        let (size, etag) = self
            .head(&r.object_key, k)
            .map_err(|status| format!("a HEAD with its key answers {status}"))?;
        if r.size.is_some_and(|s| s != size) {
            return Err(format!("size {size} on the server, {:?} recorded", r.size));
        }
        let cache = (r.object_key.clone(), etag, r.fingerprint.clone());
        let sum = match self.content_seen.get(&cache) {
            Some(s) => s.clone(),
            None => {
                let (key, md5) = k.headers();
                let data = self.rt.block_on(async {
                    let o = self
                        .s3
                        .get_object()
                        .bucket(&self.h.bench.bucket)
                        .key(&r.object_key)
                        .sse_customer_algorithm("AES256")
                        .sse_customer_key(key)
                        .sse_customer_key_md5(md5)
                        .send()
                        .await
                        .map_err(|e| format!("GET failed: {e}"))?;
                    o.body
                        .collect()
                        .await
                        .map(|b| b.into_bytes())
                        .map_err(|e| format!("GET body failed: {e}"))
                })?;
                let sum = blake3_hex(&data);
                self.tally.contents_read += 1;
                self.content_seen.insert(cache, sum.clone());
                self.note_content(&basename(&r.object_key), &data);
                sum
            }
        };
        match &r.blake3 {
            Some(recorded) if *recorded != sum => Err(format!(
                "content checksum {sum} on the server, {recorded} recorded"
            )),
            _ => Ok(()),
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// Whether the server accepts a connection and answers within 3 s.
fn server_answers(server: &PrivateServer) -> bool {
    use std::io::Read as _;
    let addr = server.endpoint.trim_start_matches("http://");
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n > 0)
}

fn try_mount(dir: &Path, opts: &str) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn remount_ro(dir: &Path) {
    let _ = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(dir)
        .status();
}

fn unmount(dir: &Path) {
    let _ = Command::new("umount").arg(dir).status();
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The campaign's table in Markdown.
fn report(t: &Tally, server: &str, seeds: &str, took: Duration) -> String {
    let total: u64 = t.injected.values().map(|v| v.0).sum();
    let mut md = format!(
        "Campaign of {total} faults against {server} (seeds {seeds}, {} s): **{} invariant \
         violations**; longest recovery (server back to a settled `reconcile`) {:.1} s; \
         {} recoveries left rows in doubt for a later reconcile. The struck commands: {} \
         succeeded (a retry or a second process got through), {} failed or were killed. \
         Checked after the faults: {} objects on the server with every key, {} stored rows \
         against the server, {} object contents read and hashed.\n\n",
        took.as_secs(),
        t.violations.len(),
        t.longest_recovery.as_secs_f64(),
        t.unsettled_after_recovery,
        t.outcomes.0,
        t.outcomes.1,
        t.objects_checked,
        t.rows_checked,
        t.contents_read,
    );
    let mut by_fault: BTreeMap<Fault, BTreeMap<Op, (u64, u64)>> = BTreeMap::new();
    for ((op, fault), v) in &t.injected {
        by_fault.entry(*fault).or_default().insert(*op, *v);
    }
    md.push_str("| fault | injected | command failed | operations struck |\n|---|---:|---:|---|\n");
    for (fault, ops) in &by_fault {
        let n: u64 = ops.values().map(|v| v.0).sum();
        let failed: u64 = ops.values().map(|v| v.1).sum();
        let list: Vec<String> = ops
            .iter()
            .map(|(op, v)| format!("{} {}", op.name(), v.0))
            .collect();
        md.push_str(&format!(
            "| {} | {n} | {failed} | {} |\n",
            fault.name(),
            list.join(", ")
        ));
    }
    let mut by_op: BTreeMap<Op, u64> = BTreeMap::new();
    for ((op, _), v) in &t.injected {
        *by_op.entry(*op).or_default() += v.0;
    }
    md.push_str("\n| operation | faults |\n|---|---:|\n");
    for (op, n) in by_op {
        md.push_str(&format!("| {} | {n} |\n", op.name()));
    }
    for u in &t.unavailable {
        md.push_str(&format!("\nNot injected here: {u}.\n"));
    }
    if !t.violations.is_empty() {
        md.push_str("\nViolations:\n");
        for v in &t.violations {
            md.push_str(&format!("- {v}\n"));
        }
    }
    md
}

impl Tally {
    /// Adds another stream's tally to this one.
    fn merge(&mut self, other: Tally) {
        for (k, v) in other.injected {
            let e = self.injected.entry(k).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        self.violations.extend(other.violations);
        self.longest_recovery = self.longest_recovery.max(other.longest_recovery);
        self.recoveries += other.recoveries;
        self.unsettled_after_recovery += other.unsettled_after_recovery;
        for u in other.unavailable {
            if !self.unavailable.contains(&u) {
                self.unavailable.push(u);
            }
        }
        self.objects_checked += other.objects_checked;
        self.rows_checked += other.rows_checked;
        self.contents_read += other.contents_read;
        self.outcomes.0 += other.outcomes.0;
        self.outcomes.1 += other.outcomes.1;
    }
}

/// One stream: its own server, relay, home and keys, `faults` rounds within `budget`.
fn stream(seed: u64, faults: u64, budget: Duration, name: String) -> (Tally, usize) {
    let t0 = Instant::now();
    let mut c = Campaign::new(seed);
    c.name = name;
    while (c.iteration as u64) < faults && t0.elapsed() < budget {
        let before = c.iteration;
        c.round();
        if c.iteration != before && c.iteration.is_multiple_of(25) {
            eprintln!(
                "  {}{} faults, {} violations, {} s",
                c.name,
                c.iteration,
                c.tally.violations.len(),
                t0.elapsed().as_secs()
            );
        }
    }
    if c.mounts {
        unmount(&c.h.path("mnt"));
    }
    (std::mem::take(&mut c.tally), c.iteration)
}

#[test]
fn fault_campaign_loses_nothing() {
    let faults = env_u64("SSEC_CHAOS_FAULTS", 100);
    let budget = Duration::from_secs(env_u64("SSEC_CHAOS_MINUTES", 5) * 60);
    // Streams side by side, each with its own server and home (SSEC_CHAOS_STREAMS).
    let streams = env_u64("SSEC_CHAOS_STREAMS", 1).max(1);
    let seed = env_u64("SSEC_CHAOS_SEED", {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        u64::from_le_bytes(b) >> 1
    });
    eprintln!(
        "fault campaign: {faults} faults in {streams} stream(s), seed {seed} \
         (SSEC_CHAOS_SEED with the same SSEC_CHAOS_STREAMS replays it)"
    );
    let t0 = Instant::now();
    let per = faults.div_ceil(streams);
    let seeds: Vec<u64> = (0..streams)
        .map(|i| seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    let handles: Vec<_> = seeds
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let name = if streams > 1 {
                format!("[{i}] ")
            } else {
                String::new()
            };
            std::thread::spawn(move || stream(s, per, budget, name))
        })
        .collect();
    let mut tally = Tally::default();
    let mut injected = 0;
    for h in handles {
        let (t, n) = h.join().expect("a campaign stream panicked");
        tally.merge(t);
        injected += n as u64;
    }
    let seeds_text: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let md = report(
        &tally,
        &bench_server(),
        &seeds_text.join(", "),
        t0.elapsed(),
    );
    eprintln!("{md}");
    if let Ok(path) = std::env::var("SSEC_CHAOS_REPORT") {
        std::fs::write(path, &md).unwrap();
    }
    assert!(
        tally.violations.is_empty(),
        "{} invariant violations (seed {seed}):\n{}",
        tally.violations.len(),
        tally.violations.join("\n")
    );
    assert!(
        injected >= faults.min(20),
        "only {injected} faults injected in the time given"
    );
}

fn bench_server() -> String {
    common::bench().server
}
