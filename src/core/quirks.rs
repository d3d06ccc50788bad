//! What S3 servers do differently where SSE-C is subtle, handled in one place. Each quirk
//! here was met on a real server (docs/PROVIDERS.md has the matrix and the evidence):
//!
//! - SeaweedFS sends `x-amz-server-side-encryption-customer-key-MD5` (and the algorithm) twice
//!   with the same value. The SDK refuses a single-valued header that comes twice, so every
//!   SSE-C answer of that server would be unreadable; an interceptor keeps one copy when all
//!   copies agree (and leaves real disagreement to fail).
//! - SeaweedFS refuses to copy an object onto itself with `MetadataDirective=COPY`, even with
//!   a new key (`refuses_self_copy`): the preflight learns it, and rotations there copy with
//!   `REPLACE`, sending the headers a HEAD read (`meta::ObjectMeta`).
//! - SeaweedFS refuses UploadPartCopy with SSE-C (501 NotImplemented, `refuses_part_copy`):
//!   rotations there re-key objects up to 5 GiB with one CopyObject.
//! - SeaweedFS accepts an UploadPart without the key into an SSE-C multipart upload: the
//!   preflight reports it as partial enforcement.
//! - SeaweedFS answers GetBucketEncryption on a bucket without rules with
//!   `ServerSideEncryptionConfigurationNotFoundError` (AWS's code); the preflight reads the
//!   code, not the status (a 404 that is not "no such bucket").

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};

use super::s3::S3Error;

/// A copy onto itself refused because "nothing changes" (AWS's wording, which SeaweedFS
/// answers even when the key changes): the server wants `MetadataDirective=REPLACE`.
pub fn refuses_self_copy(err: &S3Error) -> bool {
    err.has_code("InvalidRequest") && err.message.to_ascii_lowercase().contains("itself")
}

/// UploadPartCopy with SSE-C refused as not implemented (SeaweedFS: 501 NotImplemented, "A
/// header you provided implies functionality that is not implemented").
pub fn refuses_part_copy(err: &super::Error) -> bool {
    matches!(err, super::Error::S3(e) if e.has_code("NotImplemented"))
}

/// The SSE-C answer headers that are single-valued.
const SSE_HEADERS: [&str; 2] = [
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-server-side-encryption-customer-algorithm",
];

/// Keeps one copy of an SSE-C answer header sent several times with the same value.
#[derive(Debug, Clone, Default)]
pub struct DuplicateSseHeaders;

impl Intercept for DuplicateSseHeaders {
    fn name(&self) -> &'static str {
        "ssec-manager duplicate SSE-C headers"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let headers = context.response_mut().headers_mut();
        for name in SSE_HEADERS {
            let values: Vec<String> = headers.get_all(name).map(str::to_string).collect();
            if let Some(one) = single_value(&values) {
                headers.insert(name, one);
            }
        }
        Ok(())
    }
}

/// The one value of a header sent as several lines or as a comma-joined list, when every
/// copy says the same; None when there is nothing to fix (one copy) or the copies disagree.
fn single_value(values: &[String]) -> Option<String> {
    let pieces: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let first = *pieces.first()?;
    (pieces.len() > 1 && pieces.iter().all(|p| *p == first)).then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_identical_values_become_one_and_disagreement_is_left() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            single_value(&v(&["LQQz==", "LQQz=="])),
            Some("LQQz==".into())
        );
        assert_eq!(single_value(&v(&["LQQz==, LQQz=="])), Some("LQQz==".into()));
        assert_eq!(single_value(&v(&["LQQz=="])), None);
        assert_eq!(single_value(&v(&["a==", "b=="])), None);
        assert_eq!(single_value(&[]), None);
    }
}
