//! Keys between people: one age file encrypted to the recipients' public keys (age X25519
//! `age1...`, or SSH `ssh-ed25519`/`ssh-rsa` keys, e.g. a GitHub user's `.keys`), holding
//! the keys, their labels and, if asked, a manifest of the objects each key encrypts. The
//! `age` CLI opens it too (`age -d -i ~/.ssh/id_ed25519 FILE`): nothing of ssec-manager is
//! needed to get the keys out.
//!
//! The receiver imports the keys, then adopts each object of the manifest only after a HEAD
//! with its key confirms it is there as described. The sender's registry records who got
//! which key (the recipients' public identities, never key material); the audit lists
//! keys shared outside.

use std::io::{Read as _, Write as _};
use std::path::Path;

use age::secrecy::SecretString;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

use super::home::write_new_private_file;
use super::key::{KeyFingerprint, SseKey};
use super::location::S3Location;
use super::registry::{ObjectRecord, ObjectState, StoredObject};
use super::s3::{S3ErrorKind, client_for, head_with_key};
use super::{Error, Home, Result};

/// The identities that may open a share (the private halves of recipients).
pub type Identities = Vec<Box<dyn age::Identity + Send + Sync>>;

/// A share's keys (label, key) and its manifest, read and checked.
type Opened = (Vec<(String, SseKey)>, Vec<ManifestObject>);

/// What the plaintext's `format` field says.
const FORMAT: &str = "ssec-manager key share";

/// One recipient: the age recipient, and how it is shown and recorded (its public
/// identity: the `age1...` string, or the SSH key's type, SHA-256 fingerprint and comment).
pub struct ShareRecipient {
    recipient: Box<dyn age::Recipient + Send + Sync>,
    pub shown: String,
}

impl std::fmt::Debug for ShareRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Recipients read from text (pasted, or a file such as a GitHub user's `.keys`), and the
/// lines that were passed over with why (ecdsa keys, which age cannot encrypt to).
#[derive(Debug, Default)]
pub struct Recipients {
    pub recipients: Vec<ShareRecipient>,
    pub skipped: Vec<String>,
}

/// `SHA256:...` as `ssh-keygen -l` prints it, for an SSH public key's base64 blob.
fn ssh_fingerprint(blob_b64: &str) -> Option<String> {
    use sha2::Digest as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_b64)
        .ok()?;
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob))
    ))
}

/// Parses one recipient line: `age1...`, or an SSH public key with its optional comment.
pub fn parse_recipient(line: &str) -> std::result::Result<ShareRecipient, String> {
    let line = line.trim();
    if line.starts_with("age1") {
        let r: age::x25519::Recipient = line
            .parse()
            .map_err(|e| format!("\"{line}\" is not an age recipient: {e}"))?;
        return Ok(ShareRecipient {
            recipient: Box::new(r),
            shown: line.to_string(),
        });
    }
    let mut fields = line.split_whitespace();
    let (kind, blob) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    let comment: Vec<&str> = fields.collect();
    let short: String = line.chars().take(40).collect();
    match line.parse::<age::ssh::Recipient>() {
        Ok(r) => {
            let fp = ssh_fingerprint(blob).unwrap_or_else(|| "?".into());
            let shown = format!("{kind} {fp} {}", comment.join(" "));
            Ok(ShareRecipient {
                recipient: Box::new(r),
                shown: shown.trim_end().to_string(),
            })
        }
        Err(age::ssh::ParseRecipientKeyError::Unsupported(t)) => Err(format!(
            "{t} keys cannot be age recipients (age takes ssh-ed25519, ssh-rsa and age1... keys)"
        )),
        Err(age::ssh::ParseRecipientKeyError::RsaModulusTooSmall) => Err(format!(
            "\"{short}...\": RSA keys under 2048 bits are refused"
        )),
        Err(_) => Err(format!(
            "\"{short}...\" is not a recipient: give an age public key (age1...) or an SSH \
             public key line (ssh-ed25519 AAAA... or ssh-rsa AAAA...)"
        )),
    }
}

/// Recipients from text, one per line; blank lines and `#` comments are passed over, and
/// so are keys age cannot encrypt to (said in `skipped`). Any other bad line is an error.
pub fn parse_recipients(text: &str, origin: &str) -> Result<Recipients> {
    let mut out = Recipients::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_recipient(line) {
            Ok(r) => out.recipients.push(r),
            Err(why) if why.contains("cannot be age recipients") => out
                .skipped
                .push(format!("{origin} line {}: {why}; skipped", n + 1)),
            Err(why) => {
                return Err(Error::Share(format!("{origin} line {}: {why}", n + 1)));
            }
        }
    }
    Ok(out)
}

/// The identities that may open a share: an age identity file (`AGE-SECRET-KEY-1...`) or
/// an SSH private key; `passphrase` is asked only for a passphrase-protected SSH key.
pub fn read_identity(path: &Path, passphrase: &dyn Fn() -> Option<String>) -> Result<Identities> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, "cannot read the identity file", e))?;
    let shown = path.display().to_string();
    if bytes.windows(15).any(|w| w == b"AGE-SECRET-KEY-") {
        let file = age::IdentityFile::from_buffer(&bytes[..])
            .map_err(|e| Error::Share(format!("{shown}: not a valid age identity file: {e}")))?;
        return file
            .into_identities()
            .map_err(|e| Error::Share(format!("{shown}: {e}")));
    }
    let id = age::ssh::Identity::from_buffer(&bytes[..], Some(shown.clone())).map_err(|_| {
        Error::Share(format!(
            "{shown} is neither an age identity (AGE-SECRET-KEY-1...) nor an SSH private key"
        ))
    })?;
    let id = match id {
        age::ssh::Identity::Encrypted(k) => {
            let pass = passphrase().ok_or_else(|| {
                Error::Share(format!(
                    "{shown} is protected by a passphrase: give it (SSEC_MANAGER_IDENTITY_PASSPHRASE, or the prompt)"
                ))
            })?;
            let unlocked = k.decrypt(SecretString::from(pass)).map_err(|_| {
                Error::Share(format!("the passphrase does not open the SSH key {shown}"))
            })?;
            age::ssh::Identity::Unencrypted(unlocked)
        }
        age::ssh::Identity::Unsupported(_) => {
            return Err(Error::Share(format!(
                "{shown}: age cannot use this kind of SSH key (ecdsa, hardware sk- keys and \
                 encrypted PEM keys are not supported); use an ed25519 or RSA key, or an age \
                 identity"
            )));
        }
        unencrypted => unencrypted,
    };
    Ok(vec![Box::new(id)])
}

/// One key in a share. `key` is the base64 text of `openssl rand -base64 32`.
#[derive(Serialize, Deserialize)]
struct SharedKey {
    label: String,
    fingerprint: String,
    key: String,
}

impl Drop for SharedKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// One object of the manifest: where it is and what the server should answer for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestObject {
    pub key_fingerprint: String,
    /// The connection's endpoint (None: AWS itself, in `region`).
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub object_key: String,
    pub version_id: Option<String>,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub blake3: Option<String>,
    pub sha256: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ShareText {
    format: String,
    version: u32,
    created_at: String,
    keys: Vec<SharedKey>,
    objects: Vec<ManifestObject>,
}

/// What a share wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ShareReport {
    pub file: String,
    /// Each key's label with the number of objects the manifest names for it.
    pub keys: Vec<(String, u64)>,
    pub recipients: Vec<String>,
}

/// What a receive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReceiveReport {
    /// New keys, by the label they got here.
    pub imported: Vec<String>,
    /// Keys this home held already.
    pub present: Vec<String>,
    /// Objects recorded after a HEAD with their key confirmed them.
    pub adopted: Vec<String>,
    /// Objects the registry had already, under the same key.
    pub known: Vec<String>,
    /// Objects not recorded, and why (not there, another key, size differs, no connection).
    pub not_adopted: Vec<(String, String)>,
}

fn encrypt(plain: &[u8], recipients: &[ShareRecipient]) -> Result<Vec<u8>> {
    let encryptor = age::Encryptor::with_recipients(
        recipients
            .iter()
            .map(|r| r.recipient.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| Error::Share(format!("cannot encrypt to these recipients: {e}")))?;
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| Error::Share(format!("encryption failed: {e}")))?;
    w.write_all(plain)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| Error::Share(format!("encryption failed: {e}")))?;
    Ok(out)
}

fn decrypt(cipher: &[u8], identities: &Identities, file: &str) -> Result<Zeroizing<Vec<u8>>> {
    let refused = |e: age::DecryptError| match e {
        age::DecryptError::NoMatchingKeys => Error::Share(format!(
            "{file} was not shared to this identity: none of the recipients it was encrypted \
             to is the public half of the identity given; nothing was imported"
        )),
        other => Error::Share(format!("{file} cannot be opened: {other}")),
    };
    let decryptor = age::Decryptor::new(cipher).map_err(refused)?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(refused)?;
    let mut plain = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plain)
        .map_err(|e| Error::Share(format!("{file} is damaged: {e}")))?;
    Ok(plain)
}

/// Reads the plaintext: the format, and every key against its fingerprint, before
/// anything is imported.
fn parse_share(plain: &[u8], file: &str) -> Result<Opened> {
    let text: ShareText = serde_json::from_slice(plain).map_err(|_| {
        Error::Share(format!(
            "{file} opened, but it is not an ssec-manager key share"
        ))
    })?;
    if text.format != FORMAT || text.version != 1 {
        return Err(Error::Share(format!(
            "{file} is a \"{}\" version {} file; this ssec-manager reads \"{FORMAT}\" version 1",
            text.format, text.version
        )));
    }
    let mut keys = Vec::new();
    for k in &text.keys {
        let key = SseKey::parse(k.key.as_bytes()).map_err(|source| Error::KeyInput {
            what: format!("key \"{}\" in {file}", k.label),
            source,
        })?;
        if key.fingerprint().as_str() != k.fingerprint {
            return Err(Error::Share(format!(
                "{file}: key \"{}\" does not match its fingerprint (the file is damaged)",
                k.label
            )));
        }
        keys.push((k.label.clone(), key));
    }
    Ok((keys, text.objects.clone()))
}

fn same_endpoint(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |e: Option<&str>| e.map(|e| e.trim_end_matches('/').to_ascii_lowercase());
    norm(a) == norm(b)
}

impl Home {
    /// Writes the keys labelled `labels` into a new age file for `recipients`; with
    /// `manifest` (Some(None): everything they encrypt; Some(Some(place)): only under it), the
    /// objects each key encrypts. The registry records who got which key.
    pub fn share_keys(
        &self,
        labels: &[String],
        recipients: &[ShareRecipient],
        manifest: Option<Option<&S3Location>>,
        out: &Path,
    ) -> Result<ShareReport> {
        if labels.is_empty() {
            return Err(Error::Share("name at least one key to share".into()));
        }
        if recipients.is_empty() {
            return Err(Error::Share(
                "give at least one recipient: an age public key (age1...) or an SSH public key"
                    .into(),
            ));
        }
        let connections = self.registry.connections()?;
        let mut keys = Vec::new();
        let mut objects = Vec::new();
        let mut counts = Vec::new();
        for label in labels {
            let record = self.key_record(label)?;
            let key = self.load_key(&record)?;
            let mine: Vec<ManifestObject> = match manifest {
                None => Vec::new(),
                Some(within) => self
                    .registry
                    .dependent_objects(&record.fingerprint)?
                    .into_iter()
                    // The current objects only: an old version is no object to adopt as
                    // current (it stays protected in the sender's registry).
                    .filter(|o| o.state == ObjectState::Stored)
                    .filter(|o| o.key_fingerprint == record.fingerprint)
                    .filter(|o| {
                        within.is_none_or(|w| o.bucket == w.bucket && o.key.starts_with(w.prefix()))
                    })
                    .map(|o| manifest_object(&o, &connections))
                    .collect(),
            };
            counts.push((record.fingerprint.clone(), mine.len() as u64));
            objects.extend(mine);
            keys.push(SharedKey {
                label: record.label.clone(),
                fingerprint: record.fingerprint.to_string(),
                key: key.to_base64().to_string(),
            });
        }
        let text = ShareText {
            format: FORMAT.into(),
            version: 1,
            created_at: super::registry::now(),
            keys,
            objects,
        };
        let plain = Zeroizing::new(
            serde_json::to_vec_pretty(&text)
                .map_err(|e| Error::Internal(format!("share text: {e}")))?,
        );
        let cipher = encrypt(&plain, recipients)?;
        write_new_private_file(out, &cipher)?;
        // What is on disk must be what was encrypted (it cannot be opened here: only the
        // recipients hold the identities).
        let back = std::fs::read(out).map_err(|e| Error::io(out, "cannot read it back", e))?;
        if back != cipher {
            let _ = std::fs::remove_file(out);
            return Err(Error::Share(format!(
                "{}: the file did not read back as written, so it was removed",
                out.display()
            )));
        }
        let shown: Vec<String> = recipients.iter().map(|r| r.shown.clone()).collect();
        let file = out.display().to_string();
        // A share the registry cannot record is not left behind unrecorded.
        if let Err(e) = self.registry.record_shares(&counts, &shown, &file) {
            let _ = std::fs::remove_file(out);
            return Err(e.into());
        }
        Ok(ShareReport {
            file,
            keys: text
                .keys
                .iter()
                .zip(&counts)
                .map(|(k, (_, n))| (k.label.clone(), *n))
                .collect(),
            recipients: shown,
        })
    }

    /// Opens a share with `identities`, imports its keys, then adopts each manifest object
    /// a HEAD with its key confirms (on `connection`, else on the connection whose endpoint
    /// the manifest names). A file the identities do not open changes nothing.
    pub async fn receive_keys(
        &self,
        file: &Path,
        identities: &Identities,
        connection: Option<&str>,
    ) -> Result<ReceiveReport> {
        let shown = file.display().to_string();
        let cipher = std::fs::read(file).map_err(|e| Error::io(file, "cannot read", e))?;
        let plain = decrypt(&cipher, identities, &shown)?;
        let (keys, objects) = parse_share(&plain, &shown)?;
        drop(plain);
        let mut report = ReceiveReport::default();
        let mut by_fp = std::collections::HashMap::new();
        for (label, key) in keys {
            let fp = key.fingerprint();
            match self.registry.key_by_fingerprint(&fp)? {
                Some(r) if r.deleted_at.is_none() => {
                    // Registered here but gone from the keyring: the share brings it back.
                    if self.keyring_state(&fp)? != super::keys::KeyringState::Holds {
                        self.secrets()?
                            .put(&super::keystore::SecretId::SseKey(fp.clone()), key.raw())?;
                        self.tag_key(&r)?;
                        self.registry.log_event(
                            "restored",
                            Some(&fp),
                            None,
                            &format!("share {shown}"),
                        )?;
                    }
                    report.present.push(r.label);
                }
                _ => {
                    let label = self.arriving_label(&label, "received", &fp)?;
                    let origin = format!("share {shown}");
                    let rec = self.import_key(&label, key.to_base64().as_bytes(), &origin)?;
                    self.registry
                        .log_event("received", Some(&fp), None, &origin)?;
                    report.imported.push(rec.label);
                }
            }
            by_fp.insert(fp, key);
        }
        for o in &objects {
            let name = format!("s3://{}/{}", o.bucket, o.object_key);
            match self.adopt_shared(o, &by_fp, connection).await {
                Ok(Adopted::New) => report.adopted.push(name),
                Ok(Adopted::Known) => report.known.push(name),
                Err(why) => report.not_adopted.push((name, why)),
            }
        }
        Ok(report)
    }

    /// One manifest object: recorded only after a HEAD with its key answers as described.
    async fn adopt_shared(
        &self,
        o: &ManifestObject,
        keys: &std::collections::HashMap<KeyFingerprint, SseKey>,
        connection: Option<&str>,
    ) -> std::result::Result<Adopted, String> {
        let fp = KeyFingerprint::from_stored(o.key_fingerprint.clone());
        let key = keys
            .get(&fp)
            .ok_or("its key is not in the file (the manifest names another key)")?;
        let conn = match connection {
            Some(name) => self
                .resolve_connection(Some(name))
                .map_err(|e| e.to_string())?,
            None => self
                .registry
                .connections()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|c| {
                    same_endpoint(c.endpoint.as_deref(), o.endpoint.as_deref())
                        && (o.endpoint.is_some() || c.region == o.region)
                })
                .ok_or_else(|| {
                    format!(
                        "no connection here to {}: add one (`ssec-manager connection add`) and \
                         run `key receive` again, or pass --connection NAME",
                        o.endpoint.as_deref().unwrap_or("AWS S3")
                    )
                })?,
        };
        let client = client_for(&conn, self.secrets().ok())
            .await
            .map_err(|e| e.to_string())?;
        // The current object (no version id): only what the server holds now is adopted, and
        // only as the version the manifest names.
        let head = head_with_key(&client, &o.bucket, &o.object_key, None, key)
            .await
            .map_err(|e| match e.kind {
                S3ErrorKind::NoSuchObject => "not on the server".to_string(),
                _ => e.to_string(),
            })?;
        // (A server that keeps no versions answers without one: nothing to compare.)
        if let (Some(shared), Some(current)) = (o.version_id.as_deref(), head.version_id())
            && shared != current
        {
            return Err(format!(
                "the server's current version is not the one shared ({}); not recorded",
                o.version_id.as_deref().unwrap_or("?")
            ));
        }
        let size = head.content_length().map(|s| s.max(0) as u64);
        if o.size.is_some() && size != o.size {
            return Err(format!(
                "the server holds {} bytes, the manifest says {}; not recorded",
                size.unwrap_or(0),
                o.size.unwrap_or(0)
            ));
        }
        let etag = head.e_tag().map(str::to_string);
        if let Some(current) = self
            .registry
            .current_object(&conn, &o.bucket, &o.object_key)
            .map_err(|e| e.to_string())?
            && current.key_fingerprint == fp
            && current.etag == etag
        {
            return Ok(Adopted::Known);
        }
        let stored = StoredObject {
            size: size.unwrap_or(0),
            blake3: o.blake3.clone(),
            etag,
            version_id: head
                .version_id()
                .map(str::to_string)
                .or(o.version_id.clone()),
        };
        let replacing = self
            .registry
            .current_object(&conn, &o.bucket, &o.object_key)
            .map_err(|e| e.to_string())?;
        let evidence = "a received key share: a HEAD with the shared key opens it";
        let id = self
            .registry
            .adopt_object(
                &conn,
                &o.bucket,
                &o.object_key,
                &fp,
                &stored,
                replacing.as_ref().map(|r| (r, evidence)),
            )
            .map_err(|e| e.to_string())?
            .ok_or(
                "an upload or rotation of it is under way here; run `key receive` again later",
            )?;
        self.registry
            .log_event(
                "adopted",
                Some(&fp),
                Some(id),
                &format!("s3://{}/{} from a key share", o.bucket, o.object_key),
            )
            .map_err(|e| e.to_string())?;
        Ok(Adopted::New)
    }
}

enum Adopted {
    New,
    Known,
}

fn manifest_object(
    o: &ObjectRecord,
    connections: &[super::registry::ConnectionRecord],
) -> ManifestObject {
    let conn = connections.iter().find(|c| c.name == o.connection);
    ManifestObject {
        key_fingerprint: o.key_fingerprint.to_string(),
        endpoint: conn.and_then(|c| c.endpoint.clone()),
        region: conn.map(|c| c.region.clone()).unwrap_or_default(),
        bucket: o.bucket.clone(),
        object_key: o.key.clone(),
        version_id: o.version_id.clone(),
        size: o.size,
        etag: o.etag.clone(),
        blake3: o.blake3.clone(),
        sha256: o.sha256.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@example";
    const ECDSA_PUB: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNT5MSP1ahCTh3+ngp3H4fQlzUqAtWbE0eJ/gAhEhOpXadmkzUs0OpGhqUvrW3FbqbMlHmm79YcFmgrTMlkx0Ac= bob";

    #[test]
    fn recipients_are_read_from_keys_files_and_shown_by_public_identity_only() {
        let age_id = age::x25519::Identity::generate();
        let age_pub = age_id.to_public().to_string();
        let text = format!("# team\n{age_pub}\n\n{ED25519_PUB}\n{ECDSA_PUB}\n");
        let r = parse_recipients(&text, "keys.txt").unwrap();
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.recipients[0].shown, age_pub);
        let ssh = &r.recipients[1].shown;
        assert!(
            ssh.starts_with("ssh-ed25519 SHA256:") && ssh.ends_with("alice@example"),
            "{ssh}"
        );
        assert!(
            !ssh.contains("AAAAC3"),
            "the key itself is not shown: {ssh}"
        );
        assert_eq!(r.skipped.len(), 1);
        assert!(r.skipped[0].contains("line 5") && r.skipped[0].contains("ecdsa"));
        let err = parse_recipients("hello world\n", "pasted")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pasted line 1") && err.contains("not a recipient"),
            "{err}"
        );
    }

    #[test]
    fn a_share_opens_only_with_a_recipients_identity_and_checks_every_key() {
        let alice = age::x25519::Identity::generate();
        let mallory = age::x25519::Identity::generate();
        let to = parse_recipients(&alice.to_public().to_string(), "to").unwrap();
        let key = SseKey::from_raw(&[7u8; 32]);
        let text = ShareText {
            format: FORMAT.into(),
            version: 1,
            created_at: String::new(),
            keys: vec![SharedKey {
                label: "k".into(),
                fingerprint: key.fingerprint().to_string(),
                key: key.to_base64().to_string(),
            }],
            objects: vec![],
        };
        let plain = serde_json::to_vec(&text).unwrap();
        let cipher = encrypt(&plain, &to.recipients).unwrap();
        let ids: Identities = vec![Box::new(alice)];
        let opened = decrypt(&cipher, &ids, "f").unwrap();
        let (keys, _) = parse_share(&opened, "f").unwrap();
        assert_eq!(keys[0].1, key);
        let wrong: Identities = vec![Box::new(mallory)];
        let err = decrypt(&cipher, &wrong, "f").unwrap_err().to_string();
        assert!(err.contains("not shared to this identity"), "{err}");
        // A key that does not match its fingerprint is refused.
        let damaged = String::from_utf8(plain)
            .unwrap()
            .replace(key.fingerprint().as_str(), "AAAAAAAAAAAAAAAAAAAAAA==");
        assert!(parse_share(damaged.as_bytes(), "f").is_err());
    }
}
