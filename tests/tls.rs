#![allow(clippy::unwrap_used, clippy::expect_used)]

//! TLS with private CAs, as the aws CLI does it: a connection's `--ca-bundle`, else
//! `AWS_CA_BUNDLE`, else the profile's `ca_bundle`. Each test puts a TLS front of its own
//! (scripts/tls-front.sh: a CA made for the test, socat) before the bench's server, so what
//! is trusted is decided here, whatever pass (http or TLS) the suite runs in.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestHome, random_file};

/// A TLS front of the test's own before the bench's server; stopped on drop.
struct Front {
    dir: tempfile::TempDir,
    endpoint: String,
}

impl Front {
    /// A front whose certificate names `san` ("IP:127.0.0.1,DNS:localhost" when None).
    fn start(h: &TestHome, san: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = h
            .bench
            .plain_endpoint
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tls-front.sh"));
        cmd.arg(dir.path()).arg(&port);
        if let Some(san) = san {
            cmd.arg(san);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "tls-front: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let endpoint = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
        Self { dir, endpoint }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn host(&self) -> &str {
        self.endpoint.trim_start_matches("https://")
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/server-down.sh");
        let _ = Command::new(script).arg(self.dir.path()).output();
    }
}

/// Runs ssec-manager with AWS_CA_BUNDLE set to `ca` (or removed) and AWS_CONFIG_FILE to
/// `config` (or the bench's).
fn run_env(
    h: &TestHome,
    args: &[&str],
    ca: Option<&Path>,
    config: Option<&Path>,
) -> std::process::Output {
    let mut c = h.cmd();
    c.args(args);
    match ca {
        Some(ca) => c.env("AWS_CA_BUNDLE", ca),
        None => c.env_remove("AWS_CA_BUNDLE"),
    };
    if let Some(config) = config {
        c.env("AWS_CONFIG_FILE", config);
    }
    c.output().unwrap()
}

fn ok_env(h: &TestHome, args: &[&str], ca: Option<&Path>, config: Option<&Path>) -> String {
    let out = run_env(h, args, ca, config);
    assert!(
        out.status.success(),
        "ssec-manager {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every way of trusting a private CA works, in the aws CLI's order, for single-part and
/// multipart objects (over TLS the parts go as UNSIGNED-PAYLOAD), and the aws CLI reads and
/// writes the same objects through the same front.
#[test]
fn a_private_ca_is_trusted_from_the_connection_the_environment_or_the_profile() {
    let h = TestHome::new("tls-ca");
    let front = Front::start(&h, None);
    let other = Front::start(&h, None);
    h.ok(&["key", "generate", "k"]);
    let small = random_file(&h.path("small.bin"), 3 * 1024 * 1024);
    let big = random_file(&h.path("big.bin"), 20 * 1024 * 1024);

    // 1. The connection's own bundle, even when AWS_CA_BUNDLE names another CA: it wins.
    let ca = front.ca();
    h.add_connection_with(
        "pinned",
        &front.endpoint,
        &["--ca-bundle", ca.to_str().unwrap()],
    );
    for name in ["small.bin", "big.bin"] {
        let (src, url) = (h.p(name), h.url(name));
        let args = ["upload", &src, &url, "--key", "k", "--connection", "pinned"];
        ok_env(&h, &args, Some(&other.ca()), None);
    }
    let back = h.path("back.bin");
    let args = [
        "download",
        &h.url("big.bin"),
        back.to_str().unwrap(),
        "--connection",
        "pinned",
    ];
    ok_env(&h, &args, None, None);
    assert!(
        std::fs::read(&back).unwrap() == big,
        "big.bin came back changed"
    );

    // 2. The aws CLI through the same front, with the key ssec-manager holds, both ways.
    let key_file = h.path("k.key");
    h.ok(&["key", "export", "k", "--out", key_file.to_str().unwrap()]);
    let script = format!(
        r#"K=$(cat k.key); M=$(base64 -d k.key | openssl dgst -md5 -binary | base64)
        aws --endpoint-url {ep} --ca-bundle {ca} s3api get-object --bucket "$BUCKET" \
          --key "$PREFIX/small.bin" --sse-customer-algorithm AES256 \
          --sse-customer-key "$K" --sse-customer-key-md5 "$M" by-aws.bin >/dev/null
        aws --endpoint-url {ep} --ca-bundle {ca} s3api put-object --bucket "$BUCKET" \
          --key "$PREFIX/from-aws.bin" --body by-aws.bin --sse-customer-algorithm AES256 \
          --sse-customer-key "$K" --sse-customer-key-md5 "$M" >/dev/null"#,
        ep = front.endpoint,
        ca = ca.display()
    );
    h.sh_ok(&script);
    assert!(std::fs::read(h.path("by-aws.bin")).unwrap() == small);

    // 3. No bundle on the connection: AWS_CA_BUNDLE is used.
    h.add_connection_with("by-env", &front.endpoint, &[]);
    let from_aws = h.path("from-aws.back");
    let args = [
        "download",
        &h.url("from-aws.bin"),
        from_aws.to_str().unwrap(),
        "--key",
        "k",
        "--connection",
        "by-env",
    ];
    ok_env(&h, &args, Some(&ca), None);
    assert!(std::fs::read(&from_aws).unwrap() == small);

    // 4. Neither: the profile's ca_bundle (the connection's --profile).
    let config = h.path("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile tls]\nca_bundle = {}\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            ca.display(),
            std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap()
        ),
    )
    .unwrap();
    h.add_connection_with("by-profile", &front.endpoint, &["--profile", "tls"]);
    let p_back = h.p("p.back");
    let args = [
        "download",
        &h.url("small.bin"),
        &p_back,
        "--key",
        "k",
        "--connection",
        "by-profile",
    ];
    ok_env(&h, &args, None, Some(&config));
    assert!(std::fs::read(h.path("p.back")).unwrap() == small);
}

/// A certificate from an unknown CA, or made out for another name, fails with the host, the
/// connection and the fix, and leaves nothing behind: no file, no registry row.
#[test]
fn an_untrusted_certificate_names_the_host_and_the_fix_and_leaves_nothing() {
    let h = TestHome::new("tls-untrusted");
    let front = Front::start(&h, None);
    h.ok(&["key", "generate", "k"]);
    random_file(&h.path("u.bin"), 1000);
    h.add_connection_with("nas", &front.endpoint, &[]);

    let (src, url) = (h.p("u.bin"), h.url("u.bin"));
    let out = run_env(
        &h,
        &["upload", &src, &url, "--key", "k", "--connection", "nas"],
        None,
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("not trusted"), "{err}");
    assert!(err.contains(front.host()), "{err}");
    assert!(err.contains("connection edit nas --ca-bundle"), "{err}");
    let list: serde_json::Value = serde_json::from_str(&h.ok(&["objects", "--json"])).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "a refused upload left a row: {list}"
    );

    let target = h.path("never.bin");
    let out = run_env(
        &h,
        &[
            "download",
            &url,
            target.to_str().unwrap(),
            "--key",
            "k",
            "--connection",
            "nas",
        ],
        None,
        None,
    );
    assert!(!out.status.success());
    assert!(!target.exists(), "a refused download wrote a file");

    // The fix the message gives, then it works.
    let ca = front.ca();
    h.ok(&[
        "connection",
        "edit",
        "nas",
        "--ca-bundle",
        ca.to_str().unwrap(),
    ]);
    let args = ["upload", &src, &url, "--key", "k", "--connection", "nas"];
    ok_env(&h, &args, None, None);

    // A certificate signed by the trusted CA but for another name is refused as such.
    let misnamed = Front::start(&h, Some("DNS:other.example"));
    h.add_connection_with(
        "misnamed",
        &misnamed.endpoint,
        &["--ca-bundle", misnamed.ca().to_str().unwrap()],
    );
    let out = run_env(
        &h,
        &[
            "upload",
            &src,
            &url,
            "--key",
            "k",
            "--connection",
            "misnamed",
        ],
        None,
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("not made out for"), "{err}");

    // A bundle that is not a certificate, or not there, is refused when it is given.
    std::fs::write(h.path("not.pem"), "hello").unwrap();
    let err = h.fails(&["connection", "edit", "nas", "--ca-bundle", &h.p("not.pem")]);
    assert!(err.contains("no PEM certificate"), "{err}");
    let err = h.fails(&[
        "connection",
        "edit",
        "nas",
        "--ca-bundle",
        &h.p("missing.pem"),
    ]);
    assert!(err.contains("cannot be read"), "{err}");
}
