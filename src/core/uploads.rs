//! Interrupted uploads: multipart uploads begun and neither completed nor aborted, as the
//! registry records them and, on request, as the server still holds them (billed parts).
//! Resuming and aborting one live in `transfer::upload`.

use serde::Serialize;

use super::bucket::ServerUpload;
use super::registry::ConnectionRecord;
use super::s3::client_for;
use super::{Home, Result};

/// One interrupted upload as listings show it.
#[derive(Debug, Clone, Serialize)]
pub struct InterruptedUpload {
    /// The registry's object id: what `resume` and `uploads --abort` take.
    pub id: i64,
    pub object: Option<String>,
    pub connection: Option<String>,
    /// The key's label, or its fingerprint when the label is unknown.
    pub key: Option<String>,
    pub source: String,
    pub size: u64,
    pub started_at: String,
    pub upload_id: String,
}

/// A multipart upload the server holds, and whether this home started it.
#[derive(Debug, Clone, Serialize)]
pub struct OnServer {
    #[serde(flatten)]
    pub upload: ServerUpload,
    /// Recorded here as interrupted (resumable); false: not started by this home.
    pub known: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UploadsReport {
    /// Uploads whose process is gone: resumable, or to abort.
    pub interrupted: Vec<InterruptedUpload>,
    /// Uploads another live process is sending: not to be touched.
    pub running: Vec<InterruptedUpload>,
    /// Filled when the server was asked (`uploads --stale`).
    pub on_server: Vec<OnServer>,
}

impl Home {
    /// The interrupted uploads of this home; with `server`, also the multipart uploads that
    /// server holds in every bucket where this home registered objects.
    pub async fn interrupted_uploads(
        &self,
        server: Option<&ConnectionRecord>,
    ) -> Result<UploadsReport> {
        let recorded = self.registry.interrupted_uploads()?;
        let running = self.registry.running_uploads()?;
        let mut report = UploadsReport {
            interrupted: self.describe_uploads(&recorded)?,
            running: self.describe_uploads(&running)?,
            on_server: Vec::new(),
        };
        let Some(conn) = server else {
            return Ok(report);
        };
        let client = client_for(conn, self.secrets().ok()).await?;
        for bucket in self.registry.buckets_of(&conn.name)? {
            for upload in super::bucket::multipart_uploads(&client, &bucket).await? {
                let known = recorded
                    .iter()
                    .chain(&running)
                    .any(|m| upload.upload_id.as_deref() == Some(m.upload_id.as_str()));
                report.on_server.push(OnServer { upload, known });
            }
        }
        Ok(report)
    }

    fn describe_uploads(
        &self,
        records: &[super::registry::MultipartRecord],
    ) -> Result<Vec<InterruptedUpload>> {
        let mut out = Vec::new();
        for m in records {
            let o = self.registry.object_by_id(m.object_id)?;
            out.push(InterruptedUpload {
                id: m.object_id,
                object: o.as_ref().map(|o| o.url()),
                connection: o.as_ref().map(|o| o.connection.clone()),
                key: o.as_ref().map(|o| {
                    o.key_label
                        .clone()
                        .unwrap_or_else(|| o.key_fingerprint.to_string())
                }),
                source: m.source_path.clone(),
                size: m.source_size,
                started_at: m.started_at.clone(),
                upload_id: m.upload_id.clone(),
            });
        }
        Ok(out)
    }
}
