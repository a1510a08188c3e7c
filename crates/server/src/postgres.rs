//! PostgreSQL backend, for a deployment that outgrows one machine: a connection pool
//! (deadpool) over tokio-postgres.
//!
//! Feed positions and event sequence numbers come from identity columns. Concurrent
//! transactions could commit them out of order, and a pulling device that saw position 10
//! before 9 committed would skip 9 for ever; so every transaction that assigns them takes one
//! transaction-scoped advisory lock before it does, making assignment order equal commit order.
//! A push reads and decides first, without the lock, and then writes its cases, events and feed
//! rows in one statement: the lock is held for that statement and the commit only, and a push
//! that raced another writer for the same row (the unique indexes refuse it) is tried again.
//! Statements every request runs are prepared once per connection (`prepare_cached`).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt as _;
use harbour_wire::identity::{DeviceCertificate, SignedDocument};
use harbour_wire::protocol::{DeviceInfo, InvitationInfo, InvitationStatus, PushedEvent, SignedDirectory, Team};
use harbour_wire::{Hlc, SealedEvent};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use crate::postgres_tls::{PostgresTarget, SslMode, connect_error};
use crate::store::{
    Credential, Deployment, Device, EventPage, Missing, NewDeployment, NewInvitation, NewWipeOrder, PageFill,
    PendingInvitation, PendingWipe, Store, StoreError, WipeDone, certificate_from_json, certificate_json,
    invitation_status, now_ms,
};
use crate::token::TokenHash;
use harbour_wire::wipe::WipeStatus;

/// Key of the advisory lock that serialises feed writers (any constant unique to Harbour).
/// Another program that writes feed rows must take it (`pg_advisory_xact_lock`) first.
pub const FEED_LOCK: i64 = 0x4842_5246_4545_4400;
const MIGRATION_LOCK: i64 = 0x4842_524d_4947_5200;

/// Versioned migrations, applied in order; `schema_migrations` records which ran. Public so a
/// test can build a database as an older version of the server left it.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE deployment (
    singleton SMALLINT PRIMARY KEY CHECK (singleton = 1),
    deployment_id UUID NOT NULL,
    root_public_key BYTEA NOT NULL,
    ministry_team_id UUID NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE teams (
    team_id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    public_key BYTEA NOT NULL
);
CREATE TABLE directory (
    singleton SMALLINT PRIMARY KEY CHECK (singleton = 1),
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    signature BYTEA NOT NULL
);
CREATE TABLE devices (
    device_id UUID PRIMARY KEY,
    team_id UUID NOT NULL REFERENCES teams (team_id),
    admin BOOLEAN NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE TABLE invitations (
    invitation_id UUID PRIMARY KEY,
    team_id UUID NOT NULL REFERENCES teams (team_id),
    admin BOOLEAN NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by UUID NOT NULL,
    created_at_ms BIGINT NOT NULL,
    redeemed_by UUID,
    redeemed_at_ms BIGINT
);
CREATE TABLE cases (
    case_id UUID PRIMARY KEY,
    owner_team_id UUID NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE TABLE case_grants (
    case_id UUID NOT NULL REFERENCES cases (case_id),
    team_id UUID NOT NULL,
    granted_at_ms BIGINT NOT NULL,
    PRIMARY KEY (case_id, team_id)
);
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id UUID NOT NULL UNIQUE,
    format SMALLINT NOT NULL,
    case_id UUID NOT NULL REFERENCES cases (case_id),
    kind TEXT NOT NULL,
    device_id UUID NOT NULL,
    device_seq BIGINT NOT NULL,
    hlc_wall_ms BIGINT NOT NULL,
    hlc_counter BIGINT NOT NULL,
    key_id UUID NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    received_at_ms BIGINT NOT NULL,
    UNIQUE (device_id, device_seq)
);
CREATE INDEX events_by_case ON events (case_id, seq);
CREATE TABLE feed (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id UUID NOT NULL,
    event_seq BIGINT NOT NULL REFERENCES events (seq),
    UNIQUE (team_id, event_seq)
);
CREATE INDEX feed_by_team ON feed (team_id, position);
"#,
    // 2: invitations expire and can be cancelled (those made before get 7 days from their
    // creation); a device keeps its certificate (none for devices made before).
    r#"
ALTER TABLE invitations ADD COLUMN expires_at_ms BIGINT;
UPDATE invitations SET expires_at_ms = created_at_ms + 7 * 86400000;
ALTER TABLE invitations ALTER COLUMN expires_at_ms SET NOT NULL;
ALTER TABLE invitations ADD COLUMN cancelled_at_ms BIGINT;
ALTER TABLE devices ADD COLUMN certificate TEXT;
"#,
    // 3: remote wipe orders (root-signed, relayed as they are) and the laptops' reports.
    r#"
CREATE TABLE wipe_orders (
    device_id UUID PRIMARY KEY REFERENCES devices (device_id),
    order_id UUID NOT NULL,
    send_first BOOLEAN NOT NULL,
    signed_order TEXT NOT NULL,
    issued_at_ms BIGINT NOT NULL,
    done_at_ms BIGINT,
    sent_first BIGINT,
    destroyed_unsent BIGINT,
    report TEXT
);
"#,
    // 4: the service directory (root-signed, relayed as it is).
    r#"
CREATE TABLE service_directory (
    singleton SMALLINT PRIMARY KEY CHECK (singleton = 1),
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    signature BYTEA NOT NULL
);
"#,
];

const EVENT_COLUMNS: &str = "e.format, e.event_id, e.case_id, e.kind, e.device_id, e.device_seq, \
     e.hlc_wall_ms, e.hlc_counter, e.key_id, e.nonce, e.ciphertext";

pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connect to `url` and run pending migrations.
    /// The URL's `sslmode` decides TLS (see [`crate::postgres_tls`]).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let target = PostgresTarget::parse(url)?;
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match target.mode {
            SslMode::Disable => Manager::from_config(target.config.clone(), NoTls, manager_config),
            _ => Manager::from_config(target.config.clone(), target.connector()?, manager_config),
        };
        let pool = Pool::builder(manager).max_size(16).build().map_err(|e| StoreError::Backend(e.to_string()))?;
        // The first connection now, so that a refusal (no TLS where it is required) is said
        // plainly at startup.
        drop(pool.get().await.map_err(|error| match error {
            deadpool_postgres::PoolError::Backend(error) => connect_error(&target, &error),
            other => StoreError::Backend(other.to_string()),
        })?);
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Backend(e.to_string()))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(backend)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
        )
        .await
        .map_err(backend)?;
        let applied: i64 =
            tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await.map_err(backend)?.get(0);
        for (index, sql) in MIGRATIONS.iter().enumerate() {
            let version = index as i64 + 1;
            if version <= applied {
                continue;
            }
            tx.batch_execute(sql).await.map_err(backend)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
                &[&version, &now_ms()],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

/// A push is tried this many times when it raced another writer for the same row (an event
/// pushed twice at once, a new case created by two teams at once); the last race is an error.
const PUSH_ATTEMPTS: usize = 3;

/// What one try of a push came to.
enum PushAttempt {
    Done(Result<Vec<PushedEvent>, StoreError>),
    /// A row another writer committed meanwhile: nothing was stored; read again and retry.
    Raced(tokio_postgres::Error),
}

/// What is stored already of a push's events, read before the write.
struct Stored {
    events: HashMap<Uuid, (i64, SealedEvent)>,
    /// (device, device sequence number) already taken.
    device_seqs: HashSet<(Uuid, i64)>,
    owners: HashMap<Uuid, Uuid>,
    /// Cases of the batch granted to the pushing team.
    granted: HashSet<Uuid>,
    ministry: Uuid,
}

/// What a push answers for one of its events.
#[derive(Clone, Copy)]
enum Answer {
    /// Stored before, with this sequence number.
    Stored(i64),
    /// Stored by this push: the event at this index of `PushPlan::new_events`.
    New(usize),
    /// The same event a second time in the batch, stored by this push at this index.
    Repeated(usize),
}

/// A push decided: what to answer, and what to write.
struct PushPlan<'a> {
    /// Per event of the batch, what to answer.
    answers: Vec<Answer>,
    new_events: Vec<&'a SealedEvent>,
    new_cases: Vec<Uuid>,
    /// The owning team of every case a new event belongs to.
    owners: HashMap<Uuid, Uuid>,
}

/// Decide a push against what is stored, as the one-event-at-a-time rules say: an event stored
/// already (or earlier in the batch) is answered as such if identical and refused otherwise;
/// a device sequence number may be used once; a case belongs to the team that first pushes
/// to it, and others may write to it only when it is granted to them (the ministry always).
fn plan_push<'a>(team: Uuid, events: &'a [SealedEvent], stored: &Stored) -> Result<PushPlan<'a>, StoreError> {
    let mut plan = PushPlan {
        answers: Vec::with_capacity(events.len()),
        new_events: Vec::new(),
        new_cases: Vec::new(),
        owners: HashMap::new(),
    };
    let mut new_ids: HashMap<Uuid, usize> = HashMap::new();
    let mut new_seqs: HashSet<(Uuid, i64)> = HashSet::new();
    let mut known_owners = stored.owners.clone();
    for event in events {
        let earlier = stored
            .events
            .get(&event.id)
            .map(|(seq, stored)| (stored, Answer::Stored(*seq)))
            .or_else(|| new_ids.get(&event.id).map(|&index| (plan.new_events[index], Answer::Repeated(index))));
        if let Some((earlier, answer)) = earlier {
            if earlier != event {
                return Err(StoreError::Conflict(format!(
                    "event {} is already stored with different content",
                    event.id
                )));
            }
            plan.answers.push(answer);
            continue;
        }
        let device_seq = (event.device_id, event.device_seq as i64);
        if stored.device_seqs.contains(&device_seq) || !new_seqs.insert(device_seq) {
            return Err(StoreError::Conflict(format!(
                "device sequence number {} is already used by another event",
                event.device_seq
            )));
        }
        let owner = match known_owners.get(&event.case_id) {
            Some(&owner) => {
                // A case created earlier in this batch is the pushing team's own.
                let visible = team == owner || team == stored.ministry || stored.granted.contains(&event.case_id);
                if !visible {
                    return Err(StoreError::CaseNotVisible(event.case_id));
                }
                owner
            }
            None => {
                plan.new_cases.push(event.case_id);
                known_owners.insert(event.case_id, team);
                team
            }
        };
        plan.owners.insert(event.case_id, owner);
        new_ids.insert(event.id, plan.new_events.len());
        plan.answers.push(Answer::New(plan.new_events.len()));
        plan.new_events.push(event);
    }
    Ok(plan)
}

/// A push's events, cases and feed rows in one statement. The feed's teams are read here, after
/// the feed lock is taken, so a grant committed meanwhile is seen (the grant's back-fill could
/// not see this push's events).
const INSERT_PUSH: &str = "
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::uuid[], $4::text[], $5::uuid[], $6::bigint[],
                         $7::bigint[], $8::bigint[], $9::uuid[], $10::bytea[], $11::bytea[])
        WITH ORDINALITY AS i(event_id, format, case_id, kind, device_id, device_seq, hlc_wall_ms,
                             hlc_counter, key_id, nonce, ciphertext, ord)
), new_cases AS (
    INSERT INTO cases (case_id, owner_team_id, created_at_ms) SELECT unnest($12::uuid[]), $13::uuid, $14::bigint
), new_events AS (
    INSERT INTO events (event_id, format, case_id, kind, device_id, device_seq, hlc_wall_ms, hlc_counter,
                        key_id, nonce, ciphertext, received_at_ms)
    SELECT event_id, format, case_id, kind, device_id, device_seq, hlc_wall_ms, hlc_counter, key_id, nonce,
           ciphertext, $14::bigint
    FROM input ORDER BY ord
    RETURNING seq, event_id, case_id
), owners AS (
    SELECT * FROM unnest($15::uuid[], $16::uuid[]) AS o(case_id, owner_team_id)
), fed AS (
    INSERT INTO feed (team_id, event_seq)
    SELECT t.team_id, e.seq FROM new_events e
    CROSS JOIN LATERAL (
        SELECT o.owner_team_id FROM owners o WHERE o.case_id = e.case_id
        UNION SELECT $17::uuid
        UNION SELECT g.team_id FROM case_grants g WHERE g.case_id = e.case_id
    ) AS t(team_id)
    ORDER BY e.seq, t.team_id
)
SELECT event_id, seq FROM new_events";

impl PostgresStore {
    /// One try of a push: read what is stored (no lock, several queries in one round trip),
    /// decide, then write everything new in one statement under the feed lock and commit.
    /// Take the feed lock, write the plan's new cases, events and feed rows, commit. The lock is
    /// taken only now, when everything is decided: it is held for one statement and the commit.
    /// `Ok(Err(_))` when another writer committed one of the same rows meanwhile.
    async fn insert_push(
        &self,
        client: &mut deadpool_postgres::Object,
        team: Uuid,
        ministry: Uuid,
        plan: &PushPlan<'_>,
    ) -> Result<Result<Vec<i64>, tokio_postgres::Error>, StoreError> {
        let lock = client.prepare_cached("SELECT pg_advisory_xact_lock($1)").await.map_err(backend)?;
        let insert = client.prepare_cached(INSERT_PUSH).await.map_err(backend)?;
        let new = &plan.new_events;
        let column = |get: fn(&SealedEvent) -> Uuid| new.iter().map(|event| get(event)).collect::<Vec<Uuid>>();
        let ids = column(|event| event.id);
        let formats: Vec<i16> = new.iter().map(|event| event.format as i16).collect();
        let cases = column(|event| event.case_id);
        let kinds: Vec<&str> = new.iter().map(|event| event.kind.as_str()).collect();
        let devices = column(|event| event.device_id);
        let device_seqs: Vec<i64> = new.iter().map(|event| event.device_seq as i64).collect();
        let walls: Vec<i64> = new.iter().map(|event| event.hlc.wall_ms as i64).collect();
        let counters: Vec<i64> = new.iter().map(|event| event.hlc.counter as i64).collect();
        let keys = column(|event| event.key_id);
        let nonces: Vec<&[u8]> = new.iter().map(|event| event.nonce.as_slice()).collect();
        let ciphertexts: Vec<&[u8]> = new.iter().map(|event| event.ciphertext.as_slice()).collect();
        let (owned_cases, owners): (Vec<Uuid>, Vec<Uuid>) =
            plan.owners.iter().map(|(case, owner)| (*case, *owner)).unzip();
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute(&lock, &[&FEED_LOCK]).await.map_err(backend)?;
        let rows = tx
            .query(
                &insert,
                &[
                    &ids,
                    &formats,
                    &cases,
                    &kinds,
                    &devices,
                    &device_seqs,
                    &walls,
                    &counters,
                    &keys,
                    &nonces,
                    &ciphertexts,
                    &plan.new_cases,
                    &team,
                    &now_ms(),
                    &owned_cases,
                    &owners,
                    &ministry,
                ],
            )
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => return Ok(Err(error)),
            Err(error) => return Err(backend(error)),
        };
        tx.commit().await.map_err(backend)?;
        let seqs: HashMap<Uuid, i64> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        ids.iter()
            .map(|id| seqs.get(id).copied().ok_or_else(|| StoreError::Backend(format!("event {id} was not stored"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Ok)
    }

    async fn push_once(&self, team: Uuid, events: &[SealedEvent]) -> Result<PushAttempt, StoreError> {
        let mut client = self.client().await?;
        let ids: Vec<Uuid> = events.iter().map(|event| event.id).collect();
        let devices: Vec<Uuid> = events.iter().map(|event| event.device_id).collect();
        let seqs: Vec<i64> = events.iter().map(|event| event.device_seq as i64).collect();
        let mut cases: Vec<Uuid> = events.iter().map(|event| event.case_id).collect();
        cases.sort();
        cases.dedup();
        let stored_events = client
            .prepare_cached(&format!("SELECT e.seq, {EVENT_COLUMNS} FROM events e WHERE e.event_id = ANY($1)"))
            .await
            .map_err(backend)?;
        let taken = client
            .prepare_cached(
                "SELECT device_id, device_seq FROM events
                 WHERE (device_id, device_seq) IN (SELECT * FROM unnest($1::uuid[], $2::bigint[]))",
            )
            .await
            .map_err(backend)?;
        let owners = client
            .prepare_cached("SELECT case_id, owner_team_id FROM cases WHERE case_id = ANY($1)")
            .await
            .map_err(backend)?;
        let granted = client
            .prepare_cached("SELECT case_id FROM case_grants WHERE team_id = $1 AND case_id = ANY($2)")
            .await
            .map_err(backend)?;
        let ministry = client.prepare_cached("SELECT ministry_team_id FROM deployment").await.map_err(backend)?;
        // Sent together: the connection answers them in order, one round trip for all.
        let (stored_events, taken, owners, granted, ministry) = futures_util::future::try_join5(
            client.query(&stored_events, &[&ids]),
            client.query(&taken, &[&devices, &seqs]),
            client.query(&owners, &[&cases]),
            client.query(&granted, &[&team, &cases]),
            client.query_opt(&ministry, &[]),
        )
        .await
        .map_err(backend)?;
        let Some(ministry) = ministry.map(|row| row.get::<_, Uuid>(0)) else {
            return Ok(PushAttempt::Done(Err(StoreError::NotFound(Missing::Deployment))));
        };
        let stored = Stored {
            events: stored_events
                .iter()
                .map(|row| {
                    let event = event_from_row(row, 1);
                    (event.id, (row.get(0), event))
                })
                .collect(),
            device_seqs: taken.iter().map(|row| (row.get(0), row.get(1))).collect(),
            owners: owners.iter().map(|row| (row.get(0), row.get(1))).collect(),
            granted: granted.iter().map(|row| row.get(0)).collect(),
            ministry,
        };
        let plan = match plan_push(team, events, &stored) {
            Ok(plan) => plan,
            Err(refused) => return Ok(PushAttempt::Done(Err(refused))),
        };
        let mut new_seqs = Vec::new();
        if !plan.new_events.is_empty() {
            match self.insert_push(&mut client, team, ministry, &plan).await? {
                Ok(seqs) => new_seqs = seqs,
                Err(raced) => return Ok(PushAttempt::Raced(raced)),
            }
        }
        let pushed = events
            .iter()
            .zip(&plan.answers)
            .map(|(event, answer)| {
                let (seq, already_stored) = match *answer {
                    Answer::Stored(seq) => (seq, true),
                    Answer::New(index) => (new_seqs[index], false),
                    Answer::Repeated(index) => (new_seqs[index], true),
                };
                PushedEvent { id: event.id, seq: seq as u64, already_stored }
            })
            .collect();
        Ok(PushAttempt::Done(Ok(pushed)))
    }
}

fn backend(error: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// Read the `EVENT_COLUMNS` of a row, starting at column `first`.
fn event_from_row(row: &Row, first: usize) -> SealedEvent {
    SealedEvent {
        format: row.get::<_, i16>(first) as u8,
        id: row.get(first + 1),
        case_id: row.get(first + 2),
        kind: row.get(first + 3),
        device_id: row.get(first + 4),
        device_seq: row.get::<_, i64>(first + 5) as u64,
        hlc: Hlc { wall_ms: row.get::<_, i64>(first + 6) as u64, counter: row.get::<_, i64>(first + 7) as u32 },
        key_id: row.get(first + 8),
        nonce: row.get(first + 9),
        ciphertext: row.get(first + 10),
    }
}

/// The columns `invitation_from_row` reads.
const INVITATION_COLUMNS: &str = "invitation_id, team_id, admin, created_at_ms, expires_at_ms, \
     redeemed_by, cancelled_at_ms IS NOT NULL";

/// An invitation from the `INVITATION_COLUMNS` of a row, its status as of `now`.
fn invitation_from_row(row: &Row, now: i64) -> InvitationInfo {
    let expires_at_ms: i64 = row.get(4);
    let redeemed_by: Option<Uuid> = row.get(5);
    InvitationInfo {
        invitation_id: row.get(0),
        team_id: row.get(1),
        admin: row.get(2),
        status: invitation_status(redeemed_by.is_some(), row.get(6), expires_at_ms, now),
        created_at_ms: row.get::<_, i64>(3) as u64,
        expires_at_ms: expires_at_ms as u64,
        device_id: redeemed_by,
    }
}

async fn ministry_team(tx: &tokio_postgres::Transaction<'_>) -> Result<Uuid, StoreError> {
    tx.query_opt("SELECT ministry_team_id FROM deployment", &[])
        .await
        .map_err(backend)?
        .map(|row| row.get(0))
        .ok_or(StoreError::NotFound(Missing::Deployment))
}

async fn can_see(
    tx: &tokio_postgres::Transaction<'_>,
    team: Uuid,
    case_id: Uuid,
    owner: Uuid,
) -> Result<bool, StoreError> {
    if team == owner || team == ministry_team(tx).await? {
        return Ok(true);
    }
    let granted = tx
        .query_opt("SELECT 1 FROM case_grants WHERE case_id = $1 AND team_id = $2", &[&case_id, &team])
        .await
        .map_err(backend)?;
    Ok(granted.is_some())
}

#[async_trait]
impl Store for PostgresStore {
    async fn initialize(&self, bootstrap: &TokenHash) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(backend)?;
        let initialized = tx
            .query_opt("SELECT 1 FROM settings WHERE key IN ('bootstrap_hash', 'bootstrap_spent_at_ms')", &[])
            .await
            .map_err(backend)?;
        if initialized.is_some() {
            return Err(StoreError::AlreadyInitialized);
        }
        tx.execute("INSERT INTO settings (key, value) VALUES ('bootstrap_hash', $1)", &[&bootstrap.0.as_slice()])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn register_deployment(&self, bootstrap: &TokenHash, deployment: &NewDeployment) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // Deleting the hash spends it; the row lock makes a concurrent second registration wait
        // and then find nothing.
        let spent = tx
            .execute("DELETE FROM settings WHERE key = 'bootstrap_hash' AND value = $1", &[&bootstrap.0.as_slice()])
            .await
            .map_err(backend)?;
        if spent == 0 {
            return Err(StoreError::BootstrapRefused);
        }
        let now = now_ms();
        let team = &deployment.ministry_team;
        tx.execute(
            "INSERT INTO deployment (singleton, deployment_id, root_public_key, ministry_team_id, created_at_ms)
             VALUES (1, $1, $2, $3, $4)",
            &[&deployment.deployment_id, &deployment.root_public_key, &team.id, &now],
        )
        .await
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO teams (team_id, name, public_key) VALUES ($1, $2, $3)",
            &[&team.id, &team.name, &team.public_key],
        )
        .await
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO devices (device_id, team_id, admin, token_hash, created_at_ms)
             VALUES ($1, $2, TRUE, $3, $4)",
            &[&deployment.admin_device_id, &team.id, &deployment.admin_token.0.as_slice(), &now],
        )
        .await
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES ('bootstrap_spent_at_ms', $1)",
            &[&now.to_string().into_bytes()],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn deployment(&self) -> Result<Deployment, StoreError> {
        let client = self.client().await?;
        client
            .query_opt("SELECT deployment_id, root_public_key, ministry_team_id FROM deployment", &[])
            .await
            .map_err(backend)?
            .map(|row| Deployment {
                deployment_id: row.get(0),
                root_public_key: row.get(1),
                ministry_team_id: row.get(2),
            })
            .ok_or(StoreError::NotFound(Missing::Deployment))
    }

    async fn authenticate(&self, token: &TokenHash) -> Result<Credential, StoreError> {
        let client = self.client().await?;
        let hash = token.0.as_slice();
        // Every request asks this: a statement prepared once per connection.
        let device = client
            .prepare_cached(
                "SELECT device_id, team_id, admin, revoked_at_ms IS NOT NULL FROM devices WHERE token_hash = $1",
            )
            .await
            .map_err(backend)?;
        if let Some(row) = client.query_opt(&device, &[&hash]).await.map_err(backend)? {
            return Ok(Credential::Device(Device {
                id: row.get(0),
                team_id: row.get(1),
                admin: row.get(2),
                revoked: row.get(3),
            }));
        }
        client
            .query_opt(
                "SELECT invitation_id, team_id, admin, expires_at_ms FROM invitations
                 WHERE token_hash = $1 AND redeemed_by IS NULL AND cancelled_at_ms IS NULL
                   AND expires_at_ms >= $2",
                &[&hash, &now_ms()],
            )
            .await
            .map_err(backend)?
            .map(|row| {
                Credential::Invitation(PendingInvitation {
                    id: row.get(0),
                    team_id: row.get(1),
                    admin: row.get(2),
                    expires_at_ms: row.get::<_, i64>(3) as u64,
                })
            })
            .ok_or(StoreError::NotFound(Missing::Token))
    }

    async fn directory(&self) -> Result<SignedDirectory, StoreError> {
        let client = self.client().await?;
        client
            .query_opt("SELECT document, signature FROM directory", &[])
            .await
            .map_err(backend)?
            .map(|row| SignedDirectory { document: row.get(0), signature: row.get(1) })
            .ok_or(StoreError::NotFound(Missing::Directory))
    }

    async fn publish_directory(
        &self,
        version: u64,
        directory: &SignedDirectory,
        teams: &[Team],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK]).await.map_err(backend)?;
        let current: Option<i64> =
            tx.query_opt("SELECT version FROM directory", &[]).await.map_err(backend)?.map(|row| row.get(0));
        if let Some(current) = current
            && current as u64 >= version
        {
            return Err(StoreError::StaleDirectory { offered: version, current: current as u64 });
        }
        tx.execute(
            "INSERT INTO directory (singleton, version, document, signature) VALUES (1, $1, $2, $3)
             ON CONFLICT (singleton) DO UPDATE SET version = excluded.version,
                 document = excluded.document, signature = excluded.signature",
            &[&(version as i64), &directory.document, &directory.signature],
        )
        .await
        .map_err(backend)?;
        for team in teams {
            tx.execute(
                "INSERT INTO teams (team_id, name, public_key) VALUES ($1, $2, $3)
                 ON CONFLICT (team_id) DO UPDATE SET name = excluded.name, public_key = excluded.public_key",
                &[&team.id, &team.name, &team.public_key],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn service_directory(&self) -> Result<Option<SignedDocument>, StoreError> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT document, signature FROM service_directory", &[])
            .await
            .map_err(backend)?
            .map(|row| SignedDocument { document: row.get(0), signature: row.get(1) }))
    }

    async fn publish_service_directory(&self, version: u64, directory: &SignedDocument) -> Result<(), StoreError> {
        let client = self.client().await?;
        // One statement: two publications at once cannot both pass the version check.
        let stored = client
            .execute(
                "INSERT INTO service_directory (singleton, version, document, signature) VALUES (1, $1, $2, $3)
                 ON CONFLICT (singleton) DO UPDATE SET version = excluded.version,
                     document = excluded.document, signature = excluded.signature
                 WHERE service_directory.version < excluded.version",
                &[&(version as i64), &directory.document, &directory.signature],
            )
            .await
            .map_err(backend)?;
        if stored == 1 {
            return Ok(());
        }
        let current: i64 =
            client.query_one("SELECT version FROM service_directory", &[]).await.map_err(backend)?.get(0);
        Err(StoreError::StaleServiceDirectory { offered: version, current: current as u64 })
    }

    async fn create_invitation(&self, invitation: &NewInvitation) -> Result<(), StoreError> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                "INSERT INTO invitations
                     (invitation_id, team_id, admin, token_hash, created_by, created_at_ms, expires_at_ms)
                 SELECT $1, team_id, $3, $4, $5, $6, $7 FROM teams WHERE team_id = $2",
                &[
                    &invitation.id,
                    &invitation.team_id,
                    &invitation.admin,
                    &invitation.token.0.as_slice(),
                    &invitation.created_by,
                    &now_ms(),
                    &(invitation.expires_at_ms.min(i64::MAX as u64) as i64),
                ],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StoreError::NotFound(Missing::Team));
        }
        Ok(())
    }

    async fn invitation_by_token(&self, token: &TokenHash) -> Result<InvitationInfo, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1"),
                &[&token.0.as_slice()],
            )
            .await
            .map_err(backend)?
            .map(|row| invitation_from_row(&row, now_ms()))
            .ok_or(StoreError::NotFound(Missing::Token))
    }

    async fn redeem_invitation(
        &self,
        invitation_token: &TokenHash,
        device_id: Uuid,
        device_token: &TokenHash,
        certificate: &DeviceCertificate,
    ) -> Result<DeviceInfo, StoreError> {
        let certificate_text = certificate_json(certificate)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let row = tx
            .query_opt(
                &format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE"),
                &[&invitation_token.0.as_slice()],
            )
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound(Missing::Token))?;
        // The clock is read once the invitation's row is locked: an invitation that expires
        // while the request waits is refused.
        let now = now_ms();
        let invitation = invitation_from_row(&row, now);
        match invitation.status {
            InvitationStatus::Pending => {}
            InvitationStatus::Redeemed => return Err(StoreError::InvitationUsed),
            InvitationStatus::Cancelled => return Err(StoreError::InvitationCancelled),
            InvitationStatus::Expired => return Err(StoreError::InvitationExpired),
        }
        let inserted = tx
            .execute(
                "INSERT INTO devices (device_id, team_id, admin, token_hash, created_at_ms, certificate)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device_id) DO NOTHING",
                &[
                    &device_id,
                    &invitation.team_id,
                    &invitation.admin,
                    &device_token.0.as_slice(),
                    &now,
                    &certificate_text,
                ],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StoreError::DeviceAlreadyEnrolled(device_id));
        }
        tx.execute(
            "UPDATE invitations SET redeemed_by = $1, redeemed_at_ms = $2 WHERE invitation_id = $3",
            &[&device_id, &now, &invitation.invitation_id],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(DeviceInfo {
            device_id,
            team_id: invitation.team_id,
            admin: invitation.admin,
            revoked: false,
            created_at_ms: now as u64,
            certificate: Some(certificate.clone()),
            wipe: None,
        })
    }

    async fn list_invitations(&self) -> Result<Vec<InvitationInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {INVITATION_COLUMNS} FROM invitations ORDER BY created_at_ms, invitation_id"), &[])
            .await
            .map_err(backend)?;
        let now = now_ms();
        Ok(rows.iter().map(|row| invitation_from_row(row, now)).collect())
    }

    async fn cancel_invitation(&self, invitation_id: Uuid) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let redeemed: bool = tx
            .query_opt(
                "SELECT redeemed_by IS NOT NULL FROM invitations WHERE invitation_id = $1 FOR UPDATE",
                &[&invitation_id],
            )
            .await
            .map_err(backend)?
            .map(|row| row.get(0))
            .ok_or(StoreError::NotFound(Missing::Invitation))?;
        if redeemed {
            return Err(StoreError::InvitationUsed);
        }
        tx.execute(
            "UPDATE invitations SET cancelled_at_ms = COALESCE(cancelled_at_ms, $1) WHERE invitation_id = $2",
            &[&now_ms(), &invitation_id],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn set_device_certificate(&self, device_id: Uuid, certificate: &DeviceCertificate) -> Result<(), StoreError> {
        let text = certificate_json(certificate)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let stored: Option<String> = tx
            .query_opt("SELECT certificate FROM devices WHERE device_id = $1 FOR UPDATE", &[&device_id])
            .await
            .map_err(backend)?
            .map(|row| row.get(0))
            .ok_or(StoreError::NotFound(Missing::Device))?;
        match stored {
            Some(stored) if stored == text => return Ok(()),
            Some(_) => return Err(StoreError::CertificateAlreadyStored(device_id)),
            None => {}
        }
        tx.execute("UPDATE devices SET certificate = $1 WHERE device_id = $2", &[&text, &device_id])
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn push_events(&self, device: &Device, events: &[SealedEvent]) -> Result<Vec<PushedEvent>, StoreError> {
        let mut attempt = 1;
        loop {
            match self.push_once(device.team_id, events).await? {
                PushAttempt::Done(outcome) => return outcome,
                PushAttempt::Raced(error) if attempt >= PUSH_ATTEMPTS => return Err(backend(error)),
                PushAttempt::Raced(_) => attempt += 1,
            }
        }
    }

    async fn pull_events(&self, team: Uuid, after: u64, limit: u32, max_bytes: u64) -> Result<EventPage, StoreError> {
        let client = self.client().await?;
        let after_position = after.min(i64::MAX as u64) as i64;
        let row_limit = limit as i64 + 1;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&team, &after_position, &row_limit];
        // Rows are read as they arrive and the rest left unread once the page is full, so a feed
        // of large events never sits whole in memory.
        let statement = client
            .prepare_cached(&format!(
                "SELECT f.position, {EVENT_COLUMNS} FROM feed f JOIN events e ON e.seq = f.event_seq
                 WHERE f.team_id = $1 AND f.position > $2 ORDER BY f.position LIMIT $3"
            ))
            .await
            .map_err(backend)?;
        let rows = client.query_raw(&statement, params).await.map_err(backend)?;
        let mut rows = std::pin::pin!(rows);
        let mut page = PageFill::new(after, limit, max_bytes);
        while let Some(row) = rows.next().await {
            let row = row.map_err(backend)?;
            if !page.offer(row.get::<_, i64>(0) as u64, event_from_row(&row, 1)) {
                break;
            }
        }
        Ok(page.finish())
    }

    async fn grant_case(&self, by_team: Uuid, case_id: Uuid, to_team: Uuid) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK]).await.map_err(backend)?;
        let owner: Uuid = tx
            .query_opt("SELECT owner_team_id FROM cases WHERE case_id = $1", &[&case_id])
            .await
            .map_err(backend)?
            .map(|row| row.get(0))
            .ok_or(StoreError::NotFound(Missing::Case))?;
        if !can_see(&tx, by_team, case_id, owner).await? {
            return Err(StoreError::CaseNotVisible(case_id));
        }
        let known = tx.query_opt("SELECT 1 FROM teams WHERE team_id = $1", &[&to_team]).await.map_err(backend)?;
        if known.is_none() {
            return Err(StoreError::NotFound(Missing::Team));
        }
        tx.execute(
            "INSERT INTO case_grants (case_id, team_id, granted_at_ms) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&case_id, &to_team, &now_ms()],
        )
        .await
        .map_err(backend)?;
        let backfilled = tx
            .execute(
                "INSERT INTO feed (team_id, event_seq)
                 SELECT $1, e.seq FROM events e WHERE e.case_id = $2
                   AND NOT EXISTS (SELECT 1 FROM feed f WHERE f.team_id = $1 AND f.event_seq = e.seq)
                 ORDER BY e.seq",
                &[&to_team, &case_id],
            )
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(backfilled)
    }

    async fn list_devices(&self) -> Result<Vec<DeviceInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT d.device_id, d.team_id, d.admin, d.revoked_at_ms IS NOT NULL, d.created_at_ms, d.certificate,
                        w.order_id, w.send_first, w.issued_at_ms, w.done_at_ms, w.sent_first, w.destroyed_unsent
                 FROM devices d LEFT JOIN wipe_orders w ON w.device_id = d.device_id
                 ORDER BY d.created_at_ms, d.device_id",
                &[],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(DeviceInfo {
                    device_id: row.get(0),
                    team_id: row.get(1),
                    admin: row.get(2),
                    revoked: row.get(3),
                    created_at_ms: row.get::<_, i64>(4) as u64,
                    certificate: certificate_from_json(row.get(5))?,
                    wipe: row.get::<_, Option<Uuid>>(6).map(|order_id| WipeStatus {
                        order_id,
                        send_first: row.get(7),
                        issued_at_ms: row.get::<_, i64>(8) as u64,
                        done_at_ms: row.get::<_, Option<i64>>(9).map(|ms| ms as u64),
                        sent_first: row.get::<_, Option<i64>>(10).map(|n| n as u64),
                        destroyed_unsent: row.get::<_, Option<i64>>(11).map(|n| n as u64),
                    }),
                })
            })
            .collect()
    }

    async fn revoke_device(&self, device_id: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE devices SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE device_id = $2",
                &[&now_ms(), &device_id],
            )
            .await
            .map_err(backend)?;
        if changed == 0 {
            return Err(StoreError::NotFound(Missing::Device));
        }
        Ok(())
    }

    async fn order_wipe(&self, order: &NewWipeOrder) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let known = tx
            .query_opt("SELECT 1 FROM devices WHERE device_id = $1 FOR UPDATE", &[&order.device_id])
            .await
            .map_err(backend)?;
        if known.is_none() {
            return Err(StoreError::NotFound(Missing::Device));
        }
        let done = tx
            .query_opt("SELECT done_at_ms FROM wipe_orders WHERE device_id = $1", &[&order.device_id])
            .await
            .map_err(backend)?;
        if done.is_some_and(|row| row.get::<_, Option<i64>>(0).is_some()) {
            return Err(StoreError::Conflict("this laptop was already wiped".into()));
        }
        tx.execute(
            "INSERT INTO wipe_orders (device_id, order_id, send_first, signed_order, issued_at_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (device_id) DO UPDATE SET order_id = EXCLUDED.order_id, send_first = EXCLUDED.send_first,
                 signed_order = EXCLUDED.signed_order, issued_at_ms = EXCLUDED.issued_at_ms",
            &[&order.device_id, &order.order_id, &order.send_first, &order.signed_order, &now_ms()],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn pending_wipe(&self, device_id: Uuid) -> Result<Option<PendingWipe>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT order_id, send_first, signed_order FROM wipe_orders WHERE device_id = $1 AND done_at_ms IS NULL",
                &[&device_id],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|row| PendingWipe { order_id: row.get(0), send_first: row.get(1), signed_order: row.get(2) }))
    }

    async fn wipe_done(&self, done: &WipeDone) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let now = now_ms();
        let changed = tx
            .execute(
                "UPDATE wipe_orders SET done_at_ms = COALESCE(done_at_ms, $1), sent_first = $2,
                        destroyed_unsent = $3, report = $4
                 WHERE device_id = $5 AND order_id = $6",
                &[
                    &now,
                    &(done.sent_first as i64),
                    &(done.destroyed_unsent as i64),
                    &done.report,
                    &done.device_id,
                    &done.order_id,
                ],
            )
            .await
            .map_err(backend)?;
        if changed == 0 {
            return Err(StoreError::NotFound(Missing::WipeOrder));
        }
        tx.execute(
            "UPDATE devices SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE device_id = $2",
            &[&now, &done.device_id],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn event_count(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client.query_one("SELECT COUNT(*) FROM events", &[]).await.map_err(backend)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(backend)?;
        Ok(())
    }
}
