//! A referral says how far it got, as each laptop can know it, through a real `harbour-server`:
//! recorded here and waiting, acknowledged by the server, or received from another laptop —
//! both for the referral itself and for a status another laptop gave it — and, for a service
//! that is a Harbour team, delivered: the team's laptop had it.

use harbour_core::model::{
    CaseFields, ConsentMethod, ConsentScope, ReferralReason, ReferralStatus, ServiceType, Urgency,
};
use harbour_core::store::{ConsentInput, Delivery, ReferralInput};
use harbour_tests::devices::{self, Device};
use harbour_tests::server::{Backend, ServerStore};

fn delivery(device: &Device, case: harbour_core::CaseId, referral: harbour_core::EntryId) -> Delivery {
    let mut workspace = device.lock();
    let state = workspace.view_case(case).unwrap();
    workspace.referral_deliveries(&state).unwrap()[&referral]
}

/// Records the person's consent to share with `shared_with`, and returns its id.
fn consent(
    workspace: &mut harbour_core::Workspace,
    case: harbour_core::CaseId,
    shared_with: &str,
) -> harbour_core::EntryId {
    let consent = ConsentInput {
        scope: vec![ConsentScope::Identity, ConsentScope::CaseSummary],
        shared_with: shared_with.into(),
        given_on: chrono::Utc::now().date_naive(),
        method: ConsentMethod::Verbal,
        note: None,
    };
    workspace.add_consent(case, consent).unwrap().0
}

/// An urgent referral to `service` (a shelter) relying on `consent_id`; its team, if any, is the
/// one the service directory names.
fn referral_to(service: &str, consent_id: harbour_core::EntryId) -> ReferralInput {
    ReferralInput {
        service: service.into(),
        service_type: ServiceType::Shelter,
        reason: ReferralReason::AdditionalServicesRequired,
        details: None,
        urgency: Urgency::Urgent,
        consent_id,
        team: None,
    }
}

#[tokio::test]
async fn a_referral_made_on_another_laptop_reads_as_received_and_an_answer_travels_back() {
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(&Backend::Sqlite, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let clinic = devices::create_team(&admin, "Clinic").await;
    let nurse = devices::enrol(&admin, &clinic, &root.path().join("nurse"), "Nurse").await;
    let colleague = devices::enrol(&admin, &clinic, &root.path().join("colleague"), "Colleague").await;

    // The nurse records a case, the person's consent and a referral.
    let (case, referral) = {
        let mut workspace = nurse.lock();
        let case = workspace.create_case(CaseFields::named("Invented Ysolde Brenhart").unwrap()).unwrap();
        let consent_id = consent(&mut workspace, case.id, "Shelter");
        let input = referral_to("shelter-women", consent_id);
        let (referral, _) = workspace.add_referral(case.id, input).unwrap();
        (case.id, referral)
    };
    assert_eq!(delivery(&nurse, case, referral), Delivery::Waiting, "nothing was sent yet");
    nurse.sync().await;
    assert_eq!(delivery(&nurse, case, referral), Delivery::SentToServer);

    // The colleague's laptop receives it: made elsewhere, it reads as received.
    let pulled = colleague.sync().await;
    assert!(pulled.pulled > 0);
    assert_eq!(delivery(&colleague, case, referral), Delivery::Received);

    // The colleague records the shelter's answer: theirs waits, then is sent; on the nurse's
    // laptop the referral's latest change is now one received from another laptop.
    colleague.lock().set_referral_status(case, referral, ReferralStatus::Accepted, None).unwrap();
    assert_eq!(delivery(&colleague, case, referral), Delivery::Waiting);
    colleague.sync().await;
    assert_eq!(delivery(&colleague, case, referral), Delivery::SentToServer);
    assert_eq!(delivery(&nurse, case, referral), Delivery::SentToServer, "not yet pulled by the nurse");
    nurse.sync().await;
    assert_eq!(delivery(&nurse, case, referral), Delivery::Received);
    let state = nurse.lock().view_case(case).unwrap();
    assert_eq!(state.referrals[0].status, ReferralStatus::Accepted);
    assert!(store.plaintext_found(&["Ysolde", "Brenhart"]).is_empty(), "the server holds no name in clear");
}

/// A referral to a service the directory links to a Harbour team shares the case with that team;
/// the team's laptop records, at the sync that brings it, that it has the referral; the nurse's
/// laptop then shows it delivered to that team. A referral to a service outside Harbour stays
/// "sent to the server", whatever other teams do.
#[tokio::test]
async fn a_referral_to_a_harbour_team_is_delivered_when_that_teams_laptop_has_it() {
    let root = tempfile::tempdir().unwrap();
    let store = ServerStore::new(&Backend::Sqlite, &root.path().join("server"));
    let bootstrap = store.init();
    let server = store.start();
    let admin = devices::create_deployment(&server.url, &bootstrap, &root.path().join("admin")).await;
    let clinic = devices::create_team(&admin, "Clinic").await;
    let shelter = devices::create_team(&admin, "Women's Shelter").await;
    let nurse = devices::enrol(&admin, &clinic, &root.path().join("nurse"), "Nurse").await;
    let keeper = devices::enrol(&admin, &shelter, &root.path().join("keeper"), "Keeper").await;
    let night_shift = devices::enrol(&admin, &shelter, &root.path().join("night"), "Night shift").await;

    // The administrator links the shelter's entry in the service directory to its team.
    {
        let mut workspace = admin.lock();
        let mut service =
            workspace.service_directory().unwrap().services.into_iter().find(|s| s.id == "shelter-women").unwrap();
        service.team = Some(shelter.id);
        workspace.save_service(service).unwrap();
    }
    admin.sync().await;
    nurse.sync().await;
    assert_eq!(
        nurse.lock().service_directory().unwrap().services.iter().find(|s| s.id == "shelter-women").unwrap().team,
        Some(shelter.id),
        "the link travels with the signed directory"
    );

    let (case, to_shelter, to_legal_aid) = {
        let mut workspace = nurse.lock();
        let case = workspace.create_case(CaseFields::named("Invented Ottilie Marchbank").unwrap()).unwrap();
        let consent_id = consent(&mut workspace, case.id, "Shelter and legal aid");
        let refer = |service: &str| referral_to(service, consent_id);
        let (to_shelter, state) = workspace.add_referral(case.id, refer("shelter-women")).unwrap();
        assert_eq!(state.referral(to_shelter).unwrap().referral.team, Some(shelter.id), "the directory named the team");
        let (to_legal_aid, state) = workspace.add_referral(case.id, refer("legal-aid")).unwrap();
        assert_eq!(state.referral(to_legal_aid).unwrap().referral.team, None);
        let teams = workspace.referral_teams(&state).unwrap();
        assert_eq!(teams.get(&to_shelter).map(String::as_str), Some("Women's Shelter"));
        assert!(!teams.contains_key(&to_legal_aid));
        (case.id, to_shelter, to_legal_aid)
    };
    assert_eq!(delivery(&nurse, case, to_shelter), Delivery::Waiting);
    let sent = nurse.sync().await;
    assert_eq!(sent.shares_granted, 1, "the case was shared with the shelter's team, once");
    assert_eq!(delivery(&nurse, case, to_shelter), Delivery::SentToServer, "the shelter has not pulled it yet");

    // The shelter's laptop pulls the case (it was shared with its team) and says it has the
    // referral to its team, not the one to legal aid.
    let pulled = keeper.sync().await;
    assert_eq!(pulled.referrals_received, 1, "{pulled:?}");
    assert_eq!(delivery(&keeper, case, to_shelter), Delivery::Delivered);
    assert_eq!(delivery(&keeper, case, to_legal_aid), Delivery::Received);
    assert_eq!(keeper.sync().await.referrals_received, 0, "one receipt, not one a sync");
    // Another laptop of the same team finds the receipt already there and adds none.
    assert_eq!(night_shift.sync().await.referrals_received, 0);

    assert_eq!(delivery(&nurse, case, to_shelter), Delivery::SentToServer, "not yet pulled by the nurse");
    nurse.sync().await;
    assert_eq!(delivery(&nurse, case, to_shelter), Delivery::Delivered);
    assert_eq!(delivery(&nurse, case, to_legal_aid), Delivery::SentToServer, "outside Harbour: as far as the server");
    let state = nurse.lock().view_case(case).unwrap();
    let receipt = state.referral(to_shelter).unwrap().delivered.clone().unwrap();
    assert_eq!(receipt.team_id, shelter.id);
    assert_eq!(receipt.recorded.device_id, keeper.device_id());
    assert_eq!(nurse.lock().referral_teams(&state).unwrap()[&to_shelter], "Women's Shelter");

    // The shelter's answer replaces "delivered" as the referral's latest news.
    keeper.lock().set_referral_status(case, to_shelter, ReferralStatus::Accepted, None).unwrap();
    keeper.sync().await;
    nurse.sync().await;
    assert_eq!(delivery(&nurse, case, to_shelter), Delivery::Received);
    assert_eq!(nurse.lock().view_case(case).unwrap().referral(to_shelter).unwrap().status, ReferralStatus::Accepted);
    assert!(store.plaintext_found(&["Ottilie", "Marchbank"]).is_empty(), "the server holds no name in clear");
}
