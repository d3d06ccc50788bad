//! What the audit asks of the registry, without loading the table: sums grouped by key and
//! verify answer in one pass, and the objects behind each finding a page at a time (keyset
//! paging by id). `AuditSums::from_rows` and `ObjectScope::matches` say the same in Rust
//! over rows in memory: the pure tests' source and the property test's reference.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use super::*;

/// Stored objects of one key with one verify answer (None: never verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub fingerprint: String,
    pub verify: Option<VerifyStatus>,
    pub count: u64,
    /// Last confirmed (or, never confirmed, created) before the audit's cutoff.
    pub stale: u64,
    /// Never confirmed by the server.
    pub never_verified: u64,
    /// The oldest confirmation among the others.
    pub oldest_verified: Option<String>,
}

/// What one key's rows add up to, for `key list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeySums {
    /// Rows whose object may be on the server under it (`MAY_BE_ON_SERVER`).
    pub live: u64,
    pub stored_bytes: u64,
    /// Rows moved off SSE-C.
    pub migrated: u64,
}

/// The numbers the audit and `key list` are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSums {
    /// Stored rows by (key, verify answer), ordered by key then answer.
    pub stored: Vec<StoredGroup>,
    /// Per key fingerprint.
    pub per_key: BTreeMap<String, KeySums>,
    /// Rows and bytes per state.
    pub by_state: BTreeMap<String, (u64, u64)>,
    /// Old versions kept by versioned buckets, per key.
    pub old_versions: BTreeMap<String, u64>,
    /// Uploads whose outcome is not known (pending or in doubt).
    pub unsettled: u64,
}

/// Which registered objects a finding is about: the query that lists them, page by page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectScope {
    /// Every stored object of a key.
    Stored { fingerprint: String },
    /// Stored objects of a key about which the last verify heard this answer.
    Answer {
        fingerprint: String,
        status: VerifyStatus,
    },
    /// Stored objects without a problem answer, last confirmed (or created) before `cutoff`.
    Stale { cutoff: String },
    /// Old versions kept under a key.
    OldVersions { fingerprint: String },
    /// Uploads whose outcome is not known.
    Unsettled,
    /// Stored objects a rotation or migration of `pick` takes, except those already under
    /// `not_under` (a rotation's target key).
    Targets {
        pick: Pick,
        not_under: Option<String>,
    },
}

/// Which registered objects a rotation or migration names (their state aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// By registry id.
    Ids(Vec<i64>),
    /// One object by its location on a connection.
    Object {
        connection: String,
        bucket: String,
        key: String,
    },
    /// Every object of a key, or only those under a bucket's prefix.
    Key {
        fingerprint: String,
        within: Option<(String, String)>,
    },
    /// Every object under a prefix of a bucket on a connection.
    Folder {
        connection: String,
        bucket: String,
        prefix: String,
    },
}

impl Pick {
    /// Whether a row is one this pick names.
    pub fn names(&self, o: &ObjectRecord) -> bool {
        match self {
            Pick::Ids(ids) => ids.contains(&o.id),
            Pick::Object {
                connection,
                bucket,
                key,
            } => o.connection == *connection && o.bucket == *bucket && o.key == *key,
            Pick::Key {
                fingerprint,
                within,
            } => {
                o.key_fingerprint.as_str() == fingerprint
                    && within
                        .as_ref()
                        .is_none_or(|(b, p)| o.bucket == *b && o.key.starts_with(p.as_str()))
            }
            Pick::Folder {
                connection,
                bucket,
                prefix,
            } => o.connection == *connection && o.bucket == *bucket && o.key.starts_with(prefix),
        }
    }

    /// The SQL condition, its arguments pushed onto `args` (numbered after what is there).
    fn condition(&self, args: &mut Vec<Value>) -> String {
        let mut arg = |v: Value| {
            args.push(v);
            format!("?{}", args.len() + 2)
        };
        match self {
            Pick::Ids(ids) => {
                let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
                format!(
                    "o.id IN (SELECT value FROM json_each({}))",
                    arg(list.into())
                )
            }
            Pick::Object {
                connection,
                bucket,
                key,
            } => format!(
                "c.name = {} AND o.bucket = {} AND o.object_key = {}",
                arg(connection.clone().into()),
                arg(bucket.clone().into()),
                arg(key.clone().into())
            ),
            Pick::Key {
                fingerprint,
                within,
            } => {
                let key = format!("o.key_fingerprint = {}", arg(fingerprint.clone().into()));
                match within {
                    None => key,
                    Some((bucket, prefix)) => format!(
                        "{key} AND o.bucket = {} AND {}",
                        arg(bucket.clone().into()),
                        prefix_range(prefix, arg)
                    ),
                }
            }
            Pick::Folder {
                connection,
                bucket,
                prefix,
            } => format!(
                "c.name = {} AND o.bucket = {} AND {}",
                arg(connection.clone().into()),
                arg(bucket.clone().into()),
                prefix_range(prefix, arg)
            ),
        }
    }
}

/// "object key starts with `prefix`" as a range an index can seek: from the prefix to the
/// first text after every text it starts (its last character that can be, counted up by one).
fn prefix_range(prefix: &str, mut arg: impl FnMut(Value) -> String) -> String {
    let from = format!("o.object_key >= {}", arg(prefix.to_string().into()));
    match after_prefix(prefix) {
        Some(to) => format!("{from} AND o.object_key < {}", arg(to.into())),
        None => from,
    }
}

/// The least text greater than every text that starts with `prefix` (None: none is, as for
/// "" or a prefix of only U+10FFFF). Code point order is UTF-8's byte order, SQLite's.
pub(super) fn after_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=0x10FFFF).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

const PROBLEMS: &str = "('missing', 'wrong_key', 'changed')";

impl ObjectScope {
    /// The SQL condition (on `o`, and `c` its connection) and its arguments, numbered from
    /// ?3 (?1 and ?2 are the page's).
    fn condition(&self) -> (String, Vec<Value>) {
        let mut args = Vec::new();
        let text = |s: &str| Value::Text(s.to_string());
        let condition = match self {
            ObjectScope::Stored { fingerprint } => {
                args.push(text(fingerprint));
                "o.key_fingerprint = ?3 AND o.state = 'stored'".into()
            }
            ObjectScope::Answer {
                fingerprint,
                status,
            } => {
                args.extend([text(fingerprint), text(status.as_str())]);
                "o.key_fingerprint = ?3 AND o.state = 'stored' AND o.verify_status = ?4".into()
            }
            ObjectScope::Stale { cutoff } => {
                args.push(text(cutoff));
                format!(
                    "o.state = 'stored' AND (o.verify_status IS NULL OR o.verify_status NOT IN \
                     {PROBLEMS}) AND COALESCE(o.last_verified_at, o.created_at) < ?3"
                )
            }
            ObjectScope::OldVersions { fingerprint } => {
                args.push(text(fingerprint));
                "o.key_fingerprint = ?3 AND o.state = 'old_version'".into()
            }
            ObjectScope::Unsettled => "o.state IN ('pending', 'in_doubt')".into(),
            ObjectScope::Targets { pick, not_under } => {
                let mut condition = format!("o.state = 'stored' AND {}", pick.condition(&mut args));
                if let Some(fp) = not_under {
                    args.push(text(fp));
                    condition += &format!(" AND o.key_fingerprint <> ?{}", args.len() + 2);
                }
                condition
            }
        };
        (condition, args)
    }

    /// How a finding about this scope names one of its objects: "connection:s3://bucket/key",
    /// old versions with their version.
    pub fn line(&self, o: &ObjectRecord) -> String {
        self.line_of(&o.connection, &o.bucket, &o.key, o.version_id.as_deref())
    }

    fn line_of(&self, connection: &str, bucket: &str, key: &str, version: Option<&str>) -> String {
        match self {
            ObjectScope::OldVersions { .. } => format!(
                "{connection}:s3://{bucket}/{key} (version {})",
                version.unwrap_or("?")
            ),
            _ => format!("{connection}:s3://{bucket}/{key}"),
        }
    }

    /// The same condition over a row in memory.
    pub fn matches(&self, o: &ObjectRecord) -> bool {
        let key = |fp: &str| o.key_fingerprint.as_str() == fp;
        match self {
            ObjectScope::Stored { fingerprint } => {
                o.state == ObjectState::Stored && key(fingerprint)
            }
            ObjectScope::Answer {
                fingerprint,
                status,
            } => {
                o.state == ObjectState::Stored
                    && key(fingerprint)
                    && o.verify_status == Some(*status)
            }
            ObjectScope::Stale { cutoff } => {
                o.state == ObjectState::Stored
                    && !o.verify_status.is_some_and(VerifyStatus::is_problem)
                    && o.last_verified_at.as_deref().unwrap_or(&o.created_at) < cutoff.as_str()
            }
            ObjectScope::OldVersions { fingerprint } => {
                o.state == ObjectState::OldVersion && key(fingerprint)
            }
            ObjectScope::Unsettled => {
                matches!(o.state, ObjectState::Pending | ObjectState::InDoubt)
            }
            ObjectScope::Targets { pick, not_under } => {
                o.state == ObjectState::Stored
                    && not_under.as_deref() != Some(o.key_fingerprint.as_str())
                    && pick.names(o)
            }
        }
    }
}

/// Where a finding's objects are read from, a page at a time: the registry, or rows in
/// memory (unit tests of the report's text).
pub trait ScopePages {
    /// Up to `limit` objects of `scope` with an id above `after`, in id order.
    fn scope_page(
        &self,
        scope: &ObjectScope,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>>;

    /// The same page as (id, `ObjectScope::line`): what reports write.
    fn scope_lines(
        &self,
        scope: &ObjectScope,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        Ok(self
            .scope_page(scope, after, limit)?
            .iter()
            .map(|o| (o.id, scope.line(o)))
            .collect())
    }
}

impl Registry {
    /// One page of `scope`: `columns` (with their FROM) of the rows after id `after`, each
    /// read by `read`, in id order.
    fn scope_query<T>(
        &self,
        scope: &ObjectScope,
        columns: &str,
        (after, limit): (i64, usize),
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let (condition, args) = scope.condition();
        let db = self.db();
        let mut stmt = db
            .prepare_cached(&format!(
                "SELECT {columns} WHERE o.id > ?1 AND {condition} ORDER BY o.id LIMIT ?2"
            ))
            .map_err(|e| self.err(e))?;
        let page = [Value::Integer(after), Value::Integer(limit as i64)];
        let rows = stmt
            .query_map(params_from_iter(page.into_iter().chain(args)), read)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Every row of `scope`, read a page at a time (for lists a user asked to see whole).
    pub fn scope_all(&self, scope: &ObjectScope) -> Result<Vec<ObjectRecord>> {
        const PAGE: usize = 1000;
        let mut all: Vec<ObjectRecord> = Vec::new();
        loop {
            let after = all.last().map_or(0, |o| o.id);
            let page = self.scope_page(scope, after, PAGE)?;
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// How many rows `scope` names.
    pub fn scope_count(&self, scope: &ObjectScope) -> Result<u64> {
        let (condition, args) = scope.condition();
        // ?1 and ?2 are the page's elsewhere: here they are always true.
        let page = [Value::Integer(0), Value::Integer(0)];
        self.db()
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM objects o JOIN connections c ON c.id = o.connection_id \
                 WHERE ?1 = ?2 AND {condition}"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params_from_iter(page.into_iter().chain(args)), |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}

impl ScopePages for Registry {
    fn scope_page(
        &self,
        scope: &ObjectScope,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let columns = format!("{OBJECT_COLUMNS} {OBJECT_FROM}");
        self.scope_query(scope, &columns, (after, limit), object_from_row)
    }

    /// Reads only the columns a line names (a report of a million lines reads them fast).
    fn scope_lines(
        &self,
        scope: &ObjectScope,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String)>> {
        let columns = "o.id, c.name, o.bucket, o.object_key, o.version_id \
            FROM objects o JOIN connections c ON c.id = o.connection_id";
        self.scope_query(scope, columns, (after, limit), |r| {
            let (conn, bucket, key): (String, String, String) = (r.get(1)?, r.get(2)?, r.get(3)?);
            let version: Option<String> = r.get(4)?;
            Ok((
                r.get(0)?,
                scope.line_of(&conn, &bucket, &key, version.as_deref()),
            ))
        })
    }
}

/// Rows in memory as a `ScopePages`.
pub struct Rows<'a>(pub &'a [ObjectRecord]);

impl ScopePages for Rows<'_> {
    fn scope_page(
        &self,
        scope: &ObjectScope,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let mut rows: Vec<&ObjectRecord> = self
            .0
            .iter()
            .filter(|o| o.id > after && scope.matches(o))
            .collect();
        rows.sort_by_key(|o| o.id);
        Ok(rows.into_iter().take(limit).cloned().collect())
    }
}

impl AuditSums {
    /// The sums over rows in memory (`cutoff`: see `ObjectScope::Stale`; None: nothing is
    /// stale).
    pub fn from_rows(objects: &[ObjectRecord], cutoff: Option<&str>) -> Self {
        let mut acc = Accumulator::default();
        for o in objects {
            let confirmed = o.last_verified_at.as_deref().unwrap_or(&o.created_at);
            acc.add(Group {
                fingerprint: o.key_fingerprint.as_str(),
                state: o.state,
                verify: o.verify_status,
                count: 1,
                bytes: o.size.unwrap_or(0),
                stale: u64::from(cutoff.is_some_and(|c| confirmed < c)),
                never_verified: u64::from(o.last_verified_at.is_none()),
                oldest_verified: o.last_verified_at.clone(),
            });
        }
        acc.finish()
    }

    /// Stored objects of a key.
    pub fn stored_of(&self, fingerprint: &str) -> u64 {
        self.groups_of(fingerprint).map(|g| g.count).sum()
    }

    /// Stored objects of a key the last verify found gone, opened by no key or changed.
    pub fn problems_of(&self, fingerprint: &str) -> u64 {
        self.groups_of(fingerprint)
            .filter(|g| g.verify.is_some_and(VerifyStatus::is_problem))
            .map(|g| g.count)
            .sum()
    }

    pub fn groups_of<'a>(&'a self, fingerprint: &'a str) -> impl Iterator<Item = &'a StoredGroup> {
        self.stored
            .iter()
            .filter(move |g| g.fingerprint == fingerprint)
    }

    /// The keys stored objects are under, each once, in order.
    pub fn stored_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.stored.iter().map(|g| g.fingerprint.as_str()).collect();
        keys.dedup();
        keys
    }
}

/// Rows of one key, state and verify answer, summed.
struct Group<'a> {
    fingerprint: &'a str,
    state: ObjectState,
    verify: Option<VerifyStatus>,
    count: u64,
    bytes: u64,
    stale: u64,
    never_verified: u64,
    oldest_verified: Option<String>,
}

/// Folds groups (rows, or SQL's per-group sums) into `AuditSums`: the one place the sums
/// are defined, whichever way the groups were read.
#[derive(Default)]
struct Accumulator {
    sums: AuditSums,
    stored: BTreeMap<(String, Option<&'static str>), StoredGroup>,
}

impl Accumulator {
    fn add(&mut self, g: Group) {
        let sums = &mut self.sums;
        let s = sums
            .by_state
            .entry(g.state.as_str().to_string())
            .or_default();
        s.0 += g.count;
        s.1 += g.bytes;
        let key = sums.per_key.entry(g.fingerprint.to_string()).or_default();
        match g.state {
            ObjectState::Stored => key.stored_bytes += g.bytes,
            ObjectState::Migrated => key.migrated += g.count,
            _ => {}
        }
        if g.state.may_be_on_server() {
            key.live += g.count;
        }
        match g.state {
            ObjectState::Stored => {
                let fp = g.fingerprint.to_string();
                let e = self
                    .stored
                    .entry((fp.clone(), g.verify.map(VerifyStatus::as_str)))
                    .or_insert_with(|| StoredGroup {
                        fingerprint: fp,
                        verify: g.verify,
                        count: 0,
                        stale: 0,
                        never_verified: 0,
                        oldest_verified: None,
                    });
                e.count += g.count;
                e.stale += g.stale;
                e.never_verified += g.never_verified;
                if let Some(t) = g.oldest_verified
                    && e.oldest_verified.as_ref().is_none_or(|old| t < *old)
                {
                    e.oldest_verified = Some(t);
                }
            }
            ObjectState::OldVersion => {
                *sums
                    .old_versions
                    .entry(g.fingerprint.to_string())
                    .or_default() += g.count
            }
            ObjectState::Pending | ObjectState::InDoubt => sums.unsettled += g.count,
            _ => {}
        }
    }

    fn finish(mut self) -> AuditSums {
        self.sums.stored = self.stored.into_values().collect();
        self.sums
    }
}

impl Registry {
    /// The sums of every row in one pass over the (key, state, verify answer, confirmation,
    /// size) index, grouped: per key, state and answer. `cutoff`: see `ObjectScope::Stale`;
    /// None: nothing is stale.
    pub fn audit_sums(&self, cutoff: Option<&str>) -> Result<AuditSums> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached(
                "SELECT key_fingerprint, state, verify_status, COUNT(*), COALESCE(SUM(size), 0),
                    COALESCE(SUM(COALESCE(last_verified_at, created_at) < ?1), 0),
                    SUM(last_verified_at IS NULL), MIN(last_verified_at)
                 FROM objects GROUP BY key_fingerprint, state, verify_status",
            )
            .map_err(|e| self.err(e))?;
        // Without a cutoff nothing is before "" (text compares byte by byte, as in Rust).
        let mut rows = stmt
            .query(params![cutoff.unwrap_or("")])
            .map_err(|e| self.err(e))?;
        let mut acc = Accumulator::default();
        let n = |v: i64| v.max(0) as u64;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let read = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, String>(0)?,
                    ObjectState::parse(&r.get::<_, String>(1)?),
                    r.get::<_, Option<String>>(2)?
                        .map(|s| VerifyStatus::parse(&s)),
                    [r.get::<_, i64>(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                    r.get::<_, Option<String>>(7)?,
                ))
            };
            let (fp, state, verify, [count, bytes, stale, never], oldest) =
                read().map_err(|e| self.err(e))?;
            acc.add(Group {
                fingerprint: &fp,
                state,
                verify,
                count: n(count),
                bytes: n(bytes),
                stale: n(stale),
                never_verified: n(never),
                oldest_verified: oldest,
            });
        }
        Ok(acc.finish())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;
    use crate::core::audit::{self, object_health};
    use crate::core::keys::KeyListing;

    const STATES: [&str; 8] = [
        "stored",
        "stored",
        "pending",
        "in_doubt",
        "old_version",
        "failed",
        "deleted",
        "migrated",
    ];
    const ANSWERS: [Option<&str>; 7] = [
        None,
        Some("ok"),
        Some("missing"),
        Some("wrong_key"),
        Some("changed"),
        Some("no_key"),
        Some("unreachable"),
    ];
    const TIMES: [Option<&str>; 3] = [
        None,
        Some("2026-01-01T00:00:00Z"),
        Some("2026-12-01T00:00:00Z"),
    ];
    const CUTOFF: &str = "2026-11-01T00:00:00Z";

    /// Every object of a finding, read to the end a page of 7 at a time.
    fn all_of(reg: &Registry, scope: &ObjectScope) -> Vec<String> {
        let (mut out, mut after) = (Vec::new(), 0);
        loop {
            let page = reg.scope_page(scope, after, 7).unwrap();
            // The light reader reads the same page, and names its rows the same.
            let lines = reg.scope_lines(scope, after, 7).unwrap();
            let named: Vec<(i64, String)> = page.iter().map(|o| (o.id, scope.line(o))).collect();
            assert_eq!(lines, named);
            let Some(last) = page.last() else {
                return out;
            };
            after = last.id;
            out.extend(named.into_iter().map(|(_, line)| line));
        }
    }

    /// "Starts with" as a range: a text is in [prefix, after_prefix) exactly when it starts
    /// with the prefix, for any texts (the last character U+10FFFF and surrogate gaps too).
    #[test]
    fn a_prefix_range_holds_exactly_the_texts_that_start_with_the_prefix() {
        let text = proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('b'),
                Just('/'),
                Just('\u{D7FF}'),
                Just('\u{E000}'),
                Just('\u{10FFFF}'),
                Just('é'),
            ],
            0..5,
        )
        .prop_map(|c| c.into_iter().collect::<String>());
        let mut runner = TestRunner::new(Config::with_cases(2000));
        runner
            .run(&(text.clone(), text), |(prefix, s)| {
                let upper = after_prefix(&prefix);
                let in_range = s >= prefix && upper.as_ref().is_none_or(|u| s < *u);
                prop_assert_eq!(in_range, s.starts_with(&prefix), "{:?} {:?}", prefix, s);
                Ok(())
            })
            .unwrap();
        assert_eq!(after_prefix("photos/"), Some("photos0".into()));
        assert_eq!(after_prefix("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(after_prefix("\u{10FFFF}"), None);
        assert_eq!(after_prefix(""), None);
    }

    /// The audit from SQL sums and pages equals the audit computed from every row in memory
    /// (the way it was computed before), and its at-risk numbers equal the rows whose own
    /// health is at risk, one row at a time; each finding's pages list exactly its count.
    #[test]
    fn the_audit_from_sums_equals_the_audit_from_every_row_on_random_registries() {
        // (key 0-3, 3 never registered; state; answer; last verified; created; size)
        let object = (
            0..4usize,
            0..STATES.len(),
            0..ANSWERS.len(),
            0..TIMES.len(),
            1..TIMES.len(),
            0..1_000i64,
        );
        // Per registered key: backup status never?, in keyring (yes, no, unknown), deleted?
        let key = (any::<bool>(), 0..3usize, any::<bool>());
        let mut runner = TestRunner::new(Config::with_cases(64));
        runner
            .run(
                &(
                    proptest::collection::vec(object, 0..80),
                    proptest::collection::vec(key, 3),
                ),
                |(objects, keys)| {
                    let dir = tempfile::tempdir().unwrap();
                    let reg = Registry::open(&dir.path().join("registry.sqlite3")).unwrap();
                    let conn = reg
                        .add_connection(&ConnectionRecord::new("c", Some("http://h"), "r"))
                        .unwrap();
                    let fps: Vec<KeyFingerprint> = (0..4)
                        .map(|i| KeyFingerprint::from_stored(format!("fp{i}")))
                        .collect();
                    let mut presence = HashMap::new();
                    for (i, (never, held, deleted)) in keys.iter().enumerate() {
                        reg.insert_key(&format!("k{i}"), &fps[i], "generated", "")
                            .unwrap();
                        if !never {
                            reg.mark_key_backup(&fps[i], "age_backup", "f").unwrap();
                        }
                        let held = [Some(true), Some(false), None][*held];
                        presence.insert(fps[i].to_string(), held);
                        if *deleted {
                            reg.db()
                                .execute(
                                    "UPDATE keys SET deleted_at = 'x' WHERE fingerprint = ?1",
                                    [fps[i].as_str()],
                                )
                                .unwrap();
                        }
                    }
                    {
                        let db = reg.db();
                        for (n, (k, state, answer, verified, created, size)) in
                            objects.iter().enumerate()
                        {
                            db.execute(
                                "INSERT INTO objects (connection_id, bucket, object_key,
                                    version_id, size, sha256, key_fingerprint, state,
                                    verify_status, last_verified_at, created_at, updated_at)
                                 VALUES (?1, 'b', ?2, ?3, ?4, '', ?5, ?6, ?7, ?8, ?9, 'now')",
                                params![
                                    conn.id,
                                    format!("o{n}"),
                                    format!("v{n}"),
                                    size,
                                    fps[*k].as_str(),
                                    STATES[*state],
                                    ANSWERS[*answer],
                                    TIMES[*verified],
                                    TIMES[*created],
                                ],
                            )
                            .unwrap();
                        }
                    }
                    let rows = reg.objects().unwrap();
                    let sums = reg.audit_sums(Some(CUTOFF)).unwrap();
                    prop_assert_eq!(&sums, &AuditSums::from_rows(&rows, Some(CUTOFF)));
                    let live = reg.keys().unwrap();
                    let from_sql =
                        audit::audit_of(&live, &presence, &sums, 2, Some(CUTOFF), &reg).unwrap();
                    let from_rows = audit::audit(&live, &presence, &rows, 2, Some(CUTOFF));
                    prop_assert_eq!(
                        serde_json::to_value(&from_sql).unwrap(),
                        serde_json::to_value(&from_rows).unwrap()
                    );
                    // One row at a time, by the rule every screen uses.
                    let listings: Vec<KeyListing> = live
                        .iter()
                        .map(|k| KeyListing {
                            summary: k.clone(),
                            in_keyring: presence[k.key.fingerprint.as_str()],
                        })
                        .collect();
                    let stored = rows.iter().filter(|o| o.state == ObjectState::Stored);
                    let health: Vec<_> = stored.map(|o| object_health(o, &listings)).collect();
                    let at_risk = health.iter().filter(|h| h.at_risk()).count();
                    let lost = health.iter().filter(|h| h.unrecoverable()).count();
                    prop_assert_eq!(from_sql.objects_at_risk, at_risk);
                    prop_assert_eq!(from_sql.objects_unrecoverable, lost);
                    // The old way: the distinct objects the risky findings name.
                    let mut named = std::collections::HashSet::new();
                    for f in &from_sql.findings {
                        let Some(scope) = &f.scope else { continue };
                        let all = all_of(&reg, scope);
                        prop_assert_eq!(all.len() as u64, f.count);
                        prop_assert_eq!(&all[..f.objects.len()], &f.objects[..]);
                        if f.puts_at_risk() {
                            named.extend(all);
                        }
                    }
                    prop_assert_eq!(named.len(), at_risk);
                    Ok(())
                },
            )
            .unwrap();
    }
}
