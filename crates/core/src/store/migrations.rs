//! The encrypted database's layout, version by version. Each migration keeps the layout it had:
//! migrations are history, never edited once released.

use rusqlite::Connection;

use crate::error::Result;

pub(super) fn migrate(conn: &Connection, from: i64) -> Result<()> {
    if from < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE events (
                 id TEXT PRIMARY KEY,
                 case_id TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 device_id TEXT NOT NULL,
                 device_seq INTEGER NOT NULL,
                 hlc TEXT NOT NULL,
                 key_id TEXT NOT NULL,
                 nonce BLOB NOT NULL,
                 ciphertext BLOB NOT NULL,
                 sent INTEGER NOT NULL DEFAULT 0,
                 UNIQUE (device_id, device_seq)
             );
             CREATE INDEX events_by_case ON events (case_id, hlc);
             CREATE INDEX events_unsent ON events (device_seq) WHERE sent = 0;
             CREATE TABLE case_keys (key_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, wrapped TEXT NOT NULL);
             CREATE INDEX case_keys_by_case ON case_keys (case_id);
             CREATE TABLE cases (
                 id TEXT NOT NULL UNIQUE,
                 code TEXT NOT NULL UNIQUE,
                 name TEXT NOT NULL,
                 status TEXT NOT NULL,
                 risk TEXT,
                 team TEXT,
                 created_ms INTEGER NOT NULL,
                 updated_ms INTEGER NOT NULL,
                 needs_review INTEGER NOT NULL DEFAULT 0,
                 search_text TEXT NOT NULL
             );
             -- Apart from the list columns, so that listing and search read small rows only.
             CREATE TABLE case_states (case_rowid INTEGER PRIMARY KEY, state BLOB NOT NULL);
             CREATE INDEX cases_by_update ON cases (updated_ms);
             CREATE INDEX cases_by_status ON cases (status, updated_ms);
             CREATE VIRTUAL TABLE case_search USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
             CREATE TABLE audit (
                 seq INTEGER PRIMARY KEY,
                 at TEXT NOT NULL,
                 actor TEXT NOT NULL,
                 action TEXT NOT NULL,
                 case_id TEXT,
                 detail TEXT NOT NULL,
                 hash TEXT NOT NULL
             );
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
    }
    if from < 2 {
        // Sync: shares waiting for the server's access grant, and clock-skew warnings.
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE shares (
                 case_id TEXT NOT NULL,
                 team_id TEXT NOT NULL,
                 granted INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (case_id, team_id)
             );
             CREATE TABLE clock_warnings (
                 event_id TEXT PRIMARY KEY,
                 case_id TEXT NOT NULL,
                 device_id TEXT NOT NULL,
                 ahead_ms INTEGER NOT NULL
             );
             CREATE INDEX clock_warnings_by_case ON clock_warnings (case_id);
             PRAGMA user_version = 2;
             COMMIT;",
        )?;
    }
    if from < 3 {
        // Fewer pages per write (each written page is encrypted and authenticated): events are
        // stored in the order they arrived and found by (device, sequence), which is also what
        // makes an event unique; the event-id and unsent indexes go (the unsent events are found
        // from a cursor, `sent_through`), and so does an index on case status no query used.
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE events_v3 (
                 seq INTEGER PRIMARY KEY,
                 device_id TEXT NOT NULL,
                 device_seq INTEGER NOT NULL,
                 id TEXT NOT NULL,
                 case_id TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 hlc TEXT NOT NULL,
                 key_id TEXT NOT NULL,
                 nonce BLOB NOT NULL,
                 ciphertext BLOB NOT NULL,
                 sent INTEGER NOT NULL DEFAULT 0,
                 UNIQUE (device_id, device_seq)
             );
             INSERT INTO events_v3 (device_id, device_seq, id, case_id, kind, hlc, key_id, nonce, ciphertext, sent)
                 SELECT device_id, device_seq, id, case_id, kind, hlc, key_id, nonce, ciphertext, sent FROM events
                 ORDER BY rowid;
             INSERT INTO meta (key, value) VALUES ('sent_through', coalesce(
                 (SELECT min(device_seq) - 1 FROM events_v3
                   WHERE device_id = (SELECT value FROM meta WHERE key = 'device_id') AND sent = 0),
                 (SELECT max(device_seq) FROM events_v3
                   WHERE device_id = (SELECT value FROM meta WHERE key = 'device_id')),
                 0))
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value;
             DROP TABLE events;
             ALTER TABLE events_v3 RENAME TO events;
             CREATE INDEX events_by_case ON events (case_id, hlc);
             DROP INDEX IF EXISTS cases_by_status;
             PRAGMA user_version = 3;
             COMMIT;",
        )?;
    }
    if from < 4 {
        // Events that arrived for a (device, number) another stored event already holds: one of
        // the two was forged. Both are kept until a case key shows which one is real.
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS contested_events (
                 digest TEXT PRIMARY KEY,
                 id TEXT NOT NULL,
                 case_id TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 device_id TEXT NOT NULL,
                 device_seq INTEGER NOT NULL,
                 hlc TEXT NOT NULL,
                 key_id TEXT NOT NULL,
                 nonce BLOB NOT NULL,
                 ciphertext BLOB NOT NULL
             );
             PRAGMA user_version = 4;
             COMMIT;",
        )?;
    }
    if from < 5 {
        // The figures' facts, one small row per case (see `store/facts.rs`).
        conn.execute_batch("BEGIN")?;
        super::facts::migrate(conn)?;
        conn.execute_batch("PRAGMA user_version = 5; COMMIT;")?;
    }
    if from < 6 {
        // The facts gain what the CTDC data set codes (means of control, country of
        // exploitation, recruiter, recruitment): derived again from every stored projection.
        conn.execute_batch("BEGIN")?;
        super::facts::derive_all(conn)?;
        conn.execute_batch("PRAGMA user_version = 6; COMMIT;")?;
    }
    if from < 7 {
        // The dashboard's compact row per case, so that its first read after an unlock neither
        // decrypts the JSON facts' pages nor parses them (see `stats/counted.rs`).
        conn.execute_batch("BEGIN")?;
        super::facts::migrate_counts(conn)?;
        conn.execute_batch("PRAGMA user_version = 7; COMMIT;")?;
    }
    if from < 8 {
        // The facts and the compact rows gain the services received (who was assisted).
        conn.execute_batch("BEGIN")?;
        super::facts::migrate_services(conn)?;
        conn.execute_batch("PRAGMA user_version = 8; COMMIT;")?;
    }
    Ok(())
}
