//! Preflight of a connection and bucket before SSE-C is trusted with it:
//! - transport: SSE-C over plain http to a host other than this machine sends the key in
//!   clear (AWS refuses it outright), so it is refused unless the connection allows it;
//! - bucket encryption: since April 2026 new AWS buckets block SSE-C writes with the rule
//!   `BlockedEncryptionTypes = SSE-C`, which users meet as a bare 403;
//! - enforcement: some servers silently ignore SSE-C and store plaintext (moto, old
//!   SeaweedFS). Only a probe tells (`probe`): write a tiny object with a throwaway key, then a
//!   GET without the key must fail and a GET with it must return the bytes. The same probe
//!   learns what the server does differently (re-keying in place, parts without the key):
//!   kept per connection and bucket, used by rotations, reported as findings.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{EncryptionType, ServerSideEncryptionRule};
use serde::Serialize;

use super::registry::{BucketTraits, ConnectionRecord, Rekey};
use super::s3::{Op, S3Error, S3ErrorKind, client_for, sdk_error};
use super::{Error, Home, Result};

/// Whether the endpoint is this machine (http there exposes nothing on a network).
pub fn is_loopback_endpoint(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or("");
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        rest.split(['/', ':']).next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The refusal for SSE-C over plain http to another host, unless the connection allows it.
pub fn check_transport(conn: &ConnectionRecord) -> Result<()> {
    match &conn.endpoint {
        Some(e)
            if e.starts_with("http://") && !is_loopback_endpoint(e) && !conn.allow_plain_http =>
        {
            Err(Error::Refused(format!(
                "connection \"{}\" uses plain http to {e}: SSE-C keys would travel in clear and \
                 must then be considered leaked. Use an https endpoint, or allow it explicitly \
                 for this connection (connection add ... --allow-plain-http) if the network \
                 path is trusted",
                conn.name
            )))
        }
        _ => Ok(()),
    }
}

/// Whether any rule of a bucket's default encryption blocks SSE-C writes.
pub fn blocks_sse_c(rules: &[ServerSideEncryptionRule]) -> bool {
    rules.iter().any(|r| {
        r.blocked_encryption_types()
            .is_some_and(|b| b.encryption_type().contains(&EncryptionType::SseC))
    })
}

/// The bucket's encryption rules with SSE-C no longer blocked: every other setting of each
/// rule (default algorithm, KMS key, bucket key, other blocked types) is kept; a rule whose
/// only blocked type was SSE-C blocks `NONE` instead, as the AWS documentation's fix does.
pub fn rules_allowing_sse_c(rules: &[ServerSideEncryptionRule]) -> Vec<ServerSideEncryptionRule> {
    rules
        .iter()
        .map(|r| {
            let Some(blocked) = r.blocked_encryption_types() else {
                return r.clone();
            };
            let mut kept: Vec<EncryptionType> = blocked
                .encryption_type()
                .iter()
                .filter(|t| **t != EncryptionType::SseC)
                .cloned()
                .collect();
            if kept.is_empty() {
                kept.push(EncryptionType::None);
            }
            ServerSideEncryptionRule::builder()
                .set_apply_server_side_encryption_by_default(
                    r.apply_server_side_encryption_by_default().cloned(),
                )
                .set_bucket_key_enabled(r.bucket_key_enabled())
                .blocked_encryption_types(
                    aws_sdk_s3::types::BlockedEncryptionTypes::builder()
                        .set_encryption_type(Some(kept))
                        .build(),
                )
                .build()
        })
        .collect()
}

/// Unblocks SSE-C on a bucket (PutBucketEncryption with `rules_allowing_sse_c` of its
/// current rules). Needs the s3:PutEncryptionConfiguration permission; without it, the
/// error says so and gives the command for someone who has it.
pub async fn allow_sse_c(home: &Home, conn: &ConnectionRecord, bucket: &str) -> Result<()> {
    let client = client_for(conn, home.secrets().ok()).await?;
    let target = format!("s3://{bucket}");
    let current = match client.get_bucket_encryption().bucket(bucket).send().await {
        Ok(c) => c,
        Err(e) => {
            let err = sdk_error(e, Op::Other, &target, false);
            // No rules at all, or a server without bucket encryption rules (Garage, MinIO
            // without KMS): nothing can block SSE-C there.
            if no_encryption_rules(&err) || not_implemented(&err.message) {
                return Ok(());
            }
            return Err(err.into());
        }
    };
    let rules = current
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default();
    if !blocks_sse_c(rules) {
        return Ok(());
    }
    let config = aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
        .set_rules(Some(rules_allowing_sse_c(rules)))
        .build()
        .map_err(|e| Error::Internal(format!("{target}: {e}")))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map_err(|e| {
            let err = sdk_error(e, Op::Other, &target, false);
            Error::Refused(format!(
                "{}; someone with the s3:PutEncryptionConfiguration permission can run the \
                 command `ssec-manager preflight` prints",
                err.message
            ))
        })?;
    home.registry
        .log_event("bucket_sse_c_allowed", None, None, &target)?;
    Ok(())
}

/// A server's way of saying it does not implement an operation.
pub fn not_implemented(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("notimplemented")
        || m.contains("not implemented")
        || m.contains("unimplemented")
        || m.contains("not supported")
        || m.contains(" 501 ")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum BucketEncryption {
    /// No rule blocks SSE-C.
    Allows,
    /// `BlockedEncryptionTypes` holds SSE-C: writes with SSE-C fail with 403.
    BlocksSseC,
    /// The server did not say (not supported, or no permission).
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum Enforcement {
    /// A keyless GET of an SSE-C object failed and a GET with the key returned the bytes.
    Enforced,
    /// A keyless GET returned the object: the server ignores SSE-C.
    Ignored,
    /// The probe could not run; why.
    Failed(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub connection: String,
    pub bucket: String,
    pub bucket_encryption: BucketEncryption,
    pub enforcement: Enforcement,
    /// What the probe learned of the server's SSE-C (kept per connection and bucket).
    pub traits: BucketTraits,
    /// What to do, for each problem found: uploads are refused while any stands.
    pub problems: Vec<String>,
    /// What the user should know of this server, that does not stop uploads.
    pub findings: Vec<String>,
}

impl PreflightReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Runs the three checks against one bucket of a connection.
pub async fn preflight(
    home: &Home,
    conn: &ConnectionRecord,
    bucket: &str,
) -> Result<PreflightReport> {
    check_transport(conn)?;
    let client = client_for(conn, home.secrets().ok()).await?;
    let bucket_encryption = bucket_encryption(&client, bucket).await?;
    let (enforcement, traits) = super::probe::probe(&client, bucket).await;
    let mut findings = Vec::new();
    if enforcement == Enforcement::Enforced {
        home.registry
            .save_bucket_traits(&conn.name, bucket, &traits)?;
        findings = self::findings(bucket, &traits);
    }
    let problems = problems(bucket, &bucket_encryption, &enforcement);
    Ok(PreflightReport {
        connection: conn.name.clone(),
        bucket: bucket.to_string(),
        bucket_encryption,
        enforcement,
        traits,
        problems,
        findings,
    })
}

/// What the probe found that works, but differently from AWS.
fn findings(bucket: &str, t: &BucketTraits) -> Vec<String> {
    let mut out = Vec::new();
    if t.keyless_part_accepted == Some(true) {
        out.push(format!(
            "PARTIAL ENFORCEMENT: s3://{bucket} accepted a part without the key into an SSE-C \
             multipart upload. ssec-manager sends the key with every part, but another client \
             that forgets it may store parts that are not encrypted with the object's key"
        ));
    }
    match t.rekey {
        Some(Rekey::Replace) => out.push(format!(
            "s3://{bucket} re-keys an object onto itself only with MetadataDirective=REPLACE: \
             rotations send the content type, encoding, disposition, language, cache control, \
             storage class and user metadata they read (tags and ACLs are not carried over)"
        )),
        None => out.push(format!(
            "s3://{bucket} refused to copy an object onto itself with a new key: rotations \
             there must go through this computer (rotate --reupload always)"
        )),
        Some(Rekey::Copy) => {}
    }
    if t.part_copy == Some(false) {
        out.push(format!(
            "s3://{bucket} refuses UploadPartCopy with SSE-C: rotations copy objects up to \
             5 GiB in one CopyObject, and larger ones through this computer"
        ));
    }
    out
}

/// The rule AWS documents for allowing SSE-C again (the aws CLI's JSON).
const ALLOW_SSE_C_RULES: &str = r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"},"BlockedEncryptionTypes":{"EncryptionType":["NONE"]}}]}"#;

/// What to do about each thing the checks found.
fn problems(bucket: &str, encryption: &BucketEncryption, enforcement: &Enforcement) -> Vec<String> {
    let mut problems = Vec::new();
    if *encryption == BucketEncryption::BlocksSseC {
        problems.push(format!(
            "s3://{bucket} blocks SSE-C writes (BlockedEncryptionTypes = SSE-C, the AWS default \
             for buckets made since April 2026). To allow them: aws s3api put-bucket-encryption \
             --bucket {bucket} --server-side-encryption-configuration '{ALLOW_SSE_C_RULES}'"
        ));
    }
    match enforcement {
        Enforcement::Enforced => {}
        Enforcement::Ignored => problems.push(format!(
            "THE SERVER IGNORES SSE-C: an object written to s3://{bucket} with a key was readable \
             without it, so objects are stored in plaintext. Do not store secrets there."
        )),
        Enforcement::Failed(why) => problems.push(format!("the SSE-C probe failed: {why}")),
    }
    problems
}

/// The bucket's encryption rules; Err when the server could not be reached at all (TLS,
/// network): nothing else of the preflight can work then.
async fn bucket_encryption(client: &Client, bucket: &str) -> Result<BucketEncryption> {
    Ok(
        match client.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => {
                let rules = out
                    .server_side_encryption_configuration()
                    .map(|c| c.rules())
                    .unwrap_or_default();
                if blocks_sse_c(rules) {
                    BucketEncryption::BlocksSseC
                } else {
                    BucketEncryption::Allows
                }
            }
            Err(e) => {
                let err = sdk_error(e, Op::Other, &format!("s3://{bucket}"), false);
                if matches!(
                    err.kind,
                    S3ErrorKind::Tls
                        | S3ErrorKind::Network
                        | S3ErrorKind::Timeout
                        | S3ErrorKind::Credentials
                ) {
                    return Err(err.into());
                }
                if no_encryption_rules(&err) {
                    BucketEncryption::Allows
                } else {
                    BucketEncryption::Unknown(err.message)
                }
            }
        },
    )
}

/// The answer of a bucket without encryption rules: AWS's code (with or without the "Error"
/// suffix SeaweedFS adds), sent with a 404 that is not "no such bucket".
fn no_encryption_rules(err: &S3Error) -> bool {
    err.code
        .as_deref()
        .is_some_and(|c| c.starts_with("ServerSideEncryptionConfigurationNotFound"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::BlockedEncryptionTypes;

    #[test]
    fn blocked_encryption_types_with_sse_c_is_detected() {
        let blocking = ServerSideEncryptionRule::builder()
            .blocked_encryption_types(
                BlockedEncryptionTypes::builder()
                    .encryption_type(EncryptionType::SseC)
                    .build(),
            )
            .build();
        let open = ServerSideEncryptionRule::builder()
            .blocked_encryption_types(
                BlockedEncryptionTypes::builder()
                    .encryption_type(EncryptionType::None)
                    .build(),
            )
            .build();
        assert!(blocks_sse_c(&[open.clone(), blocking]));
        assert!(!blocks_sse_c(&[open]));
        assert!(!blocks_sse_c(&[]));
    }

    /// The fix keeps everything but the SSE-C block, as parsed from a real response shape.
    #[test]
    fn allowing_sse_c_removes_only_the_sse_c_block() {
        use aws_sdk_s3::types::{ServerSideEncryption, ServerSideEncryptionByDefault};
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .unwrap();
        let aws_default = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default.clone())
            .bucket_key_enabled(true)
            .blocked_encryption_types(
                BlockedEncryptionTypes::builder()
                    .encryption_type(EncryptionType::SseC)
                    .build(),
            )
            .build();
        let fixed = rules_allowing_sse_c(std::slice::from_ref(&aws_default));
        assert!(!blocks_sse_c(&fixed));
        assert_eq!(
            fixed[0].apply_server_side_encryption_by_default(),
            Some(&default)
        );
        assert_eq!(fixed[0].bucket_key_enabled(), Some(true));
        assert_eq!(
            fixed[0]
                .blocked_encryption_types()
                .unwrap()
                .encryption_type(),
            [EncryptionType::None]
        );
        // Other blocked types stay blocked; rules without blocks are untouched.
        let two = ServerSideEncryptionRule::builder()
            .blocked_encryption_types(
                BlockedEncryptionTypes::builder()
                    .encryption_type(EncryptionType::SseC)
                    .encryption_type(EncryptionType::from("SSE-KMS"))
                    .build(),
            )
            .build();
        let fixed = rules_allowing_sse_c(&[two, ServerSideEncryptionRule::builder().build()]);
        assert_eq!(
            fixed[0]
                .blocked_encryption_types()
                .unwrap()
                .encryption_type(),
            [EncryptionType::from("SSE-KMS")]
        );
        assert!(fixed[1].blocked_encryption_types().is_none());
    }

    #[test]
    fn only_other_hosts_over_http_are_refused() {
        let mut c = ConnectionRecord::new("x", Some("http://192.0.2.1:9000"), "r");
        assert!(check_transport(&c).is_err());
        c.allow_plain_http = true;
        assert!(check_transport(&c).is_ok());
        for ok in [
            "http://127.0.0.1:3900",
            "http://localhost:9000",
            "http://[::1]:9000",
            "https://s3.example.com",
        ] {
            assert!(
                check_transport(&ConnectionRecord::new("x", Some(ok), "r")).is_ok(),
                "{ok}"
            );
        }
        assert!(!is_loopback_endpoint("http://127.example.com"));
    }
}
