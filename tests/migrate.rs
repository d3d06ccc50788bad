#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Leaving SSE-C: objects re-encrypted in place (or decrypted) on the server, confirmed by a
//! HEAD without the key before the registry lets go of it; a run killed midway resumes. The
//! aws CLI, without any key, is the reader that proves it.

mod common;

use common::relay::{Action, Relay};
use common::{TestHome, random_file};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// How many objects `key list` says depend on the key, and whether it is retired.
fn dependents(h: &TestHome, label: &str) -> (u64, u64) {
    let list = json(&h.ok(&["key", "list", "--json"]));
    let k = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == label)
        .unwrap_or_else(|| panic!("no key {label}: {list}"))
        .clone();
    (
        k["objects"].as_u64().unwrap(),
        k["migrated"].as_u64().unwrap(),
    )
}

/// The object as the aws CLI reads it with no key at all (None: it refuses).
fn read_without_key(h: &TestHome, name: &str) -> Option<Vec<u8>> {
    let out = h.sh(&format!(
        r#"aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/{name}" \
          plain-{name} >/dev/null"#
    ));
    out.status
        .success()
        .then(|| std::fs::read(h.path(&format!("plain-{name}"))).unwrap())
}

#[test]
fn a_migration_to_none_killed_midway_resumes_and_frees_the_key_only_after_confirmation() {
    let h = TestHome::new("migrate-none");
    let relay = Relay::start(&h.bench.plain_endpoint);
    h.add_connection("relay", &relay.endpoint);
    h.ok(&["key", "generate", "leaving"]);
    h.ok(&["key", "generate", "staying"]);
    let mut files = Vec::new();
    for i in 1..=5 {
        let name = format!("m{i}.bin");
        files.push((name.clone(), random_file(&h.path(&name), 20_000 + i)));
        h.upload(&name, "leaving");
    }
    random_file(&h.path("other.bin"), 100);
    h.upload("other.bin", "staying");
    let place = format!("s3://{}/{}/", h.bench.bucket, h.prefix);

    // Without --yes (and no terminal) nothing moves; --dry-run lists the five.
    let err = h.fails(&["migrate", &place, "--to", "none", "--key", "leaving"]);
    assert!(
        err.contains("nothing was migrated") && err.contains("WITHOUT"),
        "{err}"
    );
    let plan = json(&h.ok(&[
        "migrate",
        &place,
        "--to",
        "none",
        "--key",
        "leaving",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(plan.as_array().unwrap().len(), 5, "{plan}");
    assert_eq!(read_without_key(&h, "m1.bin"), None, "still SSE-C");

    // The third copy lands on the server but its answer never comes back: killed then.
    relay.rule(
        |r| {
            r.method == "PUT"
                && r.header("x-amz-copy-source").is_some()
                && r.path().ends_with("m3.bin")
        },
        Action::HoldAnswer("copy".into()),
        Some(1),
    );
    let mut child = h
        .cmd()
        .args([
            "migrate", &place, "--to", "none", "--key", "leaving", "--yes",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    relay.wait_arrived("copy", 60);
    child.kill().unwrap();
    child.wait().unwrap();
    relay.clear();
    relay.release("copy");
    // m3 is off SSE-C on the server, but nobody confirmed it: the key still protects it
    // and the three not yet migrated.
    let (objects, migrated) = dependents(&h, "leaving");
    assert_eq!(
        (objects, migrated),
        (3, 2),
        "m1 and m2 done, m3 in doubt, m4 and m5 left"
    );
    let err = h.fails(&["key", "delete", "leaving"]);
    assert!(err.contains("3"), "{err}");

    // The next run settles m3 by asking the server, then migrates the rest.
    let report = json(&h.ok(&[
        "migrate", &place, "--to", "none", "--key", "leaving", "--yes", "--json",
    ]));
    assert_eq!(report["settled"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["migrated"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["retired_keys"][0], "leaving", "{report}");
    for (name, data) in &files {
        assert_eq!(
            read_without_key(&h, name).as_ref(),
            Some(data),
            "{name} byte-identical"
        );
    }
    assert_eq!(dependents(&h, "leaving"), (0, 5));
    // The other key's object was not touched; the retired key is still there.
    assert_eq!(read_without_key(&h, "other.bin"), None);
    assert_eq!(dependents(&h, "staying"), (1, 0));
    let listed = h.ok(&["key", "list"]);
    assert!(listed.contains("retired"), "{listed}");
    // Downloads go on working, now without a key.
    h.ok(&["download", &h.url("m4.bin"), &h.p("m4.back")]);
    assert_eq!(std::fs::read(h.path("m4.back")).unwrap(), files[3].1);
}

#[test]
fn a_migration_to_sse_s3_happens_only_where_the_server_really_does_sse_s3() {
    let h = TestHome::with_connection("migrate-sse-s3");
    h.ok(&["key", "generate", "k"]);
    let data = random_file(&h.path("s.bin"), 30_000);
    h.upload("s.bin", "k");
    let place = format!("s3://{}/{}/", h.bench.bucket, h.prefix);
    let out = h.run(&["migrate", &place, "--to", "sse-s3", "--yes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if h.bench.server == "garage" {
        // Garage takes the SSE-S3 header and stores objects unencrypted: refused, untouched.
        assert!(!out.status.success());
        assert!(stderr.contains("would be stored unencrypted"), "{stderr}");
        assert_eq!(read_without_key(&h, "s.bin"), None, "still SSE-C");
        assert_eq!(dependents(&h, "k"), (1, 0));
        return;
    }
    if !out.status.success() {
        // A server that refuses or ignores SSE-S3 must say so and change nothing.
        assert!(stderr.contains("nothing was migrated"), "{stderr}");
        assert_eq!(read_without_key(&h, "s.bin"), None);
        assert_eq!(dependents(&h, "k"), (1, 0));
        common::skip_on(&[h.bench.server.as_str()], "does not do SSE-S3");
        return;
    }
    assert_eq!(read_without_key(&h, "s.bin"), Some(data));
    let head = h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api head-object --bucket "$BUCKET" --key "$PREFIX/s.bin""#,
    );
    assert!(
        head.contains("\"ServerSideEncryption\": \"AES256\""),
        "{head}"
    );
    assert_eq!(dependents(&h, "k"), (0, 1));
}
