//! What an object carries besides its bytes, kept across writes that make it anew: a rotation
//! that copies with `MetadataDirective=REPLACE` (SeaweedFS refuses to copy an object onto
//! itself otherwise), a multipart copy (UploadPartCopy copies bytes only) and a re-upload.

use std::collections::HashMap;

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::StorageClass;

use super::location::S3Url;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub website_redirect_location: Option<String>,
    /// Only when the server reported one (a HEAD names no class for STANDARD).
    pub storage_class: Option<StorageClass>,
    /// User metadata (`x-amz-meta-*`).
    pub metadata: Option<HashMap<String, String>>,
}

impl ObjectMeta {
    /// The content type the object key's extension suggests, if any.
    pub fn guess(dest: &S3Url) -> Self {
        Self {
            content_type: mime_guess::from_path(&dest.key)
                .first()
                .map(|m| m.essence_str().to_string()),
            ..Self::default()
        }
    }

    /// What a HEAD of the object says it carries.
    pub fn from_head(head: &HeadObjectOutput) -> Self {
        let s = |v: Option<&str>| v.map(str::to_string);
        Self {
            content_type: s(head.content_type()),
            content_encoding: s(head.content_encoding()),
            content_disposition: s(head.content_disposition()),
            content_language: s(head.content_language()),
            cache_control: s(head.cache_control()),
            website_redirect_location: s(head.website_redirect_location()),
            storage_class: head.storage_class().cloned(),
            metadata: head.metadata().cloned().filter(|m| !m.is_empty()),
        }
    }
}

/// Puts an object's `ObjectMeta` on a request that writes it.
pub trait WithMeta: Sized {
    fn meta(self, m: &ObjectMeta) -> Self;
}

macro_rules! with_meta {
    ($($builder:ty),* $(,)?) => {$(
        impl WithMeta for $builder {
            fn meta(self, m: &ObjectMeta) -> Self {
                self.set_content_type(m.content_type.clone())
                    .set_content_encoding(m.content_encoding.clone())
                    .set_content_disposition(m.content_disposition.clone())
                    .set_content_language(m.content_language.clone())
                    .set_cache_control(m.cache_control.clone())
                    .set_website_redirect_location(m.website_redirect_location.clone())
                    .set_storage_class(m.storage_class.clone())
                    .set_metadata(m.metadata.clone())
            }
        }
    )*};
}

use aws_sdk_s3::operation as ops;

with_meta!(
    ops::put_object::builders::PutObjectFluentBuilder,
    ops::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    ops::copy_object::builders::CopyObjectFluentBuilder,
);
