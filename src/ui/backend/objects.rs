//! Commands about objects and buckets: browse a folder, check keys, scan and adopt,
//! preflight, delete, abort an interrupted upload, export the audit.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Event, Worker};
use crate::core::registry::{ObjectScope, ScopePages as _};

/// How many objects a rotation or migration preview lists.
const PREVIEW_ROWS: usize = 6;
use crate::core::location::S3Url;
use crate::core::transfer::{TransferCtx, TransferOptions};
use crate::core::{Home, Result};

impl Worker {
    /// Plans a drop (`transfer::plan_drop`) off the async threads and queues its jobs.
    pub(super) async fn upload(
        &self,
        files: Vec<PathBuf>,
        connection: String,
        bucket: String,
        prefix: String,
        key: String,
    ) {
        let Some(jobs) = self.jobs.get().cloned() else {
            return self.send(Event::Error(
                "the registry is not open yet; try again in a moment".into(),
            ));
        };
        // The planner names every object (and refuses clashes and overlong keys) before
        // anything starts; a dropped folder then runs as one job of many files at once, a
        // loose file as a job of its own.
        let planned = tokio::task::spawn_blocking(move || {
            let plan = crate::core::transfer::plan_drop(&files, &bucket, &prefix)?;
            let loose = plan.into_iter().filter(|p| p.group.is_none()).collect();
            jobs.start_uploads(loose, &connection, &key);
            for folder in files.iter().filter(|f| f.is_dir()) {
                let name = folder.file_name().map(|n| n.to_string_lossy().into_owned());
                let request = crate::core::sync::SyncRequest {
                    everything: true,
                    direction: crate::core::sync::Direction::Up,
                    key_label: Some(key.clone()),
                    ..crate::core::sync::SyncRequest::download_folder(
                        &connection,
                        bucket.trim(),
                        &format!(
                            "{}{}/",
                            crate::core::location::folder_prefix(prefix.trim()),
                            name.unwrap_or_default()
                        ),
                        folder,
                    )
                };
                jobs.start(crate::core::jobs::JobSpec::Sync {
                    request: Box::new(request),
                });
            }
            Ok::<_, crate::core::Error>(())
        })
        .await;
        match planned {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => self.send(Event::Error(e.to_string())),
            Err(e) => self.send(Event::Error(format!("internal error: {e}"))),
        }
    }

    /// Lists one level under a prefix (with `all`, every object below it), sending each
    /// page as it arrives so a bucket of many thousand objects shows at once and fills in.
    pub(super) async fn list_objects(
        &self,
        home: &Arc<Home>,
        (connection, bucket): (String, String),
        prefix: String,
        all: bool,
    ) {
        let listing = |entries, partial, registered| Event::Listing {
            connection: connection.clone(),
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            all,
            entries,
            partial,
            registered,
        };
        // With each page, the registry's rows of the objects it added (an index seek each).
        let mut sent = 0;
        let listed = async {
            let conn = home.resolve_connection(Some(&connection))?;
            let level = crate::core::bucket::Level {
                prefix: &prefix,
                all,
            };
            crate::core::bucket::list_level(home, &conn, &bucket, level, |page, more| {
                let keys: Vec<String> = page[sent.min(page.len())..]
                    .iter()
                    .filter_map(|e| e.object_key().map(str::to_string))
                    .collect();
                sent = page.len();
                let registered = match home.registry.current_rows(&connection, &bucket, &keys) {
                    Ok(rows) => rows.into_values().collect(),
                    Err(e) => {
                        self.send(Event::Error(e.to_string()));
                        Vec::new()
                    }
                };
                self.send(listing(Ok(page.to_vec()), more, registered))
            })
            .await
        }
        .await;
        if let Err(e) = listed {
            self.send(listing(Err(e.to_string()), false, Vec::new()));
        }
    }

    /// HEADs each object without a key, then with each of our keys (the registry's expected
    /// key first).
    pub(super) async fn check_objects(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        keys: Vec<String>,
    ) {
        let ctx = TransferCtx::new(TransferOptions::default());
        let checked = async {
            let conn = home.resolve_connection(Some(&connection))?;
            home.check_objects(&ctx, &conn, &bucket, keys).await
        }
        .await;
        let results = match checked {
            Ok(results) => {
                self.send(Event::Info(format!("Checked {} object(s)", results.len())));
                results
            }
            Err(e) => {
                self.send(Event::Error(e.to_string()));
                Default::default()
            }
        };
        // Also after a failure: the window stops waiting.
        self.send(Event::Checked {
            connection,
            bucket,
            results,
        });
    }

    pub(super) async fn scan_adopt(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        prefix: String,
    ) {
        let ctx = TransferCtx::new(TransferOptions::default());
        let scanned = async {
            let conn = home.resolve_connection(Some(&connection))?;
            home.scan(&ctx, &conn, &bucket, &prefix, true).await
        }
        .await;
        match scanned {
            Ok(found) => {
                let adopted = found.iter().filter(|o| o.adopted).count();
                self.send(Event::Info(format!(
                    "Scanned {} object(s) under s3://{bucket}/{prefix}; recorded {adopted} \
                     found under our keys",
                    found.len()
                )));
                self.send(Event::Checked {
                    connection,
                    bucket,
                    results: found.into_iter().map(|o| (o.key, o.kind)).collect(),
                });
            }
            Err(e) => self.send(Event::Error(e.to_string())),
        }
        self.refresh(home).await;
    }

    pub(super) async fn preflight(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        allow_sse_c: bool,
    ) {
        let result = async {
            let conn = home.resolve_connection(Some(&connection))?;
            if allow_sse_c {
                crate::core::preflight::allow_sse_c(home, &conn, &bucket).await?;
            }
            crate::core::preflight::preflight(home, &conn, &bucket).await
        }
        .await;
        self.send(Event::Preflight(
            result.map(Box::new).map_err(|e| e.to_string()),
        ));
    }

    pub(super) async fn delete_object(&self, home: &Arc<Home>, connection: String, url: S3Url) {
        let result: Result<()> = async {
            let conn = home.resolve_connection(Some(&connection))?;
            home.delete_object(&conn, &url).await
        }
        .await;
        self.report(result.map_err(|e| e.to_string()), |()| {
            format!("Deleted {url}")
        });
        self.refresh(home).await;
    }

    pub(super) async fn delete_old_versions(
        &self,
        home: &Arc<Home>,
        scope: crate::core::registry::ObjectScope,
        shown: u64,
    ) {
        let ids = self
            .blocking(home, move |h| Ok(h.registry.scope_all(&scope)?))
            .await
            .map(|rows| rows.iter().map(|o| o.id).collect::<Vec<i64>>());
        let result = match ids {
            Ok(ids) if ids.len() as u64 == shown => home
                .delete_old_versions(&ids)
                .await
                .map_err(|e| e.to_string()),
            Ok(ids) => Err(format!(
                "the registry now holds {} such old version(s), not the {shown} shown; nothing \
                 was deleted: look at the audit again",
                ids.len()
            )),
            Err(e) => Err(e),
        };
        self.report(result, |n| format!("Deleted {n} old version(s)"));
        self.refresh(home).await;
    }

    pub(super) async fn abort_upload(&self, home: &Arc<Home>, object_id: i64) {
        let result = crate::core::transfer::abort_interrupted(home, object_id).await;
        self.report(result.map_err(|e| e.to_string()), |()| {
            format!("Aborted upload #{object_id}")
        });
        self.refresh(home).await;
    }

    /// The registry's current rows of these listed objects (`Registered`).
    pub(super) async fn registered(
        &self,
        home: &Arc<Home>,
        connection: String,
        bucket: String,
        keys: Vec<String>,
    ) {
        let (c, b, k) = (connection.clone(), bucket.clone(), keys.clone());
        let rows = self
            .blocking(home, move |h| Ok(h.registry.current_rows(&c, &b, &k)?))
            .await;
        match rows {
            Ok(rows) => self.send(Event::Registered {
                connection,
                bucket,
                keys,
                rows,
            }),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    /// How many objects a rotation or migration takes, and the first few (`PreviewTargets`).
    pub(super) async fn preview_targets(&self, home: &Arc<Home>, scope: ObjectScope) {
        let asked = scope.clone();
        let answer = self
            .blocking(home, move |h| {
                let count = h.registry.scope_count(&asked)?;
                let first = h.registry.scope_page(&asked, 0, PREVIEW_ROWS)?;
                Ok((count, first))
            })
            .await;
        match answer {
            Ok((count, first)) => self.send(Event::TargetsPreview {
                scope,
                count,
                first: first
                    .iter()
                    .map(|o| (o.url(), o.key_label.clone()))
                    .collect(),
            }),
            Err(e) => self.send(Event::Error(e)),
        }
    }

    /// The next page of an audit finding's objects (`FindingPage`).
    pub(super) async fn finding_page(
        &self,
        home: &Arc<Home>,
        index: usize,
        scope: ObjectScope,
        after: i64,
    ) {
        let asked = scope.clone();
        let rows = self
            .blocking(home, move |h| {
                h.finding_page(&asked, after, super::FINDING_PAGE)
            })
            .await;
        self.send(Event::FindingPage { index, scope, rows });
    }

    pub(super) async fn export_audit(&self, home: &Arc<Home>, path: PathBuf) {
        let shown = path.display().to_string();
        let written = self.blocking(home, move |h| h.export_audit(&path)).await;
        self.report(written, |()| format!("Wrote the audit report to {shown}"));
    }
}
