#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Verify against the real Garage: objects deleted, re-keyed or rewritten behind the app's
//! back (by the aws CLI) are found, and the audit turns them into findings.

mod common;

use common::relay::{Action, Relay};
use common::{TestHome, random_file};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// object name (last path part) -> verify status, from `verify --json` output.
fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let object = p["object"].as_str().unwrap();
            (
                object.rsplit('/').next().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn verify_finds_what_changed_behind_the_apps_back_and_the_audit_reports_it() {
    let h = TestHome::with_connection("verify");
    h.ok(&["key", "generate", "main"]);
    for name in ["keep", "gone", "rekeyed", "tampered"] {
        random_file(&h.path(name), 3000);
        h.upload(name, "main");
    }

    // Everything as recorded: all ok, and the registry says when it was checked.
    let first = json(&h.ok(&["verify", "--json"]));
    assert_eq!(first["checked"], 4);
    assert_eq!(first["ok"], 4);
    assert!(first["problems"].as_array().unwrap().is_empty());
    let objects = json(&h.ok(&["objects", "--json"]));
    for o in objects.as_array().unwrap() {
        assert_eq!(o["verify_status"], "ok", "{o}");
        assert!(o["last_verified_at"].is_string(), "{o}");
    }

    // Behind the app's back: one deleted, one replaced under another key, one rewritten
    // with the same key and the same size but other bytes.
    std::fs::write(h.path("main.env"), h.ok(&["key", "env", "main"])).unwrap();
    random_file(&h.path("same-size"), 3000);
    h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api delete-object --bucket "$BUCKET" --key "$PREFIX/gone" >/dev/null
        openssl rand -base64 32 > other; K=$(cat other); M=$(base64 -d other | openssl dgst -md5 -binary | base64)
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/rekeyed" --body same-size \
          --sse-customer-algorithm AES256 --sse-customer-key "$K" --sse-customer-key-md5 "$M" >/dev/null
        eval "$(cat main.env)"
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/tampered" --body same-size \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#,
    );

    // A HEAD sees the deletion and the other key; the same-size rewrite needs a deep verify.
    let out = h.run(&["verify", "--json"]);
    assert!(!out.status.success(), "problems must fail the command");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 object(s) did not verify"), "{stderr}");
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["checked"], 4);
    assert_eq!(
        statuses(&report),
        [
            ("gone".to_string(), "missing".to_string()),
            ("rekeyed".to_string(), "wrong_key".to_string())
        ]
    );
    let out = h.run(&["verify", "--deep", "--json", "--key", "main"]);
    assert!(!out.status.success());
    let deep = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(deep["ok"], 1, "only 'keep' reads back as recorded: {deep}");
    assert_eq!(
        statuses(&deep),
        [
            ("gone".to_string(), "missing".to_string()),
            ("rekeyed".to_string(), "wrong_key".to_string()),
            ("tampered".to_string(), "changed".to_string())
        ]
    );

    // The audit: one HIGH finding per answer, listing exactly those objects.
    let audit = json(&h.ok(&["audit", "--json"]));
    let high = |needle: &str| -> Vec<String> {
        let f = audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["severity"] == "HIGH" && f["title"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no HIGH finding with '{needle}' in {audit}"));
        assert_eq!(f["key_label"], "main");
        f["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap().rsplit('/').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(high("no longer on the server"), ["gone"]);
    assert_eq!(high("no longer open with their recorded"), ["rekeyed"]);
    assert_eq!(high("changed on the server"), ["tampered"]);
    // At risk: all four (their key was never backed up); three cannot be opened as uploaded.
    assert_eq!(audit["objects_at_risk"], 4);
    assert_eq!(audit["objects_unrecoverable"], 3);
    let keys = audit["per_key"].as_array().unwrap();
    assert_eq!(keys[0]["health"], "HIGH");
    assert!(keys[0]["last_verified_at"].is_string());

    // The readable report says the same.
    h.ok(&["audit", "--markdown", "--out", &h.p("audit.md")]);
    let md = std::fs::read_to_string(h.path("audit.md")).unwrap();
    assert!(md.starts_with("# SSE-C key inventory audit"), "{md}");
    assert!(md.contains("### HIGH: 1 object(s) of key \"main\" are no longer on the server"));
    assert!(md.contains(&format!("`garage:{}`", h.url("gone"))), "{md}");
    assert!(md.contains("| main | `"), "{md}");
}

/// The job's progress of a deep verify counts bytes and ends exactly at the total, also
/// when an object could not be read (its bytes count as done, not as missing progress).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_verify_progress_ends_at_the_total_even_with_a_missing_object() {
    use ssec_manager::core::Home;
    use ssec_manager::core::transfer::{TransferCtx, TransferOptions};
    use ssec_manager::core::verify::VerifyOptions;
    let h = TestHome::with_connection("verify-progress");
    h.ok(&["key", "generate", "k"]);
    for (name, size) in [("a", 70_000), ("b", 30_000), ("c", 5_000)] {
        random_file(&h.path(name), size);
        h.upload(name, "k");
    }
    h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api delete-object --bucket "$BUCKET" --key "$PREFIX/b" >/dev/null"#,
    );
    let home = Home::open_with_keyring(&h.home).unwrap();
    let ctx = TransferCtx::new(TransferOptions::default());
    let opts = VerifyOptions {
        deep: true,
        concurrency: 2,
        key_label: None,
    };
    let report = home.verify(&ctx, &opts).await.unwrap();
    assert_eq!((report.checked, report.ok), (3, 2));
    let p = ctx.progress.snapshot();
    assert_eq!((p.done, p.total), (105_000, 105_000));
}

#[test]
fn a_verify_killed_midway_resumes_without_asking_again_what_it_had_checked() {
    let h = TestHome::new("verify-resume");
    let relay = Relay::start(&h.bench.plain_endpoint);
    h.add_connection("relay", &relay.endpoint);
    h.ok(&["key", "generate", "k"]);
    for name in ["v1", "v2", "v3", "v4"] {
        random_file(&h.path(name), 500);
        h.upload(name, "k");
    }
    // One request at a time, in registry order: the third HEAD waits at the relay, and the
    // verify is killed there.
    relay.rule(|r| r.is_head_of("v3"), Action::Hold("head".into()), Some(1));
    let mut child = h
        .cmd()
        .args(["verify", "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    relay.wait_arrived("head", 60);
    // The answers before it are written within a second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    relay.clear();
    relay.release("head");
    let report = json(&h.ok(&["verify", "--json"]));
    assert_eq!(report["checked"], 2, "{report}");
    assert_eq!(report["skipped"], 2, "{report}");
    assert_eq!(report["ok"], 2, "{report}");
    assert!(report["resumed_from"].is_string(), "{report}");
    // Finished, the next verify starts afresh: all four.
    let report = json(&h.ok(&["verify", "--json"]));
    assert_eq!(report["checked"], 4, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    assert!(report["resumed_from"].is_null(), "{report}");
}
