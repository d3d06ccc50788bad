//! The test bench as tests see it: a real S3 server (Garage, SeaweedFS or ministack, over
//! http or through a TLS front), the real gnome-keyring and the aws CLI, all started by
//! `scripts/test.sh`, which passes their addresses in SSEC_TEST_* variables. Each test gets
//! its own home (so its own registry and keyring namespace) and its own object prefix, so
//! tests run in parallel without meeting.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod relay;

pub struct Bench {
    /// The endpoint the tests use: https through the TLS front in a TLS pass.
    pub endpoint: String,
    /// The server's own plain http endpoint (for the fault relay, which speaks http).
    pub plain_endpoint: String,
    pub bucket: String,
    pub aws: String,
    /// "garage", "seaweedfs" or "ministack".
    pub server: String,
    pub region: String,
    /// Whether this pass goes through the TLS front (AWS_CA_BUNDLE names its CA).
    pub tls: bool,
}

pub fn bench() -> Bench {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the integration tests through scripts/test.sh, which starts the S3 server and the keyring")
        })
    };
    let endpoint = var("SSEC_TEST_ENDPOINT");
    Bench {
        plain_endpoint: std::env::var("SSEC_TEST_PLAIN_ENDPOINT").unwrap_or(endpoint.clone()),
        endpoint,
        bucket: var("SSEC_TEST_BUCKET"),
        aws: var("SSEC_TEST_AWS"),
        server: std::env::var("SSEC_TEST_SERVER").unwrap_or_else(|_| "garage".into()),
        region: std::env::var("SSEC_TEST_REGION").unwrap_or_else(|_| "garage".into()),
        tls: std::env::var("SSEC_TEST_TLS").is_ok_and(|v| v == "1"),
    }
}

/// Skips the rest of a test on servers that cannot pass it, saying which limitation of the
/// server (a row of docs/PROVIDERS.md) stops it. Returns true when the test must stop.
pub fn skip_on(servers: &[&str], limitation: &str) -> bool {
    let bench = bench();
    if !servers.contains(&bench.server.as_str()) {
        return false;
    }
    let server = format!("{}{}", bench.server, if bench.tls { " (TLS)" } else { "" });
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let line = format!("{test} on {server}: {limitation}");
    eprintln!("SKIPPED {line} (docs/PROVIDERS.md)");
    // scripts/test.sh lists every skip at the end of the run.
    if let Ok(log) = std::env::var("SSEC_TEST_SKIP_LOG") {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{line}");
        }
    }
    true
}

pub struct TestHome {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub prefix: String,
    pub bench: Bench,
}

pub fn unique(name: &str) -> String {
    let mut raw = [0u8; 4];
    getrandom::fill(&mut raw).unwrap();
    format!("{name}-{}", hex::encode(raw))
}

impl TestHome {
    pub fn new(name: &str) -> Self {
        let bench = bench();
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        Self {
            home,
            prefix: unique(name),
            tmp,
            bench,
        }
    }

    /// A home with a connection to the bench's Garage already added.
    pub fn with_connection(name: &str) -> Self {
        let h = Self::new(name);
        let endpoint = h.bench.endpoint.clone();
        h.add_connection("garage", &endpoint);
        h
    }

    pub fn add_connection(&self, name: &str, endpoint: &str) {
        self.add_connection_with(name, endpoint, &[]);
    }

    /// `connection add NAME` for `endpoint` (path-style, the bench's region) with `extra`.
    pub fn add_connection_with(&self, name: &str, endpoint: &str, extra: &[&str]) {
        let mut args = vec![
            "connection",
            "add",
            name,
            "--endpoint",
            endpoint,
            "--region",
            &self.bench.region,
            "--path-style",
        ];
        args.extend(extra);
        self.ok(&args);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `path` as a string, for argument lists.
    pub fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    pub fn url(&self, name: &str) -> String {
        format!("s3://{}/{}/{}", self.bench.bucket, self.prefix, name)
    }

    pub fn object_key(&self, name: &str) -> String {
        format!("{}/{}", self.prefix, name)
    }

    pub fn cmd(&self) -> Command {
        // SSEC_TEST_BIN: a copy of the binary (the long fault campaign runs one, so that
        // builds during it do not swap the program under it).
        let bin = std::env::var_os("SSEC_TEST_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_ssec-manager")),
            PathBuf::from,
        );
        let mut c = Command::new(bin);
        c.arg("--home").arg(&self.home);
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Adds a connection to the bench's Garage whose access key is kept in the keyring
    /// (the secret goes on standard input, as a user would pipe it).
    pub fn add_keyring_connection(&self, name: &str, access_key_id: &str, secret: &str) {
        let endpoint = self.bench.endpoint.clone();
        let args = [
            "connection",
            "add",
            name,
            "--endpoint",
            &endpoint,
            "--region",
            &self.bench.region,
            "--path-style",
            "--access-key-id",
            access_key_id,
        ];
        let out = self.run_stdin(&args, secret.as_bytes());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs ssec-manager with no AWS_* credentials in its environment: only a connection's
    /// own (keyring) credentials can be used.
    pub fn run_without_env_credentials(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .unwrap()
    }

    /// Uploads the test file `name` (in the temp dir) to the test prefix under `key`.
    pub fn upload(&self, name: &str, key: &str) -> String {
        self.upload_with(name, key, &[])
    }

    pub fn upload_with(&self, name: &str, key: &str, extra: &[&str]) -> String {
        let (src, url) = (self.p(name), self.url(name));
        let mut args = vec!["upload", src.as_str(), url.as_str(), "--key", key];
        args.extend(extra);
        self.ok(&args)
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ssec-manager {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "ssec-manager {args:?} should have failed; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// Runs a shell script with the aws CLI on PATH as `aws`, the endpoint in $EP and the
    /// bucket in $BUCKET, in the test's temp dir.
    pub fn sh(&self, script: &str) -> Output {
        let aws_dir = Path::new(&self.bench.aws).parent().unwrap();
        let path = format!("{}:{}", aws_dir.display(), std::env::var("PATH").unwrap());
        Command::new("sh")
            .arg("-ec")
            .arg(script)
            .current_dir(self.tmp.path())
            .env("PATH", path)
            .env("EP", &self.bench.endpoint)
            .env("BUCKET", &self.bench.bucket)
            .env("PREFIX", &self.prefix)
            .output()
            .unwrap()
    }

    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "script failed: {script}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The fingerprint of a key as `key list --json` reports it.
    pub fn fingerprint(&self, label: &str) -> String {
        let list: serde_json::Value =
            serde_json::from_str(&self.ok(&["key", "list", "--json"])).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"] == label)
            .unwrap_or_else(|| panic!("no key {label} in {list}"))["fingerprint"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Random bytes of a given size, written to a file.
pub fn random_file(path: &Path, size: usize) -> Vec<u8> {
    let mut data = vec![0u8; size];
    getrandom::fill(&mut data).unwrap();
    std::fs::write(path, &data).unwrap();
    data
}

/// Every file under a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Fails if any file under `dir` contains any of the needles (secrets that must not be there).
pub fn assert_no_file_holds(dir: &Path, needles: &[Vec<u8>], what: &str) {
    let files = files_under(dir);
    assert!(!files.is_empty(), "nothing under {}", dir.display());
    for file in files {
        let content = std::fs::read(&file).unwrap();
        for needle in needles {
            assert!(
                !content
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice()),
                "{} holds {what}",
                file.display()
            );
        }
    }
}

/// A server of a test's own (of the bench's kind, over plain http), for tests that kill it.
/// Stopped on drop.
pub struct PrivateServer {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub pid: std::cell::Cell<u32>,
}

impl PrivateServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = bench().server;
        let script = format!("{}/scripts/{server}-up.sh", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(script).arg(dir.path()).output().unwrap();
        assert!(
            out.status.success(),
            "{server}-up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} missing from the server's env"))
                .trim_matches('\'')
                .to_string()
        };
        Self {
            endpoint: var("SSEC_TEST_ENDPOINT"),
            pid: std::cell::Cell::new(var("SSEC_TEST_SERVER_PID").parse().unwrap()),
            dir,
        }
    }

    pub fn kill(&self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.get().to_string()])
            .status();
    }

    /// Starts the same server again on its data and ports (after `kill`), and waits until
    /// S3 answers.
    pub fn restart(&self) {
        let out = Command::new(self.dir.path().join("start.sh"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        self.pid.set(pid);
        let addr = self.endpoint.trim_start_matches("http://").to_string();
        wait_until(30, "the server to come back", || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/server-down.sh");
        let _ = Command::new(script).arg(self.dir.path()).output();
    }
}

/// Polls `check` every 50 ms until it holds or `secs` pass.
pub fn wait_until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
