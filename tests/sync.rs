#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Folders both ways and content-aware sync, against the real server and keyring, with the
//! aws CLI as the other tool that writes the bucket.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::relay::{Action, Relay};
use common::{TestHome, random_file};

/// Every file under `root` by its '/'-separated relative path, with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files_under(root)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            let data = std::fs::read(&p).unwrap();
            (rel, data)
        })
        .collect()
}

/// `put-object` by the aws CLI under the key whose `key env` lines are given.
fn aws_put(h: &TestHome, env_lines: &str, body: &str, key: &str) {
    h.sh_ok(&format!(
        r#"{env_lines}
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/{key}" \
          --body {body} --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#
    ));
}

/// `ssec-manager sync ARGS --json -q`, its report.
fn sync(h: &TestHome, args: &[&str]) -> serde_json::Value {
    report(&h.ok(&[&["sync"], args, &["--json", "-q"]].concat()))
}

fn report(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A folder with nested folders, an empty file and a non-ASCII name.
fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    random_file(&root.join("top.bin"), 3000);
    random_file(&root.join("a/b/c/deep.bin"), 70_000);
    std::fs::write(root.join("a/empty"), b"").unwrap();
    random_file(&root.join("a/Überraschung 日本.txt"), 512);
}

#[test]
fn a_folder_goes_up_and_comes_back_whole_with_two_keys_and_an_object_from_another_tool() {
    let h = TestHome::with_connection("folder-rt");
    h.ok(&["key", "generate", "one"]);
    h.ok(&["key", "generate", "two"]);
    let src = h.path("src");
    make_tree(&src);
    let prefix = format!("{}/", h.url("tree"));
    h.ok(&["upload", &h.p("src"), &prefix, "--key", "one", "-q"]);
    // A second key for one more file, and an object the registry never saw, written by the
    // aws CLI under key "two".
    random_file(&h.path("second.bin"), 4000);
    h.ok(&[
        "upload",
        &h.p("second.bin"),
        &h.url("tree/a/second.bin"),
        "--key",
        "two",
    ]);
    let env_lines = h.ok(&["key", "env", "two"]);
    random_file(&h.path("foreign.bin"), 999);
    aws_put(&h, &env_lines, "foreign.bin", "tree/foreign.bin");
    let out = h.path("out");
    h.ok(&["download", &prefix, out.to_str().unwrap(), "-q"]);
    let mut want = tree(&src);
    want.insert(
        "a/second.bin".into(),
        std::fs::read(h.path("second.bin")).unwrap(),
    );
    want.insert(
        "foreign.bin".into(),
        std::fs::read(h.path("foreign.bin")).unwrap(),
    );
    assert_eq!(tree(&out), want);
    // The object from the aws CLI is now recorded under the key that opened it.
    let objects = h.ok(&["objects", "--json"]);
    let objects: serde_json::Value = serde_json::from_str(&objects).unwrap();
    let foreign = objects
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"].as_str().unwrap().ends_with("tree/foreign.bin"))
        .expect("the foreign object is recorded");
    assert_eq!(foreign["key_label"], "two");
}

#[test]
fn a_folder_download_reports_objects_no_key_opens_and_saves_the_rest() {
    let h = TestHome::with_connection("folder-unknown");
    h.ok(&["key", "generate", "mine"]);
    random_file(&h.path("ok.bin"), 100);
    h.ok(&[
        "upload",
        &h.p("ok.bin"),
        &h.url("d/ok.bin"),
        "--key",
        "mine",
    ]);
    h.sh_ok(
        r#"openssl rand -base64 32 > other.key
        SSE_KEY=$(cat other.key); SSE_MD5=$(base64 -d other.key | openssl dgst -md5 -binary | base64)
        printf 'secret' > s.bin
        aws --endpoint-url "$EP" s3api put-object --bucket "$BUCKET" --key "$PREFIX/d/locked.bin" \
          --body s.bin --sse-customer-algorithm AES256 \
          --sse-customer-key "$SSE_KEY" --sse-customer-key-md5 "$SSE_MD5" >/dev/null"#,
    );
    let out = h.path("out");
    let res = h.run(&[
        "download",
        &format!("{}/", h.url("d")),
        out.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.contains("locked.bin") && stderr.contains("no key"),
        "{stderr}"
    );
    assert_eq!(tree(&out).keys().collect::<Vec<_>>(), ["ok.bin"]);
}

#[test]
fn sync_up_sends_only_what_changed_and_a_run_with_nothing_changed_sends_no_put_or_get() {
    let h = TestHome::new("sync-up");
    let relay = Relay::start(&h.bench.plain_endpoint);
    if h.bench.tls {
        // The relay speaks http; the TLS pass covers the same code through the front.
        h.add_connection("garage", &h.bench.endpoint);
    } else {
        h.add_connection("garage", &relay.endpoint);
    }
    h.ok(&["key", "generate", "k"]);
    let src = h.path("src");
    make_tree(&src);
    let prefix = format!("{}/", h.url("s"));
    let first = sync(&h, &[&h.p("src"), &prefix, "--key", "k"]);
    assert_eq!(first["uploaded"], 4, "{first}");

    // Nothing changed: no PUT, no GET of an object (listing aside).
    let moved = Arc::new(AtomicUsize::new(0));
    let seen = moved.clone();
    let targets = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = targets.clone();
    relay.rule(
        move |r| {
            // An object's PUT or GET: no query, or only the SDK's x-id (a listing or
            // ?versioning asks about the bucket).
            let query = r.target.split_once('?').map_or("", |(_, q)| q);
            let of_object = query.is_empty() || query.starts_with("x-id=");
            if (r.method == "PUT" || r.method == "GET") && of_object {
                seen.fetch_add(1, Ordering::SeqCst);
                log.lock()
                    .unwrap()
                    .push(format!("{} {}", r.method, r.target));
            }
            false
        },
        Action::DropRequest,
        None,
    );
    let again = sync(&h, &[&h.p("src"), &prefix, "--key", "k"]);
    assert_eq!(again["uploaded"], 0, "{again}");
    assert_eq!(again["unchanged"], 4, "{again}");
    if !h.bench.tls {
        let t = targets.lock().unwrap().clone();
        assert_eq!(
            moved.load(Ordering::SeqCst),
            0,
            "a no-change sync moved data: {t:?}"
        );
    }

    // Same size, same modification time, other content: the cache cannot see it, a
    // --checksum run reads the files and sends exactly that one.
    let deep = src.join("a/b/c/deep.bin");
    let mtime = std::fs::metadata(&deep).unwrap().modified().unwrap();
    let mut data = std::fs::read(&deep).unwrap();
    data[100] ^= 0xff;
    std::fs::write(&deep, &data).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&deep)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let plan = h.ok(&[
        "sync",
        &h.p("src"),
        &prefix,
        "--key",
        "k",
        "--dry-run",
        "--checksum",
    ]);
    assert!(plan.contains("changed  upload a/b/c/deep.bin"), "{plan}");
    assert!(plan.contains("1 changed, 3 unchanged"), "{plan}");
    let sent = sync(&h, &[&h.p("src"), &prefix, "--key", "k", "--checksum"]);
    assert_eq!(sent["uploaded"], 1, "{sent}");
    if !h.bench.tls {
        // The counter sees what moves: exactly that one PUT.
        let t = targets.lock().unwrap().clone();
        assert_eq!(moved.load(Ordering::SeqCst), 1, "one PUT, no GET: {t:?}");
    }
    let back = h.path("back.bin");
    h.ok(&[
        "download",
        &h.url("s/a/b/c/deep.bin"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
}

#[test]
fn sync_down_fetches_exactly_the_object_another_tool_rewrote_with_the_same_key_and_size() {
    let h = TestHome::with_connection("sync-down");
    h.ok(&["key", "generate", "k"]);
    let src = h.path("src");
    make_tree(&src);
    let prefix = format!("{}/", h.url("d"));
    h.ok(&["sync", &h.p("src"), &prefix, "--key", "k", "-q"]);
    let out = h.path("out");
    let first = sync(&h, &[&prefix, out.to_str().unwrap()]);
    assert_eq!(first["downloaded"], 4, "{first}");
    assert_eq!(tree(&out), tree(&src));
    // The aws CLI rewrites top.bin: same key, same size, other bytes.
    let env_lines = h.ok(&["key", "env", "k"]);
    let new = random_file(&h.path("new-top.bin"), 3000);
    aws_put(&h, &env_lines, "new-top.bin", "d/top.bin");
    let plan = h.ok(&["sync", &prefix, out.to_str().unwrap(), "--dry-run"]);
    assert!(plan.contains("changed  download top.bin"), "{plan}");
    assert!(plan.contains("0 new, 1 changed, 3 unchanged"), "{plan}");
    let second = sync(&h, &[&prefix, out.to_str().unwrap()]);
    assert_eq!(second["downloaded"], 1, "{second}");
    assert_eq!(std::fs::read(out.join("top.bin")).unwrap(), new);
    // Recorded as it is now: the next run has nothing to do.
    let third = sync(&h, &[&prefix, out.to_str().unwrap()]);
    assert_eq!(third["downloaded"], 0, "{third}");
    assert_eq!(third["unchanged"], 4, "{third}");
}

#[test]
fn delete_without_yes_deletes_nothing_and_with_it_exactly_the_listed_objects() {
    let h = TestHome::with_connection("sync-delete");
    h.ok(&["key", "generate", "k"]);
    let src = h.path("src");
    make_tree(&src);
    let prefix = format!("{}/", h.url("x"));
    h.ok(&["sync", &h.p("src"), &prefix, "--key", "k", "-q"]);
    std::fs::remove_file(src.join("top.bin")).unwrap();
    std::fs::remove_file(src.join("a/empty")).unwrap();
    let refused = h.fails(&["sync", &h.p("src"), &prefix, "--key", "k", "--delete", "-q"]);
    assert!(refused.contains("nothing was changed"), "{refused}");
    assert!(
        refused.contains("/x/top.bin") && refused.contains("/x/a/empty"),
        "{refused}"
    );
    let listing = |h: &TestHome| {
        h.sh_ok(r#"aws --endpoint-url "$EP" s3 ls --recursive "s3://$BUCKET/$PREFIX/x/""#)
    };
    assert!(listing(&h).contains("top.bin"), "deleted without --yes");
    let done = sync(
        &h,
        &[&h.p("src"), &prefix, "--key", "k", "--delete", "--yes"],
    );
    assert_eq!(done["deleted"], 2, "{done}");
    let left = listing(&h);
    assert!(
        !left.contains("top.bin") && !left.contains("a/empty"),
        "{left}"
    );
    assert!(
        left.contains("deep.bin") && left.contains("Überraschung"),
        "{left}"
    );
}

#[test]
fn an_object_under_another_key_is_reported_and_rekeyed_only_when_asked() {
    let h = TestHome::with_connection("sync-rekey");
    h.ok(&["key", "generate", "old"]);
    h.ok(&["key", "generate", "new"]);
    let src = h.path("src");
    std::fs::create_dir_all(&src).unwrap();
    random_file(&src.join("f.bin"), 2000);
    let prefix = format!("{}/", h.url("r"));
    h.ok(&["sync", &h.p("src"), &prefix, "--key", "old", "-q"]);
    let plan = h.ok(&["sync", &h.p("src"), &prefix, "--key", "new", "--dry-run"]);
    assert!(
        plan.contains("key      report f.bin (under key \"old\")"),
        "{plan}"
    );
    let kept = sync(&h, &[&h.p("src"), &prefix, "--key", "new"]);
    assert_eq!(
        (kept["uploaded"].as_u64(), kept["rekeyed"].as_u64()),
        (Some(0), Some(0))
    );
    let moved = sync(&h, &[&h.p("src"), &prefix, "--key", "new", "--rekey"]);
    assert_eq!(moved["rekeyed"], 1, "{moved}");
    let back = h.path("back.bin");
    h.ok(&["download", &h.url("r/f.bin"), back.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(src.join("f.bin")).unwrap()
    );
    let objects = h.ok(&["objects", "--json"]);
    assert!(objects.contains("\"key_label\": \"new\""), "{objects}");
}

#[test]
fn excluded_files_neither_go_up_nor_count() {
    let h = TestHome::with_connection("sync-exclude");
    h.ok(&["key", "generate", "k"]);
    let src = h.path("src");
    make_tree(&src);
    std::fs::write(src.join("a/scratch.tmp"), b"tmp").unwrap();
    let prefix = format!("{}/", h.url("e"));
    let done = sync(
        &h,
        &[&h.p("src"), &prefix, "--key", "k", "--exclude", "*.tmp"],
    );
    assert_eq!(done["uploaded"], 4, "{done}");
    let listing =
        h.sh_ok(r#"aws --endpoint-url "$EP" s3 ls --recursive "s3://$BUCKET/$PREFIX/e/""#);
    assert!(!listing.contains("scratch.tmp"), "{listing}");
}

#[test]
fn a_link_planted_in_the_target_folder_never_carries_a_download_outside_it() {
    let h = TestHome::with_connection("sync-link");
    h.ok(&["key", "generate", "k"]);
    let src = h.path("src");
    make_tree(&src);
    let prefix = format!("{}/", h.url("l"));
    h.ok(&["upload", &h.p("src"), &prefix, "--key", "k", "-q"]);
    let out = h.path("out");
    let outside = h.path("outside");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("a")).unwrap();
    let res = h.run(&["download", &prefix, out.to_str().unwrap(), "-q"]);
    assert!(!res.status.success(), "the files under the link must fail");
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(stderr.contains("is a link"), "{stderr}");
    assert!(
        common::files_under(&outside).is_empty(),
        "a download went through the link"
    );
    assert_eq!(
        std::fs::read(out.join("top.bin")).unwrap(),
        std::fs::read(src.join("top.bin")).unwrap()
    );
}
