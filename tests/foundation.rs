#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The foundation against the real parts: Garage for S3, gnome-keyring for the Secret
//! Service, and the aws CLI running the seed document's exact commands.

mod common;

use common::{TestHome, assert_no_file_holds, random_file};
use ssec_manager::core::registry::Registry;

/// The seed's key set-up, verbatim: a key file from openssl and the two env variables.
const SEED_ENV: &str = r#"SSE_KEY=$(cat "$KEYFILE"); SSE_MD5=$(base64 -d "$KEYFILE" | openssl dgst -md5 -binary | base64)"#;

#[test]
fn object_put_by_the_seeds_aws_commands_downloads_byte_identical() {
    let h = TestHome::with_connection("seed-put");
    let data = random_file(&h.path("plain.bin"), 300_000);
    h.sh_ok(&format!(
        r#"openssl rand -base64 32 > seed.key; chmod 600 seed.key; KEYFILE=seed.key; {SEED_ENV}
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/from-aws.bin" \
          --body plain.bin --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#
    ));
    let keyfile = h.path("seed.key");
    h.ok(&["key", "import", "seed", keyfile.to_str().unwrap()]);
    let out = h.path("got.bin");
    h.ok(&[
        "download",
        &h.url("from-aws.bin"),
        out.to_str().unwrap(),
        "--key",
        "seed",
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), data);
}

#[test]
fn object_uploaded_by_ssec_manager_reads_back_through_the_seeds_aws_commands() {
    let h = TestHome::with_connection("seed-get");
    let data = random_file(&h.path("doc.bin"), 123_457);
    h.ok(&["key", "generate", "team"]);
    h.upload("doc.bin", "team");
    // Through the exported key file and the seed's commands.
    let keyfile = h.path("exported.key");
    h.ok(&["key", "export", "team", "--out", keyfile.to_str().unwrap()]);
    h.sh_ok(&format!(
        r#"KEYFILE=exported.key; {SEED_ENV}
        aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/doc.bin" \
          --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" via-file.bin >/dev/null"#
    ));
    assert_eq!(std::fs::read(h.path("via-file.bin")).unwrap(), data);
    // Through the env lines `key env` prints.
    let env_lines = h.ok(&["key", "env", "team"]);
    h.sh_ok(&format!(
        r#"{env_lines}
        aws --endpoint-url "$EP" s3api get-object --bucket "$BUCKET" --key "$PREFIX/doc.bin" \
          --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" via-env.bin >/dev/null"#
    ));
    assert_eq!(std::fs::read(h.path("via-env.bin")).unwrap(), data);
    // And the registry found the key by itself on our own download.
    let back = h.path("back.bin");
    h.ok(&["download", &h.url("doc.bin"), back.to_str().unwrap()]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
}

#[test]
fn download_with_the_wrong_key_names_the_expected_key_and_touches_no_file() {
    let h = TestHome::with_connection("wrong-key");
    random_file(&h.path("a.bin"), 5000);
    h.ok(&["key", "generate", "right"]);
    h.ok(&["key", "generate", "other"]);
    h.upload("a.bin", "right");
    let fp = h.fingerprint("right");

    // No file there before: none after.
    let target = h.path("out.bin");
    let err = h.fails(&[
        "download",
        &h.url("a.bin"),
        target.to_str().unwrap(),
        "--key",
        "other",
    ]);
    assert!(err.contains("encrypted with a different key"), "{err}");
    assert!(err.contains("\"right\"") && err.contains(&fp), "{err}");
    assert!(!target.exists());

    // A file there before: untouched after.
    std::fs::write(&target, b"keep me").unwrap();
    h.fails(&[
        "download",
        &h.url("a.bin"),
        target.to_str().unwrap(),
        "--key",
        "other",
    ]);
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    // No temp file left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(h.tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("ssec-part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn download_of_an_unregistered_sse_c_object_without_a_key_says_so() {
    let h = TestHome::with_connection("no-key");
    random_file(&h.path("p.bin"), 1000);
    h.sh_ok(&format!(
        r#"openssl rand -base64 32 > k; KEYFILE=k; {SEED_ENV}
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/p.bin" \
          --body p.bin --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#
    ));
    let target = h.path("out.bin");
    let err = h.fails(&["download", &h.url("p.bin"), target.to_str().unwrap()]);
    assert!(err.contains("encrypted with SSE-C"), "{err}");
    assert!(err.contains("--key"), "{err}");
    assert!(!target.exists());
    // With a registered key that is not its key: the different-key message.
    h.ok(&["key", "generate", "mine"]);
    let err = h.fails(&[
        "download",
        &h.url("p.bin"),
        target.to_str().unwrap(),
        "--key",
        "mine",
    ]);
    assert!(err.contains("encrypted with a different key"), "{err}");
    assert!(!target.exists());
}

#[test]
fn keys_live_in_the_secret_service_and_never_under_the_home() {
    let h = TestHome::with_connection("secrets");
    h.ok(&["key", "generate", "gen"]);
    let raw_key = [0xa5u8; 32];
    let import = h.path("imported.bin");
    std::fs::write(&import, raw_key).unwrap();
    h.ok(&["key", "import", "imp", import.to_str().unwrap()]);
    random_file(&h.path("f.bin"), 2048);
    h.upload("f.bin", "gen");
    let exported = h.path("gen.key");
    h.ok(&["key", "export", "gen", "--out", exported.to_str().unwrap()]);
    let gen_b64 = std::fs::read_to_string(&exported)
        .unwrap()
        .trim()
        .to_string();
    let gen_raw = base64_decode(&gen_b64);

    for (label, raw) in [("gen", gen_raw.clone()), ("imp", raw_key.to_vec())] {
        let fp = h.fingerprint(label);
        // secret-tool sees the entry under this home's namespace, holding the raw key.
        let attrs = std::process::Command::new("secret-tool")
            .args(["search", "--all", "username", &format!("sse-c-key:{fp}")])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&attrs.stdout).to_string()
            + &String::from_utf8_lossy(&attrs.stderr);
        assert!(listing.contains("service = ssec-manager:"), "{listing}");
        let secret = std::process::Command::new("secret-tool")
            .args(["lookup", "username", &format!("sse-c-key:{fp}")])
            .output()
            .unwrap();
        assert_eq!(secret.stdout, raw, "keyring holds the raw key for {label}");
    }

    // Nothing under the home holds any form of either key.
    let needles: Vec<Vec<u8>> = [gen_raw.clone(), raw_key.to_vec()]
        .iter()
        .flat_map(|raw| {
            vec![
                raw.clone(),
                base64_encode(raw).into_bytes(),
                hex::encode(raw).into_bytes(),
            ]
        })
        .collect();
    assert!(h.home.join("registry.sqlite3").exists());
    assert_no_file_holds(&h.home, &needles, "key material");
}

#[test]
fn bad_key_inputs_are_refused_clearly_and_valid_forms_agree_with_openssl() {
    let h = TestHome::new("bad-keys");
    // Starts with 0xfb 0xff so that its base64 starts with "+/" (for the URL-safe case).
    let raw: Vec<u8> = [0xfb, 0xff]
        .into_iter()
        .chain((2u8..32).map(|i| i.wrapping_mul(37).wrapping_add(11)))
        .collect();
    let b64 = base64_encode(&raw);
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty file", vec![], "empty"),
        ("31 raw bytes", vec![0xff; 31], "32 bytes"),
        ("33 raw bytes", vec![0xfe; 33], "32 bytes"),
        (
            "32-character password",
            b"Tr0ub4dor&3-horse-battery-staple".to_vec(),
            "password",
        ),
        ("short password", b"hunter2\n".to_vec(), "password"),
        (
            "16-byte key in base64",
            base64_encode(&[1u8; 16]).into_bytes(),
            "decodes to 16 bytes",
        ),
        (
            "truncated base64",
            b64.as_bytes()[..43].to_vec(),
            "not valid base64",
        ),
        (
            "base64 with a bad character",
            format!("{}!", &b64[..43]).into_bytes(),
            "password",
        ),
        (
            "63 hex digits",
            hex::encode(&raw).as_bytes()[..63].to_vec(),
            "hex digits",
        ),
        (
            "CRLF junk inside",
            format!("{}\r\n{}\r\n", &b64[..22], &b64[22..]).into_bytes(),
            "lines",
        ),
        (
            "double base64",
            base64_encode(b64.as_bytes()).into_bytes(),
            "base64 of a base64 key",
        ),
        (
            "url-safe base64",
            b64.replace('+', "-").replace('/', "_").into_bytes(),
            "URL-safe",
        ),
    ];
    assert!(bad.len() >= 10);
    for (i, (what, input, expect)) in bad.iter().enumerate() {
        let file = h.path(&format!("bad{i}.key"));
        std::fs::write(&file, input).unwrap();
        let err = h.fails(&["key", "import", &format!("bad{i}"), file.to_str().unwrap()]);
        assert!(
            err.contains(expect),
            "{what}: expected {expect:?} in {err:?}"
        );
        assert!(err.starts_with("error: "), "{what}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: one line: {err}");
        // The message describes the input; it never repeats it.
        if input.len() >= 8 {
            let text = String::from_utf8_lossy(input);
            assert!(!err.contains(text.trim()), "{what}: echoed input");
        }
    }
    // Valid forms of one key all give the fingerprint openssl computes.
    let raw_file = h.path("raw.bin");
    std::fs::write(&raw_file, &raw).unwrap();
    let openssl = h.sh_ok("openssl dgst -md5 -binary raw.bin | base64");
    let forms: Vec<(&str, Vec<u8>)> = vec![
        ("raw", raw.clone()),
        ("seed line", format!("{b64}\n").into_bytes()),
        ("no newline", b64.clone().into_bytes()),
        ("crlf and spaces", format!("  {b64} \r\n").into_bytes()),
        ("hex", format!("{}\n", hex::encode(&raw)).into_bytes()),
    ];
    for (i, (what, input)) in forms.iter().enumerate() {
        let file = h.path(&format!("good{i}.key"));
        std::fs::write(&file, input).unwrap();
        let out = h.run(&["key", "import", "same", file.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if i == 0 {
            assert!(out.status.success(), "{what}: {text}");
        } else {
            // The same key again: refused as a twin, naming the existing label.
            assert!(!out.status.success(), "{what}: {text}");
            assert!(
                text.contains("already registered as \"same\""),
                "{what}: {text}"
            );
        }
        assert!(text.contains(openssl.trim()), "{what}: {text}");
    }
    // Stdin works too.
    let out = h.run_stdin(&["key", "import", "piped", "-"], b"\n");
    assert!(!out.status.success());
}

#[test]
fn without_a_keyring_commands_fail_clearly_and_write_nothing() {
    let h = TestHome::new("no-dbus");
    let out = h
        .cmd()
        .args(["key", "generate", "k"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("keyring is not reachable"), "{err}");
    assert!(err.contains("D-Bus"), "{err}");
    assert!(!h.home.exists(), "nothing may be written without a keyring");
}

#[test]
fn deleting_a_key_that_encrypts_objects_is_refused_then_forced_and_recorded() {
    let h = TestHome::with_connection("delete");
    random_file(&h.path("x.bin"), 100);
    h.ok(&["key", "generate", "doomed"]);
    h.ok(&["key", "generate", "unused"]);
    h.upload("x.bin", "doomed");
    let fp = h.fingerprint("doomed");
    let err = h.fails(&["key", "delete", "doomed"]);
    assert!(err.contains(&h.url("x.bin")), "{err}");
    assert!(
        err.contains("unrecoverable") && err.contains("--force"),
        "{err}"
    );
    // Still there, still usable.
    h.ok(&[
        "download",
        &h.url("x.bin"),
        h.path("y.bin").to_str().unwrap(),
    ]);

    // A key that encrypts nothing goes without --force.
    h.ok(&["key", "delete", "unused"]);

    let out = h.ok(&["key", "delete", "doomed", "--force"]);
    assert!(out.contains(&h.url("x.bin")), "{out}");
    let lookup = std::process::Command::new("secret-tool")
        .args(["lookup", "username", &format!("sse-c-key:{fp}")])
        .output()
        .unwrap();
    assert!(lookup.stdout.is_empty(), "key still in the keyring");
    let registry = Registry::open(&h.home.join("registry.sqlite3")).unwrap();
    let forced = registry
        .events()
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "deleted" && e.detail.contains("FORCED"))
        .expect("forced deletion is in the event log");
    assert!(forced.detail.contains(&h.object_key("x.bin")));
    assert_eq!(forced.key_fingerprint.as_deref(), Some(fp.as_str()));
    // The download now says which key is gone.
    let err = h.fails(&[
        "download",
        &h.url("x.bin"),
        h.path("z.bin").to_str().unwrap(),
    ]);
    assert!(
        err.contains("\"doomed\"") && err.contains("deleted"),
        "{err}"
    );
}

/// A read refused with the key and refused without it is a matter of permissions, not of
/// the key (AWS answers 403 to a wrong key too): the download says so instead of blaming the
/// key, and writes nothing. The credentials here may write the bucket but not read it.
#[test]
fn a_download_refused_for_lack_of_permission_is_not_called_a_wrong_key() {
    let (Ok(id), Ok(secret)) = (
        std::env::var("SSEC_TEST_WRITE_ONLY_KEY_ID"),
        std::env::var("SSEC_TEST_WRITE_ONLY_SECRET"),
    ) else {
        common::skip_on(
            &[&common::bench().server],
            "no per-credential permissions (any access key reads and writes every bucket), \
             so no read can be refused for lack of permission",
        );
        return;
    };
    let h = TestHome::with_connection("no-read");
    random_file(&h.path("n.bin"), 3000);
    h.ok(&["key", "generate", "k"]);
    h.upload("n.bin", "k");

    h.add_keyring_connection("write-only", &id, &secret);

    let target = h.path("out.bin");
    let out = h.run_without_env_credentials(&[
        "download",
        &h.url("n.bin"),
        target.to_str().unwrap(),
        "--key",
        "k",
        "--connection",
        "write-only",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("different key"), "{err}");
    assert!(err.contains("lack permission"), "{err}");
    assert!(!target.exists());
    // A scan through these credentials cannot even list the bucket (Garage grants listing
    // with reading), and says so rather than reporting objects under unknown keys.
    let scan_url = format!("s3://{}/{}/", h.bench.bucket, h.prefix);
    let out = h.run_without_env_credentials(&["scan", &scan_url, "--connection", "write-only"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("403") || err.contains("denied"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("unknown"));
    // The same object, read with the right credentials and the key, is fine.
    h.ok(&[
        "download",
        &h.url("n.bin"),
        target.to_str().unwrap(),
        "--connection",
        "garage",
    ]);
}

#[test]
fn credentials_kept_in_the_keyring_work_and_stay_out_of_the_registry() {
    let h = TestHome::new("creds");
    let id = std::env::var("AWS_ACCESS_KEY_ID").unwrap();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    h.add_keyring_connection("kr", &id, &secret);
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("c.bin"), 10);
    // No AWS variables: only the keyring can supply the credentials.
    let out = h.run_without_env_credentials(&[
        "upload",
        h.path("c.bin").to_str().unwrap(),
        &h.url("c.bin"),
        "--key",
        "k",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_file_holds(&h.home, &[secret.into_bytes()], "the S3 secret");
}

#[test]
fn connection_rules_single_default_and_clear_errors() {
    let h = TestHome::new("conns");
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("a"), 10);
    let err = h.fails(&[
        "upload",
        h.path("a").to_str().unwrap(),
        &h.url("a"),
        "--key",
        "k",
    ]);
    assert!(err.contains("connection add"), "{err}");
    h.ok(&[
        "connection",
        "add",
        "one",
        "--endpoint",
        &h.bench.endpoint,
        "--region",
        &h.bench.region,
        "--path-style",
    ]);
    h.ok(&[
        "connection",
        "add",
        "two",
        "--endpoint",
        "http://127.0.0.1:9",
        "--region",
        "garage",
    ]);
    let err = h.fails(&[
        "upload",
        h.path("a").to_str().unwrap(),
        &h.url("a"),
        "--key",
        "k",
    ]);
    assert!(
        err.contains("--connection") && err.contains("one") && err.contains("two"),
        "{err}"
    );
    // An endpoint where nothing listens: a network error (from the first-upload preflight),
    // and no registry row claims anything.
    let err = h.fails(&[
        "upload",
        h.path("a").to_str().unwrap(),
        &h.url("a"),
        "--key",
        "k",
        "--connection",
        "two",
    ]);
    assert!(err.contains("could not reach the server"), "{err}");
    let objects: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    assert!(objects.as_array().unwrap().is_empty(), "{objects}");
    h.ok(&[
        "upload",
        h.path("a").to_str().unwrap(),
        &h.url("a"),
        "--key",
        "k",
        "--connection",
        "one",
    ]);
    let list: serde_json::Value =
        serde_json::from_str(&h.ok(&["connection", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let err = h.fails(&["key", "generate", "k"]);
    assert!(err.contains("already exists"), "{err}");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
