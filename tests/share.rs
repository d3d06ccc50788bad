#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Keys between people, default keys per place, and presigned recipes, against the real
//! server and keyring; `age`, `ssh-keygen` and `curl` are the other people's tools.

mod common;

use common::{TestHome, random_file};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// An age identity (`age-keygen`) in `h`'s temp dir: its path and public key.
fn age_identity(h: &TestHome, name: &str) -> (String, String) {
    let path = h.p(name);
    h.sh_ok(&format!("age-keygen -o {path} 2>/dev/null"));
    let public = h.sh_ok(&format!("age-keygen -y {path}")).trim().to_string();
    (path, public)
}

/// An ed25519 SSH key pair (`ssh-keygen`, no passphrase) in `h`'s temp dir: the private
/// key's path and the public key line.
fn ssh_identity(h: &TestHome, name: &str) -> (String, String) {
    let path = h.p(name);
    h.sh_ok(&format!(
        "ssh-keygen -q -t ed25519 -N '' -C bob@example -f {path}"
    ));
    let public = std::fs::read_to_string(format!("{path}.pub")).unwrap();
    (path, public.trim().to_string())
}

fn object_keys(h: &TestHome) -> Vec<(String, String, String)> {
    let objects = json(&h.ok(&["objects", "--json"]));
    let mut out: Vec<_> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_string(),
                o["state"].as_str().unwrap().to_string(),
                o["key_label"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn keys_shared_to_an_age_and_an_ssh_recipient_are_received_with_their_objects() {
    let alice = TestHome::with_connection("share-from");
    alice.ok(&["key", "generate", "team-a"]);
    alice.ok(&["key", "generate", "team-b"]);
    let a = random_file(&alice.path("a.bin"), 70_000);
    let b = random_file(&alice.path("b.bin"), 1_000);
    alice.upload("a.bin", "team-a");
    alice.upload("b.bin", "team-b");

    let bob = TestHome::with_connection("share-ssh");
    let carol = TestHome::with_connection("share-age");
    let (bob_id, bob_pub) = ssh_identity(&bob, "id_ed25519");
    let (carol_id, carol_pub) = age_identity(&carol, "id.age");
    // Bob's public key arrives as a keys file (as https://github.com/USER.keys serves it).
    std::fs::write(alice.path("bob.keys"), format!("{bob_pub}\n")).unwrap();
    let out = alice.p("team.age");
    let report = json(&alice.ok(&[
        "key",
        "share",
        "team-a",
        "team-b",
        "--to",
        &carol_pub,
        "--to-file",
        &alice.p("bob.keys"),
        "--out",
        &out,
        "--objects",
        "--json",
    ]));
    assert_eq!(
        report["recipients"].as_array().unwrap().len(),
        2,
        "{report}"
    );
    assert_eq!(report["keys"][0][1], 1, "{report}");
    std::fs::copy(&out, bob.path("team.age")).unwrap();
    std::fs::copy(&out, carol.path("team.age")).unwrap();

    // The age CLI opens it too: nothing of ssec-manager is needed to get the keys out.
    let plain = carol.sh_ok(&format!("age -d -i {carol_id} {}", carol.p("team.age")));
    assert!(plain.contains("team-a") && plain.contains(&alice.fingerprint("team-a")));

    // Bob, with only his SSH key, and Carol, with only her age identity.
    for (h, id) in [(&bob, &bob_id), (&carol, &carol_id)] {
        let got = json(&h.ok(&[
            "key",
            "receive",
            &h.p("team.age"),
            "--identity",
            id,
            "--json",
        ]));
        assert_eq!(got["imported"].as_array().unwrap().len(), 2, "{got}");
        assert_eq!(got["adopted"].as_array().unwrap().len(), 2, "{got}");
        assert!(got["not_adopted"].as_array().unwrap().is_empty(), "{got}");
        assert_eq!(h.fingerprint("team-a"), alice.fingerprint("team-a"));
        // Each object downloads with the key the registry now records.
        h.ok(&["download", &alice.url("a.bin"), &h.p("a.out")]);
        h.ok(&["download", &alice.url("b.bin"), &h.p("b.out")]);
        assert_eq!(std::fs::read(h.path("a.out")).unwrap(), a);
        assert_eq!(std::fs::read(h.path("b.out")).unwrap(), b);
        // Received again: nothing new.
        let again = json(&h.ok(&[
            "key",
            "receive",
            &h.p("team.age"),
            "--identity",
            id,
            "--json",
        ]));
        assert_eq!(again["present"].as_array().unwrap().len(), 2, "{again}");
        assert_eq!(again["known"].as_array().unwrap().len(), 2, "{again}");
    }

    // The sender's audit lists both keys as shared outside, by public identity only.
    let audit = json(&alice.ok(&["audit", "--json"]));
    let shared: Vec<&serde_json::Value> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["title"].as_str().unwrap().contains("shared outside"))
        .collect();
    assert_eq!(shared.len(), 2, "{audit}");
    let title = shared[0]["title"].as_str().unwrap();
    assert!(
        title.contains(&carol_pub) && title.contains("ssh-ed25519 SHA256:"),
        "{title}"
    );
    assert!(title.contains("bob@example"), "{title}");
    assert_eq!(audit["shared"].as_array().unwrap().len(), 4, "{audit}");
}

#[test]
fn a_share_opened_with_the_wrong_identity_is_refused_and_changes_nothing() {
    let alice = TestHome::with_connection("share-wrong");
    alice.ok(&["key", "generate", "secret"]);
    random_file(&alice.path("s.bin"), 100);
    alice.upload("s.bin", "secret");
    let (_, right) = age_identity(&alice, "right.age");
    let out = alice.p("s.age");
    alice.ok(&[
        "key",
        "share",
        "secret",
        "--to",
        &right,
        "--out",
        &out,
        "--objects",
    ]);

    let mallory = TestHome::with_connection("share-mallory");
    let (wrong_id, _) = age_identity(&mallory, "wrong.age");
    let err = mallory.fails(&["key", "receive", &out, "--identity", &wrong_id]);
    assert!(err.contains("was not shared to this identity"), "{err}");
    assert!(
        json(&mallory.ok(&["key", "list", "--json"]))
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(object_keys(&mallory).is_empty());
    // Not an identity at all: said so, nothing changes.
    std::fs::write(mallory.path("notes.txt"), "hello\n").unwrap();
    let err = mallory.fails(&[
        "key",
        "receive",
        &out,
        "--identity",
        &mallory.p("notes.txt"),
    ]);
    assert!(err.contains("neither an age identity"), "{err}");
    // A recipient that is no key is refused before anything is written.
    let err = alice.fails(&[
        "key",
        "share",
        "secret",
        "--to",
        "bob",
        "--out",
        &alice.p("x.age"),
    ]);
    assert!(err.contains("not a recipient"), "{err}");
    assert!(!alice.path("x.age").exists());
}

#[test]
fn a_default_key_is_used_where_no_key_is_given_and_another_key_there_asks_first() {
    let h = TestHome::with_connection("defaults");
    h.ok(&["key", "generate", "docs-key"]);
    h.ok(&["key", "generate", "other"]);
    let docs = format!("s3://{}/{}/docs", h.bench.bucket, h.prefix);
    h.ok(&["key", "default", &docs, "docs-key"]);
    let shown = h.ok(&["key", "default", &format!("{docs}/deeper/")]);
    assert!(shown.contains("docs-key"), "{shown}");

    random_file(&h.path("d.txt"), 300);
    let inside = format!("{docs}/d.txt");
    h.ok(&["upload", &h.p("d.txt"), &inside]);
    // Another key under the prefix: refused without a yes (no terminal here), then --yes.
    let err = h.fails(&[
        "upload",
        &h.p("d.txt"),
        &format!("{docs}/e.txt"),
        "--key",
        "other",
    ]);
    assert!(err.contains("has default key \"docs-key\""), "{err}");
    h.ok(&[
        "upload",
        &h.p("d.txt"),
        &format!("{docs}/e.txt"),
        "--key",
        "other",
        "--yes",
    ]);
    // Outside any default, a key must be named.
    let err = h.fails(&["upload", &h.p("d.txt"), &h.url("d.txt")]);
    assert!(err.contains("no default key"), "{err}");
    let objects = object_keys(&h);
    assert_eq!(
        objects,
        vec![
            (
                format!("{}/docs/d.txt", h.prefix),
                "stored".into(),
                "docs-key".into()
            ),
            (
                format!("{}/docs/e.txt", h.prefix),
                "stored".into(),
                "other".into()
            ),
        ]
    );
    // A sync up into the prefix takes the default too.
    std::fs::create_dir_all(h.path("dir")).unwrap();
    random_file(&h.path("dir/f.bin"), 10);
    h.ok(&["sync", &h.p("dir"), &format!("{docs}/synced/"), "-q"]);
    assert!(
        object_keys(&h)
            .iter()
            .any(|(k, _, l)| k.ends_with("synced/f.bin") && l == "docs-key")
    );
    let listed = json(&h.ok(&["key", "defaults", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    h.ok(&["key", "default", &docs, "--clear"]);
    let err = h.fails(&["upload", &h.p("d.txt"), &inside]);
    assert!(err.contains("no default key"), "{err}");
    // A folder going where a folder under it has a default of its own: asked too.
    h.ok(&["key", "default", &format!("{docs}/dir/raw"), "other"]);
    let err = h.fails(&[
        "upload",
        &h.p("dir"),
        &format!("{docs}/dir/"),
        "--key",
        "docs-key",
    ]);
    assert!(err.contains("dir/raw/ has default key \"other\""), "{err}");
}

#[test]
fn a_presigned_get_works_with_curl_and_the_printed_headers_and_not_without_them() {
    if common::skip_on(
        &["ministack"],
        "refuses every SigV4 presigned URL (InvalidAccessKeyId, even a plain GET's)",
    ) {
        return;
    }
    let h = TestHome::with_connection("presign");
    h.ok(&["key", "generate", "pre"]);
    let data = random_file(&h.path("p.bin"), 50_000);
    h.upload("p.bin", "pre");
    let recipe = h.ok(&["presign", &h.url("p.bin"), "--expires", "10m"]);
    assert!(
        recipe.contains("$SSE_KEY") && recipe.contains("$SSE_MD5"),
        "{recipe}"
    );
    let env = h.ok(&["key", "env", "pre"]);
    let key_b64 = env
        .lines()
        .next()
        .unwrap()
        .split('\'')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        !recipe.contains(&key_b64),
        "the recipe holds no key material"
    );
    // A TLS pass: curl trusts the bench's CA as the aws CLI does.
    let ca = "if [ -n \"${AWS_CA_BUNDLE:-}\" ]; then export CURL_CA_BUNDLE=\"$AWS_CA_BUNDLE\"; fi";
    let curl: String = recipe
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    h.sh_ok(&format!("{ca}\n{env}\n{curl}"));
    assert_eq!(std::fs::read(h.path("p.bin")).unwrap(), data);
    std::fs::remove_file(h.path("p.bin")).unwrap();
    // The URL alone: the server refuses (the headers are signed and the key is needed).
    let url = h
        .ok(&["presign", &h.url("p.bin"), "--url-only"])
        .trim()
        .to_string();
    let out = h.sh(&format!("{ca}\ncurl -sS --fail -o bare.bin '{url}'"));
    assert!(
        !out.status.success(),
        "a GET without the SSE-C headers must fail"
    );
    assert!(!h.path("bare.bin").exists() || std::fs::read(h.path("bare.bin")).unwrap() != data);

    // A presigned PUT, sent by curl, lands under the key; the aws CLI reads it back.
    let put = h.ok(&["presign", &h.url("put.bin"), "--put", "--key", "pre"]);
    let sent = random_file(&h.path("FILE"), 4_000);
    let curl: String = put
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    h.sh_ok(&format!("{ca}\n{env}\n{curl}"));
    h.sh_ok(&format!(
        r#"{env}
        aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/put.bin" \
          --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" \
          --sse-customer-key-md5 "$SSE_MD5" got.bin >/dev/null"#
    ));
    assert_eq!(std::fs::read(h.path("got.bin")).unwrap(), sent);
}
