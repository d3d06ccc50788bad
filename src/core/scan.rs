//! What an object on the server is, found with HEAD requests alone (no data moved): plain,
//! SSE-C under one of our keys, or SSE-C under a key we do not hold.
//!
//! A HEAD without a key succeeds on a plain object and fails on an SSE-C one; a HEAD with the
//! right key succeeds, with a wrong key fails (400 on Garage, 403 on AWS). Candidates are
//! tried in the order given, so callers put the registry's expected key first.

use aws_sdk_s3::Client;
use serde::Serialize;

use super::key::SseKey;
use super::s3::{Op, S3ErrorKind, sdk_error};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObjectKind {
    Plain,
    /// SSE-C under the candidate with this label.
    KnownKey {
        label: String,
    },
    /// SSE-C, and none of the candidates opens it.
    UnknownKey,
    Missing,
    /// The server answered something else; the text says what.
    Unchecked {
        reason: String,
    },
}

impl ObjectKind {
    /// In the Objects table's words.
    pub fn describe(&self) -> String {
        match self {
            ObjectKind::Plain => "not encrypted".into(),
            ObjectKind::KnownKey { label } => label.clone(),
            ObjectKind::UnknownKey => "SSE-C, unknown key".into(),
            ObjectKind::Missing => "not on the server".into(),
            ObjectKind::Unchecked { .. } => "unchecked".into(),
        }
    }
}

/// Classifies one object with HEADs: first without a key, then with each candidate.
pub async fn classify(
    client: &Client,
    bucket: &str,
    key: &str,
    candidates: &[(String, SseKey)],
) -> ObjectKind {
    let url = format!("s3://{bucket}/{key}");
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => return ObjectKind::Plain,
        Err(e) => {
            let err = sdk_error(e, Op::Read, &url, false);
            match err.kind {
                S3ErrorKind::KeyRequired | S3ErrorKind::AccessDenied => {}
                S3ErrorKind::NoSuchObject => return ObjectKind::Missing,
                _ => {
                    return ObjectKind::Unchecked {
                        reason: err.message,
                    };
                }
            }
        }
    }
    for (label, candidate) in candidates {
        let h = candidate.headers();
        let answer = client
            .head_object()
            .bucket(bucket)
            .key(key)
            .sse_customer_algorithm(h.algorithm)
            .sse_customer_key(h.key_base64.as_str())
            .sse_customer_key_md5(&h.key_md5)
            .send()
            .await;
        match answer {
            Ok(out) if out.sse_customer_key_md5().is_none_or(|m| m == h.key_md5) => {
                return ObjectKind::KnownKey {
                    label: label.clone(),
                };
            }
            Ok(_) => {}
            Err(e) => {
                let err = sdk_error(e, Op::Read, &url, true);
                if !matches!(err.kind, S3ErrorKind::WrongKey) {
                    return ObjectKind::Unchecked {
                        reason: err.message,
                    };
                }
            }
        }
    }
    ObjectKind::UnknownKey
}
