//! The audit log: who did what to which case, and when. Each entry's hash covers the previous
//! entry's hash, and the head of the chain is kept apart, so editing, removing or reordering an
//! entry breaks the chain and `verify` says where. Entries hold no name, note or answer: only
//! actions, case ids and field names.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::crypto::sha256_hex;
use crate::error::{Error, Result};
use crate::ids::CaseId;

pub(crate) const GENESIS: &str = "harbour-audit-genesis";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub case_id: Option<String>,
    pub detail: String,
    pub hash: String,
}

/// Appends an entry inside the caller's transaction.
pub fn append(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    case_id: Option<CaseId>,
    detail: &str,
) -> Result<()> {
    let (prev_seq, prev_hash) = head(conn)?;
    let seq = prev_seq + 1;
    let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let case_id = case_id.map(|id| id.to_string());
    let hash = entry_hash(&prev_hash, seq, &at, actor, action, case_id.as_deref(), detail);
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, actor, action, case_id, detail, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![seq, at, actor, action, case_id, detail, hash])?;
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([format!("{seq}:{hash}")])?;
    Ok(())
}

/// Actions that read a case without changing it.
const READS: &[&str] = &["case.view", "case.export", "referral.export"];

/// Whether the newest entry records `actor` changing `case_id` (any action but a read) within
/// `window` of `now`.
pub fn last_is_change_to(
    conn: &Connection,
    actor: &str,
    case_id: CaseId,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<bool> {
    let last: Option<(String, String, Option<String>, String)> = conn
        .prepare_cached("SELECT actor, action, case_id, at FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .optional()?;
    let Some((last_actor, action, last_case, at)) = last else { return Ok(false) };
    let recent = DateTime::parse_from_rfc3339(&at).is_ok_and(|at| now - at.with_timezone(&Utc) <= window);
    Ok(recent
        && last_actor == actor
        && last_case.as_deref() == Some(case_id.to_string().as_str())
        && !READS.contains(&action.as_str()))
}

/// The newest entries first, at most `limit`.
pub fn recent(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>> {
    let mut statement =
        conn.prepare("SELECT seq, at, actor, action, case_id, detail, hash FROM audit ORDER BY seq DESC LIMIT ?1")?;
    let rows = statement.query_map([limit as i64], entry_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The entries after `seq`, oldest first, at most `limit` (what waits to leave the laptop).
pub fn after(conn: &Connection, seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, at, actor, action, case_id, detail, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = statement.query_map(params![seq, limit], entry_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        case_id: row.get(4)?,
        detail: row.get(5)?,
        hash: row.get(6)?,
    })
}

/// Walks the whole chain. Returns the number of entries, or says where it breaks.
pub fn verify(conn: &Connection) -> Result<i64> {
    let mut statement = conn.prepare("SELECT seq, at, actor, action, case_id, detail, hash FROM audit ORDER BY seq")?;
    let mut rows = statement.query([])?;
    let mut prev_hash = GENESIS.to_owned();
    let mut expected_seq = 1;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        if seq != expected_seq {
            return Err(Error::AuditBroken(format!("entry {expected_seq} is missing")));
        }
        let case_id: Option<String> = row.get(4)?;
        let hash: String = row.get(6)?;
        let computed = entry_hash(
            &prev_hash,
            seq,
            &row.get::<_, String>(1)?,
            &row.get::<_, String>(2)?,
            &row.get::<_, String>(3)?,
            case_id.as_deref(),
            &row.get::<_, String>(5)?,
        );
        if computed != hash {
            return Err(Error::AuditBroken(format!("entry {seq} was changed")));
        }
        prev_hash = hash;
        expected_seq += 1;
    }
    let count = expected_seq - 1;
    let (head_seq, head_hash) = head(conn)?;
    if head_seq != count || (count > 0 && head_hash != prev_hash) {
        return Err(Error::AuditBroken(format!(
            "the log ends at entry {count} but its recorded head is entry {head_seq}: entries were removed"
        )));
    }
    Ok(count)
}

fn head(conn: &Connection) -> Result<(i64, String)> {
    let value: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'audit_head'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    let Some(value) = value else {
        return Ok((0, GENESIS.to_owned()));
    };
    let (seq, hash) = value.split_once(':').ok_or_else(|| Error::Corrupt("audit head".into()))?;
    Ok((seq.parse().map_err(|_| Error::Corrupt("audit head".into()))?, hash.to_owned()))
}

pub(crate) fn entry_hash(
    prev: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    case_id: Option<&str>,
    detail: &str,
) -> String {
    sha256_hex(&[
        prev.as_bytes(),
        &seq.to_be_bytes(),
        at.as_bytes(),
        actor.as_bytes(),
        action.as_bytes(),
        case_id.unwrap_or("").as_bytes(),
        detail.as_bytes(),
    ])
}
