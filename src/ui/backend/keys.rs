//! Key commands: generate, import, export, env lines, reveal, dependents, delete, backup,
//! restore, share, receive, default keys. Each is one core call; the event says what happened.

use std::path::PathBuf;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Event, Worker};
use crate::core::Home;
use crate::core::keys::DeleteConfirmation;

/// How many of a key's objects the delete dialog names (it counts them all).
const DEPENDENTS_SHOWN: usize = 200;

impl Worker {
    /// Looks for keys whose registry is gone, and offers them (an empty list is sent too).
    pub(super) async fn orphans(&self, home: &Arc<Home>) {
        let found = self
            .blocking(home, |h| {
                h.tag_all_keys();
                Ok(h.orphaned_keys(false)?
                    .into_iter()
                    .filter(|o| o.intact)
                    .map(|o| (o.tags.label, o.tags.fingerprint))
                    .collect::<Vec<_>>())
            })
            .await;
        if let Ok(list) = found {
            self.send(Event::Orphans(list));
        }
    }

    pub(super) async fn adopt_keys(&self, home: &Arc<Home>) {
        let adopted = self.blocking(home, |h| h.adopt_keys(None, false)).await;
        self.report(adopted, |keys| {
            format!(
                "Adopted {} key(s) from the keyring. Scan and adopt in Objects finds what they encrypt.",
                keys.len()
            )
        });
        self.refresh(home).await;
        self.orphans(home).await;
    }

    pub(super) async fn generate_key(&self, home: &Arc<Home>, label: String) {
        let l = label.clone();
        match self.blocking(home, move |h| h.generate_key(&l)).await {
            Ok(k) => {
                self.send(Event::KeyCreated { label });
                self.send(Event::Info(format!(
                    "Generated key \"{}\" ({}). Export a backup before you rely on it.",
                    k.label, k.fingerprint
                )));
            }
            Err(e) => self.send(Event::Error(e)),
        }
        self.refresh(home).await;
    }

    pub(super) async fn import_key(
        &self,
        home: &Arc<Home>,
        label: String,
        bytes: Zeroizing<Vec<u8>>,
        origin: String,
    ) {
        let l = label.clone();
        match self
            .blocking(home, move |h| h.import_key(&l, &bytes, &origin))
            .await
        {
            Ok(k) => {
                self.send(Event::KeyCreated { label });
                self.send(Event::Info(format!(
                    "Imported key \"{}\" ({})",
                    k.label, k.fingerprint
                )));
            }
            Err(e) => self.send(Event::Error(e)),
        }
        self.refresh(home).await;
    }

    pub(super) async fn import_key_file(&self, home: &Arc<Home>, label: String, path: PathBuf) {
        match read_small_file(&path) {
            Ok(bytes) => {
                let origin = path.display().to_string();
                self.import_key(home, label, bytes, origin).await
            }
            Err(e) => self.send(Event::Error(e)),
        }
    }

    pub(super) async fn export_key(&self, home: &Arc<Home>, label: String, path: PathBuf) {
        let done = format!(
            "Exported \"{label}\" to {} (mode 0600). Anyone with this file can read every \
             object it encrypts.",
            path.display()
        );
        self.simple(home, done, move |h| h.export_key(&label, &path).map(|_| ()))
            .await;
    }

    pub(super) async fn key_env_lines(&self, home: &Arc<Home>, label: String) {
        let l = label.clone();
        match self.blocking(home, move |h| h.key_env_lines(&l)).await {
            Ok(text) => self.send(Event::EnvLines { label, text }),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    pub(super) async fn reveal_key(&self, home: &Arc<Home>, label: String) {
        let l = label.clone();
        match self
            .blocking(home, move |h| h.reveal_key(&l, "shown in the window"))
            .await
        {
            Ok(base64) => self.send(Event::Revealed { label, base64 }),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    pub(super) async fn key_dependents(&self, home: &Arc<Home>, label: String) {
        let l = label.clone();
        // Every id (the delete names exactly these), the names of the first few only.
        let deps = self
            .blocking(home, move |h| {
                let fp = h.key_record(&l)?.fingerprint;
                let ids = h.registry.dependent_ids(&fp)?;
                let mut first = Vec::new();
                for id in ids.iter().take(DEPENDENTS_SHOWN) {
                    if let Some(o) = h.registry.object_by_id(*id)? {
                        first.push(format!("{}: {}", o.connection, o.url()));
                    }
                }
                Ok((ids, first))
            })
            .await;
        match deps {
            Ok((ids, first)) => self.send(Event::Dependents { label, ids, first }),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    pub(super) async fn delete_key(
        &self,
        home: &Arc<Home>,
        label: String,
        fingerprint: crate::core::key::KeyFingerprint,
        shown: Vec<i64>,
    ) {
        let done = format!("Deleted key \"{label}\"");
        let confirm = DeleteConfirmation::Shown {
            fingerprint,
            ids: shown,
        };
        self.simple(home, done, move |h| {
            h.delete_key(&label, confirm).map(|_| ())
        })
        .await;
    }

    pub(super) async fn backup_keys(
        &self,
        home: &Arc<Home>,
        path: PathBuf,
        passphrase: Zeroizing<String>,
    ) {
        let shown = path.display().to_string();
        let result = self
            .blocking(home, move |h| h.backup_keys(&path, &[], &passphrase))
            .await;
        self.send(match result {
            Ok(keys) => Event::DialogDone(format!(
                "Backed up {} key(s) to {shown} (age, passphrase) and checked it by reading it back",
                keys.len()
            )),
            Err(e) => Event::DialogFailed(e),
        });
        self.refresh(home).await;
    }

    pub(super) async fn restore_keys(
        &self,
        home: &Arc<Home>,
        path: PathBuf,
        passphrase: Zeroizing<String>,
    ) {
        let result = self
            .blocking(home, move |h| h.restore_keys(&path, &passphrase))
            .await;
        self.send(match result {
            Ok(r) => Event::DialogDone(format!(
                "Restored into the keyring: {}; imported: {}; already present: {}",
                r.restored.len(),
                r.imported.len(),
                r.present.len()
            )),
            Err(e) => Event::DialogFailed(e),
        });
        self.refresh(home).await;
    }

    pub(super) async fn share_keys(
        &self,
        home: &Arc<Home>,
        labels: Vec<String>,
        recipients: String,
        manifest: bool,
        path: PathBuf,
    ) {
        let result = self
            .blocking(home, move |h| {
                let read = crate::core::share::parse_recipients(&recipients, "the recipients")?;
                let report =
                    h.share_keys(&labels, &read.recipients, manifest.then_some(None), &path)?;
                Ok((report, read.skipped))
            })
            .await;
        self.report(result, |(r, skipped)| {
            let objects: u64 = r.keys.iter().map(|(_, n)| n).sum();
            let mut text = format!(
                "Shared {} key(s) with {} recipient(s) in {} ({objects} object(s) in the manifest)",
                r.keys.len(),
                r.recipients.len(),
                r.file
            );
            if !skipped.is_empty() {
                text.push_str(&format!(
                    "; {} line(s) skipped: {}",
                    skipped.len(),
                    skipped[0]
                ));
            }
            text
        });
        self.refresh(home).await;
    }

    pub(super) async fn receive_keys(
        &self,
        home: &Arc<Home>,
        path: PathBuf,
        identity: PathBuf,
        passphrase: Zeroizing<String>,
    ) {
        let ask = move || (!passphrase.is_empty()).then(|| passphrase.to_string());
        let result = match crate::core::share::read_identity(&identity, &ask) {
            Ok(ids) => home
                .receive_keys(&path, &ids, None)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(r) if r.not_adopted.is_empty() => self.send(Event::Info(format!(
                "Received {} new key(s) ({} here already); {} object(s) recorded after the server confirmed them",
                r.imported.len(),
                r.present.len(),
                r.adopted.len() + r.known.len()
            ))),
            Ok(r) => self.send(Event::Error(format!(
                "Received {} new key(s); {} object(s) recorded, {} not: {}: {}",
                r.imported.len(),
                r.adopted.len() + r.known.len(),
                r.not_adopted.len(),
                r.not_adopted[0].0,
                r.not_adopted[0].1
            ))),
            Err(e) => self.send(Event::Error(e)),
        }
        self.refresh(home).await;
    }

    pub(super) async fn set_default_key(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        prefix: String,
        label: Option<String>,
    ) {
        let place = crate::core::location::S3Location {
            bucket,
            path: prefix,
        };
        let shown = format!("s3://{}/{}", place.bucket, place.folder());
        let result = self
            .blocking(home, move |h| match &label {
                Some(l) => h
                    .set_default_key(Some(&connection), &place, l)
                    .map(|_| format!("\"{l}\" is now the default key for {shown}")),
                None => h
                    .clear_default_key(Some(&connection), &place)
                    .map(|_| format!("{shown} has no default key of its own now")),
            })
            .await;
        self.report(result, |t| t);
        self.refresh(home).await;
    }
}

/// A key file, at most 4 KiB (a wrong path to a video is not slurped).
fn read_small_file(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read as _;
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut bytes))
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    Ok(bytes)
}
