#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Preflight against the bench's server, and the plain-http refusal (which sends nothing).

mod common;

use common::{TestHome, random_file};
use ssec_manager::core::registry::{ConnectionRecord, Registry};

/// The probe finds SSE-C enforced, learns what the server does differently (as the matrix of
/// docs/PROVIDERS.md says for each server), keeps it for the connection and bucket, and
/// leaves nothing behind.
#[test]
fn the_enforcement_probe_learns_the_servers_ways_and_leaves_nothing_behind() {
    let h = TestHome::with_connection("preflight");
    let out = h.ok(&["preflight", &format!("s3://{}", h.bench.bucket), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["enforcement"]["state"], "enforced", "{report}");
    assert!(
        report["problems"].as_array().unwrap().is_empty(),
        "{report}"
    );
    // (re-key in place, UploadPartCopy works, a keyless part is accepted). Garage refuses
    // to copy a part out of an object under 5 MiB: the tiny probe cannot tell (null).
    let expected = match h.bench.server.as_str() {
        "seaweedfs" => ("replace", serde_json::json!(false), true),
        "garage" => ("copy", serde_json::Value::Null, false),
        _ => ("copy", serde_json::json!(true), false),
    };
    let t = &report["traits"];
    assert_eq!(t["rekey"], expected.0, "{report}");
    assert_eq!(t["part_copy"], expected.1, "{report}");
    assert_eq!(t["keyless_part_accepted"], expected.2, "{report}");
    let findings = report["findings"].to_string();
    assert_eq!(
        findings.contains("PARTIAL ENFORCEMENT"),
        expected.2,
        "{report}"
    );
    // Kept: the registry holds what was learned, for the rotations to come.
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    let kept = registry.bucket_traits("garage", &h.bench.bucket).unwrap();
    assert_eq!(serde_json::to_value(&kept).unwrap(), *t);
    // Other tests' first uploads run the same probe in this bucket at the same time: what
    // they have in flight goes within seconds, a probe left behind stays.
    let (mut listing, mut uploads) = (String::new(), String::new());
    let clean = |listing: &mut String, uploads: &mut String| {
        *listing = h.sh_ok(
            r#"aws --endpoint-url "$EP" s3api list-objects-v2 --bucket "$BUCKET" --prefix .ssec-manager-probe"#,
        );
        *uploads = h.sh_ok(
            r#"aws --endpoint-url "$EP" s3api list-multipart-uploads --bucket "$BUCKET" --prefix .ssec-manager-probe"#,
        );
        !listing.contains("\"Key\"") && !uploads.contains("UploadId")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !clean(&mut listing, &mut uploads) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(!listing.contains("\"Key\""), "probe object left: {listing}");
    assert!(
        !uploads.contains("UploadId"),
        "probe upload left: {uploads}"
    );
}

/// Garage keeps no bucket encryption rules, so nothing blocks SSE-C there: asking to unblock
/// it changes nothing and the checks still run.
#[test]
fn allow_sse_c_on_a_bucket_without_rules_changes_nothing() {
    let h = TestHome::with_connection("preflight-allow");
    let out = h.ok(&[
        "preflight",
        &format!("s3://{}", h.bench.bucket),
        "--allow-sse-c",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["enforcement"]["state"], "enforced", "{report}");
    assert_ne!(report["bucket_encryption"]["state"], "blocks_sse_c");
}

#[test]
fn plain_http_to_another_host_is_refused_unless_allowed() {
    let h = TestHome::new("plain-http");
    // 192.0.2.0/24 is a documentation range: nothing is ever sent there (refused first).
    let err = h.fails(&[
        "connection",
        "add",
        "far",
        "--endpoint",
        "http://192.0.2.10:9000",
        "--region",
        "r",
    ]);
    assert!(
        err.contains("travel in clear") && err.contains("--allow-plain-http"),
        "{err}"
    );
    h.ok(&[
        "connection",
        "add",
        "far",
        "--endpoint",
        "http://192.0.2.10:9000",
        "--region",
        "r",
        "--allow-plain-http",
    ]);
    // A connection that does not allow it (as an older registry may hold) is refused before
    // any request is made.
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    registry
        .add_connection(&ConnectionRecord::new(
            "old",
            Some("http://192.0.2.11:9000"),
            "r",
        ))
        .unwrap();
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("f.bin"), 10);
    let started = std::time::Instant::now();
    let err = h.fails(&[
        "upload",
        &h.p("f.bin"),
        "s3://b/f.bin",
        "--key",
        "k",
        "--connection",
        "old",
        "--quiet",
    ]);
    assert!(err.contains("travel in clear"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "it tried the network"
    );
    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    assert!(
        objects.as_array().unwrap().is_empty(),
        "no registry row for a refused upload"
    );
}

#[test]
fn a_provider_preset_sets_what_the_server_needs() {
    let h = TestHome::new("preset");
    h.ok(&[
        "connection",
        "add",
        "g",
        "--provider",
        &h.bench.server.clone(),
        "--endpoint",
        &h.bench.endpoint.clone(),
    ]);
    let list: serde_json::Value =
        serde_json::from_str(&h.ok(&["connection", "list", "--json"])).unwrap();
    assert_eq!(list[0]["region"], h.bench.region.as_str());
    assert_eq!(list[0]["path_style"], true);
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("p.bin"), 100);
    h.upload("p.bin", "k");
    let err = h.fails(&["connection", "add", "r2", "--provider", "r2"]);
    assert!(err.contains("--account"), "{err}");
}
