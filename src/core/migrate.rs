//! Leaving SSE-C: each object is copied onto itself on the server, read with its key
//! (`x-amz-copy-source-server-side-encryption-customer-*`) and written with SSE-S3, SSE-KMS
//! or no server-side encryption. Like a rotation, the migration is recorded before the copy
//! (so a run cut off is settled by the next one), and the registry lets go of the key only
//! after a HEAD *without* the key opens the object and says it is encrypted as asked.
//!
//! A server that ignores the SSE-S3/KMS header (Garage does: it implements SSE-C only)
//! would store the objects unencrypted; a probe object asks first and refuses then. Keys
//! whose every object has left stay in the keyring and the registry, listed as retired.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption};
use serde::Serialize;

use super::key::SseHeaders;
use super::meta::{ObjectMeta, WithMeta as _};
use super::registry::{ObjectRecord, ObjectState, PendingMigration, Rekey, ScopePages as _};
use super::rotate::{MAX_SINGLE_COPY, RotateSelection, TARGETS_PAGE, copy_source};
use super::s3::{
    Op, S3Error, S3ErrorKind, WithCopySourceSse as _, client_for, head_with_key, sdk_error,
};
use super::transfer::TransferCtx;
use super::{Error, Home, Result};

/// What the objects become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The server's own keys (`x-amz-server-side-encryption: AES256`).
    SseS3,
    /// A KMS key (`aws:kms`), the bucket's default one when None.
    SseKms(Option<String>),
    /// No server-side encryption at all.
    None,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sse-s3" => Ok(Target::SseS3),
            "sse-kms" => Ok(Target::SseKms(None)),
            "none" => Ok(Target::None),
            other => match other.strip_prefix("sse-kms:") {
                Some(id) if !id.is_empty() => Ok(Target::SseKms(Some(id.to_string()))),
                _ => Err(format!(
                    "\"{other}\" is not a target: use sse-s3, sse-kms, sse-kms:KEY-ID or none"
                )),
            },
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::SseS3 => f.write_str("sse-s3"),
            Target::SseKms(None) => f.write_str("sse-kms"),
            Target::SseKms(Some(id)) => write!(f, "sse-kms:{id}"),
            Target::None => f.write_str("none"),
        }
    }
}

impl Target {
    fn header(&self) -> Option<ServerSideEncryption> {
        match self {
            Target::SseS3 => Some(ServerSideEncryption::Aes256),
            Target::SseKms(_) => Some(ServerSideEncryption::AwsKms),
            Target::None => None,
        }
    }

    /// Whether a HEAD without a key shows the object as this target wants it (for a named
    /// KMS key, that key: its id or an ARN ending in it).
    fn shown_by(&self, said: Option<&ServerSideEncryption>, kms_key: Option<&str>) -> bool {
        match (self.header(), self) {
            (Some(want), Target::SseKms(Some(id))) => {
                said == Some(&want)
                    && kms_key.is_some_and(|k| k == id || k.ends_with(&format!("/{id}")))
            }
            (Some(want), _) => said == Some(&want),
            (None, _) => true,
        }
    }
}

/// One object's migration, planned or done.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub object: String,
    pub key: String,
    pub size: Option<u64>,
}

/// What a migration did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrateReport {
    pub target: String,
    pub migrated: Vec<Migration>,
    /// Each object not migrated, and why.
    pub failed: Vec<(String, String)>,
    /// Migrations cut off earlier, settled before this one started.
    pub settled: Vec<String>,
    /// Versions a versioned bucket keeps under the old key (still protecting it).
    pub old_versions_kept: usize,
    /// Keys that now protect nothing: every object they encrypted has left SSE-C.
    pub retired_keys: Vec<String>,
}

impl MigrateReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "migrated {} object(s) off SSE-C to {}",
            self.migrated.len(),
            self.target
        );
        if !self.settled.is_empty() {
            s.push_str(&format!(
                ", {} interrupted migration(s) settled first",
                self.settled.len()
            ));
        }
        if self.old_versions_kept > 0 {
            s.push_str(&format!(
                "; the bucket keeps {} previous version(s) under the old key, which still \
                 protect it",
                self.old_versions_kept
            ));
        }
        if !self.retired_keys.is_empty() {
            s.push_str(&format!(
                "; retired (nothing depends on them now, kept all the same): {}",
                self.retired_keys.join(", ")
            ));
        }
        s
    }

    pub fn into_result(self) -> Result<String> {
        let summary = self.summary();
        match self.failed.first() {
            None => Ok(summary),
            Some((object, error)) => Err(Error::Partial(format!(
                "{summary}; {} failed, first: {object}: {error}",
                self.failed.len()
            ))),
        }
    }
}

/// What a migration carries from one target to the next.
struct Run<'a> {
    probed: &'a mut Probed,
    report: &'a mut MigrateReport,
    on_object: &'a mut (dyn FnMut(&Migration) + Send),
}

/// How a pending migration stands on the server.
enum Standing {
    /// Off SSE-C as asked (at this version).
    Done(Option<String>),
    /// Still under its key.
    NotDone,
}

impl Home {
    /// The registered objects a migration of `selection` takes: stored, under SSE-C (every
    /// page of `selection.scope(None)`, for a dry run's list).
    pub fn migration_targets(&self, selection: &RotateSelection) -> Result<Vec<ObjectRecord>> {
        Ok(self.registry.scope_all(&selection.scope(None))?)
    }

    /// Migrates what `selection` takes off SSE-C to `target`: migrations cut off earlier are
    /// settled first; the server is asked (a probe object) whether it really does the
    /// target's encryption; then each object is copied, confirmed by a HEAD without its
    /// key, and only then recorded as migrated. A cancel takes effect between objects.
    pub async fn migrate(
        &self,
        ctx: &TransferCtx,
        selection: &RotateSelection,
        target: &Target,
        on_object: &mut (dyn FnMut(&Migration) + Send),
    ) -> Result<MigrateReport> {
        let mut report = MigrateReport {
            target: target.to_string(),
            ..MigrateReport::default()
        };
        let (settled, unsettled) = self.settle_migrations().await?;
        report.settled = settled;
        report.failed.extend(unsettled);
        // Read a page at a time; each row is read again at its turn.
        let scope = selection.scope(None);
        ctx.progress.set_total(self.registry.scope_count(&scope)?);
        // Per connection and bucket: whether the server does the target (asked once).
        let mut probed: Probed = std::collections::HashMap::new();
        let mut froms = std::collections::BTreeSet::new();
        let mut after = 0;
        loop {
            let page = self.registry.scope_page(&scope, after, TARGETS_PAGE)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            for t in &page {
                if ctx.cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                froms.insert(t.key_fingerprint.clone());
                let mut run = Run {
                    probed: &mut probed,
                    report: &mut report,
                    on_object: &mut *on_object,
                };
                self.migrate_target(t.id, target, &mut run).await?;
                ctx.progress.add(1);
            }
        }
        report.retired_keys = self
            .registry
            .keys()?
            .into_iter()
            .filter(|k| froms.contains(&k.key.fingerprint) && k.retired())
            .map(|k| k.key.label)
            .collect();
        Ok(report)
    }

    /// One target of a migration, read again first (skipped unless still stored): probed
    /// per bucket, migrated, its outcome in the report. Errs only on cancel or the registry.
    async fn migrate_target(&self, id: i64, target: &Target, run: &mut Run<'_>) -> Result<()> {
        let Some(o) = self
            .registry
            .object_by_id(id)?
            .filter(|o| o.state == ObjectState::Stored)
        else {
            return Ok(());
        };
        let name = format!("{}:{}", o.connection, o.url());
        let client = match self.client_of(&o).await {
            Ok(c) => c,
            Err(e) => {
                run.report.failed.push((name, e.to_string()));
                return Ok(());
            }
        };
        let place = (o.connection.clone(), o.bucket.clone());
        if !run.probed.contains_key(&place) {
            let folder = o.key.rsplit_once('/').map(|p| p.0);
            let answer = probe_target(&client, &o.bucket, folder, target).await;
            run.probed
                .insert(place.clone(), answer.map_err(|e| e.to_string()));
        }
        if let Some(Err(why)) = run.probed.get(&place) {
            run.report.failed.push((name, why.clone()));
            return Ok(());
        }
        match self.migrate_object(&client, &o, target).await {
            Ok(kept) => {
                run.report.old_versions_kept += usize::from(kept);
                let m = Migration {
                    object: name,
                    key: o
                        .key_label
                        .clone()
                        .unwrap_or_else(|| o.key_fingerprint.to_string()),
                    size: o.size,
                };
                (run.on_object)(&m);
                run.report.migrated.push(m);
            }
            Err(Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => run.report.failed.push((name, e.to_string())),
        }
        Ok(())
    }

    /// One object: recorded, copied, confirmed, recorded as migrated. Whether the bucket
    /// kept the previous version (under the old key).
    async fn migrate_object(
        &self,
        client: &Client,
        o: &ObjectRecord,
        target: &Target,
    ) -> Result<bool> {
        let rec = self
            .registry
            .key_by_fingerprint(&o.key_fingerprint)?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{} is under a key that is not registered here; import it first",
                    o.url()
                ))
            })?;
        let key = self.load_key(&rec)?;
        let pending = PendingMigration {
            object_id: o.id,
            from: o.key_fingerprint.clone(),
            target: target.to_string(),
        };
        if o.size.unwrap_or(0) > MAX_SINGLE_COPY {
            return Err(Error::Refused(format!(
                "{} is over 5 GiB, S3's limit for one copy; migrating it in parts is not done \
                 yet (download it and upload it without SSE-C)",
                o.url()
            )));
        }
        self.registry.begin_migration(&pending)?;
        let traits = self.registry.bucket_traits(&o.connection, &o.bucket)?;
        let copied = copy_off_sse_c(client, o, &key.headers(), target, traits.rekey).await;
        let standing = match copied {
            Ok(()) => self.standing(client, o, target, &key).await,
            // What the server holds decides, not the error. A copy refused (its outcome
            // known) that left the object under its key is no longer pending; one whose
            // answer was lost may still land, so it stays pending, protecting the key, until
            // the next run or `reconcile` asks again.
            Err(e) => match self.standing(client, o, target, &key).await {
                Ok(Standing::Done(v)) => Ok(Standing::Done(v)),
                Ok(Standing::NotDone) if e.outcome_known => {
                    self.registry
                        .drop_migration(o.id, &format!("{}: the copy failed: {e}", o.url()))?;
                    return Err(e.into());
                }
                _ => return Err(e.into()),
            },
        };
        match standing? {
            Standing::Done(version) => self.record_migration(client, o, &pending, version).await,
            Standing::NotDone => {
                self.registry.drop_migration(
                    o.id,
                    &format!("{}: the server still holds it under its key", o.url()),
                )?;
                Err(Error::Server(format!(
                    "{}: the copy was answered, yet a HEAD without the key does not show the \
                     object as {target}; it stays under its key",
                    o.url()
                )))
            }
        }
    }

    /// Asks the server where an object stands: a HEAD without the key that opens it and
    /// shows the target's encryption means done; a HEAD with the key that opens it means not
    /// done. Anything else is an error (the migration stays pending, protecting the key).
    async fn standing(
        &self,
        client: &Client,
        o: &ObjectRecord,
        target: &Target,
        key: &super::key::SseKey,
    ) -> Result<Standing> {
        let url = o.url();
        match client
            .head_object()
            .bucket(&o.bucket)
            .key(&o.key)
            .send()
            .await
        {
            Ok(head) if head.sse_customer_algorithm().is_none() => {
                if target.shown_by(head.server_side_encryption(), head.ssekms_key_id())
                    && readable_without_key(client, o).await?
                {
                    return Ok(Standing::Done(head.version_id().map(str::to_string)));
                }
                return Err(Error::Server(format!(
                    "{url} is no longer under SSE-C, but the server does not show it as {target} \
                     (it says {:?})",
                    head.server_side_encryption().map(|s| s.as_str())
                )));
            }
            Ok(_) => {}
            Err(e) => {
                let e = sdk_error(e, Op::Read, &url, false);
                if !matches!(e.kind, S3ErrorKind::KeyRequired | S3ErrorKind::Service) {
                    return Err(e.into());
                }
            }
        }
        let keyed = head_with_key(client, &o.bucket, &o.key, None, key).await?;
        if keyed.sse_customer_algorithm().is_none() {
            return Err(Error::Server(format!(
                "{url}: a HEAD with the key was answered without SSE-C headers, and one without \
                 it was refused: where the object stands is not known; it stays protected"
            )));
        }
        Ok(Standing::NotDone)
    }

    /// The object is off SSE-C (at `version`): the row becomes migrated; in a bucket that
    /// keeps (or may keep) versions, the previous one stays recorded under the old key.
    async fn record_migration(
        &self,
        client: &Client,
        o: &ObjectRecord,
        pending: &PendingMigration,
        version: Option<String>,
    ) -> Result<bool> {
        let keeps_old =
            version != o.version_id && super::bucket::keeps_versions(client, &o.bucket).await;
        let detail = format!(
            "{}: off SSE-C to {} (confirmed by a HEAD without the key{})",
            o.url(),
            pending.target,
            if keeps_old {
                "; the previous version stays under the old key"
            } else {
                ""
            }
        );
        self.registry
            .finish_migration(pending, version.as_deref(), &detail, keeps_old)?;
        Ok(keeps_old)
    }

    /// Settles migrations cut off earlier (their process is gone), each taken over first so
    /// two processes never settle one twice: done ones are recorded, the others dropped (the
    /// object is still under its key; the run takes it again). One that cannot be settled
    /// stays pending, protecting its key, and is named in the second list.
    pub async fn settle_migrations(&self) -> Result<(Vec<String>, Vec<(String, String)>)> {
        let (mut settled, mut unsettled) = (Vec::new(), Vec::new());
        for p in self.registry.abandoned_migrations()? {
            if !self.registry.claim_migration(p.object_id)? {
                continue;
            }
            match self.settle_migration(&p).await {
                Ok(Some(s)) => settled.push(s),
                Ok(None) => {}
                Err(e) => unsettled.push((format!("object #{}", p.object_id), e.to_string())),
            }
        }
        Ok((settled, unsettled))
    }

    /// One pending migration this process holds: what the server says decides.
    async fn settle_migration(&self, p: &PendingMigration) -> Result<Option<String>> {
        let Some(o) = self.registry.object_by_id(p.object_id)? else {
            self.registry
                .drop_migration(p.object_id, "its object is no longer in the registry")?;
            return Ok(None);
        };
        if o.state != ObjectState::Stored {
            self.registry.drop_migration(
                o.id,
                &format!("{}: the row is {} now", o.url(), o.state.as_str()),
            )?;
            return Ok(None);
        }
        let target: Target = p.target.parse().map_err(Error::Internal)?;
        let key = self.load_key(&self.key_record_by_fp(&o)?)?;
        let client = self.client_of(&o).await?;
        let name = format!("{}:{}", o.connection, o.url());
        match self.standing(&client, &o, &target, &key).await? {
            Standing::Done(version) => {
                self.record_migration(&client, &o, p, version).await?;
                Ok(Some(format!("{name} (done)")))
            }
            Standing::NotDone => {
                self.registry.drop_migration(
                    o.id,
                    &format!("{}: still under its key; not migrated", o.url()),
                )?;
                Ok(Some(format!("{name} (not done)")))
            }
        }
    }

    async fn client_of(&self, o: &ObjectRecord) -> Result<Client> {
        let conn = self
            .registry
            .connection_of_object(o.id)?
            .ok_or_else(|| Error::NotFound(format!("object {} has no connection", o.id)))?;
        Ok(client_for(&conn, self.secrets().ok()).await?)
    }

    fn key_record_by_fp(&self, o: &ObjectRecord) -> Result<super::registry::KeyRecord> {
        self.registry
            .key_by_fingerprint(&o.key_fingerprint)?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{}: its key {} is not registered here",
                    o.url(),
                    o.key_fingerprint
                ))
            })
    }
}

/// Asks the bucket's server whether it really does the target's encryption: a small probe
/// object written with the header, read back by HEAD, deleted. Garage, for one, takes the
/// SSE-S3 header and stores the object unencrypted.
async fn probe_target(
    client: &Client,
    bucket: &str,
    folder: Option<&str>,
    target: &Target,
) -> Result<()> {
    let Some(header) = target.header() else {
        return Ok(());
    };
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).map_err(|e| Error::Internal(e.to_string()))?;
    let key = match folder {
        Some(f) => format!("{f}/.ssec-manager-probe-{}", hex::encode(raw)),
        None => format!(".ssec-manager-probe-{}", hex::encode(raw)),
    };
    let url = format!("s3://{bucket}/{key}");
    let put = client
        .put_object()
        .bucket(bucket)
        .key(&key)
        .server_side_encryption(header.clone())
        .set_ssekms_key_id(kms_id(target))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"probe"))
        .send()
        .await
        .map_err(|e| sdk_error(e, Op::Write, &url, false));
    if let Err(e) = put {
        return Err(Error::Refused(format!(
            "s3://{bucket}: the server refuses {target} ({e}); nothing was migrated there"
        )));
    }
    let head = client.head_object().bucket(bucket).key(&key).send().await;
    let _ = client.delete_object().bucket(bucket).key(&key).send().await;
    let head = head.map_err(|e| sdk_error(e, Op::Read, &url, false))?;
    if !target.shown_by(head.server_side_encryption(), head.ssekms_key_id()) {
        return Err(Error::Refused(format!(
            "s3://{bucket}: the server accepts the {target} header but does not report objects \
             encrypted with it (Garage, for one, implements SSE-C only), so the objects would be \
             stored unencrypted; nothing was migrated there. Use --to none to store them unencrypted \
             on purpose, or a server that does {target}"
        )));
    }
    Ok(())
}

/// Per connection and bucket: whether its server does the target (the probe's answer).
type Probed = std::collections::HashMap<(String, String), std::result::Result<(), String>>;

/// A keyless read of the object's first byte: proof that it no longer needs its key (a
/// HEAD alone could be a server that answers HEADs loosely).
async fn readable_without_key(client: &Client, o: &ObjectRecord) -> Result<bool> {
    if o.size == Some(0) {
        return Ok(true);
    }
    let url = o.url();
    match client
        .get_object()
        .bucket(&o.bucket)
        .key(&o.key)
        .range("bytes=0-0")
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = sdk_error(e, Op::Read, &url, false);
            if matches!(e.kind, S3ErrorKind::KeyRequired | S3ErrorKind::Service) {
                Ok(false)
            } else {
                Err(e.into())
            }
        }
    }
}

fn kms_id(target: &Target) -> Option<String> {
    match target {
        Target::SseKms(id) => id.clone(),
        _ => None,
    }
}

/// One CopyObject onto itself: read with the old key, written with the target's
/// encryption; `MetadataDirective=COPY` unless the bucket is known to want REPLACE (or
/// refuses the copy onto itself), then REPLACE with what a HEAD read.
async fn copy_off_sse_c(
    client: &Client,
    o: &ObjectRecord,
    old: &SseHeaders,
    target: &Target,
    rekey: Option<Rekey>,
) -> std::result::Result<(), S3Error> {
    let url = o.url();
    let copy = |directive: MetadataDirective, meta: Option<ObjectMeta>| {
        let c = client
            .copy_object()
            .bucket(&o.bucket)
            .key(&o.key)
            .copy_source(copy_source(&o.bucket, &o.key))
            .copy_source_sse(old)
            .set_server_side_encryption(target.header())
            .set_ssekms_key_id(kms_id(target))
            .metadata_directive(directive);
        match meta {
            Some(m) => c.meta(&m),
            None => c,
        }
    };
    let replace = || async {
        let head = client
            .head_object()
            .bucket(&o.bucket)
            .key(&o.key)
            .sse_customer_algorithm(old.algorithm)
            .sse_customer_key(old.key_base64.as_str())
            .sse_customer_key_md5(&old.key_md5)
            .send()
            .await
            .map_err(|e| sdk_error(e, Op::Read, &url, true))?;
        copy(
            MetadataDirective::Replace,
            Some(ObjectMeta::from_head(&head)),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk_error(e, Op::Write, &url, true))
    };
    if rekey == Some(Rekey::Replace) {
        return replace().await;
    }
    match copy(MetadataDirective::Copy, None).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = sdk_error(e, Op::Write, &url, true);
            if super::quirks::refuses_self_copy(&e) {
                replace().await
            } else {
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for t in ["sse-s3", "sse-kms", "sse-kms:alias/data", "none"] {
            assert_eq!(t.parse::<Target>().unwrap().to_string(), t);
        }
        assert!("sse-c".parse::<Target>().is_err());
        assert!("sse-kms:".parse::<Target>().is_err());
        let aes = Some(&ServerSideEncryption::Aes256);
        let kms = Some(&ServerSideEncryption::AwsKms);
        assert!(Target::SseS3.shown_by(aes, None));
        assert!(!Target::SseS3.shown_by(None, None));
        assert!(Target::None.shown_by(None, None));
        let named: Target = "sse-kms:k1".parse().unwrap();
        assert!(named.shown_by(kms, Some("arn:aws:kms:eu-west-1:1:key/k1")));
        assert!(!named.shown_by(kms, Some("arn:aws:kms:eu-west-1:1:key/k2")));
        assert!(!named.shown_by(kms, None));
        assert!(Target::SseKms(None).shown_by(kms, None));
    }
}
