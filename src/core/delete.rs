//! Deleting an object on purpose: on the server first, then its registry rows say
//! `deleted` (the key no longer protects it). What the object held is gone afterwards; the
//! faces ask before calling this.

use super::location::S3Url;
use super::registry::ConnectionRecord;
use super::s3::{Op, client_for, sdk_error};
use super::{Home, Result};

impl Home {
    /// Deletes `url` on the connection's server and records it.
    pub async fn delete_object(&self, conn: &ConnectionRecord, url: &S3Url) -> Result<()> {
        let fp = self
            .registry
            .current_object(conn, &url.bucket, &url.key)?
            .map(|o| o.key_fingerprint);
        let client = client_for(conn, self.secrets().ok()).await?;
        client
            .delete_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Other, &url.to_string(), false))?;
        // In a bucket that keeps versions, a delete only adds a delete marker: the earlier
        // versions stay on the server under their keys, which they still need.
        let kept = super::bucket::versioning(&client, &url.bucket).await != Some(false);
        self.registry.mark_object_deleted(conn, url, kept)?;
        self.registry
            .log_event("object_deleted", fp.as_ref(), None, &url.to_string())?;
        Ok(())
    }
}
