#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Classifying objects on the real Garage by HEAD alone: plain, SSE-C under a known key,
//! SSE-C under a key we do not hold.

mod common;

use common::{TestHome, random_file};
use ssec_manager::core::Home;
use ssec_manager::core::s3::client_for;
use ssec_manager::core::scan::{ObjectKind, classify};

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
        async move { classify(client, bucket, &key, candidates).await }
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
