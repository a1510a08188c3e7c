//! SQLite backend: one file, WAL mode, `synchronous=FULL` so an acknowledged push survives a
//! crash or power loss. One writer connection behind a mutex (SQLite has one writer anyway)
//! and a small pool of read-only connections: in WAL mode a reader sees the last committed
//! state and never waits for a writer, so pulls, authentication and health go on while a push
//! commits or another process holds the write lock. Every call runs on tokio's blocking pool.
//!
//! Pushes are committed in groups ([`crate::group_commit`]): the pushes that wait while one
//! commits are stored by the next transaction, each under its own savepoint (a refused push
//! leaves no trace and spoils no other), so that many pushes share one fsync. Each push is
//! answered only after the commit that holds it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use harbour_wire::identity::{DeviceCertificate, SignedDocument};
use harbour_wire::protocol::{DeviceInfo, InvitationInfo, InvitationStatus, PushedEvent, SignedDirectory, Team};
use harbour_wire::{Hlc, SealedEvent};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use crate::group_commit::CommitQueue;
use crate::store::{
    Credential, Deployment, Device, EventPage, Missing, NewDeployment, NewInvitation, NewWipeOrder, PageFill,
    PendingInvitation, PendingWipe, Store, StoreError, WipeDone, certificate_from_json, certificate_json,
    invitation_status, now_ms,
};
use crate::token::TokenHash;
use harbour_wire::wipe::WipeStatus;

/// Versioned migrations, applied in order; `schema_migrations` records which ran. Public so a
/// test can build a database as an older version of the server left it.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE deployment (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    deployment_id BLOB NOT NULL,
    root_public_key BLOB NOT NULL,
    ministry_team_id BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE teams (
    team_id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    public_key BLOB NOT NULL
);
CREATE TABLE directory (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE devices (
    device_id BLOB PRIMARY KEY,
    team_id BLOB NOT NULL REFERENCES teams (team_id),
    admin INTEGER NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);
CREATE TABLE invitations (
    invitation_id BLOB PRIMARY KEY,
    team_id BLOB NOT NULL REFERENCES teams (team_id),
    admin INTEGER NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_by BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    redeemed_by BLOB,
    redeemed_at_ms INTEGER
);
CREATE TABLE cases (
    case_id BLOB PRIMARY KEY,
    owner_team_id BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE case_grants (
    case_id BLOB NOT NULL REFERENCES cases (case_id),
    team_id BLOB NOT NULL,
    granted_at_ms INTEGER NOT NULL,
    PRIMARY KEY (case_id, team_id)
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id BLOB NOT NULL UNIQUE,
    format INTEGER NOT NULL,
    case_id BLOB NOT NULL REFERENCES cases (case_id),
    kind TEXT NOT NULL,
    device_id BLOB NOT NULL,
    device_seq INTEGER NOT NULL,
    hlc_wall_ms INTEGER NOT NULL,
    hlc_counter INTEGER NOT NULL,
    key_id BLOB NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    received_at_ms INTEGER NOT NULL,
    UNIQUE (device_id, device_seq)
);
CREATE INDEX events_by_case ON events (case_id, seq);
CREATE TABLE feed (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id BLOB NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    UNIQUE (team_id, event_seq)
);
CREATE INDEX feed_by_team ON feed (team_id, position);
"#,
    // 2: invitations expire and can be cancelled (those made before get 7 days from their
    // creation); a device keeps its certificate (none for devices made before).
    r#"
ALTER TABLE invitations ADD COLUMN expires_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE invitations SET expires_at_ms = created_at_ms + 7 * 86400000;
ALTER TABLE invitations ADD COLUMN cancelled_at_ms INTEGER;
ALTER TABLE devices ADD COLUMN certificate TEXT;
"#,
    // 3: remote wipe orders (root-signed, relayed as they are) and the laptops' reports.
    r#"
CREATE TABLE wipe_orders (
    device_id BLOB PRIMARY KEY REFERENCES devices (device_id),
    order_id BLOB NOT NULL,
    send_first INTEGER NOT NULL,
    signed_order TEXT NOT NULL,
    issued_at_ms INTEGER NOT NULL,
    done_at_ms INTEGER,
    sent_first INTEGER,
    destroyed_unsent INTEGER,
    report TEXT
);
"#,
    // 4: the service directory (root-signed, relayed as it is).
    r#"
CREATE TABLE service_directory (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    signature BLOB NOT NULL
);
"#,
];

const EVENT_COLUMNS: &str = "e.format, e.event_id, e.case_id, e.kind, e.device_id, e.device_seq, \
     e.hlc_wall_ms, e.hlc_counter, e.key_id, e.nonce, e.ciphertext";

/// How long a write waits for the write lock (held by another process, e.g. a backup tool)
/// before it fails with `storage_unavailable`: well under the default request timeout (30 s),
/// so the client gets a sentence instead of a timeout.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections: pulls and authentication of this many requests run at once.
const READERS: usize = 4;

pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    /// Pushes waiting for the writer, committed in groups.
    pushes: Arc<CommitQueue<PushJob>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per idle reader.
    reader_permits: Arc<tokio::sync::Semaphore>,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and run pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with_busy_timeout(path, DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`SqliteStore::open`], waiting at most `busy_timeout` for the write lock.
    pub async fn open_with_busy_timeout(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, StoreError> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let busy_ms = busy_timeout.as_millis().min(i32::MAX as u128);
        let (connection, readers) =
            tokio::task::spawn_blocking(move || -> Result<(Connection, Vec<Connection>), StoreError> {
                let mut connection = Connection::open(&opened).map_err(backend)?;
                connection
                    .execute_batch(&format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms};"
                    ))
                    .map_err(backend)?;
                migrate(&mut connection)?;
                let readers = (0..READERS)
                    .map(|_| {
                        let reader = Connection::open_with_flags(
                            &opened,
                            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
                        )
                        .map_err(backend)?;
                        reader
                            .execute_batch(&format!("PRAGMA query_only = ON; PRAGMA busy_timeout = {busy_ms};"))
                            .map_err(backend)?;
                        Ok(reader)
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok((connection, readers))
            })
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??;
        Ok(SqliteStore {
            connection: Arc::new(Mutex::new(connection)),
            pushes: Arc::new(CommitQueue::new(MAX_GROUP_EVENTS)),
            readers: Arc::new(Mutex::new(readers)),
            reader_permits: Arc::new(tokio::sync::Semaphore::new(READERS)),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Copy the live database into a new file `destination`: a consistent snapshot taken in
    /// one read transaction (`VACUUM INTO`), while the server keeps serving.
    pub async fn backup_to(&self, destination: &Path) -> Result<(), StoreError> {
        if destination.exists() {
            return Err(StoreError::Backend(format!(
                "{} already exists; a backup never overwrites a file",
                destination.display()
            )));
        }
        let destination = destination.to_string_lossy().into_owned();
        self.run(move |connection| {
            connection.execute("VACUUM INTO ?1", params![destination]).map(|_| ()).map_err(backend)
        })
        .await
    }

    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Run `work` on a read-only connection: it sees the last committed state and never waits
    /// for the writer.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit =
            Arc::clone(&self.reader_permits).acquire_owned().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let reader = readers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop()
                .ok_or_else(|| StoreError::Backend("no read connection is free".into()))?;
            let result = work(&reader);
            readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(reader);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
        )
        .map_err(backend)?;
    let applied: i64 = connection
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |row| row.get(0))
        .map_err(backend)?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= applied {
            continue;
        }
        let tx = connection.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)",
            params![version, now_ms()],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn uuid(bytes: Vec<u8>) -> rusqlite::Result<Uuid> {
    Uuid::from_slice(&bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))
}

/// Read the `EVENT_COLUMNS` of a row, starting at column `first`.
fn event_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<SealedEvent> {
    Ok(SealedEvent {
        format: row.get(first)?,
        id: uuid(row.get(first + 1)?)?,
        case_id: uuid(row.get(first + 2)?)?,
        kind: row.get(first + 3)?,
        device_id: uuid(row.get(first + 4)?)?,
        device_seq: row.get::<_, i64>(first + 5)? as u64,
        hlc: Hlc { wall_ms: row.get::<_, i64>(first + 6)? as u64, counter: row.get(first + 7)? },
        key_id: uuid(row.get(first + 8)?)?,
        nonce: row.get(first + 9)?,
        ciphertext: row.get(first + 10)?,
    })
}

/// The columns `invitation_from_row` reads.
const INVITATION_COLUMNS: &str = "invitation_id, team_id, admin, created_at_ms, expires_at_ms, \
     redeemed_by, cancelled_at_ms IS NOT NULL";

/// An invitation from the `INVITATION_COLUMNS` of a row, its status as of `now`.
fn invitation_from_row(row: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<InvitationInfo> {
    let expires_at_ms: i64 = row.get(4)?;
    let redeemed_by: Option<Vec<u8>> = row.get(5)?;
    let cancelled: bool = row.get(6)?;
    Ok(InvitationInfo {
        invitation_id: uuid(row.get(0)?)?,
        team_id: uuid(row.get(1)?)?,
        admin: row.get(2)?,
        status: invitation_status(redeemed_by.is_some(), cancelled, expires_at_ms, now),
        created_at_ms: row.get::<_, i64>(3)? as u64,
        expires_at_ms: expires_at_ms as u64,
        device_id: redeemed_by.map(uuid).transpose()?,
    })
}

/// A push waiting for the writer (see [`crate::group_commit`]).
struct PushJob {
    team: Uuid,
    events: Vec<SealedEvent>,
    answer: tokio::sync::oneshot::Sender<Result<Vec<PushedEvent>, StoreError>>,
}

/// A group holds pushes of this many events at most (one push of any size still fits).
const MAX_GROUP_EVENTS: usize = 2_000;

/// The committer's turn: commit the waiting pushes, a group per transaction, until none wait.
fn commit_pushes(connection: &Mutex<Connection>, pushes: &CommitQueue<PushJob>) {
    let _turn = pushes.turn();
    while let Some(group) = pushes.next_group(|job| job.events.len()) {
        let mut connection = connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (batches, answers): (Vec<_>, Vec<_>) =
            group.into_iter().map(|job| ((job.team, job.events), job.answer)).unzip();
        match commit_group(&mut connection, &batches) {
            Ok(results) => {
                for (answer, result) in answers.into_iter().zip(results) {
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }
}

/// One transaction, one savepoint per push: a push refused (a conflict, a case it cannot see)
/// leaves no trace and does not spoil the others. `Err` when the transaction itself failed:
/// then nothing of the group was stored.
fn commit_group(
    connection: &mut Connection,
    batches: &[(Uuid, Vec<SealedEvent>)],
) -> Result<Vec<Result<Vec<PushedEvent>, StoreError>>, StoreError> {
    let mut tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let ministry = ministry_team(&tx)?;
    let mut results = Vec::with_capacity(batches.len());
    for (team, events) in batches {
        let savepoint = tx.savepoint().map_err(backend)?;
        let result = store_batch(&savepoint, ministry, *team, events);
        if result.is_ok() {
            savepoint.commit().map_err(backend)?;
        } else {
            // Rolls back to the savepoint; fails (and so fails the group) if SQLite already
            // rolled back the whole transaction after a serious error.
            savepoint.finish().map_err(backend)?;
        }
        results.push(result);
    }
    tx.commit().map_err(backend)?;
    Ok(results)
}

/// Store one push, idempotent by event id, inside the writer's transaction.
fn store_batch(
    connection: &Connection,
    ministry: Uuid,
    team: Uuid,
    events: &[SealedEvent],
) -> Result<Vec<PushedEvent>, StoreError> {
    let mut existing = connection
        .prepare_cached(&format!("SELECT e.seq, {EVENT_COLUMNS} FROM events e WHERE e.event_id = ?1"))
        .map_err(backend)?;
    let mut used =
        connection.prepare_cached("SELECT 1 FROM events WHERE device_id = ?1 AND device_seq = ?2").map_err(backend)?;
    let mut owner_of =
        connection.prepare_cached("SELECT owner_team_id FROM cases WHERE case_id = ?1").map_err(backend)?;
    let mut new_case = connection
        .prepare_cached("INSERT INTO cases (case_id, owner_team_id, created_at_ms) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO events (event_id, format, case_id, kind, device_id, device_seq,
                 hlc_wall_ms, hlc_counter, key_id, nonce, ciphertext, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(backend)?;
    let mut grantees =
        connection.prepare_cached("SELECT team_id FROM case_grants WHERE case_id = ?1").map_err(backend)?;
    let mut feed =
        connection.prepare_cached("INSERT INTO feed (team_id, event_seq) VALUES (?1, ?2)").map_err(backend)?;
    let now = now_ms();
    let mut pushed = Vec::with_capacity(events.len());
    for event in events {
        let stored = existing
            .query_row(params![event.id.as_bytes()], |row| Ok((row.get::<_, i64>(0)?, event_from_row(row, 1)?)))
            .optional()
            .map_err(backend)?;
        if let Some((seq, stored)) = stored {
            if &stored != event {
                return Err(StoreError::Conflict(format!(
                    "event {} is already stored with different content",
                    event.id
                )));
            }
            pushed.push(PushedEvent { id: event.id, seq: seq as u64, already_stored: true });
            continue;
        }
        if used.exists(params![event.device_id.as_bytes(), event.device_seq as i64]).map_err(backend)? {
            return Err(StoreError::Conflict(format!(
                "device sequence number {} is already used by another event",
                event.device_seq
            )));
        }
        let owner: Option<Uuid> = owner_of
            .query_row(params![event.case_id.as_bytes()], |row| uuid(row.get(0)?))
            .optional()
            .map_err(backend)?;
        let owner = match owner {
            Some(owner) => {
                if team != owner && team != ministry && !granted(connection, event.case_id, team)? {
                    return Err(StoreError::CaseNotVisible(event.case_id));
                }
                owner
            }
            None => {
                new_case.execute(params![event.case_id.as_bytes(), team.as_bytes(), now]).map_err(backend)?;
                team
            }
        };
        insert
            .execute(params![
                event.id.as_bytes(),
                event.format,
                event.case_id.as_bytes(),
                event.kind,
                event.device_id.as_bytes(),
                event.device_seq as i64,
                event.hlc.wall_ms as i64,
                event.hlc.counter,
                event.key_id.as_bytes(),
                event.nonce,
                event.ciphertext,
                now
            ])
            .map_err(backend)?;
        let seq = connection.last_insert_rowid();
        // The owner, the ministry and every granted team see the event.
        let mut teams = vec![owner, ministry];
        for granted in
            grantees.query_map(params![event.case_id.as_bytes()], |row| uuid(row.get(0)?)).map_err(backend)?
        {
            teams.push(granted.map_err(backend)?);
        }
        teams.sort();
        teams.dedup();
        for feed_team in teams {
            feed.execute(params![feed_team.as_bytes(), seq]).map_err(backend)?;
        }
        pushed.push(PushedEvent { id: event.id, seq: seq as u64, already_stored: false });
    }
    Ok(pushed)
}

fn can_see(connection: &Connection, team: Uuid, case_id: Uuid, owner: Uuid) -> Result<bool, StoreError> {
    Ok(team == owner || team == ministry_team(connection)? || granted(connection, case_id, team)?)
}

fn granted(connection: &Connection, case_id: Uuid, team: Uuid) -> Result<bool, StoreError> {
    connection
        .prepare_cached("SELECT 1 FROM case_grants WHERE case_id = ?1 AND team_id = ?2")
        .and_then(|mut statement| statement.exists(params![case_id.as_bytes(), team.as_bytes()]))
        .map_err(backend)
}

/// Stores a root-signed document in its one-row `table` (`directory`, `service_directory`) if
/// `version` is newer than the one held; otherwise changes nothing and gives the version held.
fn replace_if_newer(
    tx: &rusqlite::Transaction<'_>,
    table: &'static str,
    version: u64,
    document: &dyn rusqlite::ToSql,
    signature: &dyn rusqlite::ToSql,
) -> Result<Result<(), u64>, StoreError> {
    let current: Option<i64> =
        tx.query_row(&format!("SELECT version FROM {table}"), [], |row| row.get(0)).optional().map_err(backend)?;
    if let Some(current) = current
        && current as u64 >= version
    {
        return Ok(Err(current as u64));
    }
    tx.execute(
        &format!(
            "INSERT INTO {table} (singleton, version, document, signature) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (singleton) DO UPDATE SET version = excluded.version,
                 document = excluded.document, signature = excluded.signature"
        ),
        params![version as i64, document, signature],
    )
    .map_err(backend)?;
    Ok(Ok(()))
}

fn ministry_team(connection: &Connection) -> Result<Uuid, StoreError> {
    connection
        .prepare_cached("SELECT ministry_team_id FROM deployment")
        .and_then(|mut statement| statement.query_row([], |row| uuid(row.get(0)?)).optional())
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Missing::Deployment))
}

#[async_trait]
impl Store for SqliteStore {
    async fn initialize(&self, bootstrap: &TokenHash) -> Result<(), StoreError> {
        let hash = bootstrap.0;
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let initialized = tx
                .query_row(
                    "SELECT 1 FROM settings WHERE key IN ('bootstrap_hash', 'bootstrap_spent_at_ms')",
                    [],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?;
            if initialized.is_some() {
                return Err(StoreError::AlreadyInitialized);
            }
            tx.execute("INSERT INTO settings (key, value) VALUES ('bootstrap_hash', ?1)", params![hash.as_slice()])
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn register_deployment(&self, bootstrap: &TokenHash, deployment: &NewDeployment) -> Result<(), StoreError> {
        let hash = bootstrap.0;
        let deployment = deployment.clone();
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let stored: Option<Vec<u8>> = tx
                .query_row("SELECT value FROM settings WHERE key = 'bootstrap_hash'", [], |row| row.get(0))
                .optional()
                .map_err(backend)?;
            // Once spent, the hash is deleted: a second registration finds nothing to match.
            if stored.as_deref() != Some(hash.as_slice()) {
                return Err(StoreError::BootstrapRefused);
            }
            let now = now_ms();
            let team = &deployment.ministry_team;
            tx.execute(
                "INSERT INTO deployment (singleton, deployment_id, root_public_key, ministry_team_id, created_at_ms)
                 VALUES (1, ?1, ?2, ?3, ?4)",
                params![deployment.deployment_id.as_bytes(), deployment.root_public_key, team.id.as_bytes(), now],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO teams (team_id, name, public_key) VALUES (?1, ?2, ?3)",
                params![team.id.as_bytes(), team.name, team.public_key],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO devices (device_id, team_id, admin, token_hash, created_at_ms)
                 VALUES (?1, ?2, 1, ?3, ?4)",
                params![
                    deployment.admin_device_id.as_bytes(),
                    team.id.as_bytes(),
                    deployment.admin_token.0.as_slice(),
                    now
                ],
            )
            .map_err(backend)?;
            tx.execute("DELETE FROM settings WHERE key = 'bootstrap_hash'", []).map_err(backend)?;
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('bootstrap_spent_at_ms', ?1)",
                params![now.to_string().into_bytes()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn deployment(&self) -> Result<Deployment, StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT deployment_id, root_public_key, ministry_team_id FROM deployment", [], |row| {
                    Ok(Deployment {
                        deployment_id: uuid(row.get(0)?)?,
                        root_public_key: row.get(1)?,
                        ministry_team_id: uuid(row.get(2)?)?,
                    })
                })
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Deployment))
        })
        .await
    }

    async fn authenticate(&self, token: &TokenHash) -> Result<Credential, StoreError> {
        let hash = token.0;
        self.read(move |connection| {
            // Every request asks this: a cached statement.
            let device = connection
                .prepare_cached(
                    "SELECT device_id, team_id, admin, revoked_at_ms IS NOT NULL FROM devices WHERE token_hash = ?1",
                )
                .and_then(|mut statement| {
                    statement
                        .query_row(params![hash.as_slice()], |row| {
                            Ok(Device {
                                id: uuid(row.get(0)?)?,
                                team_id: uuid(row.get(1)?)?,
                                admin: row.get(2)?,
                                revoked: row.get(3)?,
                            })
                        })
                        .optional()
                })
                .map_err(backend)?;
            if let Some(device) = device {
                return Ok(Credential::Device(device));
            }
            connection
                .query_row(
                    "SELECT invitation_id, team_id, admin, expires_at_ms FROM invitations
                     WHERE token_hash = ?1 AND redeemed_by IS NULL AND cancelled_at_ms IS NULL
                       AND expires_at_ms >= ?2",
                    params![hash.as_slice(), now_ms()],
                    |row| {
                        Ok(Credential::Invitation(PendingInvitation {
                            id: uuid(row.get(0)?)?,
                            team_id: uuid(row.get(1)?)?,
                            admin: row.get(2)?,
                            expires_at_ms: row.get::<_, i64>(3)? as u64,
                        }))
                    },
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Token))
        })
        .await
    }

    async fn directory(&self) -> Result<SignedDirectory, StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT document, signature FROM directory", [], |row| {
                    Ok(SignedDirectory { document: row.get(0)?, signature: row.get(1)? })
                })
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Directory))
        })
        .await
    }

    async fn publish_directory(
        &self,
        version: u64,
        directory: &SignedDirectory,
        teams: &[Team],
    ) -> Result<(), StoreError> {
        let directory = directory.clone();
        let teams = teams.to_vec();
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            replace_if_newer(&tx, "directory", version, &directory.document, &directory.signature)?
                .map_err(|current| StoreError::StaleDirectory { offered: version, current })?;
            for team in &teams {
                tx.execute(
                    "INSERT INTO teams (team_id, name, public_key) VALUES (?1, ?2, ?3)
                     ON CONFLICT (team_id) DO UPDATE SET name = excluded.name, public_key = excluded.public_key",
                    params![team.id.as_bytes(), team.name, team.public_key],
                )
                .map_err(backend)?;
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn service_directory(&self) -> Result<Option<SignedDocument>, StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT document, signature FROM service_directory", [], |row| {
                    Ok(SignedDocument { document: row.get(0)?, signature: row.get(1)? })
                })
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn publish_service_directory(&self, version: u64, directory: &SignedDocument) -> Result<(), StoreError> {
        let directory = directory.clone();
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            replace_if_newer(&tx, "service_directory", version, &directory.document, &directory.signature)?
                .map_err(|current| StoreError::StaleServiceDirectory { offered: version, current })?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn create_invitation(&self, invitation: &NewInvitation) -> Result<(), StoreError> {
        let invitation = invitation.clone();
        self.run(move |connection| {
            let tx = connection.transaction().map_err(backend)?;
            let team = tx
                .query_row("SELECT 1 FROM teams WHERE team_id = ?1", params![invitation.team_id.as_bytes()], |_| Ok(()))
                .optional()
                .map_err(backend)?;
            if team.is_none() {
                return Err(StoreError::NotFound(Missing::Team));
            }
            tx.execute(
                "INSERT INTO invitations
                     (invitation_id, team_id, admin, token_hash, created_by, created_at_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    invitation.id.as_bytes(),
                    invitation.team_id.as_bytes(),
                    invitation.admin,
                    invitation.token.0.as_slice(),
                    invitation.created_by.as_bytes(),
                    now_ms(),
                    invitation.expires_at_ms.min(i64::MAX as u64) as i64
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn invitation_by_token(&self, token: &TokenHash) -> Result<InvitationInfo, StoreError> {
        let hash = token.0;
        self.run(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = ?1"),
                    params![hash.as_slice()],
                    |row| invitation_from_row(row, now_ms()),
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Token))
        })
        .await
    }

    async fn redeem_invitation(
        &self,
        invitation_token: &TokenHash,
        device_id: Uuid,
        device_token: &TokenHash,
        certificate: &DeviceCertificate,
    ) -> Result<DeviceInfo, StoreError> {
        let (hash, new_hash) = (invitation_token.0, device_token.0);
        let certificate = certificate.clone();
        let certificate_text = certificate_json(&certificate)?;
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            // The clock is read inside the write transaction: an invitation that expires while
            // the request waits for the lock is refused.
            let now = now_ms();
            let invitation = tx
                .query_row(
                    &format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = ?1"),
                    params![hash.as_slice()],
                    |row| invitation_from_row(row, now),
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Token))?;
            match invitation.status {
                InvitationStatus::Pending => {}
                InvitationStatus::Redeemed => return Err(StoreError::InvitationUsed),
                InvitationStatus::Cancelled => return Err(StoreError::InvitationCancelled),
                InvitationStatus::Expired => return Err(StoreError::InvitationExpired),
            }
            let taken = tx
                .query_row("SELECT 1 FROM devices WHERE device_id = ?1", params![device_id.as_bytes()], |_| Ok(()))
                .optional()
                .map_err(backend)?;
            if taken.is_some() {
                return Err(StoreError::DeviceAlreadyEnrolled(device_id));
            }
            tx.execute(
                "INSERT INTO devices (device_id, team_id, admin, token_hash, created_at_ms, certificate)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    device_id.as_bytes(),
                    invitation.team_id.as_bytes(),
                    invitation.admin,
                    new_hash.as_slice(),
                    now,
                    certificate_text
                ],
            )
            .map_err(backend)?;
            tx.execute(
                "UPDATE invitations SET redeemed_by = ?1, redeemed_at_ms = ?2 WHERE invitation_id = ?3",
                params![device_id.as_bytes(), now, invitation.invitation_id.as_bytes()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(DeviceInfo {
                device_id,
                team_id: invitation.team_id,
                admin: invitation.admin,
                revoked: false,
                created_at_ms: now as u64,
                certificate: Some(certificate),
                wipe: None,
            })
        })
        .await
    }

    async fn list_invitations(&self) -> Result<Vec<InvitationInfo>, StoreError> {
        self.run(|connection| {
            let now = now_ms();
            let mut statement = connection
                .prepare(&format!("SELECT {INVITATION_COLUMNS} FROM invitations ORDER BY created_at_ms, invitation_id"))
                .map_err(backend)?;
            let rows = statement.query_map([], |row| invitation_from_row(row, now)).map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn cancel_invitation(&self, invitation_id: Uuid) -> Result<(), StoreError> {
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let redeemed: bool = tx
                .query_row(
                    "SELECT redeemed_by IS NOT NULL FROM invitations WHERE invitation_id = ?1",
                    params![invitation_id.as_bytes()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Invitation))?;
            if redeemed {
                return Err(StoreError::InvitationUsed);
            }
            tx.execute(
                "UPDATE invitations SET cancelled_at_ms = COALESCE(cancelled_at_ms, ?1) WHERE invitation_id = ?2",
                params![now_ms(), invitation_id.as_bytes()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn set_device_certificate(&self, device_id: Uuid, certificate: &DeviceCertificate) -> Result<(), StoreError> {
        let text = certificate_json(certificate)?;
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let stored: Option<String> = tx
                .query_row(
                    "SELECT certificate FROM devices WHERE device_id = ?1",
                    params![device_id.as_bytes()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Device))?;
            match stored {
                Some(stored) if stored == text => return Ok(()),
                Some(_) => return Err(StoreError::CertificateAlreadyStored(device_id)),
                None => {}
            }
            tx.execute("UPDATE devices SET certificate = ?1 WHERE device_id = ?2", params![text, device_id.as_bytes()])
                .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn push_events(&self, device: &Device, events: &[SealedEvent]) -> Result<Vec<PushedEvent>, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = PushJob { team: device.team_id, events: events.to_vec(), answer };
        if self.pushes.submit(job) {
            let (connection, pushes) = (Arc::clone(&self.connection), Arc::clone(&self.pushes));
            tokio::task::spawn_blocking(move || commit_pushes(&connection, &pushes));
        }
        answered.await.map_err(|_| StoreError::Backend("the writer stopped before committing the push".into()))?
    }

    async fn pull_events(&self, team: Uuid, after: u64, limit: u32, max_bytes: u64) -> Result<EventPage, StoreError> {
        self.read(move |connection| {
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT f.position, {EVENT_COLUMNS} FROM feed f JOIN events e ON e.seq = f.event_seq
                     WHERE f.team_id = ?1 AND f.position > ?2 ORDER BY f.position LIMIT ?3"
                ))
                .map_err(backend)?;
            let rows = statement
                .query_map(params![team.as_bytes(), after.min(i64::MAX as u64) as i64, limit as i64 + 1], |row| {
                    let position: i64 = row.get(0)?;
                    Ok((position as u64, event_from_row(row, 1)?))
                })
                .map_err(backend)?;
            let mut page = PageFill::new(after, limit, max_bytes);
            for row in rows {
                let (position, event) = row.map_err(backend)?;
                if !page.offer(position, event) {
                    break;
                }
            }
            Ok(page.finish())
        })
        .await
    }

    async fn grant_case(&self, by_team: Uuid, case_id: Uuid, to_team: Uuid) -> Result<u64, StoreError> {
        self.run(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let owner: Uuid = tx
                .query_row("SELECT owner_team_id FROM cases WHERE case_id = ?1", params![case_id.as_bytes()], |row| {
                    uuid(row.get(0)?)
                })
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Missing::Case))?;
            if !can_see(&tx, by_team, case_id, owner)? {
                return Err(StoreError::CaseNotVisible(case_id));
            }
            let team_known = tx
                .query_row("SELECT 1 FROM teams WHERE team_id = ?1", params![to_team.as_bytes()], |_| Ok(()))
                .optional()
                .map_err(backend)?;
            if team_known.is_none() {
                return Err(StoreError::NotFound(Missing::Team));
            }
            tx.execute(
                "INSERT OR IGNORE INTO case_grants (case_id, team_id, granted_at_ms) VALUES (?1, ?2, ?3)",
                params![case_id.as_bytes(), to_team.as_bytes(), now_ms()],
            )
            .map_err(backend)?;
            // Back-fill in event order the case's events the team's feed does not hold yet.
            let backfilled = tx
                .execute(
                    "INSERT INTO feed (team_id, event_seq)
                     SELECT ?1, e.seq FROM events e WHERE e.case_id = ?2
                       AND NOT EXISTS (SELECT 1 FROM feed f WHERE f.team_id = ?1 AND f.event_seq = e.seq)
                     ORDER BY e.seq",
                    params![to_team.as_bytes(), case_id.as_bytes()],
                )
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(backfilled as u64)
        })
        .await
    }

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StoreError> {
        self.read(|connection| {
            let mut statement = connection
                .prepare(
                    "SELECT d.device_id, d.team_id, d.admin, d.revoked_at_ms IS NOT NULL, d.created_at_ms, d.certificate,
                            w.order_id, w.send_first, w.issued_at_ms, w.done_at_ms, w.sent_first, w.destroyed_unsent
                     FROM devices d LEFT JOIN wipe_orders w ON w.device_id = d.device_id
                     ORDER BY d.created_at_ms, d.device_id",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        DeviceInfo {
                            device_id: uuid(row.get(0)?)?,
                            team_id: uuid(row.get(1)?)?,
                            admin: row.get(2)?,
                            revoked: row.get(3)?,
                            created_at_ms: row.get::<_, i64>(4)? as u64,
                            certificate: None,
                            wipe: match row.get::<_, Option<Vec<u8>>>(6)? {
                                None => None,
                                Some(order_id) => Some(WipeStatus {
                                    order_id: uuid(order_id)?,
                                    send_first: row.get(7)?,
                                    issued_at_ms: row.get::<_, i64>(8)? as u64,
                                    done_at_ms: row.get::<_, Option<i64>>(9)?.map(|ms| ms as u64),
                                    sent_first: row.get::<_, Option<i64>>(10)?.map(|n| n as u64),
                                    destroyed_unsent: row.get::<_, Option<i64>>(11)?.map(|n| n as u64),
                                }),
                            },
                        },
                        row.get::<_, Option<String>>(5)?,
                    ))
                })
                .map_err(backend)?;
            let mut devices = Vec::new();
            for row in rows {
                let (mut device, certificate) = row.map_err(backend)?;
                device.certificate = certificate_from_json(certificate)?;
                devices.push(device);
            }
            Ok(devices)
        })
        .await
    }

    async fn revoke_device(&self, device_id: Uuid) -> Result<(), StoreError> {
        self.run(move |connection| {
            let changed = connection
                .execute(
                    "UPDATE devices SET revoked_at_ms = COALESCE(revoked_at_ms, ?1) WHERE device_id = ?2",
                    params![now_ms(), device_id.as_bytes()],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NotFound(Missing::Device));
            }
            Ok(())
        })
        .await
    }

    async fn order_wipe(&self, order: &NewWipeOrder) -> Result<(), StoreError> {
        let order = order.clone();
        self.run(move |connection| {
            let tx = connection.transaction().map_err(backend)?;
            let known: bool = tx
                .query_row(
                    "SELECT COUNT(*) > 0 FROM devices WHERE device_id = ?1",
                    [order.device_id.as_bytes()],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if !known {
                return Err(StoreError::NotFound(Missing::Device));
            }
            let done: Option<Option<i64>> = tx
                .query_row(
                    "SELECT done_at_ms FROM wipe_orders WHERE device_id = ?1",
                    [order.device_id.as_bytes()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            if matches!(done, Some(Some(_))) {
                return Err(StoreError::Conflict("this laptop was already wiped".into()));
            }
            tx.execute(
                "INSERT OR REPLACE INTO wipe_orders (device_id, order_id, send_first, signed_order, issued_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    order.device_id.as_bytes(),
                    order.order_id.as_bytes(),
                    order.send_first,
                    order.signed_order,
                    now_ms()
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn pending_wipe(&self, device_id: Uuid) -> Result<Option<PendingWipe>, StoreError> {
        self.read(move |connection| {
            connection
                .query_row(
                    "SELECT order_id, send_first, signed_order FROM wipe_orders
                     WHERE device_id = ?1 AND done_at_ms IS NULL",
                    [device_id.as_bytes()],
                    |row| {
                        Ok(PendingWipe {
                            order_id: uuid(row.get(0)?)?,
                            send_first: row.get(1)?,
                            signed_order: row.get(2)?,
                        })
                    },
                )
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn wipe_done(&self, done: &WipeDone) -> Result<(), StoreError> {
        let done = done.clone();
        self.run(move |connection| {
            let tx = connection.transaction().map_err(backend)?;
            let now = now_ms();
            let changed = tx
                .execute(
                    "UPDATE wipe_orders SET done_at_ms = COALESCE(done_at_ms, ?1), sent_first = ?2,
                            destroyed_unsent = ?3, report = ?4
                     WHERE device_id = ?5 AND order_id = ?6",
                    params![
                        now,
                        done.sent_first as i64,
                        done.destroyed_unsent as i64,
                        done.report,
                        done.device_id.as_bytes(),
                        done.order_id.as_bytes()
                    ],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NotFound(Missing::WipeOrder));
            }
            tx.execute(
                "UPDATE devices SET revoked_at_ms = COALESCE(revoked_at_ms, ?1) WHERE device_id = ?2",
                params![now, done.device_id.as_bytes()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        self.read(|connection| {
            connection
                .query_row("SELECT COUNT(*) FROM events", [], |row| row.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(backend)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| connection.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)).await
    }
}
