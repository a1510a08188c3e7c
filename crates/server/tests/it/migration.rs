//! Upgrading a database that an older server left: invitations get an expiry (seven days
//! from their creation) and can be cancelled, devices keep working and get room for a
//! certificate. The old database is built by applying only the first migration, as that
//! server did, and filling it as it would have.

use std::sync::Arc;

use harbour_server::store::{Credential, Store};
use harbour_server::token::TokenHash;
use harbour_wire::protocol::InvitationStatus;
use uuid::Uuid;

use crate::support::{fresh_postgres_database, postgres_url, team};

const DAY_MS: i64 = 86_400_000;

/// What the old server held: a team, an enrolled device, and three invitations.
struct OldRows {
    now: i64,
    team_id: Uuid,
    device_id: Uuid,
    /// Made a day ago, not redeemed: pending for six more days.
    recent: Uuid,
    /// Made eight days ago, not redeemed: expired.
    stale: Uuid,
    /// Redeemed by `device_id` (whose token was then the invitation's).
    redeemed: Uuid,
}

impl OldRows {
    fn new() -> OldRows {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        OldRows {
            now,
            team_id: Uuid::now_v7(),
            device_id: Uuid::now_v7(),
            recent: Uuid::now_v7(),
            stale: Uuid::now_v7(),
            redeemed: Uuid::now_v7(),
        }
    }

    /// (invitation id, token, created at, redeemed by)
    fn invitations(&self) -> [(Uuid, &'static str, i64, Option<Uuid>); 3] {
        [
            (self.recent, "recent-token", self.now - DAY_MS, None),
            (self.stale, "stale-token", self.now - 8 * DAY_MS, None),
            (self.redeemed, "device-token", self.now - 2 * DAY_MS, Some(self.device_id)),
        ]
    }
}

async fn check_upgraded(store: Arc<dyn Store>, old: &OldRows) {
    let invitations = store.list_invitations().await.unwrap();
    assert_eq!(invitations.len(), 3, "every invitation is kept");
    for (id, _, created, redeemed_by) in old.invitations() {
        let invitation = invitations.iter().find(|i| i.invitation_id == id).unwrap();
        assert_eq!(invitation.created_at_ms, created as u64);
        assert_eq!(invitation.expires_at_ms, (created + 7 * DAY_MS) as u64, "seven days from creation");
        assert_eq!(invitation.device_id, redeemed_by);
        assert_eq!(invitation.team_id, old.team_id);
    }
    let status = |id: Uuid| invitations.iter().find(|i| i.invitation_id == id).unwrap().status;
    assert_eq!(status(old.recent), InvitationStatus::Pending);
    assert_eq!(status(old.stale), InvitationStatus::Expired);
    assert_eq!(status(old.redeemed), InvitationStatus::Redeemed);
    // The device made before keeps its token, and has no certificate yet.
    match store.authenticate(&TokenHash::of("device-token")).await.unwrap() {
        Credential::Device(device) => assert_eq!((device.id, device.team_id), (old.device_id, old.team_id)),
        other => panic!("expected the old device, got {other:?}"),
    }
    let devices = store.list_devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].certificate, None);
    // The pending invitation still authenticates as one; it can now be cancelled.
    assert!(matches!(
        store.authenticate(&TokenHash::of("recent-token")).await.unwrap(),
        Credential::Invitation(pending) if pending.id == old.recent
    ));
    store.cancel_invitation(old.recent).await.unwrap();
    assert_eq!(
        store.invitation_by_token(&TokenHash::of("recent-token")).await.unwrap().status,
        InvitationStatus::Cancelled
    );
}

#[tokio::test]
async fn upgrading_sqlite_keeps_invitations_and_devices() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("harbour.db");
    let old = OldRows::new();
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
            )
            .unwrap();
        connection.execute_batch(harbour_server::sqlite::MIGRATIONS[0]).unwrap();
        connection.execute("INSERT INTO schema_migrations VALUES (1, ?1)", [old.now]).unwrap();
        let ministry = team("Ministry");
        connection
            .execute(
                "INSERT INTO teams (team_id, name, public_key) VALUES (?1, ?2, ?3)",
                rusqlite::params![old.team_id.as_bytes(), ministry.name, ministry.public_key],
            )
            .unwrap();
        connection
            .execute(
                "INSERT INTO devices (device_id, team_id, admin, token_hash, created_at_ms) VALUES (?1, ?2, 0, ?3, ?4)",
                rusqlite::params![
                    old.device_id.as_bytes(),
                    old.team_id.as_bytes(),
                    TokenHash::of("device-token").0.as_slice(),
                    old.now - 2 * DAY_MS
                ],
            )
            .unwrap();
        for (id, token, created, redeemed_by) in old.invitations() {
            connection
                .execute(
                    "INSERT INTO invitations (invitation_id, team_id, admin, token_hash, created_by, created_at_ms,
                         redeemed_by, redeemed_at_ms)
                     VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![
                        id.as_bytes(),
                        old.team_id.as_bytes(),
                        TokenHash::of(token).0.as_slice(),
                        old.device_id.as_bytes(),
                        created,
                        redeemed_by.map(|device| device.as_bytes().to_vec()),
                        redeemed_by.map(|_| created + 1000)
                    ],
                )
                .unwrap();
        }
    }
    let store = harbour_server::store::open(&format!("sqlite:{}", path.display())).await.unwrap();
    check_upgraded(store, &old).await;
}

#[tokio::test]
async fn upgrading_postgres_keeps_invitations_and_devices() {
    let Some(url) = postgres_url() else { return };
    let database = fresh_postgres_database(&url).await;
    let old = OldRows::new();
    {
        let (client, connection) = tokio_postgres::connect(&database, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .batch_execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)")
            .await
            .unwrap();
        client.batch_execute(harbour_server::postgres::MIGRATIONS[0]).await.unwrap();
        client.execute("INSERT INTO schema_migrations VALUES (1, $1)", &[&old.now]).await.unwrap();
        let ministry = team("Ministry");
        client
            .execute(
                "INSERT INTO teams (team_id, name, public_key) VALUES ($1, $2, $3)",
                &[&old.team_id, &ministry.name, &ministry.public_key],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO devices (device_id, team_id, admin, token_hash, created_at_ms)
                 VALUES ($1, $2, FALSE, $3, $4)",
                &[&old.device_id, &old.team_id, &TokenHash::of("device-token").0.as_slice(), &(old.now - 2 * DAY_MS)],
            )
            .await
            .unwrap();
        for (id, token, created, redeemed_by) in old.invitations() {
            client
                .execute(
                    "INSERT INTO invitations (invitation_id, team_id, admin, token_hash, created_by, created_at_ms,
                         redeemed_by, redeemed_at_ms)
                     VALUES ($1, $2, FALSE, $3, $4, $5, $6, $7)",
                    &[
                        &id,
                        &old.team_id,
                        &TokenHash::of(token).0.as_slice(),
                        &old.device_id,
                        &created,
                        &redeemed_by,
                        &redeemed_by.map(|_| created + 1000),
                    ],
                )
                .await
                .unwrap();
        }
    }
    let store = harbour_server::store::open(&database).await.unwrap();
    check_upgraded(store, &old).await;
}
