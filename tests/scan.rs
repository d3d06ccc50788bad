#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Classifying objects on the real Garage by HEAD alone: plain, SSE-C under a known key,
//! SSE-C under a key we do not hold.

mod common;

use common::{TestHome, random_file};
use ssec_manager::core::Home;
use ssec_manager::core::s3::client_for;
use ssec_manager::core::scan::{ObjectKind, classify_object};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_requests_tell_plain_known_key_and_unknown_key_apart() {
    let h = TestHome::with_connection("scan");
    h.ok(&["key", "generate", "ours"]);
    h.ok(&["key", "generate", "other"]);
    random_file(&h.path("f.bin"), 2000);
    h.upload("f.bin", "ours");
    h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/plain.bin" --body f.bin >/dev/null
        openssl rand -base64 32 > k; SSE_KEY=$(cat k); SSE_MD5=$(base64 -d k | openssl dgst -md5 -binary | base64)
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/foreign.bin" --body f.bin \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#,
    );
    let home = Home::open_with_keyring(&h.home).unwrap();
    let conn = home.resolve_connection(None).unwrap();
    let client = client_for(&conn, home.secrets().ok()).await.unwrap();
    let candidates: Vec<_> = ["other", "ours"]
        .iter()
        .map(|l| {
            (
                l.to_string(),
                home.load_key(&home.key_record(l).unwrap()).unwrap(),
            )
        })
        .collect();
    let bucket = &h.bench.bucket;
    let kind = |name: &str| {
        let key = h.object_key(name);
        let (client, candidates) = (&client, &candidates);
        async move { classify_object(client, bucket, &key, candidates).await }
    };
    assert_eq!(
        kind("f.bin").await,
        ObjectKind::KnownKey {
            label: "ours".into()
        }
    );
    assert_eq!(kind("plain.bin").await, ObjectKind::Plain);
    assert_eq!(kind("foreign.bin").await, ObjectKind::UnknownKey);
    assert_eq!(kind("absent.bin").await, ObjectKind::Missing);
}

/// (object key, key label) pairs of stored objects in a home, sorted.
fn key_map(h: &TestHome) -> Vec<(String, String)> {
    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    let mut map: Vec<(String, String)> = objects
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "stored")
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_string(),
                o["key_label"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    map.sort();
    map
}

#[test]
fn a_scan_classifies_a_mixed_bucket_and_rebuilds_a_lost_registry() {
    let h = TestHome::with_connection("scan-cli");
    h.ok(&["key", "generate", "k1"]);
    h.ok(&["key", "generate", "k2"]);
    for (name, key) in [("a1", "k1"), ("a2", "k1"), ("b1", "k2")] {
        random_file(&h.path(name), 500);
        h.upload(name, key);
    }
    random_file(&h.path("f"), 300);
    h.sh_ok(
        r#"aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/plain" --body f >/dev/null
        openssl rand -base64 32 > k; SSE_KEY=$(cat k); SSE_MD5=$(base64 -d k | openssl dgst -md5 -binary | base64)
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/foreign" --body f \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#,
    );
    let target = format!("s3://{}/{}/", h.bench.bucket, h.prefix);
    let found: serde_json::Value =
        serde_json::from_str(&h.ok(&["scan", &target, "--json"])).unwrap();
    let kinds: Vec<(String, String)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let name = o["key"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            let kind = match o["kind"].as_str().unwrap() {
                "known_key" => o["label"].as_str().unwrap().to_string(),
                other => other.to_string(),
            };
            (name, kind)
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("a1".into(), "k1".into()),
            ("a2".into(), "k1".into()),
            ("b1".into(), "k2".into()),
            ("foreign".into(), "unknown_key".into()),
            ("plain".into(), "plain".into()),
        ]
    );
    let original = key_map(&h);

    // The registry is lost; the keyring is not. Scan + adopt rebuilds the key-to-object map.
    let backup_pass = "registry rebuild test";
    let out = h
        .cmd()
        .args(["backup", "--out", &h.p("keys.age")])
        .env("SSEC_MANAGER_PASSPHRASE", backup_pass)
        .output()
        .unwrap();
    assert!(out.status.success());
    let fresh = TestHome::new("scan-rebuilt");
    let out = fresh
        .cmd()
        .args(["restore", &h.p("keys.age")])
        .env("SSEC_MANAGER_PASSPHRASE", backup_pass)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fresh.add_connection("garage", &h.bench.endpoint);
    let said = fresh.ok(&["scan", &target, "--adopt"]);
    assert!(said.contains("3 adopted"), "{said}");
    assert_eq!(key_map(&fresh), original);
    // And the rebuilt registry finds the key by itself.
    fresh.ok(&["download", &h.url("b1"), &fresh.p("b1.back")]);
    assert!(std::fs::read(fresh.path("b1.back")).unwrap() == std::fs::read(h.path("b1")).unwrap());
}
