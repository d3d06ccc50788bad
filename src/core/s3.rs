//! S3 clients per connection, and S3 failures in the user's words.
//!
//! aws-sdk-s3 has no SSE-C customisation (PROTOCOL.md): it sends `sse_customer_key` verbatim
//! and never computes the key's MD5, so every SSE-C call site passes both from `SseHeaders`.
//!
//! Servers disagree on SSE-C errors (a wrong key is 403 on AWS and MinIO, 400 on Garage; HEAD
//! has no body at all), so `error_kind` decides from status, code, message and whether a key
//! was sent, and the rest of the program only sees `S3ErrorKind`.

use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::key::SseHeaders;
use super::keystore::{KeystoreError, SecretId, SecretStore};
use super::registry::{ChecksumMode, ConnectionRecord, CredentialSource};

/// What kind of request failed; decides how an ambiguous status is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Other,
}

/// The failures a user can act on, sorted out of the many ways servers say them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3ErrorKind {
    NoSuchObject,
    NoSuchBucket,
    /// The object is SSE-C and the key sent is not its key.
    WrongKey,
    /// The object is SSE-C and no key was sent.
    KeyRequired,
    /// A key was sent for an object that is not SSE-C.
    NotEncrypted,
    /// The key and its MD5 do not match (a client bug, or a mangled key).
    KeyMd5Mismatch,
    /// A write with SSE-C was refused: missing permission, or a bucket blocking SSE-C.
    WriteDenied,
    AccessDenied,
    Network,
    Timeout,
    /// The TLS handshake failed: an untrusted or mismatched certificate, or no TLS there.
    Tls,
    Credentials,
    Service,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct S3Error {
    pub kind: S3ErrorKind,
    pub message: String,
    /// Whether the request's outcome is known: the server answered it, or it was never sent.
    /// A write that failed otherwise (timeout, connection lost, answer unreadable) may still
    /// have been done by the server: its outcome is in doubt.
    pub outcome_known: bool,
    /// The server's error code (`NoSuchKey`, `InvalidRequest`...), when it sent one.
    pub code: Option<String>,
}

impl S3Error {
    /// A failure the server stated (or that this program concluded from its answers).
    pub fn new(kind: S3ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            outcome_known: true,
            code: None,
        }
    }

    /// Whether the server answered with this error code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// A failure without a readable answer: the request may or may not have been done.
    fn unanswered(kind: S3ErrorKind, message: String) -> Self {
        Self {
            kind,
            message,
            outcome_known: false,
            code: None,
        }
    }
}

/// Sorts a failed request. `sent_key`: whether SSE-C headers were on the request.
pub fn error_kind(
    op: Op,
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    sent_key: bool,
) -> S3ErrorKind {
    let code = code.unwrap_or("");
    let msg = message.unwrap_or("").to_ascii_lowercase();
    if code == "NoSuchBucket" {
        return S3ErrorKind::NoSuchBucket;
    }
    if status == Some(404) || code == "NoSuchKey" || code == "NotFound" {
        return S3ErrorKind::NoSuchObject;
    }
    if msg.contains("md5") && (msg.contains("match") || msg.contains("checksum")) {
        return S3ErrorKind::KeyMd5Mismatch;
    }
    if sent_key
        && (msg.contains("plaintext")
            || msg.contains("not applicable")
            || msg.contains("not encrypted"))
    {
        return S3ErrorKind::NotEncrypted;
    }
    match (op, status) {
        (Op::Read, Some(400 | 403)) if sent_key => S3ErrorKind::WrongKey,
        (Op::Read, Some(400)) if !sent_key => S3ErrorKind::KeyRequired,
        (Op::Write, Some(403)) => S3ErrorKind::WriteDenied,
        (_, Some(403)) => S3ErrorKind::AccessDenied,
        _ if code == "AccessDenied" => S3ErrorKind::AccessDenied,
        _ => S3ErrorKind::Service,
    }
}

/// How long a request may wait for the server's next bytes: 120 s, or
/// SSEC_MANAGER_READ_TIMEOUT seconds (as the aws CLI's --read-timeout; slow links may want
/// more, the fault campaign less).
pub fn read_timeout() -> std::time::Duration {
    let secs = std::env::var("SSEC_MANAGER_READ_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(120);
    std::time::Duration::from_secs(secs)
}

/// The failures of a request that got no answer at all (timeout, no connection, TLS, no
/// credentials, a request that could not be made); None when the server answered.
fn before_any_answer<E, R>(err: &SdkError<E, R>, target: &str) -> Option<S3Error>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(err).to_string();
    let cause = innermost_cause(err);
    let failed = match err {
        SdkError::TimeoutError(_) => S3Error::unanswered(
            S3ErrorKind::Timeout,
            format!(
                "{target}: the server did not answer in time; check the endpoint and the network"
            ),
        ),
        // Nothing was sent: the credentials could not be had (no variables, no profile, and
        // the instance metadata service said no).
        SdkError::DispatchFailure(_) if is_credentials_failure(&detail) => S3Error::new(
            S3ErrorKind::Credentials,
            format!(
                "{target}: no credentials to sign the request with ({cause}); give the \
                 connection credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE, a --profile, or an \
                 access key kept in the keyring)"
            ),
        ),
        SdkError::DispatchFailure(_) => match super::tls::handshake_failure(err) {
            Some(tls) => S3Error::unanswered(S3ErrorKind::Tls, format!("{target}: {tls}")),
            None => S3Error::unanswered(
                S3ErrorKind::Network,
                format!(
                    "{target}: could not reach the server ({cause}); check that the endpoint \
                     is right and the server is up"
                ),
            ),
        },
        SdkError::ConstructionFailure(_) => S3Error::new(
            if detail.to_ascii_lowercase().contains("credential") {
                S3ErrorKind::Credentials
            } else {
                S3ErrorKind::Service
            },
            format!(
                "{target}: the request could not be made ({cause}); check the connection's \
                 credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE, or the access key stored in the \
                 keyring)"
            ),
        ),
        _ => return None,
    };
    Some(failed)
}

/// Turns an SDK error into an `S3Error` about `target` (an `s3://` URL or endpoint).
pub fn sdk_error<E, R>(err: SdkError<E, R>, op: Op, target: &str, sent_key: bool) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus + Send + Sync + 'static,
{
    if let Some(failed) = before_any_answer(&err, target) {
        return failed;
    }
    let status = err.raw_response().map(HttpStatus::status_code);
    // An answer that arrived but could not be read (a malformed header, a body cut off):
    // the SDK reports a success status it failed to parse as an error. Say what could not be
    // read, not the status as if it were the error; a write may have been done.
    if matches!(err, SdkError::ResponseError(_)) || status.is_some_and(|s| (200..300).contains(&s))
    {
        return S3Error::unanswered(
            S3ErrorKind::Service,
            format!(
                "{target}: the server's answer{} could not be read: {}",
                status.map(|s| format!(" ({s})")).unwrap_or_default(),
                error_chain(&err)
            ),
        );
    }
    let (code, message) = match err.as_service_error() {
        Some(e) => (
            e.code().map(str::to_string),
            e.message().map(str::to_string),
        ),
        None => (None, None),
    };
    let kind = error_kind(op, status, code.as_deref(), message.as_deref(), sent_key);
    let text = describe(&kind, status, code.as_deref(), message.as_deref(), target);
    // A response that could not be read (cut off mid-way) is no answer to rely on.
    let outcome_known = err.as_service_error().is_some();
    S3Error {
        kind,
        message: text,
        outcome_known,
        code,
    }
}

/// Whether a request failed before it was sent because no credentials could be loaded.
fn is_credentials_failure(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("credentials") || d.contains("imds")
}

/// A failure of `kind` in the user's words.
fn describe(
    kind: &S3ErrorKind,
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    target: &str,
) -> String {
    match kind {
        S3ErrorKind::NoSuchObject => format!("{target} does not exist on the server"),
        S3ErrorKind::NoSuchBucket => format!("{target}: the bucket does not exist"),
        // A 400 to a keyed read is the SSE-C refusal; a 403 is what AWS answers to a wrong
        // key and to missing permissions alike, so it is said as both (download and verify
        // ask again without the key to tell them apart, see `head_without_key`).
        S3ErrorKind::WrongKey if status == Some(403) => format!(
            "{target} is encrypted with a different key, or the credentials may not read it \
             (the server refused the read with this key: 403)"
        ),
        S3ErrorKind::WrongKey => format!("{target} is encrypted with a different key"),
        S3ErrorKind::KeyRequired => {
            format!("{target} is encrypted with SSE-C: its key must be sent to read it")
        }
        S3ErrorKind::NotEncrypted => format!(
            "{target} is not encrypted with SSE-C, but a key was sent; read it without a key"
        ),
        S3ErrorKind::KeyMd5Mismatch => format!(
            "{target}: the server says the key and its MD5 do not match (the key was mangled on the way)"
        ),
        S3ErrorKind::WriteDenied => format!(
            "{target}: the server refused the SSE-C write (403). Either the credentials lack \
             write permission, or the bucket blocks SSE-C (AWS buckets made since April 2026 \
             do, through BlockedEncryptionTypes); check the bucket's encryption settings"
        ),
        S3ErrorKind::AccessDenied => {
            format!("{target}: access denied (403); check the credentials and their permissions")
        }
        _ => format!(
            "{target}: the server answered {} {}{}",
            status.map(|s| s.to_string()).unwrap_or_default(),
            code.unwrap_or(""),
            message.map(|m| format!(": {m}")).unwrap_or_default()
        ),
    }
}

/// A HEAD of an object (at `version`, else the current one) with an SSE-C key. An answer
/// that echoes another key's MD5 is refused: that server does not do SSE-C right.
pub async fn head_with_key(
    client: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    sse: &super::key::SseKey,
) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput, S3Error> {
    let h = sse.headers();
    let target = format!("s3://{bucket}/{key}");
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .sse(&h)
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Read, &target, true))?;
    match head.sse_customer_key_md5() {
        Some(m) if m != h.key_md5 => Err(S3Error::new(
            S3ErrorKind::WrongKey,
            format!("{target}: the server answered with another key's MD5 ({m})"),
        )),
        _ => Ok(head),
    }
}

/// Whether a refused HEAD with a key proves the object is not under that key: true when it
/// is missing, plain, or refused with the key while a keyless HEAD says it needs one; None
/// when the refusal may mean something else (a 403 of missing permission, an expired token,
/// a server error): nothing is learned then.
pub async fn proves_not_under_key(
    client: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    err: &S3Error,
) -> Option<bool> {
    match err.kind {
        S3ErrorKind::NoSuchObject | S3ErrorKind::NotEncrypted => Some(true),
        S3ErrorKind::WrongKey if err.outcome_known => {
            let target = format!("s3://{bucket}/{key}");
            match head_without_key(client, bucket, key, version, &target).await {
                Keyless::NeedsKey | Keyless::Served | Keyless::Missing(_) => Some(true),
                Keyless::Denied(_) | Keyless::Failed(_) => None,
            }
        }
        _ => None,
    }
}

/// What a HEAD without a key says of an object that a request with a key was refused (400 or
/// 403). A refusal says little on its own: a 403 may as well mean missing permissions, and a
/// HEAD has no body to tell. Without the key, the object is either served (not SSE-C), refused
/// as SSE-C (the credentials work and the object needs a key: the key sent was wrong),
/// missing, denied again (403: most likely permissions), or not answered (network, 5xx...:
/// nothing learned).
#[derive(Debug)]
pub enum Keyless {
    Served,
    NeedsKey,
    Missing(S3Error),
    Denied(S3Error),
    Failed(S3Error),
}

/// Asks, without a key, what a refused keyed read meant (see `Keyless`).
pub async fn head_without_key(
    client: &Client,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    target: &str,
) -> Keyless {
    let answer = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await;
    match answer {
        Ok(_) => Keyless::Served,
        Err(e) => {
            let err = sdk_error(e, Op::Read, target, false);
            match err.kind {
                S3ErrorKind::KeyRequired => Keyless::NeedsKey,
                S3ErrorKind::NoSuchObject | S3ErrorKind::NoSuchBucket => Keyless::Missing(err),
                S3ErrorKind::AccessDenied => Keyless::Denied(err),
                _ => Keyless::Failed(err),
            }
        }
    }
}

/// The HTTP status of a raw response, whatever response type the SDK error carries.
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Every distinct message of an error chain, outermost first ("failed to parse
/// SSECustomerKeyMD5 from header `x-amz-...`: ..."), without the SDK's generic wrappers.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !matches!(
            text.as_str(),
            "response error" | "service error" | "unhandled error"
        ) && !parts.iter().any(|p| p.contains(&text))
        {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ").chars().take(400).collect()
}

/// The deepest error in the chain ("Connection refused (os error 111)"): the one that
/// says what actually went wrong, without the SDK's wrapping.
fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string().chars().take(160).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Insecure(String),
    #[error("connection \"{0}\": {1}")]
    Tls(String, String),
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(
        "connection \"{0}\" keeps its secret access key in the keyring, but the keyring has \
         no entry for it; add the connection again with --access-key-id"
    )]
    MissingSecret(String),
}

/// How long a built client is reused: a folder of thousands of files shares one client (one
/// connection pool, credentials read from the keyring once) instead of building one per
/// file; a connection changed by another process is seen within this time.
const CLIENT_REUSE: std::time::Duration = std::time::Duration::from_secs(300);

type ClientCache = std::collections::HashMap<String, (std::time::Instant, Client)>;

fn client_cache() -> std::sync::MutexGuard<'static, ClientCache> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<ClientCache>> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The client of one connection: built once (see `build_client`) and reused for
/// `CLIENT_REUSE` by every transfer of this process with the same settings.
pub async fn client_for(
    conn: &ConnectionRecord,
    secrets: Option<&dyn SecretStore>,
) -> Result<Client, ClientError> {
    // Everything that shapes the client: the record (it holds no secret), the read timeout,
    // and a hash of the keyring's secret (two homes may name a connection alike).
    let secret = match (conn.credential_source, secrets) {
        (CredentialSource::Keyring, Some(store)) => store
            .get(&SecretId::S3Secret {
                connection: conn.name.clone(),
            })?
            .map(|s| blake3::hash(&s).to_hex().to_string()),
        _ => None,
    };
    // A client's pooled connections belong to the runtime that made them.
    let runtime = tokio::runtime::Handle::try_current().map(|h| h.id().to_string());
    let id = format!("{conn:?}/{:?}/{secret:?}/{runtime:?}", read_timeout());
    if let Some((at, client)) = client_cache().get(&id)
        && at.elapsed() < CLIENT_REUSE
    {
        return Ok(client.clone());
    }
    let client = build_client(conn, secrets).await?;
    client_cache().insert(id, (std::time::Instant::now(), client.clone()));
    Ok(client)
}

/// Builds the client of one connection. Credentials come from the AWS chain, a profile,
/// or an access key id plus the secret kept in the keyring.
async fn build_client(
    conn: &ConnectionRecord,
    secrets: Option<&dyn SecretStore>,
) -> Result<Client, ClientError> {
    // Every client here sends SSE-C keys: refuse a transport that would expose them.
    super::preflight::check_transport(conn).map_err(|e| ClientError::Insecure(e.to_string()))?;
    let http = super::tls::http_client(conn)
        .await
        .map_err(|e| ClientError::Tls(conn.name.clone(), e))?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(conn.region.clone()))
        .http_client(http);
    match conn.credential_source {
        CredentialSource::AwsChain => {}
        CredentialSource::Profile => {
            if let Some(p) = &conn.profile {
                loader = loader.profile_name(p);
            }
        }
        CredentialSource::Keyring => {
            let id = SecretId::S3Secret {
                connection: conn.name.clone(),
            };
            let secret = match secrets {
                Some(store) => store.get(&id)?,
                None => None,
            }
            .ok_or_else(|| ClientError::MissingSecret(conn.name.clone()))?;
            let secret = String::from_utf8_lossy(&secret).into_owned();
            loader = loader.credentials_provider(Credentials::new(
                conn.access_key_id.clone().unwrap_or_default(),
                secret,
                None,
                None,
                "ssec-manager-keyring",
            ));
        }
    }
    // A server that accepts connections and never answers must not hang a job forever.
    loader = loader.timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(read_timeout())
            .build(),
    );
    let shared = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(conn.path_style)
        .interceptor(super::quirks::DuplicateSseHeaders);
    if let Some(endpoint) = &conn.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder = match conn.checksum_mode {
        ChecksumMode::WhenSupported => builder
            .request_checksum_calculation(RequestChecksumCalculation::WhenSupported)
            .response_checksum_validation(ResponseChecksumValidation::WhenSupported),
        ChecksumMode::WhenRequired => builder
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired),
    };
    Ok(Client::from_conf(builder.build()))
}

/// Puts the three SSE-C headers on a request. The SDK sends them verbatim and never derives
/// the MD5 itself (PROTOCOL.md), so every SSE-C request goes through here.
pub trait WithSse: Sized {
    fn sse(self, h: &SseHeaders) -> Self;
}

/// The `x-amz-copy-source-server-side-encryption-customer-*` headers: the key that opens the
/// source of a copy.
pub trait WithCopySourceSse: Sized {
    fn copy_source_sse(self, h: &SseHeaders) -> Self;
}

macro_rules! with_sse {
    ($($builder:ty),* $(,)?) => {$(
        impl WithSse for $builder {
            fn sse(self, h: &SseHeaders) -> Self {
                self.sse_customer_algorithm(h.algorithm)
                    .sse_customer_key(h.key_base64.as_str())
                    .sse_customer_key_md5(&h.key_md5)
            }
        }
    )*};
}

macro_rules! with_copy_source_sse {
    ($($builder:ty),* $(,)?) => {$(
        impl WithCopySourceSse for $builder {
            fn copy_source_sse(self, h: &SseHeaders) -> Self {
                self.copy_source_sse_customer_algorithm(h.algorithm)
                    .copy_source_sse_customer_key(h.key_base64.as_str())
                    .copy_source_sse_customer_key_md5(&h.key_md5)
            }
        }
    )*};
}

use aws_sdk_s3::operation as ops;

with_sse!(
    ops::put_object::builders::PutObjectFluentBuilder,
    ops::get_object::builders::GetObjectFluentBuilder,
    ops::head_object::builders::HeadObjectFluentBuilder,
    ops::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    ops::upload_part::builders::UploadPartFluentBuilder,
    ops::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder,
    ops::list_parts::builders::ListPartsFluentBuilder,
    ops::copy_object::builders::CopyObjectFluentBuilder,
    ops::upload_part_copy::builders::UploadPartCopyFluentBuilder,
);

with_copy_source_sse!(
    ops::copy_object::builders::CopyObjectFluentBuilder,
    ops::upload_part_copy::builders::UploadPartCopyFluentBuilder,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Garage's 400 is the SSE-C refusal itself; AWS's 403 may as well be missing
    /// permissions, and the text says both rather than blame the key alone.
    #[test]
    fn a_refused_keyed_read_is_worded_by_its_status() {
        let at = "s3://b/o";
        let garage = describe(&S3ErrorKind::WrongKey, Some(400), None, None, at);
        assert_eq!(garage, "s3://b/o is encrypted with a different key");
        let aws = describe(
            &S3ErrorKind::WrongKey,
            Some(403),
            Some("AccessDenied"),
            None,
            at,
        );
        assert!(aws.contains("different key"), "{aws}");
        assert!(aws.contains("may not read it"), "{aws}");
    }

    #[test]
    fn servers_ways_of_saying_wrong_key() {
        // Garage: 400 InvalidRequest on GET, bare 400 on HEAD.
        assert_eq!(
            error_kind(
                Op::Read,
                Some(400),
                Some("InvalidRequest"),
                Some("Bad request: Invalid encryption key, could not decrypt object metadata"),
                true
            ),
            S3ErrorKind::WrongKey
        );
        assert_eq!(
            error_kind(Op::Read, Some(400), None, None, true),
            S3ErrorKind::WrongKey
        );
        // AWS and MinIO: 403 AccessDenied.
        assert_eq!(
            error_kind(Op::Read, Some(403), Some("AccessDenied"), None, true),
            S3ErrorKind::WrongKey
        );
    }

    #[test]
    fn other_sse_c_failures() {
        assert_eq!(
            error_kind(
                Op::Read,
                Some(400),
                Some("InvalidRequest"),
                Some("Bad request: Object is encrypted"),
                false
            ),
            S3ErrorKind::KeyRequired
        );
        assert_eq!(
            error_kind(
                Op::Read,
                Some(400),
                Some("InvalidRequest"),
                Some("Trying to decrypt a plaintext object"),
                true
            ),
            S3ErrorKind::NotEncrypted
        );
        assert_eq!(
            error_kind(
                Op::Write,
                Some(400),
                Some("InvalidArgument"),
                Some(
                    "The calculated MD5 hash of the key did not match the hash that was provided."
                ),
                true
            ),
            S3ErrorKind::KeyMd5Mismatch
        );
        assert_eq!(
            error_kind(Op::Write, Some(403), Some("AccessDenied"), None, true),
            S3ErrorKind::WriteDenied
        );
        assert_eq!(
            error_kind(Op::Read, Some(404), None, None, true),
            S3ErrorKind::NoSuchObject
        );
    }
}
