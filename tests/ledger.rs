#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The ledger never lies (issue 12): outcomes in doubt, keys protected while anything may
//! depend on them, work owned by the process that runs it, keys found without the registry,
//! fixes that work, SQLite across processes, secrets at the edges. Real Garage, real
//! gnome-keyring, a relay that loses answers at chosen moments.

mod common;

use common::relay::{Action, Relay};
use common::{TestHome, random_file, wait_until};
use ssec_manager::core::registry::Registry;

const MIB: usize = 1024 * 1024;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// The registry rows of objects whose key ends with `name`, as `objects --json` says.
fn rows(h: &TestHome, name: &str) -> Vec<serde_json::Value> {
    json(&h.ok(&["objects", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["key"].as_str().unwrap().ends_with(name))
        .cloned()
        .collect()
}

/// (state, key label) of each row of `name`, oldest first.
fn states(h: &TestHome, name: &str) -> Vec<(String, String)> {
    rows(h, name)
        .iter()
        .map(|o| {
            (
                o["state"].as_str().unwrap().to_string(),
                o["key_label"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A home whose connection "relay" goes through a relay in front of the bench's Garage.
fn through_relay(name: &str) -> (TestHome, Relay) {
    let h = TestHome::new(name);
    let relay = Relay::start(&h.bench.plain_endpoint);
    h.add_connection("relay", &relay.endpoint);
    (h, relay)
}

/// Found by the fault campaign (a server paused mid-PUT): the SDK sent the PUT again when
/// the first answer was late, both requests landed, the first one last; the upload's HEAD
/// saw another ETag under its own key and recorded the row as "replaced" by an upload that
/// never existed, so nothing protected the key of the object the server holds.
#[test]
fn a_put_the_sdk_sent_twice_keeps_protecting_its_key() {
    let (h, relay) = through_relay("put-twice");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("x.bin"), 5000);
    // The first request reaches the server after the client gave up on it (read timeout
    // 2 s) and sent it again; the second's answer waits until the first has landed.
    relay.rule(
        |r| r.is_put_of("/x.bin"),
        Action::DelayRequest(std::time::Duration::from_secs(3)),
        Some(1),
    );
    relay.rule(
        |r| r.is_put_of("/x.bin"),
        Action::HoldAnswer("second".into()),
        Some(1),
    );
    let (src, url) = (h.p("x.bin"), h.url("x.bin"));
    let child = h
        .cmd()
        .args(["upload", &src, &url, "--key", "k"])
        .env("SSEC_MANAGER_READ_TIMEOUT", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    relay.wait_arrived("second", 20);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    relay.release("second");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(states(&h, "/x.bin"), [("stored".into(), "k".into())]);
    let refused = h.fails(&["key", "delete", "k"]);
    assert!(refused.contains("still encrypts 1 object"), "{refused}");
    let back = h.p("x.back");
    h.ok(&["download", &url, &back]);
    assert!(std::fs::read(&back).unwrap() == data);
}

/// Found by the fault campaign (a scan --adopt beside `rotate --from`): the scan found the
/// object under its old key, the rotation then moved it and its row to the new key, and the
/// scan, acting on what it had seen, retired the row the rotation had just written and
/// adopted the object under the old key: the key that really encrypts it protected nothing.
#[test]
fn a_scan_racing_a_rotation_leaves_the_rotated_row_alone() {
    let (h, relay) = through_relay("scan-race");
    h.ok(&["key", "generate", "a"]);
    h.ok(&["key", "generate", "b"]);
    random_file(&h.path("x.bin"), 3000);
    h.upload("x.bin", "a");
    let env = h.ok(&["key", "env", "a"]);
    let md5_a = env
        .lines()
        .find_map(|l| l.split("SSE_MD5=").nth(1))
        .unwrap()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string();
    // The scan's HEAD with key "a" is answered "opens", then that answer waits.
    relay.rule(
        move |r| r.is_head_of("/x.bin") && r.sse_md5() == Some(md5_a.as_str()),
        Action::HoldAnswer("scan".into()),
        Some(1),
    );
    let prefix = format!("s3://{}/{}/", h.bench.bucket, h.prefix);
    let child = h
        .cmd()
        .args(["scan", &prefix, "--adopt"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    relay.wait_arrived("scan", 20);
    h.ok(&["rotate", &h.url("x.bin"), "--to", "b"]);
    relay.release("scan");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(states(&h, "/x.bin"), [("stored".into(), "b".into())]);
    let refused = h.fails(&["key", "delete", "b"]);
    assert!(refused.contains("still encrypts 1 object"), "{refused}");
}

/// A PutObject whose answer is lost after the server stored the object: the row is in
/// doubt (not "failed"), the new key cannot be deleted, and reconcile finds the object
/// under it and retires the row it replaced.
#[test]
fn a_put_whose_answer_is_lost_stays_in_doubt_until_reconcile_asks_the_server() {
    let (h, relay) = through_relay("doubt-put");
    h.ok(&["key", "generate", "a"]);
    h.ok(&["key", "generate", "b"]);
    random_file(&h.path("x.bin"), 3000);
    h.upload("x.bin", "a");
    let second = random_file(&h.path("x.bin"), 4000);
    // Every answer about x.bin is lost, the SDK's retries' and the settling HEAD's too.
    relay.rule(
        |r| r.is_put_of("/x.bin") || r.is_head_of("/x.bin"),
        Action::DropAnswer,
        None,
    );
    let err = h.fails(&["upload", &h.p("x.bin"), &h.url("x.bin"), "--key", "b"]);
    assert!(relay.dropped() > 0);
    assert!(err.contains("reconcile"), "{err}");
    assert_eq!(
        states(&h, "/x.bin"),
        [
            ("stored".into(), "a".into()),
            ("in_doubt".into(), "b".into())
        ]
    );
    let refused = h.fails(&["key", "delete", "b"]);
    assert!(refused.contains("still encrypts 1 object"), "{refused}");

    relay.clear();
    let out = h.ok(&["reconcile"]);
    assert!(out.contains("stored under key \"b\""), "{out}");
    assert_eq!(
        states(&h, "/x.bin"),
        [
            ("replaced".into(), "a".into()),
            ("stored".into(), "b".into())
        ]
    );
    let back = h.p("x.back");
    let said = h.ok(&["download", &h.url("x.bin"), &back]);
    assert!(said.contains("key \"b\""), "{said}");
    assert!(std::fs::read(&back).unwrap() == second);
    // The old key protects nothing now; the new one does.
    h.ok(&["key", "delete", "a"]);
    h.fails(&["key", "delete", "b"]);
}

/// The same with a CompleteMultipartUpload whose answer is lost.
#[test]
fn a_multipart_complete_whose_answer_is_lost_stays_in_doubt_until_reconciled() {
    let (h, relay) = through_relay("doubt-complete");
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("first.bin"), 1000);
    h.upload("first.bin", "k");
    let data = random_file(&h.path("big.bin"), 11 * MIB + 5);
    relay.rule(
        |r| r.is_complete_of("/big.bin") || r.is_head_of("/big.bin"),
        Action::DropAnswer,
        None,
    );
    let err = h.fails(&[
        "upload",
        &h.p("big.bin"),
        &h.url("big.bin"),
        "--key",
        "k",
        "--part-size",
        "5MiB",
        "--multipart-threshold",
        "5MiB",
        "--quiet",
    ]);
    assert!(err.contains("reconcile"), "{err}");
    assert_eq!(states(&h, "/big.bin"), [("in_doubt".into(), "k".into())]);
    h.fails(&["key", "delete", "k"]);
    relay.clear();
    h.ok(&["reconcile"]);
    assert_eq!(states(&h, "/big.bin"), [("stored".into(), "k".into())]);
    let back = h.p("big.back");
    h.ok(&["download", &h.url("big.bin"), &back]);
    assert!(std::fs::read(&back).unwrap() == data);
}

/// A rotation whose confirming HEAD is lost: the object may be under the new key, so the
/// new key is protected; the next reconcile (or rotation) settles the row to it.
#[test]
fn a_rotation_whose_confirmation_is_lost_protects_the_new_key_until_settled() {
    let (h, relay) = through_relay("doubt-rotate");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let data = random_file(&h.path("r.bin"), 5000);
    h.upload("r.bin", "old");
    let new_md5 = h.fingerprint("new");
    relay.rule(
        move |r| r.is_head_of("/r.bin") && r.sse_md5() == Some(new_md5.as_str()),
        Action::DropAnswer,
        None,
    );
    h.fails(&["rotate", &h.url("r.bin"), "--to", "new"]);
    let refused = h.fails(&["key", "delete", "new"]);
    assert!(refused.contains("still encrypts 1 object"), "{refused}");

    relay.clear();
    let out = h.ok(&["reconcile"]);
    assert!(out.contains("rotated to key \"new\" (confirmed)"), "{out}");
    assert_eq!(states(&h, "/r.bin"), [("stored".into(), "new".into())]);
    let back = h.p("r.back");
    let said = h.ok(&["download", &h.url("r.bin"), &back]);
    assert!(said.contains("key \"new\""), "{said}");
    assert!(std::fs::read(&back).unwrap() == data);
    h.ok(&["key", "delete", "old"]);
}

/// An upload's preflight held at the relay while another process deletes the key: the key
/// was reserved before the preflight, so the delete refuses; never do both succeed.
#[test]
fn a_key_delete_racing_an_upload_refuses_once_the_upload_reserved_the_key() {
    let (h, relay) = through_relay("delete-race");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("p.bin"), 2000);
    relay.rule(
        |r| r.method == "GET" && r.target.contains("?encryption"),
        Action::Hold("preflight".into()),
        Some(1),
    );
    let upload = h
        .cmd()
        .args(["upload", &h.p("p.bin"), &h.url("p.bin"), "--key", "k"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    relay.wait_arrived("preflight", 30);
    let delete = h.run(&["key", "delete", "k"]);
    relay.release("preflight");
    let upload = upload.wait_with_output().unwrap();
    assert!(
        !(delete.status.success() && upload.status.success()),
        "both the delete and the upload succeeded"
    );
    assert!(
        !delete.status.success(),
        "{}",
        String::from_utf8_lossy(&delete.stdout)
    );
    assert!(
        upload.status.success(),
        "{}",
        String::from_utf8_lossy(&upload.stderr)
    );
    let back = h.p("p.back");
    h.ok(&["download", &h.url("p.bin"), &back]);
    assert!(std::fs::read(&back).unwrap() == data);
}

/// Two processes upload one object with different keys; the first to land hears back last.
/// The registry names the key the server's object opens with, not the last to finish.
#[test]
fn two_uploads_to_one_object_are_ordered_by_the_server_not_by_who_hears_back_last() {
    let (h, relay) = through_relay("race-put");
    h.ok(&["key", "generate", "a"]);
    h.ok(&["key", "generate", "b"]);
    random_file(&h.path("warm.bin"), 100);
    h.upload("warm.bin", "a");
    random_file(&h.path("fa.bin"), 1111);
    let fb = random_file(&h.path("fb.bin"), 2222);
    let a_md5 = h.fingerprint("a");
    relay.rule(
        move |r| r.is_put_of("/same.bin") && r.sse_md5() == Some(a_md5.as_str()),
        Action::HoldAnswer("a".into()),
        Some(1),
    );
    let first = h
        .cmd()
        .args(["upload", &h.p("fa.bin"), &h.url("same.bin"), "--key", "a"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A's object is on the server; its answer waits at the relay.
    relay.wait_arrived("a", 30);
    h.ok(&["upload", &h.p("fb.bin"), &h.url("same.bin"), "--key", "b"]);
    relay.release("a");
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let now = states(&h, "/same.bin");
    assert!(now.contains(&("stored".into(), "b".into())), "{now:?}");
    assert!(!now.contains(&("stored".into(), "a".into())), "{now:?}");
    let back = h.p("same.back");
    let said = h.ok(&["download", &h.url("same.bin"), &back]);
    assert!(said.contains("key \"b\""), "{said}");
    assert!(std::fs::read(&back).unwrap() == fb);
}

/// A multipart upload another process is still sending is not "interrupted": `resume`
/// leaves it alone, and it completes.
#[test]
fn resume_leaves_an_upload_another_process_is_still_sending() {
    let h = TestHome::with_connection("resume-running");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("slow.bin"), 25 * MIB);
    let mut child = h
        .cmd()
        .args(["upload", &h.p("slow.bin"), &h.url("slow.bin"), "--key", "k"])
        .args(["--part-size", "5MiB", "--multipart-threshold", "5MiB"])
        .args(["--bwlimit", "5MiB", "--concurrency", "2", "--quiet"])
        .spawn()
        .unwrap();
    wait_until(20, "the multipart upload to start", || {
        !json(&h.ok(&["uploads", "--json"]))["running"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    let listing = json(&h.ok(&["uploads", "--json"]));
    assert!(
        listing["interrupted"].as_array().unwrap().is_empty(),
        "{listing}"
    );
    let id = listing["running"][0]["id"].as_i64().unwrap();
    let out = h.ok(&["resume", "--quiet"]);
    assert!(out.contains("no interrupted uploads"), "{out}");
    let err = h.fails(&["resume", &id.to_string(), "--quiet"]);
    assert!(err.contains("still running"), "{err}");
    let err = h.fails(&["uploads", "--abort", &id.to_string()]);
    assert!(err.contains("still running"), "{err}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the upload ended before it could be disturbed; the test proves nothing"
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(states(&h, "/slow.bin"), [("stored".into(), "k".into())]);
    let back = h.p("slow.back");
    h.ok(&["download", &h.url("slow.bin"), &back]);
    assert!(std::fs::read(&back).unwrap() == data);
}

/// registry.sqlite3 lost: the keys are still in the keyring, tagged so a new registry can
/// find them; adopted, then a scan brings back every object, all downloadable.
#[test]
fn a_lost_registry_gets_its_keys_and_objects_back_from_the_keyring_and_the_bucket() {
    let h = TestHome::with_connection("lost-registry");
    let (la, lb) = (common::unique("orphan-a"), common::unique("orphan-b"));
    h.ok(&["key", "generate", &la]);
    h.ok(&["key", "generate", &lb]);
    let (fa, fb) = (h.fingerprint(&la), h.fingerprint(&lb));
    let one = random_file(&h.path("one.bin"), 3000);
    let two = random_file(&h.path("two.bin"), 4000);
    h.upload("one.bin", &la);
    h.upload("two.bin", &lb);
    for f in [
        "registry.sqlite3",
        "registry.sqlite3-wal",
        "registry.sqlite3-shm",
    ] {
        let _ = std::fs::remove_file(h.home.join(f));
    }
    // A new registry: it knows no key.
    h.add_connection("garage", &h.bench.endpoint.clone());
    assert!(
        json(&h.ok(&["key", "list", "--json"]))
            .as_array()
            .unwrap()
            .is_empty()
    );
    let orphans = h.ok(&["key", "list", "--orphaned", "--json"]);
    assert!(orphans.contains(&fa) && orphans.contains(&fb), "{orphans}");
    h.ok(&["key", "adopt", &la]);
    h.ok(&["key", "adopt", &lb]);
    assert_eq!(h.fingerprint(&la), fa);
    let scan = h.ok(&[
        "scan",
        &format!("s3://{}/{}/", h.bench.bucket, h.prefix),
        "--adopt",
    ]);
    assert!(scan.contains("2 adopted"), "{scan}");
    for (name, data, label) in [("one.bin", &one, &la), ("two.bin", &two, &lb)] {
        let back = h.p(&format!("{name}.back"));
        let said = h.ok(&["download", &h.url(name), &back]);
        assert!(said.contains(label.as_str()), "{said}");
        assert!(std::fs::read(&back).unwrap() == *data);
    }
    let after = h.ok(&["key", "list", "--orphaned", "--json"]);
    assert!(!after.contains(&fa), "{after}");
}

/// A keyring entry overwritten with another key's bytes: downloads refuse with words that
/// say how to repair it, and restoring a good backup repairs it.
#[test]
fn restore_repairs_a_keyring_entry_that_holds_other_bytes() {
    let h = TestHome::with_connection("repair");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("o.bin"), 2000);
    h.upload("o.bin", "k");
    let pass = "a passphrase for the test";
    let made = h
        .cmd()
        .args(["backup", "--out", &h.p("keys.age")])
        .env("SSEC_MANAGER_PASSPHRASE", pass)
        .output()
        .unwrap();
    assert!(made.status.success());
    let home_id = Registry::open(&h.home.join("registry.sqlite3"))
        .unwrap()
        .home_id()
        .unwrap();
    let entry = keyring::Entry::new(
        &format!("ssec-manager:{home_id}"),
        &format!("sse-c-key:{}", h.fingerprint("k")),
    )
    .unwrap();
    entry.set_secret(&[0x5au8; 32]).unwrap();
    let err = h.fails(&["download", &h.url("o.bin"), &h.p("x")]);
    assert!(err.contains("holds another key"), "{err}");
    assert!(err.contains("ssec-manager restore"), "{err}");
    let restored = h
        .cmd()
        .args(["restore", &h.p("keys.age")])
        .env("SSEC_MANAGER_PASSPHRASE", pass)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(said.contains("restored into the keyring: k"), "{said}");
    let back = h.p("o.back");
    h.ok(&["download", &h.url("o.bin"), &back]);
    assert!(std::fs::read(&back).unwrap() == data);
}

/// With every log turned up to trace, the key appears in no form on stderr.
#[test]
fn no_log_level_brings_the_key_into_stderr() {
    use base64::Engine as _;
    let h = TestHome::with_connection("log-cap");
    h.ok(&["key", "generate", "k"]);
    h.ok(&["key", "export", "k", "--out", &h.p("k.key")]);
    let b64 = std::fs::read_to_string(h.path("k.key")).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    random_file(&h.path("t.bin"), 3000);
    let mut stderr = Vec::new();
    let (src, url, back) = (h.p("t.bin"), h.url("t.bin"), h.p("t.back"));
    for args in [
        vec!["upload", src.as_str(), url.as_str(), "--key", "k"],
        vec!["download", url.as_str(), back.as_str()],
    ] {
        let out = h
            .cmd()
            .args(&args)
            .env(
                "RUST_LOG",
                "trace,aws_sigv4=trace,aws_sigv4::http_request=trace,aws_smithy_runtime=trace,hyper=trace",
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stderr.extend(out.stderr);
    }
    let text = String::from_utf8_lossy(&stderr);
    for (what, needle) in [
        ("base64", b64.trim().to_string()),
        ("hex", hex::encode(&raw)),
        ("HEX", hex::encode_upper(&raw)),
    ] {
        assert!(!text.contains(&needle), "the key's {what} is in stderr");
    }
    assert!(!stderr.windows(raw.len()).any(|w| w == raw.as_slice()));
}

/// Two processes at once: adding the same connection, importing the same key. One wins
/// each time; nothing the winner relies on is lost (its secret, its keyring entry).
#[test]
fn processes_racing_on_one_home_lose_no_row_and_no_keyring_entry() {
    let h = TestHome::with_connection("races");
    let (id, secret) = (
        std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
        std::env::var("AWS_SECRET_ACCESS_KEY").unwrap(),
    );
    let key_file = h.path("shared.key");
    std::fs::write(&key_file, [0x11u8; 32]).unwrap();
    // Whether a wrong secret is refused: ministack takes any.
    let checks_signatures = !common::skip_on(
        &["ministack"],
        "request signatures are not checked (any secret access key is accepted), so which \
         process's secret was kept cannot be seen from the server",
    );
    for round in 0..4 {
        // The same connection name from two processes; only the first has the right secret.
        let name = format!("dup{round}");
        let spawn = |s: &str| {
            use std::io::Write as _;
            let mut c = h
                .cmd()
                .args(["connection", "add", &name, "--endpoint", &h.bench.endpoint])
                .args(["--region", &h.bench.region, "--path-style"])
                .args(["--access-key-id", &id])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
            c
        };
        let (good, bad) = (spawn(&secret), spawn("not-the-secret"));
        let (good, bad) = (
            good.wait_with_output().unwrap(),
            bad.wait_with_output().unwrap(),
        );
        assert!(
            good.status.success() != bad.status.success(),
            "round {round}"
        );
        // The stored secret is the winner's: the connection works exactly when it won.
        let bucket = format!("s3://{}", h.bench.bucket);
        let works = h
            .cmd()
            .args(["preflight", &bucket, "--connection", &name])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .unwrap()
            .status
            .success();
        if checks_signatures {
            assert_eq!(works, good.status.success(), "round {round}");
        }

        // The same key imported under two labels at once.
        let import = |label: String| {
            h.cmd()
                .args(["key", "import", &label, key_file.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (import(format!("a{round}")), import(format!("b{round}")));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert!(a.status.success() != b.status.success(), "round {round}");
        let keys = json(&h.ok(&["key", "list", "--json"]));
        let shared: Vec<&serde_json::Value> = keys
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["label"].as_str().unwrap().ends_with(&round.to_string()))
            .collect();
        assert_eq!(shared.len(), 1, "{keys}");
        assert_eq!(shared[0]["in_keyring"], true, "{keys}");
        let label = shared[0]["label"].as_str().unwrap().to_string();
        h.ok(&["key", "delete", &label]);
    }
}

/// A connection with an upload under way cannot be removed, and the upload completes.
#[test]
fn a_connection_cannot_be_removed_while_an_upload_runs_on_it() {
    let h = TestHome::with_connection("remove-during");
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("w.bin"), 12 * MIB);
    let mut child = h
        .cmd()
        .args([
            "upload",
            &h.p("w.bin"),
            &h.url("w.bin"),
            "--key",
            "k",
            "--quiet",
        ])
        .args([
            "--part-size",
            "5MiB",
            "--multipart-threshold",
            "5MiB",
            "--bwlimit",
            "4MiB",
        ])
        .spawn()
        .unwrap();
    wait_until(20, "the upload to be recorded", || {
        !rows(&h, "/w.bin").is_empty()
    });
    let err = h.fails(&["connection", "remove", "garage"]);
    assert!(err.contains("still holds 1 registered object"), "{err}");
    assert!(child.wait().unwrap().success());
    assert_eq!(states(&h, "/w.bin"), [("stored".into(), "k".into())]);
}

/// Every fix the audit suggests, run as written: the finding goes away.
#[test]
fn every_fix_the_audit_suggests_works() {
    let (h, relay) = through_relay("fixes");
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("one.bin"), 1000);
    h.upload("one.bin", "k");
    // An upload in doubt.
    random_file(&h.path("doubt.bin"), 1000);
    relay.rule(
        |r| r.is_put_of("/doubt.bin") || r.is_head_of("/doubt.bin"),
        Action::DropAnswer,
        None,
    );
    h.fails(&[
        "upload",
        &h.p("doubt.bin"),
        &h.url("doubt.bin"),
        "--key",
        "k",
    ]);
    relay.clear();
    let findings = |h: &TestHome| -> Vec<serde_json::Value> {
        json(&h.ok(&["audit", "--json"]))["findings"]
            .as_array()
            .unwrap()
            .clone()
    };
    let fix_of = |h: &TestHome, part: &str| -> Option<String> {
        findings(h)
            .iter()
            .find(|f| f["title"].as_str().unwrap().contains(part))
            .map(|f| f["fix"].as_str().unwrap().to_string())
    };
    let run_fix = |fix: &str| {
        let command = fix.split(" (").next().unwrap();
        let words: Vec<String> = command
            .split_whitespace()
            .skip(1) // "ssec-manager"
            .map(|w| match w {
                "FILE" => h.p("fix.age"),
                other => other.to_string(),
            })
            .collect();
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = h
            .cmd()
            .args(&args)
            .env("SSEC_MANAGER_PASSPHRASE", "fix passphrase words")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{fix}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for part in ["in doubt", "never backed up"] {
        let fix = fix_of(&h, part).unwrap_or_else(|| panic!("no finding {part}"));
        run_fix(&fix);
        assert!(fix_of(&h, part).is_none(), "{part} is still found");
    }
    // A key gone from the keyring: the restore the finding names brings it back.
    h.sh_ok(&format!(
        "secret-tool clear service ssec-manager:{} username sse-c-key:{}",
        Registry::open(&h.home.join("registry.sqlite3"))
            .unwrap()
            .home_id()
            .unwrap(),
        h.fingerprint("k")
    ));
    let fix = fix_of(&h, "missing from the keyring").unwrap();
    let restore = fix.split('`').nth(1).unwrap();
    run_fix(restore);
    assert!(fix_of(&h, "missing from the keyring").is_none());
}
