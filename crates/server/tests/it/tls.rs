//! HTTPS with `--tls-cert/--tls-key`, using a certificate made for the test.

use ed25519_dalek::SigningKey;
use harbour_wire::protocol::RegisterDeploymentRequest;
use rand_core::OsRng;
use uuid::Uuid;

use crate::support::{Server, team};

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();

    let db = format!("sqlite:{}", dir.path().join("harbour.db").display());
    let bootstrap = Server::init(&db);
    let server = Server::start(
        &db,
        &dir.path().join("server.log"),
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);

    // A client that does not trust the certificate cannot talk to the server.
    let untrusting = harbour_sync::client::Client::new(&server.url).unwrap();
    assert!(untrusting.health().await.is_err());

    let trusting = harbour_sync::client::Client::builder(&server.url)
        .add_root_certificate_pem(certified.cert.pem().as_bytes())
        .build()
        .unwrap();
    assert_eq!(trusting.health().await.unwrap().status, "ok");
    let registered = trusting
        .register_deployment(&RegisterDeploymentRequest {
            bootstrap_token: bootstrap,
            deployment_id: Uuid::now_v7(),
            root_public_key: SigningKey::generate(&mut OsRng).verifying_key().to_bytes().to_vec(),
            ministry_team: team("Ministry"),
            admin_device_id: Uuid::now_v7(),
        })
        .await
        .unwrap();
    let admin = trusting.with_token(&registered.device_token);
    assert_eq!(admin.devices().await.unwrap().len(), 1);
}
