//! Downloads with SSE-C. A HEAD with the key first (it proves the key before any file is
//! created, and gives the size); then one streamed GET for small objects, or ranged GETs in
//! parallel for large ones, written by offset into a part file in the target's folder (`part_file`: unnamed
//! on Linux until complete, so a killed process leaves nothing behind).
//!
//! Up to `concurrency` ranges are in flight, in any order (`buffer_unordered`). Each body
//! piece is hashed and written at its offset as soon as it arrives, while it is still in
//! the CPU's cache, and then dropped: memory holds no range, and the whole BLAKE3 is joined
//! from the ranges' own hashes (`checksum::Blake3Ranges`). A profile of the earlier
//! design, which kept ranges to write them in order, spent 39 % of the client's CPU in the
//! kernel copying cold bytes into the page cache. Objects recorded with SHA-256 (older
//! rows) are read back once to be hashed in order. Each range GET carries `If-Match` with
//! the HEAD's ETag: an object replaced mid-download fails cleanly instead of yielding a mix
//! of two versions.

use std::path::{Path, PathBuf};

use crate::core::checksum::{self, Algorithm, Blake3Ranges, Hasher, RangeHash};
use aws_sdk_s3::Client;
use futures_util::{StreamExt as _, stream};

use super::progress::TransferCtx;
use crate::core::key::{KeyFingerprint, SseKey};
use crate::core::location::S3Url;
use crate::core::part_file::PartFile;
use crate::core::registry::{ConnectionRecord, ObjectRecord};
use crate::core::s3::WithSse as _;
use crate::core::s3::{Keyless, Op, S3Error, S3ErrorKind, client_for, head_without_key, sdk_error};
use crate::core::{Error, Home, Result};

/// What a download did.
#[derive(Debug)]
pub struct DownloadReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub key_label: Option<String>,
    /// The content's checksum, "blake3:HEX" (or "sha256:HEX" for objects recorded with it).
    pub checksum: String,
}

/// How many times a range whose body broke off mid-way is fetched again. Request-level
/// failures (connection refused, 5xx, throttling) are already retried by the SDK; key
/// errors (400/403) are never retried.
const BODY_ATTEMPTS: usize = 3;

/// Downloads an object. The key is `key_label` if given, else the one the registry records
/// for the object; an unregistered object is read without a key (and a clear error says so
/// if it turns out to be SSE-C).
pub async fn download(
    ctx: &TransferCtx,
    home: &Home,
    conn: &ConnectionRecord,
    src: &S3Url,
    out: &Path,
    key_label: Option<&str>,
) -> Result<DownloadReport> {
    let out = target_path(out, src)?;
    let recorded = home.registry.current_object(conn, &src.bucket, &src.key)?;
    let expected = recorded.as_ref().map(|o| o.key_fingerprint.clone());
    let (key, label) = choose_key(home, src, key_label, expected.as_ref())?;

    let client = client_for(conn, home.secrets().ok()).await?;
    let explain = |err: S3Error| explain_read_error(home, src, err, label.as_deref(), &expected);
    let head = ctx
        .or_cancel(head(&client, src, key.as_ref()))
        .await
        .map_err(|e| match e {
            Error::S3(s3) => explain(s3),
            other => other,
        })?;
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    ctx.progress.set_total(size);
    let (temp, bytes, digest, algorithm) = fetch_to_temp(
        ctx,
        &client,
        src,
        &out,
        key.as_ref(),
        (size, head.e_tag()),
        recorded.as_ref(),
    )
    .await
    .map_err(|e| match e {
        Error::S3(s3) => explain(s3),
        other => other,
    })?;
    if bytes != size {
        return Err(Error::Integrity(format!(
            "{src}: the server announced {size} bytes but sent {bytes}; nothing was written"
        )));
    }
    check_recorded_checksum(src, recorded.as_ref(), key.as_ref(), algorithm, &digest)?;
    put_in_place(temp, &out).await?;
    home.registry.log_event(
        "downloaded",
        key.as_ref().map(|k| k.fingerprint()).as_ref(),
        recorded.as_ref().map(|o| o.id),
        &format!("{src} -> {}", out.display()),
    )?;
    Ok(DownloadReport {
        path: out,
        bytes,
        key_label: label,
        checksum: format!(
            "{}:{digest}",
            algorithm.name().to_ascii_lowercase().replace('-', "")
        ),
    })
}

/// One object of a folder download or sync, as its plan found it: the key chosen, the size
/// and ETag from the listing (so no HEAD is sent), and the row whose checksum the content
/// must match (None when the server's object is not the one recorded).
pub struct Listed<'a> {
    pub client: &'a Client,
    pub key: Option<&'a SseKey>,
    pub size: u64,
    pub etag: Option<&'a str>,
    pub recorded: Option<&'a ObjectRecord>,
}

/// Downloads one listed object to exactly `out` (its folder exists), through a part file
/// renamed into place when complete and checked. Returns the bytes and the content's
/// checksum (hex; BLAKE3 unless the row recorded SHA-256).
pub async fn download_listed(
    ctx: &TransferCtx,
    src: &S3Url,
    out: &Path,
    o: &Listed<'_>,
) -> Result<(u64, String, Algorithm, crate::core::registry::FileStamp)> {
    ctx.progress.set_total(o.size);
    let (temp, bytes, digest, algorithm) =
        fetch_to_temp(ctx, o.client, src, out, o.key, (o.size, o.etag), o.recorded).await?;
    if bytes != o.size {
        return Err(Error::Integrity(format!(
            "{src}: the listing said {} bytes but the server sent {bytes}; nothing was written",
            o.size
        )));
    }
    check_recorded_checksum(src, o.recorded, o.key, algorithm, &digest)?;
    // The stamp of exactly the file written (a rename keeps it), not of whatever the path
    // names a moment later.
    let stamp = temp
        .as_file()
        .metadata()
        .map(|m| crate::core::registry::FileStamp::of(&m))
        .map_err(|e| Error::io(temp.path(), "cannot read the download", e))?;
    put_in_place(temp, out).await?;
    Ok((bytes, digest, algorithm, stamp))
}

/// The complete, checked download takes the target's name, on disk first. The write-back
/// started range by range, so little is left to wait for.
async fn put_in_place(temp: PartFile, out: &Path) -> Result<()> {
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| Error::io(temp.path(), "cannot write the download", e))?;
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(std::io::Error::other)
        .and_then(|synced| synced)
        .map_err(|e| Error::io(temp.path(), "cannot write the download", e))?;
    temp.persist(out)
        .map_err(|e| Error::io(out, "cannot move the download into place", e))?;
    Ok(())
}

/// A HEAD with the key proves the key before any file is created, and gives the size.
async fn head(
    client: &Client,
    src: &S3Url,
    key: Option<&SseKey>,
) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput> {
    let mut head = client.head_object().bucket(&src.bucket).key(&src.key);
    if let Some(k) = key {
        head = head.sse(&k.headers());
    }
    match head.send().await {
        Ok(head) => Ok(head),
        Err(e) => {
            let err = sdk_error(e, Op::Read, &src.to_string(), key.is_some());
            Err(refused_with_key(client, src, err).await.into())
        }
    }
}

/// Fetches the object into a temp file beside `out` (one GET, or ranges in parallel),
/// hashing as it lands; returns the file, the bytes and the content's checksum.
async fn fetch_to_temp(
    ctx: &TransferCtx,
    client: &Client,
    src: &S3Url,
    out: &Path,
    key: Option<&SseKey>,
    (size, etag): (u64, Option<&str>),
    recorded: Option<&ObjectRecord>,
) -> Result<(PartFile, u64, String, Algorithm)> {
    let dir = out.parent().unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());
    let temp = PartFile::create_in(dir, &name)
        .map_err(|e| Error::io(dir, "cannot create a file in this folder", e))?;
    // The algorithm of the checksum recorded at upload, so it can be compared.
    let algorithm = recorded
        .and_then(checksum::recorded)
        .map_or(Algorithm::Blake3, |(a, _)| a);

    let fetch = Fetch {
        ctx,
        client,
        src,
        key,
        etag,
        file: temp.as_file(),
        path: temp.path(),
    };
    let work = async {
        if size <= ctx.options.multipart_threshold {
            fetch.whole(algorithm).await
        } else {
            fetch.ranges(size, algorithm).await
        }
    };
    let fetched = tokio::select! {
        r = work => r,
        () = ctx.cancel.cancelled() => return Err(Error::Cancelled),
    };
    let (bytes, digest) = fetched?;
    Ok((temp, bytes, digest, algorithm))
}

/// A HEAD refused with the key (400/403) means a wrong key only if the object still asks
/// for one without it; a 403 may as well be missing permissions (see `Keyless`).
async fn refused_with_key(client: &Client, src: &S3Url, err: S3Error) -> S3Error {
    if err.kind != S3ErrorKind::WrongKey {
        return err;
    }
    let url = src.to_string();
    match head_without_key(client, &src.bucket, &src.key, None, &url).await {
        // Nothing learned: the refusal stands as the server's answer.
        Keyless::NeedsKey | Keyless::Failed(_) => err,
        Keyless::Served => S3Error::new(
            S3ErrorKind::NotEncrypted,
            format!(
                "{src} is not encrypted with SSE-C (a plain or SSE-KMS object), so the server \
                 refuses an SSE-C key for it; if the registry records a key for it, the object \
                 was replaced since: `ssec-manager verify` records that"
            ),
        ),
        Keyless::Missing(missing) => missing,
        Keyless::Denied(_) => S3Error::new(
            S3ErrorKind::AccessDenied,
            format!(
                "{src}: the server refused the read with the key and without it, so the \
                 connection's credentials most likely lack permission to read it (this does \
                 not show a wrong key); check the access key's rights on the bucket"
            ),
        ),
    }
}

/// The key to send: the one asked for, else the registry's; none for an unknown object.
fn choose_key(
    home: &Home,
    src: &S3Url,
    key_label: Option<&str>,
    expected: Option<&KeyFingerprint>,
) -> Result<(Option<SseKey>, Option<String>)> {
    if let Some(label) = key_label {
        let record = home.key_record(label)?;
        return Ok((Some(home.load_key(&record)?), Some(record.label)));
    }
    let Some(fp) = expected else {
        return Ok((None, None));
    };
    match home.registry.key_by_fingerprint(fp)? {
        Some(r) if r.deleted_at.is_none() => Ok((Some(home.load_key(&r)?), Some(r.label))),
        Some(r) => Err(Error::NotFound(format!(
            "{src} was uploaded with key \"{}\" ({fp}), which was deleted; import that key \
             again (from an export or backup) to read it",
            r.label
        ))),
        None => Err(Error::NotFound(format!(
            "{src} was uploaded with a key of fingerprint {fp} that is not registered; \
             import it with `ssec-manager key import LABEL FILE`"
        ))),
    }
}

/// The checksum recorded at upload must match, when we read with the key it was uploaded
/// with.
fn check_recorded_checksum(
    src: &S3Url,
    recorded: Option<&ObjectRecord>,
    key: Option<&SseKey>,
    algorithm: Algorithm,
    digest: &str,
) -> Result<()> {
    if let Some(rec) = recorded
        && key.map(|k| k.fingerprint()).as_ref() == Some(&rec.key_fingerprint)
        && let Some((a, expected)) = checksum::recorded(rec)
        && a == algorithm
        && expected != digest
    {
        return Err(Error::Integrity(format!(
            "{src}: the content's {} differs from the one recorded at upload (the object \
             was changed since, or corrupted); nothing was written",
            a.name()
        )));
    }
    Ok(())
}

/// The GETs of one download.
struct Fetch<'a> {
    ctx: &'a TransferCtx,
    client: &'a Client,
    src: &'a S3Url,
    key: Option<&'a SseKey>,
    etag: Option<&'a str>,
    /// The temp file, written by offset (`pwrite`, no shared cursor).
    file: &'a std::fs::File,
    path: &'a Path,
}

impl Fetch<'_> {
    fn request(&self) -> aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.src.bucket)
            .key(&self.src.key)
            .set_if_match(self.etag.map(str::to_string));
        if let Some(k) = self.key {
            let h = k.headers();
            req = req.sse(&h);
        }
        req
    }

    fn send_error<E, R>(&self, e: aws_sdk_s3::error::SdkError<E, R>) -> Error
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + crate::core::s3::HttpStatus + Send + Sync + 'static,
    {
        let err = sdk_error(e, Op::Read, &self.src.to_string(), self.key.is_some());
        if err.kind == S3ErrorKind::Service && err.message.contains("412") {
            return Error::Integrity(format!(
                "{}: the object was replaced while it downloaded; nothing was written, try again",
                self.src
            ));
        }
        err.into()
    }

    /// Writes a piece at `offset`. Page-cache writes are usually short, so they run right
    /// here rather than on a blocking thread that would see the bytes only after they left
    /// the cache. A slow target (a network share, the kernel throttling dirty pages) stalls
    /// this download and the runtime worker it runs on, never the window's thread.
    fn write_at(&self, piece: &[u8], offset: u64) -> Result<()> {
        write_all_at(self.file, piece, offset)
            .map_err(|e| Error::io(self.path, "cannot write the download", e))
    }

    /// One streamed GET, hashed and written piece by piece.
    async fn whole(&self, algorithm: Algorithm) -> Result<(u64, String)> {
        let response = self
            .request()
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let mut body = response.body;
        let mut hasher = Hasher::new(algorithm);
        let (mut bytes, mut started) = (0u64, 0u64);
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            Error::Server(format!(
                "{}: the download broke off after {bytes} bytes ({e}); nothing was written",
                self.src
            ))
        })? {
            self.ctx.throttle(chunk.len() as u64).await;
            hasher.update(&chunk);
            self.write_at(&chunk, bytes)?;
            bytes += chunk.len() as u64;
            self.ctx.progress.add(chunk.len() as u64);
            if bytes - started >= WRITEBACK_STEP {
                start_writeback(self.file, started, bytes - started);
                started = bytes;
            }
        }
        Ok((bytes, hasher.finalize_hex()))
    }

    /// Ranged GETs in parallel, finished in any order. Ranges are a power of two long, so
    /// a BLAKE3 can be joined from theirs.
    async fn ranges(&self, size: u64, algorithm: Algorithm) -> Result<(u64, String)> {
        let span = self.ctx.options.part_size_for(size).next_power_of_two();
        let tree = match algorithm {
            Algorithm::Blake3 => Blake3Ranges::new(span, size),
            Algorithm::Sha256 => None,
        };
        let count = size.div_ceil(span);
        if count <= 1 {
            // One range is one GET, hashed in order as it streams.
            return self.whole(algorithm).await;
        }
        let mut hashes =
            vec![RangeHash::default(); if tree.is_some() { count as usize } else { 0 }];
        let fetched = stream::iter(0..count)
            .map(|i| async move {
                let start = i * span;
                let hasher = tree.map(|t| t.hasher(i));
                (i, self.range(start, (start + span).min(size), hasher).await)
            })
            .buffer_unordered(self.ctx.options.concurrency.max(1));
        futures_util::pin_mut!(fetched);
        while let Some((i, done)) = fetched.next().await {
            if let Some(hash) = done? {
                hashes[i as usize] = hash;
            }
        }
        let digest = match tree {
            Some(tree) => tree.root(&hashes),
            None => self.hash_written(algorithm, size).await?,
        };
        Ok((size, digest))
    }

    /// Bytes `start..end`, fetched again if the body breaks off. Returns the range's BLAKE3
    /// hash when given its hasher.
    async fn range(
        &self,
        start: u64,
        end: u64,
        hasher: Option<blake3::Hasher>,
    ) -> Result<Option<RangeHash>> {
        let want = end - start;
        let mut last_error = String::new();
        // Progress counts bytes as they land, so a slow line moves the bar piece by piece;
        // a retried range counts only what goes past its earlier attempts (monotone, and
        // exactly `want` in the end).
        let mut counted = 0u64;
        for attempt in 0..BODY_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
            self.ctx.throttle(want).await;
            let response = self
                .request()
                .range(format!("bytes={start}-{}", end - 1))
                .send()
                .await
                .map_err(|e| self.send_error(e))?;
            // The bytes asked for, not others of the right length: each range is trusted on
            // its own now that it lands at its offset.
            let asked = format!("bytes {start}-{}/", end - 1);
            if let Some(sent) = response.content_range()
                && !sent.starts_with(&asked)
            {
                return Err(Error::Integrity(format!(
                    "{}: asked for bytes {start}-{} and the server sent \"{sent}\"; nothing \
                     was written",
                    self.src,
                    end - 1
                )));
            }
            let mut body = response.body;
            let mut hasher = hasher.clone();
            let mut got = 0u64;
            let broke = loop {
                match body.try_next().await {
                    Ok(Some(chunk)) => {
                        let len = chunk.len() as u64;
                        if got + len > want {
                            break Some(format!("more than the {want} bytes asked for"));
                        }
                        if let Some(h) = &mut hasher {
                            h.update(&chunk);
                        }
                        self.write_at(&chunk, start + got)?;
                        got += len;
                        if got > counted {
                            self.ctx.progress.add(got - counted);
                            counted = got;
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e.to_string()),
                }
            };
            match broke {
                None if got == want => {
                    start_writeback(self.file, start, want);
                    return Ok(hasher.as_ref().map(Blake3Ranges::finish));
                }
                None => last_error = format!("got {got} of {want} bytes"),
                Some(e) => last_error = e,
            }
        }
        Err(Error::Server(format!(
            "{}: the download of bytes {start}-{} kept breaking off ({last_error}); nothing was written",
            self.src,
            end - 1
        )))
    }

    /// The checksum of the written file, read back in order (for SHA-256, which cannot be
    /// joined from ranges).
    async fn hash_written(&self, algorithm: Algorithm, size: u64) -> Result<String> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io(self.path, "cannot read the download back", e))?;
        let hashed = tokio::task::spawn_blocking(move || {
            let mut hasher = Hasher::new(algorithm);
            let mut buf = vec![0u8; 1 << 20];
            let mut offset = 0u64;
            while offset < size {
                let n = read_at(&file, &mut buf, offset)?;
                if n == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
                }
                hasher.update(&buf[..n]);
                offset += n as u64;
            }
            Ok(hasher.finalize_hex())
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|hashed| hashed);
        hashed.map_err(|e| Error::io(self.path, "cannot read the download back", e))
    }
}

/// Bytes between two starts of the kernel's write-back in a single streamed GET (ranges
/// start theirs when each is complete).
const WRITEBACK_STEP: u64 = 32 << 20;

/// Positioned I/O: no shared file cursor, so ranges write side by side.
#[cfg(unix)]
fn write_all_at(file: &std::fs::File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &std::fs::File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, buf, offset)? {
            0 => return Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
            n => {
                buf = &buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Asks the kernel to start writing a range of the file out, without waiting.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd as _;
    // SAFETY: a valid open descriptor; the call only schedules write-back of its pages.
    // Failure is harmless: the fsync before the rename still writes everything.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

/// A folder target means "into this folder, under the object's name", like `aws s3 cp`.
fn target_path(out: &Path, src: &S3Url) -> Result<PathBuf> {
    if out.is_dir() {
        // The object's own name, only if it is a plain file name here: a key ending in
        // "..", or holding "..\\" or "C:" on Windows, never lands outside the folder.
        let name = src.key.rsplit('/').next().unwrap_or(&src.key);
        return crate::core::location::local_path_for(out, "", name)
            .map_err(|e| Error::Refused(e.to_string()));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::io(
            parent,
            "the folder to download into does not exist",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    Ok(out.to_path_buf())
}

/// Adds what the registry knows to a read failure: which key the object expects.
fn explain_read_error(
    home: &Home,
    src: &S3Url,
    err: S3Error,
    used: Option<&str>,
    expected: &Option<KeyFingerprint>,
) -> Error {
    let expected_name =
        expected.as_ref().map(
            |fp| match home.registry.key_by_fingerprint(fp).ok().flatten() {
                Some(k) => format!("key \"{}\" ({fp})", k.label),
                None => format!("an unregistered key ({fp})"),
            },
        );
    let text = match &err.kind {
        S3ErrorKind::WrongKey => {
            let used = used.map(|l| format!(" than \"{l}\"")).unwrap_or_default();
            match expected_name {
                Some(name) => format!(
                    "{src} is encrypted with a different key{used}; the registry says it was uploaded with {name}"
                ),
                None => format!(
                    "{src} is encrypted with a different key{used}; the registry has no record of its key"
                ),
            }
        }
        S3ErrorKind::KeyRequired => format!(
            "{src} is encrypted with SSE-C and the registry has no key for it; pass --key LABEL"
        ),
        _ => return err.into(),
    };
    S3Error::new(err.kind, text).into()
}
