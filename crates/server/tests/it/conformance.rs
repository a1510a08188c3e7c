//! One conformance suite for the storage trait, run against every backend: SQLite always,
//! PostgreSQL when `HARBOUR_TEST_POSTGRES_URL` is set (and it must be when `CI=true`).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use harbour_server::store::{
    Credential, Device, Missing, NewDeployment, NewInvitation, NewWipeOrder, Store, StoreError, WipeDone,
};
use harbour_server::token::{Token, TokenHash};
use harbour_wire::SealedEvent;
use harbour_wire::identity::DeviceCertificate;
use harbour_wire::protocol::{InvitationStatus, SignedDirectory, Team};
use rand_core::OsRng;
use uuid::Uuid;

use crate::support::{Case, Invitation, certify, fresh_postgres_database, postgres_url, team};

/// Run `check` against each backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let mut specs = vec![(
                    "sqlite",
                    format!("sqlite:{}", dir.path().join("harbour.db").display()),
                )];
                if let Some(url) = postgres_url() {
                    specs.push(("postgres", fresh_postgres_database(&url).await));
                }
                for (backend, spec) in specs {
                    let store = harbour_server::store::open(&spec).await.unwrap();
                    checks::$name(store, &spec).await;
                    eprintln!("{} passed on {backend}", stringify!($name));
                }
            }
        )*
    };
}

conformance!(
    initialization_and_registration,
    directory_versions,
    invitations_are_redeemed_once,
    invitations_expire_and_can_be_cancelled,
    certificates_are_kept,
    push_is_idempotent_and_all_or_nothing,
    pushes_respect_case_visibility,
    pull_pages_follow_the_team_feed,
    pull_pages_are_bounded_in_bytes,
    grants_backfill_older_events,
    devices_are_listed_and_revoked,
    wipe_orders_wait_until_reported,
    data_survives_reopening,
);

/// A registered deployment with a ministry, a clinic and a shelter, and one device each.
struct Fixture {
    ministry: Team,
    clinic: Team,
    shelter: Team,
    admin: Device,
    clinic_device: Device,
    shelter_device: Device,
}

async fn registered(store: &Arc<dyn Store>) -> Fixture {
    let bootstrap = Token::generate();
    store.initialize(&bootstrap.hash()).await.unwrap();
    let ministry = team("Ministry");
    let admin_token = Token::generate();
    let admin_id = Uuid::now_v7();
    store
        .register_deployment(
            &bootstrap.hash(),
            &NewDeployment {
                deployment_id: Uuid::now_v7(),
                root_public_key: vec![7; 32],
                ministry_team: ministry.clone(),
                admin_device_id: admin_id,
                admin_token: admin_token.hash(),
            },
        )
        .await
        .unwrap();
    let (clinic, shelter) = (team("Clinic"), team("Shelter"));
    let teams = [ministry.clone(), clinic.clone(), shelter.clone()];
    store.publish_directory(1, &directory(1), &teams).await.unwrap();
    let admin = Device { id: admin_id, team_id: ministry.id, admin: true, revoked: false };
    let clinic_device = enrol(store, &clinic, admin_id).await;
    let shelter_device = enrol(store, &shelter, admin_id).await;
    Fixture { ministry, clinic, shelter, admin, clinic_device, shelter_device }
}

async fn enrol(store: &Arc<dyn Store>, team: &Team, admin: Uuid) -> Device {
    let token = Token::generate();
    let invitation = invitation(team.id, false, admin, &token, in_days(7));
    store.create_invitation(&invitation).await.unwrap();
    let device_id = Uuid::now_v7();
    let device = store
        .redeem_invitation(&token.hash(), device_id, &Token::generate().hash(), &certificate(&invitation, device_id))
        .await
        .unwrap();
    Device { id: device.device_id, team_id: device.team_id, admin: device.admin, revoked: device.revoked }
}

fn invitation(team_id: Uuid, admin: bool, created_by: Uuid, token: &Token, expires_at_ms: u64) -> NewInvitation {
    NewInvitation { id: Uuid::now_v7(), team_id, admin, token: token.hash(), created_by, expires_at_ms }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn in_days(days: u64) -> u64 {
    now_ms() + days * 86_400_000
}

/// A certificate for `device_id` made with `invitation` (the store keeps it; the API verifies).
fn certificate(invitation: &NewInvitation, device_id: Uuid) -> DeviceCertificate {
    let root = SigningKey::generate(&mut OsRng);
    let signed = Invitation {
        deployment_id: Uuid::now_v7(),
        invitation_id: invitation.id,
        team_id: invitation.team_id,
        admin: invitation.admin,
        expires_ms: invitation.expires_at_ms,
    };
    certify(&root, &signed, device_id)
}

fn directory(version: u64) -> SignedDirectory {
    SignedDirectory { document: format!("{{\"version\":{version}}}"), signature: vec![1; 64] }
}

fn event(case: &Case, device: &Device, seq: u64) -> SealedEvent {
    case.seal_with_seq(device.id, seq, "note.added", "sealed text")
}

async fn ids(store: &Arc<dyn Store>, team: Uuid) -> Vec<Uuid> {
    store.pull_events(team, 0, 1000, u64::MAX).await.unwrap().events.iter().map(|e| e.id).collect()
}

mod checks {
    use super::*;

    pub async fn initialization_and_registration(store: Arc<dyn Store>, _spec: &str) {
        assert!(matches!(store.deployment().await, Err(StoreError::NotFound(Missing::Deployment))));
        let bootstrap = Token::generate();
        store.initialize(&bootstrap.hash()).await.unwrap();
        assert!(matches!(store.initialize(&Token::generate().hash()).await, Err(StoreError::AlreadyInitialized)));
        let admin_token = Token::generate();
        let deployment = NewDeployment {
            deployment_id: Uuid::now_v7(),
            root_public_key: vec![9; 32],
            ministry_team: team("Ministry"),
            admin_device_id: Uuid::now_v7(),
            admin_token: admin_token.hash(),
        };
        assert!(matches!(
            store.register_deployment(&Token::generate().hash(), &deployment).await,
            Err(StoreError::BootstrapRefused)
        ));
        store.register_deployment(&bootstrap.hash(), &deployment).await.unwrap();
        assert!(matches!(
            store.register_deployment(&bootstrap.hash(), &deployment).await,
            Err(StoreError::BootstrapRefused)
        ));
        assert!(matches!(store.initialize(&Token::generate().hash()).await, Err(StoreError::AlreadyInitialized)));
        let stored = store.deployment().await.unwrap();
        assert_eq!(stored.deployment_id, deployment.deployment_id);
        assert_eq!(stored.root_public_key, vec![9; 32]);
        assert_eq!(stored.ministry_team_id, deployment.ministry_team.id);
        match store.authenticate(&admin_token.hash()).await.unwrap() {
            Credential::Device(device) => {
                assert_eq!(device.id, deployment.admin_device_id);
                assert!(device.admin && !device.revoked);
                assert_eq!(device.team_id, deployment.ministry_team.id);
            }
            other => panic!("expected the admin device, got {other:?}"),
        }
        assert!(matches!(
            store.authenticate(&TokenHash::of("unknown")).await,
            Err(StoreError::NotFound(Missing::Token))
        ));
        store.ping().await.unwrap();
    }

    pub async fn directory_versions(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        assert_eq!(store.directory().await.unwrap(), directory(1));
        let teams = [fixture.ministry.clone()];
        assert!(matches!(
            store.publish_directory(1, &directory(1), &teams).await,
            Err(StoreError::StaleDirectory { offered: 1, current: 1 })
        ));
        let mut renamed = fixture.clinic.clone();
        renamed.name = "Clinic North".into();
        let newcomer = team("Embassy");
        store.publish_directory(2, &directory(2), &[renamed, newcomer.clone()]).await.unwrap();
        assert_eq!(store.directory().await.unwrap(), directory(2));
        // The new team can receive invitations at once.
        enrol(&store, &newcomer, fixture.admin.id).await;
    }

    pub async fn invitations_are_redeemed_once(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let token = Token::generate();
        let expires_at_ms = in_days(3);
        let unknown_team = invitation(Uuid::now_v7(), false, fixture.admin.id, &token, expires_at_ms);
        assert!(matches!(store.create_invitation(&unknown_team).await, Err(StoreError::NotFound(Missing::Team))));
        let invitation = NewInvitation { team_id: fixture.ministry.id, admin: true, ..unknown_team };
        store.create_invitation(&invitation).await.unwrap();
        assert!(matches!(
            store.authenticate(&token.hash()).await.unwrap(),
            Credential::Invitation(pending)
                if pending.id == invitation.id && pending.admin && pending.expires_at_ms == expires_at_ms
        ));
        let found = store.invitation_by_token(&token.hash()).await.unwrap();
        assert_eq!(
            (found.invitation_id, found.status, found.expires_at_ms),
            (invitation.id, InvitationStatus::Pending, expires_at_ms)
        );
        assert_eq!(found.device_id, None);
        // A device id already enrolled is refused, and the invitation stays usable.
        let device_token = Token::generate();
        let taken = fixture.clinic_device.id;
        assert!(matches!(
            store.redeem_invitation(&token.hash(), taken, &device_token.hash(), &certificate(&invitation, taken)).await,
            Err(StoreError::DeviceAlreadyEnrolled(id)) if id == taken
        ));
        let device_id = Uuid::now_v7();
        let own = certificate(&invitation, device_id);
        let device = store.redeem_invitation(&token.hash(), device_id, &device_token.hash(), &own).await.unwrap();
        assert_eq!(
            (device.device_id, device.team_id, device.admin, device.revoked),
            (device_id, fixture.ministry.id, true, false)
        );
        assert_eq!(device.certificate.as_ref(), Some(&own));
        let again = Uuid::now_v7();
        assert!(matches!(
            store
                .redeem_invitation(&token.hash(), again, &Token::generate().hash(), &certificate(&invitation, again))
                .await,
            Err(StoreError::InvitationUsed)
        ));
        // The device has its own token; the invitation's authenticates nothing any more.
        assert_eq!(
            store.authenticate(&device_token.hash()).await.unwrap(),
            Credential::Device(Device { id: device_id, team_id: fixture.ministry.id, admin: true, revoked: false })
        );
        assert!(matches!(store.authenticate(&token.hash()).await, Err(StoreError::NotFound(Missing::Token))));
        let used = store.invitation_by_token(&token.hash()).await.unwrap();
        assert_eq!((used.status, used.device_id), (InvitationStatus::Redeemed, Some(device_id)));
        let nobody = Uuid::now_v7();
        assert!(matches!(
            store
                .redeem_invitation(
                    &TokenHash::of("nobody"),
                    nobody,
                    &Token::generate().hash(),
                    &certificate(&invitation, nobody)
                )
                .await,
            Err(StoreError::NotFound(Missing::Token))
        ));
        assert!(matches!(
            store.invitation_by_token(&TokenHash::of("nobody")).await,
            Err(StoreError::NotFound(Missing::Token))
        ));
    }

    pub async fn invitations_expire_and_can_be_cancelled(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let devices_before = store.list_devices().await.unwrap().len();
        let (late_token, cancelled_token, used_token) = (Token::generate(), Token::generate(), Token::generate());
        // Expired a second ago, by the server's clock.
        let late = invitation(fixture.clinic.id, false, fixture.admin.id, &late_token, now_ms() - 1000);
        let cancelled = invitation(fixture.clinic.id, false, fixture.admin.id, &cancelled_token, in_days(7));
        let used = invitation(fixture.shelter.id, false, fixture.admin.id, &used_token, in_days(1));
        for made in [&late, &cancelled, &used] {
            store.create_invitation(made).await.unwrap();
        }
        let redeem = async |token: &Token, made: &NewInvitation| {
            let device_id = Uuid::now_v7();
            store
                .redeem_invitation(&token.hash(), device_id, &Token::generate().hash(), &certificate(made, device_id))
                .await
        };
        assert!(matches!(store.authenticate(&late_token.hash()).await, Err(StoreError::NotFound(Missing::Token))));
        assert!(matches!(redeem(&late_token, &late).await, Err(StoreError::InvitationExpired)));

        store.cancel_invitation(cancelled.id).await.unwrap();
        store.cancel_invitation(cancelled.id).await.unwrap();
        assert!(matches!(store.authenticate(&cancelled_token.hash()).await, Err(StoreError::NotFound(Missing::Token))));
        assert!(matches!(redeem(&cancelled_token, &cancelled).await, Err(StoreError::InvitationCancelled)));
        // An expired invitation can be cancelled too (it stays refused).
        store.cancel_invitation(late.id).await.unwrap();

        let device = redeem(&used_token, &used).await.unwrap();
        assert!(matches!(store.cancel_invitation(used.id).await, Err(StoreError::InvitationUsed)));
        assert!(matches!(
            store.cancel_invitation(Uuid::now_v7()).await,
            Err(StoreError::NotFound(Missing::Invitation))
        ));
        assert_eq!(store.list_devices().await.unwrap().len(), devices_before + 1, "refusals made no device");

        let listed = store.list_invitations().await.unwrap();
        let status = |id: Uuid| listed.iter().find(|i| i.invitation_id == id).map(|i| (i.status, i.device_id));
        assert_eq!(status(late.id), Some((InvitationStatus::Cancelled, None)));
        assert_eq!(status(cancelled.id), Some((InvitationStatus::Cancelled, None)));
        assert_eq!(status(used.id), Some((InvitationStatus::Redeemed, Some(device.device_id))));
        let shown = listed.iter().find(|i| i.invitation_id == used.id).unwrap();
        assert_eq!((shown.team_id, shown.admin, shown.expires_at_ms), (fixture.shelter.id, false, used.expires_at_ms));
        assert!(shown.created_at_ms <= now_ms());
        // The fixture's two enrolments are there too, redeemed.
        assert_eq!(listed.len(), 5);
        assert_eq!(listed.iter().filter(|i| i.status == InvitationStatus::Redeemed).count(), 3);
        // Expired but never cancelled shows as expired.
        let stale_token = Token::generate();
        let stale = invitation(fixture.clinic.id, false, fixture.admin.id, &stale_token, now_ms() - 1);
        store.create_invitation(&stale).await.unwrap();
        assert_eq!(store.invitation_by_token(&stale_token.hash()).await.unwrap().status, InvitationStatus::Expired);
    }

    pub async fn certificates_are_kept(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let devices = store.list_devices().await.unwrap();
        let admin = devices.iter().find(|d| d.device_id == fixture.admin.id).unwrap();
        assert_eq!(admin.certificate, None, "the first administrator's laptop has no certificate at first");
        assert!(devices.iter().filter(|d| d.device_id != fixture.admin.id).all(|d| d.certificate.is_some()));
        let made = invitation(fixture.ministry.id, true, fixture.admin.id, &Token::generate(), in_days(1));
        let own = certificate(&made, fixture.admin.id);
        store.set_device_certificate(fixture.admin.id, &own).await.unwrap();
        store.set_device_certificate(fixture.admin.id, &own).await.unwrap();
        let other = certificate(&made, fixture.admin.id);
        assert!(matches!(
            store.set_device_certificate(fixture.admin.id, &other).await,
            Err(StoreError::CertificateAlreadyStored(id)) if id == fixture.admin.id
        ));
        assert!(matches!(
            store.set_device_certificate(Uuid::now_v7(), &own).await,
            Err(StoreError::NotFound(Missing::Device))
        ));
        let devices = store.list_devices().await.unwrap();
        let admin = devices.iter().find(|d| d.device_id == fixture.admin.id).unwrap();
        assert_eq!(admin.certificate.as_ref(), Some(&own));
    }

    pub async fn push_is_idempotent_and_all_or_nothing(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let device = &fixture.clinic_device;
        let case = Case::new();
        let batch: Vec<_> = (1..=3).map(|seq| event(&case, device, seq)).collect();
        let first = store.push_events(device, &batch).await.unwrap();
        assert!(first.iter().all(|pushed| !pushed.already_stored));
        assert!(first.windows(2).all(|pair| pair[0].seq < pair[1].seq), "sequence numbers rise");
        let replay = store.push_events(device, &batch).await.unwrap();
        assert!(replay.iter().all(|pushed| pushed.already_stored));
        assert_eq!(replay.iter().map(|p| p.seq).collect::<Vec<_>>(), first.iter().map(|p| p.seq).collect::<Vec<_>>());
        assert_eq!(store.event_count().await.unwrap(), 3);

        // A different event reusing (device, seq 2) spoils the whole batch.
        let fresh = event(&case, device, 4);
        let clash = event(&case, device, 2);
        assert!(matches!(store.push_events(device, &[fresh.clone(), clash]).await, Err(StoreError::Conflict(_))));
        // The same id with other content is refused too.
        let mut altered = batch[0].clone();
        altered.ciphertext[0] ^= 1;
        assert!(matches!(store.push_events(device, &[altered]).await, Err(StoreError::Conflict(_))));
        assert_eq!(store.event_count().await.unwrap(), 3, "nothing of a refused batch is stored");
        store.push_events(device, &[fresh]).await.unwrap();
        assert_eq!(store.event_count().await.unwrap(), 4);
    }

    pub async fn pushes_respect_case_visibility(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        store.push_events(&fixture.clinic_device, &[event(&case, &fixture.clinic_device, 1)]).await.unwrap();
        // The shelter cannot write to the clinic's case, and its batch leaves no trace.
        let own_case = Case::new();
        let refused = [event(&own_case, &fixture.shelter_device, 1), event(&case, &fixture.shelter_device, 2)];
        assert!(matches!(
            store.push_events(&fixture.shelter_device, &refused).await,
            Err(StoreError::CaseNotVisible(id)) if id == case.id
        ));
        assert!(ids(&store, fixture.shelter.id).await.is_empty());
        // The ministry can write to every case.
        store.push_events(&fixture.admin, &[event(&case, &fixture.admin, 1)]).await.unwrap();
        assert_eq!(ids(&store, fixture.clinic.id).await.len(), 2);
        assert_eq!(ids(&store, fixture.ministry.id).await.len(), 2);
    }

    pub async fn pull_pages_follow_the_team_feed(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let (clinic_case, shelter_case) = (Case::new(), Case::new());
        let clinic_events: Vec<_> = (1..=7).map(|seq| event(&clinic_case, &fixture.clinic_device, seq)).collect();
        let shelter_events: Vec<_> = (1..=2).map(|seq| event(&shelter_case, &fixture.shelter_device, seq)).collect();
        store.push_events(&fixture.clinic_device, &clinic_events[..4]).await.unwrap();
        store.push_events(&fixture.shelter_device, &shelter_events).await.unwrap();
        store.push_events(&fixture.clinic_device, &clinic_events[4..]).await.unwrap();

        let mut pulled = Vec::new();
        let mut cursor = 0;
        let mut pages = 0;
        loop {
            let page = store.pull_events(fixture.clinic.id, cursor, 3, u64::MAX).await.unwrap();
            assert!(page.events.len() <= 3);
            pages += 1;
            pulled.extend(page.events);
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(pulled, clinic_events, "the clinic gets its events, in order, and no others");
        let empty = store.pull_events(fixture.clinic.id, cursor, 3, u64::MAX).await.unwrap();
        assert!(empty.events.is_empty() && !empty.more && empty.next_cursor == cursor);
        assert_eq!(store.pull_events(fixture.shelter.id, 0, 100, u64::MAX).await.unwrap().events, shelter_events);
        assert_eq!(ids(&store, fixture.ministry.id).await.len(), 9, "the ministry sees every case");
    }

    /// A page stops before its ciphertext passes the byte budget, `more` stays true, and an
    /// event larger than the whole budget is still served, alone.
    pub async fn pull_pages_are_bounded_in_bytes(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        let sized = |seq: u64, plain: usize| {
            case.seal_with_seq(fixture.clinic_device.id, seq, "note.added", &"x".repeat(plain))
        };
        // Ciphertext is the plaintext plus a 16-byte tag: 1000, 1000, 5000, 1000 bytes.
        let events = vec![sized(1, 984), sized(2, 984), sized(3, 4984), sized(4, 984)];
        store.push_events(&fixture.clinic_device, &events).await.unwrap();
        let mut pages = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store.pull_events(fixture.clinic.id, cursor, 100, 2500).await.unwrap();
            pages.push(page.events.iter().map(|e| e.device_seq).collect::<Vec<_>>());
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        assert_eq!(pages, vec![vec![1, 2], vec![3], vec![4]]);
    }

    pub async fn grants_backfill_older_events(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        let older: Vec<_> = (1..=3).map(|seq| event(&case, &fixture.clinic_device, seq)).collect();
        store.push_events(&fixture.clinic_device, &older).await.unwrap();
        // The shelter has read part of its feed already: the grant must still reach it.
        let shelter_case = Case::new();
        store.push_events(&fixture.shelter_device, &[event(&shelter_case, &fixture.shelter_device, 1)]).await.unwrap();
        let cursor = store.pull_events(fixture.shelter.id, 0, 100, u64::MAX).await.unwrap().next_cursor;

        assert!(matches!(
            store.grant_case(fixture.shelter.id, case.id, fixture.shelter.id).await,
            Err(StoreError::CaseNotVisible(_))
        ));
        assert!(matches!(
            store.grant_case(fixture.clinic.id, Uuid::now_v7(), fixture.shelter.id).await,
            Err(StoreError::NotFound(Missing::Case))
        ));
        assert!(matches!(
            store.grant_case(fixture.clinic.id, case.id, Uuid::now_v7()).await,
            Err(StoreError::NotFound(Missing::Team))
        ));
        assert_eq!(store.grant_case(fixture.clinic.id, case.id, fixture.shelter.id).await.unwrap(), 3);
        assert_eq!(store.grant_case(fixture.clinic.id, case.id, fixture.shelter.id).await.unwrap(), 0);
        let newer = event(&case, &fixture.clinic_device, 4);
        store.push_events(&fixture.clinic_device, std::slice::from_ref(&newer)).await.unwrap();
        let page = store.pull_events(fixture.shelter.id, cursor, 100, u64::MAX).await.unwrap();
        let mut expected = older.clone();
        expected.push(newer);
        assert_eq!(page.events, expected);
        // Now the shelter may write to the case too; the ministry may grant any case.
        store.push_events(&fixture.shelter_device, &[event(&case, &fixture.shelter_device, 2)]).await.unwrap();
        let other = Case::new();
        store.push_events(&fixture.clinic_device, &[event(&other, &fixture.clinic_device, 5)]).await.unwrap();
        assert_eq!(store.grant_case(fixture.ministry.id, other.id, fixture.shelter.id).await.unwrap(), 1);
    }

    pub async fn devices_are_listed_and_revoked(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let devices = store.list_devices().await.unwrap();
        assert_eq!(devices.len(), 3);
        assert!(devices.iter().any(|d| d.device_id == fixture.admin.id && d.admin));
        store.revoke_device(fixture.clinic_device.id).await.unwrap();
        store.revoke_device(fixture.clinic_device.id).await.unwrap();
        assert!(matches!(store.revoke_device(Uuid::now_v7()).await, Err(StoreError::NotFound(Missing::Device))));
        let devices = store.list_devices().await.unwrap();
        let clinic = devices.iter().find(|d| d.device_id == fixture.clinic_device.id).unwrap();
        assert!(clinic.revoked);
        assert_eq!(devices.iter().filter(|d| d.revoked).count(), 1);
    }

    pub async fn wipe_orders_wait_until_reported(store: Arc<dyn Store>, _spec: &str) {
        let fixture = registered(&store).await;
        let laptop = fixture.clinic_device.id;
        assert_eq!(store.pending_wipe(laptop).await.unwrap(), None);
        let order = |order_id: Uuid, send_first: bool| NewWipeOrder {
            device_id: laptop,
            order_id,
            send_first,
            signed_order: format!("{{\"order\":\"{order_id}\"}}"),
        };
        let unknown = NewWipeOrder { device_id: Uuid::now_v7(), ..order(Uuid::now_v7(), false) };
        assert!(matches!(store.order_wipe(&unknown).await, Err(StoreError::NotFound(Missing::Device))));
        // A newer order replaces one not carried out.
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        store.order_wipe(&order(first, false)).await.unwrap();
        store.order_wipe(&order(second, true)).await.unwrap();
        let pending = store.pending_wipe(laptop).await.unwrap().unwrap();
        assert_eq!((pending.order_id, pending.send_first), (second, true));
        assert_eq!(pending.signed_order, order(second, true).signed_order);
        let listed = store.list_devices().await.unwrap();
        let status = listed.iter().find(|d| d.device_id == laptop).unwrap().wipe.clone().unwrap();
        assert_eq!((status.order_id, status.done_at_ms), (second, None));
        assert!(listed.iter().filter(|d| d.device_id != laptop).all(|d| d.wipe.is_none()));
        // The report of a replaced order is not this one's.
        let done = |order_id| WipeDone {
            device_id: laptop,
            order_id,
            sent_first: 4,
            destroyed_unsent: 1,
            report: "{}".into(),
        };
        assert!(matches!(store.wipe_done(&done(first)).await, Err(StoreError::NotFound(Missing::WipeOrder))));
        store.wipe_done(&done(second)).await.unwrap();
        store.wipe_done(&done(second)).await.unwrap();
        assert_eq!(store.pending_wipe(laptop).await.unwrap(), None);
        let listed = store.list_devices().await.unwrap();
        let device = listed.iter().find(|d| d.device_id == laptop).unwrap();
        assert!(device.revoked, "a wiped laptop is revoked");
        let status = device.wipe.clone().unwrap();
        assert!(status.done_at_ms.is_some());
        assert_eq!((status.sent_first, status.destroyed_unsent), (Some(4), Some(1)));
        // A wiped laptop cannot be ordered wiped again.
        assert!(matches!(store.order_wipe(&order(Uuid::now_v7(), false)).await, Err(StoreError::Conflict(_))));
    }

    pub async fn data_survives_reopening(store: Arc<dyn Store>, spec: &str) {
        let fixture = registered(&store).await;
        let case = Case::new();
        let events: Vec<_> = (1..=2).map(|seq| event(&case, &fixture.clinic_device, seq)).collect();
        store.push_events(&fixture.clinic_device, &events).await.unwrap();
        drop(store);
        // Reopening runs the migrations again: they must be no-ops.
        let reopened = harbour_server::store::open(spec).await.unwrap();
        assert_eq!(reopened.pull_events(fixture.clinic.id, 0, 10, u64::MAX).await.unwrap().events, events);
        assert_eq!(reopened.event_count().await.unwrap(), 2);
        assert_eq!(reopened.directory().await.unwrap(), directory(1));
    }
}
