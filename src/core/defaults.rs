//! The default key of a place: a bucket or a prefix can name the key its uploads use unless
//! told otherwise. The deepest default that covers an object key wins; choosing another key
//! there is asked about first (the window's confirmation, the CLI's prompt or `--yes`).

use super::location::S3Location;
use super::registry::DefaultKey;
use super::{Error, Home, Result};

/// The default covering `object_key` (or a folder prefix) on `connection`/`bucket`: the one
/// with the longest prefix. Pure, so the window decides exactly as the CLI does.
pub fn default_for<'a>(
    defaults: &'a [DefaultKey],
    connection: &str,
    bucket: &str,
    object_key: &str,
) -> Option<&'a DefaultKey> {
    defaults
        .iter()
        .filter(|d| d.connection == connection && d.bucket == bucket)
        .filter(|d| object_key.starts_with(&d.prefix))
        .max_by_key(|d| d.prefix.len())
}

/// The key an upload to a place will use, and how it relates to the place's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadKey {
    pub label: String,
    /// The default of the place, if it has one.
    pub default: Option<DefaultKey>,
    /// Folders under a folder being uploaded to that have another default key of their own:
    /// files going there would not get it.
    pub deeper: Vec<DefaultKey>,
}

impl UploadKey {
    /// A key was chosen that is not the place's default: the user must confirm.
    pub fn overrides_default(&self) -> bool {
        self.default
            .as_ref()
            .is_some_and(|d| d.key_label.as_deref() != Some(self.label.as_str()))
    }

    /// The question asked before uploading with a key that is not the default (of the
    /// place, or of a folder under it the files may go into).
    pub fn question(&self) -> Option<String> {
        let d = self
            .default
            .iter()
            .filter(|_| self.overrides_default())
            .chain(&self.deeper)
            .next()?;
        Some(format!(
            "{} has default key \"{}\"; upload with \"{}\" instead?",
            d.place(),
            d.key_label.as_deref().unwrap_or("(deleted)"),
            self.label
        ))
    }
}

impl Home {
    /// Makes the key labelled `label` the default for a bucket or prefix (a path is taken
    /// as a folder: "photos" means "photos/").
    pub fn set_default_key(
        &self,
        connection: Option<&str>,
        place: &S3Location,
        label: &str,
    ) -> Result<DefaultKey> {
        let conn = self.resolve_connection(connection)?;
        let key = self.key_record(label)?;
        let prefix = place.folder();
        self.registry
            .set_default_key(&conn, &place.bucket, &prefix, &key.fingerprint)?;
        self.default_keys()?
            .into_iter()
            .find(|d| d.connection == conn.name && d.bucket == place.bucket && d.prefix == prefix)
            .ok_or_else(|| Error::NotFound("the default key just set is not listed".into()))
    }

    /// Removes the default of exactly this place; whether it had one.
    pub fn clear_default_key(&self, connection: Option<&str>, place: &S3Location) -> Result<bool> {
        let conn = self.resolve_connection(connection)?;
        Ok(self
            .registry
            .clear_default_key(&conn, &place.bucket, &place.folder())?)
    }

    pub fn default_keys(&self) -> Result<Vec<DefaultKey>> {
        Ok(self.registry.default_keys()?)
    }

    /// The key an upload to `object_key` (or a folder prefix) uses: `chosen` if given, else
    /// the place's default. Without either, an error that says how to give one.
    pub fn upload_key(
        &self,
        connection: &str,
        bucket: &str,
        object_key: &str,
        chosen: Option<&str>,
    ) -> Result<UploadKey> {
        let defaults = self.default_keys()?;
        let default = default_for(&defaults, connection, bucket, object_key).cloned();
        let label = match (chosen, &default) {
            (Some(label), _) => self.key_record(label)?.label,
            (None, Some(d)) => d.key_label.clone().ok_or_else(|| {
                Error::Refused(format!(
                    "the default key of {} ({}) was deleted; pass --key LABEL or set another \
                     default with `ssec-manager key default {} LABEL`",
                    d.place(),
                    d.key_fingerprint,
                    d.place()
                ))
            })?,
            (None, None) => {
                return Err(Error::Refused(format!(
                    "no --key given and s3://{bucket}/{object_key} has no default key: pass \
                     --key LABEL, or set a default with `ssec-manager key default \
                     s3://{bucket}/PREFIX LABEL`"
                )));
            }
        };
        // A folder upload: folders under it with a default of their own that differs.
        let folder = object_key.is_empty() || object_key.ends_with('/');
        let deeper = defaults
            .iter()
            .filter(|d| folder && d.connection == connection && d.bucket == bucket)
            .filter(|d| d.prefix.len() > object_key.len() && d.prefix.starts_with(object_key))
            .filter(|d| d.key_label.as_deref() != Some(label.as_str()))
            .cloned()
            .collect();
        Ok(UploadKey {
            label,
            default,
            deeper,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::key::KeyFingerprint;

    fn d(conn: &str, bucket: &str, prefix: &str, label: &str) -> DefaultKey {
        DefaultKey {
            connection: conn.into(),
            bucket: bucket.into(),
            prefix: prefix.into(),
            key_fingerprint: KeyFingerprint::from_stored(format!("{label}=")),
            key_label: Some(label.into()),
            set_at: String::new(),
        }
    }

    #[test]
    fn the_deepest_default_on_the_same_connection_and_bucket_wins() {
        let all = vec![
            d("c", "b", "", "bucket-wide"),
            d("c", "b", "photos/", "photos"),
            d("c", "b", "photos/2026/", "recent"),
            d("other", "b", "photos/", "elsewhere"),
            d("c", "b2", "", "b2"),
        ];
        let label = |conn: &str, bucket: &str, key: &str| {
            default_for(&all, conn, bucket, key).and_then(|d| d.key_label.clone())
        };
        assert_eq!(
            label("c", "b", "photos/2026/a.jpg").as_deref(),
            Some("recent")
        );
        assert_eq!(
            label("c", "b", "photos/2025/a.jpg").as_deref(),
            Some("photos")
        );
        assert_eq!(label("c", "b", "photos/").as_deref(), Some("photos"));
        // "photosX" is not under the folder "photos/".
        assert_eq!(label("c", "b", "photosX").as_deref(), Some("bucket-wide"));
        assert_eq!(label("other", "b", "docs/x").as_deref(), None);
        assert_eq!(label("c", "b3", "x").as_deref(), None);
    }

    #[test]
    fn choosing_another_key_than_the_default_asks_first() {
        let with = |label: &str| UploadKey {
            label: label.into(),
            default: Some(d("c", "b", "photos/", "photos")),
            deeper: Vec::new(),
        };
        assert!(!with("photos").overrides_default());
        assert!(with("photos").question().is_none());
        assert!(with("other").overrides_default());
        let q = with("other").question().unwrap();
        assert!(
            q.contains("s3://b/photos/") && q.contains("\"other\""),
            "{q}"
        );
        let none = UploadKey {
            label: "x".into(),
            default: None,
            deeper: Vec::new(),
        };
        assert!(!none.overrides_default());
        assert!(none.question().is_none());
        // A folder under the destination with a default of its own is asked about too.
        let deeper = UploadKey {
            deeper: vec![d("c", "b", "x/raw/", "raw")],
            ..none
        };
        let q = deeper.question().unwrap();
        assert!(q.contains("s3://b/x/raw/") && q.contains("\"raw\""), "{q}");
    }
}
