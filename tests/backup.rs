#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Encrypted key backups against the real keyring and the real `age` CLI.

mod common;

use std::process::Command;

use common::{TestHome, random_file};

const PASS: &str = "correct horse battery staple";

fn backup(h: &TestHome, args: &[&str]) -> std::process::Output {
    h.cmd()
        .arg("backup")
        .args(args)
        .env("SSEC_MANAGER_PASSPHRASE", PASS)
        .output()
        .unwrap()
}

#[test]
fn the_age_cli_decrypts_a_backup_and_its_keys_import_to_the_same_fingerprints() {
    let h = TestHome::new("backup-age");
    h.ok(&["key", "generate", "alpha"]);
    h.ok(&["key", "generate", "beta"]);
    let out = backup(&h, &["--out", &h.p("keys.age")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value =
        serde_json::from_str(&h.ok(&["key", "list", "--json"])).unwrap();
    for k in listed.as_array().unwrap() {
        assert_eq!(k["backup_status"], "age_backup", "{k}");
    }
    // The age CLI wants the passphrase on a terminal: `script` gives it one.
    h.sh_ok(&format!(
        "printf '%s\\n' '{PASS}' | script -qec 'age --decrypt -o keys.txt keys.age' /dev/null >/dev/null"
    ));
    let text = std::fs::read_to_string(h.path("keys.txt")).unwrap();
    let fresh = TestHome::new("backup-age-import");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (label, fp, key) = (fields[0], fields[1], fields[2]);
        assert_eq!(fp, h.fingerprint(label));
        let file = fresh.path(&format!("{label}.key"));
        std::fs::write(&file, format!("{key}\n")).unwrap();
        fresh.ok(&["key", "import", label, file.to_str().unwrap()]);
        assert_eq!(fresh.fingerprint(label), fp);
    }
    // Never over an existing file; a wrong passphrase opens nothing.
    let again = backup(&h, &["--out", &h.p("keys.age")]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    let wrong = h
        .cmd()
        .args(["restore", &h.p("keys.age")])
        .env("SSEC_MANAGER_PASSPHRASE", "not the passphrase")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("passphrase does not open"));
}

#[test]
fn a_key_removed_from_the_keyring_comes_back_from_the_backup() {
    let h = TestHome::with_connection("backup-restore");
    h.ok(&["key", "generate", "vault"]);
    h.ok(&["key", "generate", "bystander"]);
    let data = random_file(&h.path("doc.bin"), 4000);
    random_file(&h.path("doc2.bin"), 100);
    random_file(&h.path("other.bin"), 100);
    h.upload("doc.bin", "vault");
    h.upload("doc2.bin", "vault");
    h.upload("other.bin", "bystander");
    let out = backup(&h, &["--out", &h.p("vault.age"), "--keys", "vault"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fp = h.fingerprint("vault");

    // Behind the app's back.
    let cleared = Command::new("secret-tool")
        .args(["clear", "username", &format!("sse-c-key:{fp}")])
        .status()
        .unwrap();
    assert!(cleared.success());
    assert!(h.ok(&["key", "list"]).contains("MISSING"));
    let critical = |h: &TestHome| -> Vec<serde_json::Value> {
        let report: serde_json::Value = serde_json::from_str(&h.ok(&["audit", "--json"])).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "CRITICAL")
            .cloned()
            .collect()
    };
    let found = critical(&h);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["key_label"], "vault");
    let mut objects: Vec<String> = found[0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_string())
        .collect();
    objects.sort();
    assert_eq!(
        objects,
        vec![
            format!("garage:{}", h.url("doc.bin")),
            format!("garage:{}", h.url("doc2.bin"))
        ]
    );
    let err = h.fails(&["download", &h.url("doc.bin"), &h.p("lost.bin")]);
    assert!(err.contains("missing from the OS keyring"), "{err}");

    let restored = h
        .cmd()
        .args(["restore", &h.p("vault.age")])
        .env("SSEC_MANAGER_PASSPHRASE", PASS)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(said.contains("restored into the keyring: vault"), "{said}");
    assert!(!h.ok(&["key", "list"]).contains("MISSING"));
    assert!(
        critical(&h).is_empty(),
        "restoring the key clears the finding"
    );
    h.ok(&["download", &h.url("doc.bin"), &h.p("back.bin")]);
    assert!(std::fs::read(h.path("back.bin")).unwrap() == data);
}
