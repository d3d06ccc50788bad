#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The transfer engine against the real Garage: multipart both ways with the aws CLI,
//! cancel, a server killed mid-download, a client killed mid-upload and resumed, progress.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{PrivateServer, TestHome, random_file, wait_until};
use ssec_manager::core::Home;
use ssec_manager::core::jobs::{JobManager, JobSpec, JobState};
use ssec_manager::core::location::S3Url;
use ssec_manager::core::registry::ObjectState;
use ssec_manager::core::transfer::TransferOptions;

const MIB: usize = 1024 * 1024;
const PARTS_5MIB: [&str; 4] = ["--part-size", "5MiB", "--multipart-threshold", "5MiB"];

#[test]
fn multipart_round_trip_is_byte_identical_through_ssec_manager_and_the_aws_cli() {
    let h = TestHome::with_connection("multipart");
    let data = random_file(&h.path("big.bin"), 40 * MIB + 12345);
    h.ok(&["key", "generate", "mp"]);
    h.upload_with("big.bin", "mp", &PARTS_5MIB);
    let url = h.url("big.bin");

    // It really is a multipart object of 9 parts.
    let env_lines = h.ok(&["key", "env", "mp"]);
    let head = h.sh_ok(&format!(
        r#"{env_lines}
        aws --endpoint-url "$EP" s3api head-object --bucket "$BUCKET" --key "$PREFIX/big.bin" \
          --part-number 1 --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5""#
    ));
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    // The multipart ETag ends in "-9"; PartsCount says it too where the server gives it
    // (ministack does not).
    assert!(head["ETag"].as_str().unwrap().ends_with("-9\""), "{head}");
    if !head["PartsCount"].is_null() {
        assert_eq!(head["PartsCount"], 9, "{head}");
    }

    // Back through ranged parallel GETs.
    let out = h.path("back.bin");
    let mut args = vec!["download", url.as_str(), out.to_str().unwrap()];
    args.extend(PARTS_5MIB);
    h.ok(&args);
    assert!(
        std::fs::read(&out).unwrap() == data,
        "ssec-manager download differs"
    );

    // Back through the aws CLI with the same key.
    h.sh_ok(&format!(
        r#"{env_lines}
        aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/big.bin" \
          --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" aws.bin >/dev/null"#
    ));
    assert!(
        std::fs::read(h.path("aws.bin")).unwrap() == data,
        "aws CLI download differs"
    );

    // And the other way: a multipart upload by `aws s3 cp --sse-c` with the raw key file.
    let keyfile = h.path("mp.key");
    h.ok(&["key", "export", "mp", "--out", keyfile.to_str().unwrap()]);
    h.sh_ok(
        r#"base64 -d mp.key > mp.raw
        aws --endpoint-url "$EP" s3 cp big.bin "s3://$BUCKET/$PREFIX/by-aws.bin" \
          --sse-c AES256 --sse-c-key fileb://mp.raw >/dev/null"#,
    );
    let out2 = h.path("by-aws-back.bin");
    let by_aws = h.url("by-aws.bin");
    let mut args = vec![
        "download",
        by_aws.as_str(),
        out2.to_str().unwrap(),
        "--key",
        "mp",
    ];
    args.extend(PARTS_5MIB);
    h.ok(&args);
    assert!(
        std::fs::read(&out2).unwrap() == data,
        "aws multipart upload differs"
    );
}

/// A home with a key and a connection, opened in-process for the JobManager.
fn in_process_home(h: &TestHome, endpoint: &str) -> Arc<Home> {
    h.ok(&["key", "generate", "k"]);
    h.add_connection("g", endpoint);
    Arc::new(Home::open_with_keyring(&h.home).unwrap())
}

fn slow_options() -> TransferOptions {
    TransferOptions {
        multipart_threshold: 5 * MIB as u64,
        part_size: 5 * MIB as u64,
        concurrency: 2,
        bandwidth_limit: Some(8 * MIB as u64),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_upload_aborts_the_multipart_upload_and_records_no_object() {
    let h = TestHome::new("cancel");
    let home = in_process_home(&h, &h.bench.endpoint.clone());
    random_file(&h.path("c.bin"), 40 * MIB);
    let jobs = JobManager::new(
        home.clone(),
        tokio::runtime::Handle::current(),
        2,
        slow_options(),
    );
    let dest: S3Url = h.url("c.bin").parse().unwrap();
    let id = jobs.start(JobSpec::Upload {
        connection: "g".into(),
        src: h.path("c.bin"),
        dest,
        key_label: "k".into(),
    });
    let progress = jobs.progress(id).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while progress.done() < 5 * MIB as u64 {
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    jobs.cancel(id);
    let ev = tokio::time::timeout(Duration::from_secs(20), jobs.next_finished())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.state, JobState::Cancelled);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        jobs.take_finished().is_empty(),
        "exactly one finished event"
    );

    let object = &home.registry.objects().unwrap()[0];
    assert_eq!(object.state, ObjectState::Cancelled);
    assert!(home.registry.interrupted_uploads().unwrap().is_empty());
    let listing = h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api list-multipart-uploads --bucket "$BUCKET" --prefix "$PREFIX/""#,
    );
    assert!(
        !listing.contains("UploadId"),
        "multipart upload left on the server: {listing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_monotone_and_ends_exactly_at_the_total() {
    let h = TestHome::new("progress");
    let home = in_process_home(&h, &h.bench.endpoint.clone());
    let size = 23 * MIB + 777;
    let data = random_file(&h.path("p.bin"), size);
    let jobs = JobManager::new(
        home,
        tokio::runtime::Handle::current(),
        1,
        TransferOptions {
            bandwidth_limit: Some(32 * MIB as u64),
            ..slow_options()
        },
    );
    let url: S3Url = h.url("p.bin").parse().unwrap();
    let specs = [
        JobSpec::Upload {
            connection: "g".into(),
            src: h.path("p.bin"),
            dest: url.clone(),
            key_label: "k".into(),
        },
        JobSpec::Download {
            connection: "g".into(),
            src: url,
            dest: h.path("p.back"),
            key_label: None,
        },
    ];
    for spec in specs {
        let id = jobs.start(spec);
        let progress = jobs.progress(id).unwrap();
        let mut seen = vec![];
        loop {
            let s = progress.snapshot();
            seen.push(s.done);
            if jobs.job(id).unwrap().state.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let state = jobs.job(id).unwrap().state;
        assert!(matches!(state, JobState::Done(_)), "{state:?}");
        seen.push(progress.snapshot().done);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "not monotone");
        assert!(seen.len() > 3, "too few samples to judge: {seen:?}");
        assert_eq!(*seen.last().unwrap(), size as u64);
        assert_eq!(progress.snapshot().total, size as u64);
    }
    assert!(std::fs::read(h.path("p.back")).unwrap() == data);
}

#[test]
fn a_server_killed_mid_download_fails_clearly_and_leaves_no_file() {
    let server = PrivateServer::start();
    let h = TestHome::new("kill-server");
    h.add_connection("own", &server.endpoint);
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("d.bin"), 30 * MIB);
    let url = h.url("d.bin");
    h.upload_with("d.bin", "k", &PARTS_5MIB);

    let target = h.path("out").join("d.bin");
    std::fs::create_dir(h.path("out")).unwrap();
    let child = h
        .cmd()
        .args([
            "download",
            &url,
            target.to_str().unwrap(),
            "--bwlimit",
            "4MiB",
        ])
        .args(PARTS_5MIB)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let part_file = || {
        std::fs::read_dir(h.path("out"))
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().ends_with(".ssec-part"))
            .map(|e| e.path())
    };
    let out_dir = h.path("out");
    wait_until(20, "the download to start", || {
        writes_into(child.id(), &out_dir)
    });
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("could not reach the server") || err.contains("broke off"),
        "{err}"
    );
    assert!(
        err.lines().filter(|l| l.starts_with("error:")).count() == 1,
        "{err}"
    );
    assert!(!target.exists(), "a partial file at the target");
    assert!(part_file().is_none(), "the temp file was left behind");
}

#[test]
fn client_killed_mid_upload_resumes_to_a_byte_identical_object_under_the_same_key() {
    let h = TestHome::with_connection("resume");
    h.ok(&["key", "generate", "rk"]);
    let data = random_file(&h.path("r.bin"), 40 * MIB + 99);
    let url = h.url("r.bin");
    let mut child = h
        .cmd()
        .args([
            "upload",
            h.path("r.bin").to_str().unwrap(),
            &url,
            "--key",
            "rk",
        ])
        .args(PARTS_5MIB)
        .args(["--bwlimit", "6MiB", "--concurrency", "2"])
        .spawn()
        .unwrap();
    let interrupted =
        || -> serde_json::Value { serde_json::from_str(&h.ok(&["uploads", "--json"])).unwrap() };
    wait_until(20, "the multipart upload to start", || {
        !interrupted()["running"].as_array().unwrap().is_empty()
    });
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL: nothing runs after this.
    child.wait().unwrap();

    let listing = interrupted();
    let rows = listing["interrupted"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listing}");
    let id = rows[0]["id"].as_i64().unwrap();
    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    assert_eq!(objects[0]["state"], "pending");
    let stale = h.ok(&["uploads", "--stale"]);
    assert!(stale.contains("resumable"), "{stale}");

    h.ok(&["resume", &id.to_string(), "--quiet"]);
    let after = interrupted();
    assert!(
        after["interrupted"].as_array().unwrap().is_empty(),
        "{after}"
    );
    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    assert_eq!(objects[0]["state"], "stored");
    assert_eq!(objects[0]["key_label"], "rk");

    // The same key opens it (the aws CLI, with the key's env lines), byte-identical.
    let env_lines = h.ok(&["key", "env", "rk"]);
    h.sh_ok(&format!(
        r#"{env_lines}
        aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/r.bin" \
          --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" r.back >/dev/null"#
    ));
    assert!(std::fs::read(h.path("r.back")).unwrap() == data);
    let listing = h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api list-multipart-uploads --bucket "$BUCKET" --prefix "$PREFIX/""#,
    );
    assert!(!listing.contains("UploadId"), "{listing}");
}

#[test]
fn a_folder_uploads_recursively_under_a_prefix() {
    let h = TestHome::with_connection("folder");
    h.ok(&["key", "generate", "f"]);
    let root = h.path("photos");
    std::fs::create_dir_all(root.join("2026/summer")).unwrap();
    let a = random_file(&root.join("cover.jpg"), 1000);
    let b = random_file(&root.join("2026/summer/beach.jpg"), 2000);
    let dest = format!("{}/", h.url("photos"));
    let out = h.ok(&[
        "upload",
        root.to_str().unwrap(),
        &dest,
        "--key",
        "f",
        "--quiet",
    ]);
    assert!(out.contains(": 2 uploaded"), "{out}");
    for (name, data) in [("photos/cover.jpg", a), ("photos/2026/summer/beach.jpg", b)] {
        let target = h.path(&name.replace('/', "_"));
        h.ok(&["download", &h.url(name), target.to_str().unwrap()]);
        assert!(std::fs::read(&target).unwrap() == data, "{name}");
    }
}

#[test]
fn an_upload_cut_off_by_the_server_is_failed_in_the_registry_and_listed_as_interrupted() {
    let server = PrivateServer::start();
    let h = TestHome::new("kill-upload");
    h.add_connection("own", &server.endpoint);
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("small.bin"), 1000);
    h.upload("small.bin", "k");
    random_file(&h.path("big.bin"), 30 * MIB);
    let url = h.url("big.bin");
    let child = h
        .cmd()
        .args([
            "upload",
            &h.p("big.bin"),
            &url,
            "--key",
            "k",
            "--bwlimit",
            "5MiB",
        ])
        .args(PARTS_5MIB)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let interrupted =
        || -> serde_json::Value { serde_json::from_str(&h.ok(&["uploads", "--json"])).unwrap() };
    wait_until(20, "the multipart upload to start", || {
        !interrupted()["running"].as_array().unwrap().is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("could not reach the server"), "{err}");
    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    let big = objects
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"].as_str().unwrap().ends_with("big.bin"))
        .unwrap();
    assert_eq!(big["state"], "failed", "{big}");
    assert!(
        big["error"]
            .as_str()
            .unwrap()
            .contains("ssec-manager resume"),
        "{big}"
    );
    // The abort could not reach the server either, so the upload stays resumable.
    assert_eq!(interrupted()["interrupted"].as_array().unwrap().len(), 1);
}

/// Ranged downloads hash each range where it lands and join the ranges' hashes into the
/// BLAKE3 recorded at upload: a same-size rewrite behind the app's back (same key, by the
/// aws CLI) is refused, with nothing at the target and no temp file left. Rows recorded
/// with SHA-256, before BLAKE3, are still checked, by reading the file back in order.
#[test]
fn ranged_downloads_check_the_recorded_checksum_of_either_kind() {
    use sha2::Digest as _;
    let h = TestHome::with_connection("checksum");
    h.ok(&["key", "generate", "ck"]);
    // 23 MiB in 5 MiB parts: 3 ranges of 8 MiB, the last one short.
    let data = random_file(&h.path("c.bin"), 23 * MIB + 777);
    h.upload_with("c.bin", "ck", &PARTS_5MIB);
    let url = h.url("c.bin");
    let out = h.path("out").join("c.bin");
    std::fs::create_dir(h.path("out")).unwrap();
    let download = |h: &TestHome| {
        let mut args = vec!["download", url.as_str(), out.to_str().unwrap()];
        args.extend(PARTS_5MIB);
        h.run(&args)
    };
    let left_in_out = || std::fs::read_dir(h.path("out")).unwrap().count();
    let set_checksums = |blake3: Option<&str>, sha256: Option<&str>| {
        let db = rusqlite::Connection::open(h.home.join("registry.sqlite3")).unwrap();
        let n = db
            .execute(
                "UPDATE objects SET blake3 = ?1, sha256 = ?2 WHERE object_key = ?3",
                rusqlite::params![blake3, sha256, h.object_key("c.bin")],
            )
            .unwrap();
        assert_eq!(n, 1);
    };

    // The recorded BLAKE3 matches the joined one.
    assert!(download(&h).status.success());
    assert!(std::fs::read(&out).unwrap() == data);
    std::fs::remove_file(&out).unwrap();

    // Above the threshold but within one 8 MiB range: one GET, hashed as it streams.
    let small = random_file(&h.path("one.bin"), 6 * MIB + 1);
    h.upload_with("one.bin", "ck", &PARTS_5MIB);
    let one_out = h.path("one.back");
    let one_url = h.url("one.bin");
    let mut args = vec!["download", one_url.as_str(), one_out.to_str().unwrap()];
    args.extend(PARTS_5MIB);
    h.ok(&args);
    assert!(std::fs::read(&one_out).unwrap() == small);

    // An older row with only SHA-256: checked by reading back, right and wrong.
    let sha = hex::encode(sha2::Sha256::digest(&data));
    set_checksums(None, Some(&sha));
    assert!(download(&h).status.success());
    assert!(std::fs::read(&out).unwrap() == data);
    std::fs::remove_file(&out).unwrap();
    set_checksums(None, Some(&"0".repeat(64)));
    let failed = download(&h);
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(err.contains("SHA-256 differs"), "{err}");
    assert_eq!(left_in_out(), 0, "a file was left after a failed check");

    // Back to the BLAKE3; the object is rewritten with the same key and size.
    set_checksums(Some(blake3::hash(&data).to_hex().as_str()), None);
    let mut other = data.clone();
    other[20 * MIB] ^= 1;
    std::fs::write(h.path("other.bin"), &other).unwrap();
    h.ok(&["key", "export", "ck", "--out", h.p("ck.key").as_str()]);
    h.sh_ok(&format!(
        r#"base64 -d ck.key > ck.raw
        aws --endpoint-url "$EP" s3 cp other.bin "s3://$BUCKET/{}" \
          --sse-c AES256 --sse-c-key fileb://ck.raw >/dev/null"#,
        h.object_key("c.bin")
    ));
    let failed = download(&h);
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(err.contains("BLAKE3 differs"), "{err}");
    assert_eq!(left_in_out(), 0, "a file was left after a failed check");
}

/// Freezes `server` (SIGSTOP) again and again while a transfer runs, and returns where the
/// progress count stood at each freeze, until one lies inside a `unit` (a part or range) or
/// the transfer is done. Counting whole units only would only ever stop on multiples.
async fn progress_at_freezes(
    server: &PrivateServer,
    progress: &ssec_manager::core::transfer::Progress,
    size: u64,
    unit: u64,
) -> Vec<u64> {
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &server.pid.get().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    // Bytes first (a first upload to a bucket runs the preflight probe before any part; a
    // server frozen all along would starve it).
    for _ in 0..3000 {
        if progress.done() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut stops = vec![];
    for _ in 0..40 {
        if progress.done() >= size {
            break;
        }
        signal("-STOP");
        // Let what is in flight land, then read where the count stands.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let at = progress.done();
        signal("-CONT");
        stops.push(at);
        if !at.is_multiple_of(unit) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal("-CONT");
    stops
}

/// Progress moves with the bytes, not part by part or range by range: with the server
/// frozen mid-transfer, the count it stopped at lies inside a part (upload, 40 MiB parts) or
/// a range (download, 64 MiB ranges), so a slow line still moves the bar. Parts are larger
/// than loopback's socket buffers can take in while the server is frozen, so a frozen upload
/// cannot have sent whole parts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_bytes_inside_parts_and_ranges() {
    let server = PrivateServer::start();
    let h = TestHome::new("piece-progress");
    let home = in_process_home(&h, &server.endpoint);
    let size = 96 * MIB;
    let data = random_file(&h.path("big.bin"), size);
    let url: S3Url = h.url("big.bin").parse().unwrap();
    let jobs = JobManager::new(
        home,
        tokio::runtime::Handle::current(),
        1,
        TransferOptions {
            part_size: 40 * MIB as u64,
            bandwidth_limit: None,
            ..slow_options()
        },
    );
    let specs = [
        (
            JobSpec::Upload {
                connection: "g".into(),
                src: h.path("big.bin"),
                dest: url.clone(),
                key_label: "k".into(),
            },
            40 * MIB as u64,
        ),
        (
            JobSpec::Download {
                connection: "g".into(),
                src: url,
                dest: h.path("big.back"),
                key_label: None,
            },
            64 * MIB as u64,
        ),
    ];
    for (spec, unit) in specs {
        let what = format!("{spec:?}");
        let id = jobs.start(spec);
        let progress = jobs.progress(id).unwrap();
        let stops = progress_at_freezes(&server, &progress, size as u64, unit).await;
        let finished = tokio::time::timeout(Duration::from_secs(60), jobs.next_finished())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(finished.state, JobState::Done(_)),
            "{:?}",
            finished.state
        );
        assert_eq!(progress.done(), size as u64, "{what}");
        assert!(
            stops.iter().any(|at| !at.is_multiple_of(unit)),
            "{what}: progress only ever stood on whole units of {unit}: {stops:?}"
        );
    }
    assert!(std::fs::read(h.path("big.back")).unwrap() == data);
}

/// What the relay in front of Garage does wrong, once.
#[derive(Clone, Copy)]
enum Fault {
    /// Drops a connection once this many bytes came back from the server in all: a network
    /// that breaks a download mid-body.
    CutAfter(u64),
    /// Makes the first Content-Range answer name a start one byte off: a server (or proxy)
    /// that sends other bytes than asked for.
    ShiftContentRange,
}

/// A TCP relay in front of Garage that commits `fault` once. Real Garage behind it, real
/// sockets; only the fault is arranged. Returns its endpoint and whether the fault happened.
async fn faulty_relay(
    upstream: String,
    fault: Fault,
) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let from_server = Arc::new(AtomicU64::new(0));
    let upstream = upstream.trim_start_matches("http://").to_string();
    let flag = cut.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut server_rx, mut server_tx) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
            });
            let (flag, from_server) = (flag.clone(), from_server.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = match server_rx.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let total = from_server.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                    match fault {
                        Fault::CutAfter(after)
                            if total > after && !flag.swap(true, Ordering::Relaxed) =>
                        {
                            // Half of this read goes out, then the connection drops.
                            let _ = client_tx.write_all(&buf[..n / 2]).await;
                            return;
                        }
                        Fault::ShiftContentRange if !flag.load(Ordering::Relaxed) => {
                            let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                            if let Some(at) = head.find("content-range: bytes ") {
                                // The start's last digit, changed: same length, other bytes.
                                let mut i = at + "content-range: bytes ".len();
                                while buf[i + 1].is_ascii_digit() {
                                    i += 1;
                                }
                                buf[i] = if buf[i] == b'9' { b'8' } else { buf[i] + 1 };
                                flag.store(true, Ordering::Relaxed);
                            }
                        }
                        _ => {}
                    }
                    if client_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = client_tx.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), cut)
}

/// A range whose body breaks off mid-way is fetched again: the download completes
/// byte-identical, its joined BLAKE3 matches the one recorded at upload (so the retried
/// range was hashed afresh, not on top of its broken start), and progress stays monotone
/// and ends exactly at the total (the retry counts no byte twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_cut_off_mid_body_is_fetched_again_and_counted_once() {
    let h = TestHome::new("cut-range");
    let (relay, cut) = faulty_relay(
        h.bench.plain_endpoint.clone(),
        Fault::CutAfter(12 * MIB as u64),
    )
    .await;
    let home = in_process_home(&h, &relay);
    let size = 24 * MIB + 4321;
    let data = random_file(&h.path("r.bin"), size);
    let url: S3Url = h.url("r.bin").parse().unwrap();
    let jobs = JobManager::new(
        home,
        tokio::runtime::Handle::current(),
        1,
        TransferOptions {
            bandwidth_limit: None,
            ..slow_options()
        },
    );
    for spec in [
        JobSpec::Upload {
            connection: "g".into(),
            src: h.path("r.bin"),
            dest: url.clone(),
            key_label: "k".into(),
        },
        JobSpec::Download {
            connection: "g".into(),
            src: url.clone(),
            dest: h.path("r.back"),
            key_label: None,
        },
    ] {
        let download = matches!(spec, JobSpec::Download { .. });
        let id = jobs.start(spec);
        let progress = jobs.progress(id).unwrap();
        let mut seen = vec![];
        while !jobs.job(id).unwrap().state.is_finished() {
            seen.push(progress.done());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen.push(progress.done());
        let state = jobs.job(id).unwrap().state;
        assert!(matches!(state, JobState::Done(_)), "{state:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "not monotone");
        assert_eq!(*seen.last().unwrap(), size as u64);
        if download {
            assert!(
                cut.load(std::sync::atomic::Ordering::Relaxed),
                "the relay never cut"
            );
        }
    }
    assert!(std::fs::read(h.path("r.back")).unwrap() == data);
}

/// A range answered with other bytes than asked for (its Content-Range starts elsewhere)
/// fails the download in words, with nothing at the target and no temp file: each range
/// is written at its own offset, so it must be the one asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_answered_with_other_bytes_fails_and_writes_nothing() {
    let h = TestHome::new("shifted-range");
    let (relay, shifted) =
        faulty_relay(h.bench.plain_endpoint.clone(), Fault::ShiftContentRange).await;
    let home = in_process_home(&h, &relay);
    random_file(&h.path("s.bin"), 12 * MIB + 5);
    let url: S3Url = h.url("s.bin").parse().unwrap();
    let jobs = JobManager::new(home, tokio::runtime::Handle::current(), 1, slow_options());
    std::fs::create_dir(h.path("out")).unwrap();
    let target = h.path("out").join("s.bin");
    let finish = async |spec| {
        jobs.start(spec);
        tokio::time::timeout(Duration::from_secs(60), jobs.next_finished())
            .await
            .unwrap()
            .unwrap()
            .state
    };
    let uploaded = finish(JobSpec::Upload {
        connection: "g".into(),
        src: h.path("s.bin"),
        dest: url.clone(),
        key_label: "k".into(),
    })
    .await;
    assert!(matches!(uploaded, JobState::Done(_)), "{uploaded:?}");
    let downloaded = finish(JobSpec::Download {
        connection: "g".into(),
        src: url,
        dest: target,
        key_label: None,
    })
    .await;
    let JobState::Failed(err) = &downloaded else {
        panic!("the download did not fail: {downloaded:?}");
    };
    assert!(
        err.contains("asked for bytes") && err.contains("the server sent"),
        "{err}"
    );
    assert!(
        shifted.load(std::sync::atomic::Ordering::Relaxed),
        "no range was shifted"
    );
    assert_eq!(
        std::fs::read_dir(h.path("out")).unwrap().count(),
        0,
        "a file was left"
    );
}

/// Whether process `pid` holds a file open in `dir` (a download's part file, named or not).
fn writes_into(pid: u32, dir: &std::path::Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|target| target.starts_with(dir))
}

/// Found by the fault campaign: a download killed with SIGKILL left its hidden
/// `.NAME.XXXXXX.ssec-part` file in the user's folder for ever. Now the part file has no
/// name until it is complete.
#[test]
fn a_download_killed_with_sigkill_leaves_no_part_file() {
    let h = TestHome::with_connection("kill-download");
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("d.bin"), 12 * MIB);
    let url = h.url("d.bin");
    h.upload_with("d.bin", "k", &PARTS_5MIB);
    let out = h.path("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("d.bin"), b"before").unwrap();
    let target = out.join("d.bin");
    let mut child = h
        .cmd()
        .args(["download", &url, target.to_str().unwrap()])
        .args(["--bwlimit", "2MiB", "-q"])
        .args(PARTS_5MIB)
        .spawn()
        .unwrap();
    wait_until(20, "the download to start", || {
        writes_into(child.id(), &out)
    });
    std::thread::sleep(Duration::from_millis(1000));
    child.kill().unwrap(); // SIGKILL: no cleanup runs.
    child.wait().unwrap();
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["d.bin".to_string()], "left in the folder");
    assert_eq!(std::fs::read(&target).unwrap(), b"before");
}
