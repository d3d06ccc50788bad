#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Server-side key rotation on the real Garage: CopyObject and UploadPartCopy with the
//! copy-source SSE-C headers of the old key and the destination headers of the new one.

mod common;

use common::{PrivateServer, TestHome, random_file};
use sha2::{Digest as _, Sha256};
use ssec_manager::core::registry::{ObjectState, Registry};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn check_rotated(h: &TestHome, name: &str, data: &[u8], old: &str, new: &str) {
    // The registry now picks the new key by itself; the content is the same.
    let back = h.p(&format!("{name}.back"));
    let said = h.ok(&["download", &h.url(name), &back]);
    assert!(said.contains(&format!("key \"{new}\"")), "{said}");
    assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(data));
    // The old key is refused by the server.
    let err = h.fails(&["download", &h.url(name), &h.p("old.bin"), "--key", old]);
    assert!(err.contains("encrypted with a different key"), "{err}");
    // And the aws CLI opens it with the new key's env lines.
    let env_lines = h.ok(&["key", "env", new]);
    h.sh_ok(&format!(
        r#"{env_lines}
        aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/{name}" \
          --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" {name}.aws >/dev/null"#
    ));
    assert_eq!(
        sha(&std::fs::read(h.path(&format!("{name}.aws"))).unwrap()),
        sha(data)
    );
}

#[test]
fn a_single_part_object_rotates_with_copy_object() {
    let h = TestHome::with_connection("rotate-one");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let data = random_file(&h.path("a.bin"), 200_000);
    h.upload("a.bin", "old");
    // What the object carries besides its bytes, set by the aws CLI (a copy onto itself,
    // same key); a rotation keeps all of it, whether the server re-keys with COPY or needs
    // REPLACE (SeaweedFS: then the rotation sends what a HEAD read).
    let head = |label: &str| {
        let env = h.ok(&["key", "env", label]);
        h.sh_ok(&format!(
            r#"{env}
            aws --endpoint-url "$EP" s3api head-object --bucket "$BUCKET" --key "$PREFIX/a.bin" \
              --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5""#
        ))
    };
    let old_env = h.ok(&["key", "env", "old"]);
    h.sh_ok(&format!(
        r#"{old_env}
        aws --endpoint-url "$EP" s3api copy-object --bucket "$BUCKET" --key "$PREFIX/a.bin" \
          --copy-source "$BUCKET/$PREFIX/a.bin" --metadata-directive REPLACE \
          --content-type application/x-ssec-test --cache-control max-age=60 \
          --content-disposition 'attachment; filename="a.bin"' --metadata origin=rotate-one \
          --copy-source-sse-customer-algorithm AES256 --copy-source-sse-customer-key "$SSE_KEY" \
          --copy-source-sse-customer-key-md5 "$SSE_MD5" \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#
    ));
    let before: serde_json::Value = serde_json::from_str(&head("old")).unwrap();
    let out = h.ok(&["rotate", &h.url("a.bin"), "--to", "new"]);
    assert!(out.contains("old -> new (copy)"), "{out}");
    check_rotated(&h, "a.bin", &data, "old", "new");
    let after: serde_json::Value = serde_json::from_str(&head("new")).unwrap();
    for field in [
        "ContentType",
        "CacheControl",
        "ContentDisposition",
        "Metadata",
    ] {
        assert!(
            !before[field].is_null(),
            "the server dropped {field}: {before}"
        );
        assert_eq!(after[field], before[field], "{field} changed: {after}");
    }
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    let objects = registry.objects().unwrap();
    assert_eq!(objects[0].key_label.as_deref(), Some("new"));
    let events = registry.events().unwrap();
    let rotated = events.iter().find(|e| e.kind == "rotated").unwrap();
    assert!(rotated.detail.contains("old -> new"), "{}", rotated.detail);
    assert!(registry.pending_rotations().unwrap().is_empty());
    // "old" now encrypts nothing, so it may go without --force.
    h.ok(&["key", "delete", "old"]);
}

#[test]
fn the_reupload_fallback_moves_the_object_through_this_computer_and_says_so() {
    let h = TestHome::with_connection("rotate-reupload");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let data = random_file(&h.path("r.txt"), 300_000);
    h.upload("r.txt", "old");
    // The upload guessed the content type from the name, as the aws CLI does; then the aws
    // CLI gives the object its own type and user metadata (a copy onto itself, same key).
    let old_env = h.ok(&["key", "env", "old"]);
    let head = |env: &str| {
        h.sh_ok(&format!(
            r#"{env}
            aws --endpoint-url "$EP" s3api head-object --bucket "$BUCKET" --key "$PREFIX/r.txt" \
              --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5""#
        ))
    };
    assert!(head(&old_env).contains("\"ContentType\": \"text/plain\""));
    h.sh_ok(&format!(
        r#"{old_env}
        aws --endpoint-url "$EP" s3api copy-object --bucket "$BUCKET" --key "$PREFIX/r.txt" \
          --copy-source "$BUCKET/$PREFIX/r.txt" --metadata-directive REPLACE \
          --content-type text/x-ssec-test --metadata origin=rotate-test \
          --copy-source-sse-customer-algorithm AES256 --copy-source-sse-customer-key "$SSE_KEY" \
          --copy-source-sse-customer-key-md5 "$SSE_MD5" \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#
    ));
    // Its own temp folder: other tests (and the other servers' passes) rotate at the same
    // time, and their temp folders are not this one's leftovers.
    let own_tmp = h.path("own-tmp");
    std::fs::create_dir_all(&own_tmp).unwrap();
    let run = h
        .cmd()
        .args([
            "rotate",
            &h.url("r.txt"),
            "--to",
            "new",
            "--reupload",
            "always",
        ])
        .env("TMPDIR", &own_tmp)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = String::from_utf8(run.stdout).unwrap();
    assert!(
        out.contains("old -> new (download and re-upload (re-upload asked for))"),
        "{out}"
    );
    // What the copy would have kept, the re-upload kept too.
    let after = head(&h.ok(&["key", "env", "new"]));
    assert!(
        after.contains("\"ContentType\": \"text/x-ssec-test\""),
        "{after}"
    );
    assert!(after.contains("\"origin\": \"rotate-test\""), "{after}");
    check_rotated(&h, "r.txt", &data, "old", "new");
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    let objects = registry.objects().unwrap();
    // The new upload is the stored row; the row of the old key's object was replaced.
    let stored: Vec<_> = objects
        .iter()
        .filter(|o| o.state == ObjectState::Stored)
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].key_label.as_deref(), Some("new"));
    assert_eq!(
        stored[0].blake3.as_deref(),
        Some(blake3::hash(&data).to_hex().as_str())
    );
    assert!(
        objects
            .iter()
            .any(|o| o.state == ObjectState::Replaced && o.key_label.as_deref() == Some("old"))
    );
    let events = registry.events().unwrap();
    let e = events
        .iter()
        .find(|e| e.kind == "rotated_by_reupload")
        .unwrap();
    assert!(e.detail.contains("download and re-upload"), "{}", e.detail);
    assert!(registry.pending_rotations().unwrap().is_empty());
    // No plaintext copy is left in the temp folder.
    let leftovers: Vec<_> = std::fs::read_dir(&own_tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ssec-manager-rotate.")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A bad mode is refused in words.
    let err = h.fails(&[
        "rotate",
        &h.url("r.bin"),
        "--to",
        "old",
        "--reupload",
        "sometimes",
    ]);
    assert!(err.contains("use never, if-refused or always"), "{err}");
}

#[test]
fn a_large_object_rotates_through_upload_part_copy() {
    let h = TestHome::with_connection("rotate-parts");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let data = random_file(&h.path("big.bin"), 12 * 1024 * 1024 + 5);
    h.upload_with(
        "big.bin",
        "old",
        &["--part-size", "5MiB", "--multipart-threshold", "5MiB"],
    );
    let out = h.ok(&[
        "rotate",
        &h.url("big.bin"),
        "--to",
        "new",
        "--copy-threshold",
        "5MiB",
        "--copy-part-size",
        "5MiB",
    ]);
    if common::skip_on(
        &["seaweedfs"],
        "UploadPartCopy with SSE-C answers 501 NotImplemented; the rotation makes one \
         CopyObject instead",
    ) {
        assert!(out.contains("one CopyObject"), "{out}");
    } else {
        assert!(out.contains("multipart copy (3 parts)"), "{out}");
    }
    check_rotated(&h, "big.bin", &data, "old", "new");
}

#[test]
fn rotating_everything_under_a_key_lists_first_with_dry_run() {
    let h = TestHome::with_connection("rotate-all");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let mut files = Vec::new();
    for name in ["x.bin", "y.bin", "z.bin"] {
        files.push((name, random_file(&h.path(name), 3000)));
        h.upload(name, "old");
    }
    let plan = h.ok(&["rotate", "--from", "old", "--to", "new", "--dry-run"]);
    assert!(plan.contains("would rotate 3 object(s)"), "{plan}");
    // A dry run changes nothing.
    let err = h.fails(&["key", "delete", "old"]);
    assert!(err.contains("3 object(s)"), "{err}");
    h.ok(&["rotate", "--from", "old", "--to", "new"]);
    for (name, data) in &files {
        check_rotated(&h, name, data, "old", "new");
    }
}

#[test]
fn a_rotation_cut_off_by_a_killed_server_resumes_and_loses_nothing() {
    use std::io::BufRead as _;
    let server = PrivateServer::start();
    let h = TestHome::new("rotate-kill");
    h.add_connection("own", &server.endpoint);
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let mut files = Vec::new();
    for i in 0..16 {
        let name = format!("o{i:02}.bin");
        files.push((name.clone(), random_file(&h.path(&name), 3 * 1024 * 1024)));
        h.upload(&name, "old");
    }
    let mut child = h
        .cmd()
        .args(["rotate", "--from", "old", "--to", "new"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("rotated"), "{first}");
    server.kill();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the rotation should have been cut off");

    server.restart();
    h.ok(&["rotate", "--resume"]);
    h.ok(&["rotate", "--from", "old", "--to", "new"]);
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    assert!(registry.pending_rotations().unwrap().is_empty());
    // Every object opens with the key the registry names, and it is the new one.
    for (name, data) in &files {
        let back = h.p(&format!("{name}.back"));
        let said = h.ok(&["download", &h.url(name), &back]);
        assert!(said.contains("key \"new\""), "{name}: {said}");
        assert_eq!(sha(&std::fs::read(&back).unwrap()), sha(data), "{name}");
    }
    h.ok(&["key", "delete", "old"]);
}

/// Issue 11: the CLI's many-object rotation is the window's (one core operation): an
/// object that cannot be copied is reported, and the objects after it are still rotated.
#[test]
fn a_many_object_rotation_goes_past_an_object_that_cannot_be_copied() {
    let h = TestHome::with_connection("rotate-past-failure");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let mut files = Vec::new();
    for name in ["p1.bin", "p2.bin", "p3.bin"] {
        files.push((name, random_file(&h.path(name), 5000)));
        h.upload(name, "old");
    }
    // The second one goes behind the app's back: its copy cannot succeed.
    h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api delete-object --bucket "$BUCKET" --key "$PREFIX/p2.bin""#,
    );
    let out = h.run(&["rotate", "--from", "old", "--to", "new"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !out.status.success(),
        "a failed object must fail the command"
    );
    assert!(
        stderr.contains("rotated 2 object(s)") && stderr.contains("1 failed"),
        "{stderr}"
    );
    assert!(stderr.contains("p2.bin"), "{stderr}");
    assert_eq!(stdout.matches("rotated ").count(), 2, "{stdout}");
    for (name, data) in [&files[0], &files[2]] {
        check_rotated(&h, name, data, "old", "new");
    }
    // The one that failed is still recorded under its old key.
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    let p2 = registry
        .objects()
        .unwrap()
        .into_iter()
        .find(|o| o.key.ends_with("/p2.bin") && o.state == ObjectState::Stored)
        .unwrap();
    assert_eq!(p2.key_label.as_deref(), Some("old"));
}

/// Issue 11: a rotation interrupted after the server copied the object (the registry still
/// names the old key) is settled by the next many-object rotation, without `--resume`.
#[test]
fn the_next_many_object_rotation_settles_an_interrupted_one_first() {
    let h = TestHome::with_connection("rotate-settles-first");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let a = random_file(&h.path("s1.bin"), 4000);
    let b = random_file(&h.path("s2.bin"), 4000);
    h.upload("s1.bin", "old");
    h.upload("s2.bin", "old");
    // The copy of s1 landed on the server (done here by the aws CLI), and the process died
    // before the registry heard of it: a pending rotation, the row still under "old".
    let (old_env, new_env) = (h.ok(&["key", "env", "old"]), h.ok(&["key", "env", "new"]));
    let old_vars = old_env
        .replace("SSE_KEY", "OLD_KEY")
        .replace("SSE_MD5", "OLD_MD5");
    // REPLACE: SeaweedFS refuses a copy onto itself with COPY even when the key changes.
    h.sh_ok(&format!(
        r#"{old_vars}
        {new_env}
        aws --endpoint-url "$EP" s3api copy-object --bucket "$BUCKET" --key "$PREFIX/s1.bin" \
          --copy-source "$BUCKET/$PREFIX/s1.bin" --metadata-directive REPLACE \
          --copy-source-sse-customer-algorithm AES256 --copy-source-sse-customer-key "$OLD_KEY" \
          --copy-source-sse-customer-key-md5 "$OLD_MD5" \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#
    ));
    let fp =
        |label: &str| ssec_manager::core::key::KeyFingerprint::from_stored(h.fingerprint(label));
    {
        // Recorded by a process that is gone: this registry handle closes at the end of the
        // block, and its ownership of the rotation with it.
        let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
        let s1 = registry
            .objects()
            .unwrap()
            .into_iter()
            .find(|o| o.key.ends_with("/s1.bin"))
            .unwrap();
        registry
            .begin_rotation(&ssec_manager::core::registry::PendingRotation {
                object_id: s1.id,
                from: fp("old"),
                to: fp("new"),
            })
            .unwrap();
    }

    let out = h.ok(&["rotate", "--from", "old", "--to", "new"]);
    assert!(out.contains("settled first: 1"), "{out}");
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    assert!(registry.pending_rotations().unwrap().is_empty());
    check_rotated(&h, "s1.bin", &a, "old", "new");
    check_rotated(&h, "s2.bin", &b, "old", "new");
    h.ok(&["key", "delete", "old"]);
}
