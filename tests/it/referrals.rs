//! A referral says how far it got, as each laptop can know it, through a real `harbour-server`:
//! recorded here and waiting, acknowledged by the server, or received from another laptop —
//! both for the referral itself and for a status another laptop gave it.

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
        let consent = ConsentInput {
            scope: vec![ConsentScope::Identity],
            shared_with: "Shelter".into(),
            given_on: chrono::Utc::now().date_naive(),
            method: ConsentMethod::Verbal,
            note: None,
        };
        let (consent_id, _) = workspace.add_consent(case.id, consent).unwrap();
        let input = ReferralInput {
            service: "shelter-women".into(),
            service_type: ServiceType::Shelter,
            reason: ReferralReason::AdditionalServicesRequired,
            details: None,
            urgency: Urgency::Urgent,
            consent_id,
        };
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
