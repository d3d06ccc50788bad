//! Fills a registry with synthetic objects straight through SQL, in one transaction (the
//! app's upload path would take hours for a million objects). The rows go into the real
//! schema of a home made by the app; they spread over every key of the registry.

use std::path::Path;

/// Adds `n` objects to the registry at `registry`: mostly stored; 1 % failed, 2 % pending
/// (with `unsettled`; else stored: a window opening the registry asks the server about
/// pending rows), 0.5 % reported missing by the server, a third never confirmed since January
/// (stale).
pub fn fill(registry: &Path, n: usize, unsettled: bool) -> rusqlite::Result<()> {
    let mut db = rusqlite::Connection::open(registry)?;
    let fps: Vec<String> = db
        .prepare("SELECT fingerprint FROM keys WHERE deleted_at IS NULL ORDER BY label")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    assert!(
        !fps.is_empty(),
        "the home has no key to spread the objects over"
    );
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO objects (connection_id, bucket, object_key, size, sha256,
                key_fingerprint, state, created_at, updated_at, last_verified_at,
                verify_status)
             VALUES ((SELECT MIN(id) FROM connections), 'bucket', ?1, ?2, ?3, ?4, ?5,
                '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?6, ?7)",
        )?;
        for i in 0..n {
            let state = match i % 100 {
                0 => "failed",
                1 | 2 if unsettled => "pending",
                _ => "stored",
            };
            let verify = (i % 200 == 3).then_some("missing");
            let verified = (i % 3 != 0).then_some("2026-11-20T00:00:00Z");
            insert.execute(rusqlite::params![
                format!("photos/{:04}/{:02}/IMG_{i:07}.jpg", 2000 + i % 26, i % 12),
                4_000_000 + (i as i64 % 1000) * 1000,
                format!("{i:064x}"),
                fps[i % fps.len()],
                state,
                verified,
                verify,
            ])?;
        }
    }
    tx.commit()
}
