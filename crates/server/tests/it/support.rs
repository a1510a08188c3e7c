//! Shared test equipment: the real `harbour-server` process, PostgreSQL databases, keys, a
//! registered deployment with teams and devices, and realistic sealed events.

use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::{Signer, SigningKey};
use harbour_sync::client::Client;
use harbour_wire::identity::{
    CREDENTIAL_CONTEXT, Credential, DEVICE_CONTEXT, DeviceCertificate, DeviceDocument, SignedDocument, signing_message,
};
use harbour_wire::protocol::{
    CreateInvitationResponse, RegisterDeploymentRequest, SignedDirectory, Team, TeamDirectory,
    directory_signing_message,
};
use harbour_wire::{Hlc, SEALED_FORMAT, SealedEvent};
use rand_core::{OsRng, RngCore};
use uuid::Uuid;

pub const BIN: &str = env!("CARGO_BIN_EXE_harbour-server");
/// The `--metrics-token` every test server gets from [`Server::start`].
pub const METRICS_TOKEN: &str = "metrics-token-for-the-tests-0123456789";

/// The PostgreSQL server to test against, if any. Says so loudly when there is none, and
/// fails instead when running in CI, where one must be there.
pub fn postgres_url() -> Option<String> {
    static ANNOUNCED: OnceLock<()> = OnceLock::new();
    match std::env::var("HARBOUR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "HARBOUR_TEST_POSTGRES_URL is not set, but CI=true: CI must test the PostgreSQL \
                     backend (start one with `.ci/postgres.sh start`)"
                );
            }
            ANNOUNCED.get_or_init(|| {
                // Written to the real stderr, past the test harness's capture, so it is seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** HARBOUR_TEST_POSTGRES_URL is not set: the PostgreSQL backend is NOT tested \
                     in this run. Start one with: export HARBOUR_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start)\n"
                );
            });
            None
        }
    }
}

/// A fresh, empty PostgreSQL database on the test server; returns its URL.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    let (client, connection) =
        tokio_postgres::connect(server_url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
    tokio::spawn(connection);
    let name = format!("harbour_test_{}", Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
    let (base, _) = server_url.rsplit_once('/').expect("a PostgreSQL URL ends with /DATABASE");
    format!("{base}/{name}")
}

/// A running `harbour-server serve` process. Killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub db: String,
}

impl Server {
    /// `harbour-server init --db DB --json`; returns the bootstrap token.
    pub fn init(db: &str) -> String {
        let output = Command::new(BIN).args(["init", "--db", db, "--json"]).output().unwrap();
        assert!(output.status.success(), "init failed: {}", String::from_utf8_lossy(&output.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        printed["bootstrap_token"].as_str().unwrap().to_owned()
    }

    /// Start `serve` on a free port of 127.0.0.1 with [`METRICS_TOKEN`], appending its log
    /// lines to `log`.
    pub fn start(db: &str, log: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["--metrics-token", METRICS_TOKEN];
        args.extend_from_slice(extra);
        Server::start_with(db, log, &args)
    }

    /// Start `serve` with exactly these extra arguments (no metrics token unless given).
    pub fn start_with(db: &str, log: &Path, extra: &[&str]) -> Server {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("HARBOUR_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(url) = line.trim().strip_prefix("harbour-server listening on ") else {
            let _ = child.kill();
            panic!("the server did not start: {}", std::fs::read_to_string(log).unwrap_or_default());
        };
        Server { url: url.to_owned(), child, db: db.to_owned() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for a graceful exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap().success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registered deployment: its keys, teams and one device per team, each with a client.
pub struct Deployment {
    pub deployment_id: Uuid,
    pub root: SigningKey,
    pub ministry: Team,
    pub clinic: Team,
    pub consulate: Team,
    pub shelter: Team,
    pub admin: Device,
    pub clinic_device: Device,
    pub consulate_device: Device,
    pub shelter_device: Device,
    pub anonymous: Client,
    pub bootstrap_token: String,
    pub tokens: Vec<String>,
}

/// A device and the client that speaks for it.
pub struct Device {
    pub id: Uuid,
    pub client: Client,
    next_seq: std::sync::atomic::AtomicU64,
}

impl Device {
    pub fn new(id: Uuid, client: Client) -> Device {
        Device { id, client, next_seq: std::sync::atomic::AtomicU64::new(1) }
    }

    /// The next device sequence number.
    pub fn seq(&self) -> u64 {
        self.next_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

pub fn team(name: &str) -> Team {
    let secret = x25519_dalek::StaticSecret::random_from_rng(OsRng);
    let public = x25519_dalek::PublicKey::from(&secret);
    Team { id: Uuid::now_v7(), name: name.to_owned(), public_key: public.as_bytes().to_vec() }
}

/// A directory of `teams`, signed by `key`.
pub fn signed_directory(key: &SigningKey, deployment_id: Uuid, version: u64, teams: &[Team]) -> SignedDirectory {
    let document =
        serde_json::to_string(&TeamDirectory { deployment_id, version, teams: teams.to_vec(), devices: Vec::new() })
            .unwrap();
    let signature = key.sign(&directory_signing_message(&document));
    SignedDirectory { document, signature: signature.to_bytes().to_vec() }
}

impl Deployment {
    /// Register a deployment on `server` and enrol one device in each of four teams.
    pub async fn register(server: &Server, bootstrap_token: &str) -> Deployment {
        let anonymous = Client::new(&server.url).unwrap();
        let root = SigningKey::generate(&mut OsRng);
        let deployment_id = Uuid::now_v7();
        let ministry = team("Ministry task force");
        let admin_id = Uuid::now_v7();
        let registered = anonymous
            .register_deployment(&RegisterDeploymentRequest {
                bootstrap_token: bootstrap_token.to_owned(),
                deployment_id,
                root_public_key: root.verifying_key().to_bytes().to_vec(),
                ministry_team: ministry.clone(),
                admin_device_id: admin_id,
            })
            .await
            .unwrap();
        let admin = Device::new(admin_id, anonymous.with_token(&registered.device_token));
        let (clinic, consulate, shelter) = (team("Clinic"), team("Consulate"), team("Shelter"));
        let directory = signed_directory(
            &root,
            deployment_id,
            1,
            &[ministry.clone(), clinic.clone(), consulate.clone(), shelter.clone()],
        );
        admin.client.publish_directory(&directory).await.unwrap();
        let (clinic_device, clinic_token) = enrol(&root, deployment_id, &admin, &clinic).await;
        let (consulate_device, consulate_token) = enrol(&root, deployment_id, &admin, &consulate).await;
        let (shelter_device, shelter_token) = enrol(&root, deployment_id, &admin, &shelter).await;
        let tokens = vec![registered.device_token.clone(), clinic_token, consulate_token, shelter_token];
        Deployment {
            deployment_id,
            root,
            ministry,
            clinic,
            consulate,
            shelter,
            admin,
            clinic_device,
            consulate_device,
            shelter_device,
            anonymous,
            bootstrap_token: bootstrap_token.to_owned(),
            tokens,
        }
    }
}

/// What an administrator's laptop signs with the root key when it makes an invitation.
#[derive(Clone, Copy, Debug)]
pub struct Invitation {
    pub deployment_id: Uuid,
    pub invitation_id: Uuid,
    pub team_id: Uuid,
    pub admin: bool,
    pub expires_ms: u64,
}

impl Invitation {
    /// The invitation the server made, in `deployment_id`.
    pub fn of(deployment_id: Uuid, created: &CreateInvitationResponse) -> Invitation {
        Invitation {
            deployment_id,
            invitation_id: created.invitation_id,
            team_id: created.team_id,
            admin: created.admin,
            expires_ms: created.expires_at_ms,
        }
    }
}

/// A laptop's certificate as core makes it, signed here with ed25519-dalek directly: `root`
/// signs the invitation's credential (with a fresh invitation key), and the invitation key
/// signs the device document of `device_id` (with a fresh device key).
pub fn certify(root: &SigningKey, invitation: &Invitation, device_id: Uuid) -> DeviceCertificate {
    let invitation_key = SigningKey::generate(&mut OsRng);
    let credential = serde_json::to_string(&Credential {
        deployment_id: invitation.deployment_id,
        invitation_id: invitation.invitation_id,
        team_id: invitation.team_id,
        admin: invitation.admin,
        expires_ms: invitation.expires_ms,
        invitation_key: invitation_key.verifying_key().to_bytes().to_vec(),
    })
    .unwrap();
    let device_key = SigningKey::generate(&mut OsRng);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let device = serde_json::to_string(&DeviceDocument {
        device_id,
        public_key: device_key.verifying_key().to_bytes().to_vec(),
        issued_ms: now_ms.min(invitation.expires_ms),
        worker_sealed: None,
        box_key: None,
    })
    .unwrap();
    DeviceCertificate {
        credential: SignedDocument {
            signature: root.sign(&signing_message(CREDENTIAL_CONTEXT, credential.as_bytes())).to_bytes().to_vec(),
            document: credential,
        },
        device: SignedDocument {
            signature: invitation_key.sign(&signing_message(DEVICE_CONTEXT, device.as_bytes())).to_bytes().to_vec(),
            document: device,
        },
    }
}

/// Invite a device into `team` and redeem the invitation with a certificate from `root`;
/// returns the device and its token (made at redemption).
pub async fn enrol(root: &SigningKey, deployment_id: Uuid, admin: &Device, team: &Team) -> (Device, String) {
    let created = admin.client.create_invitation(team.id, false, None).await.unwrap();
    let device_id = Uuid::now_v7();
    let certificate = certify(root, &Invitation::of(deployment_id, &created), device_id);
    let redeemed =
        admin.client.with_token(&created.invitation_token).redeem_invitation(device_id, &certificate).await.unwrap();
    assert_ne!(redeemed.device_token, created.invitation_token, "the device's token is made at redemption");
    let client = admin.client.with_token(&redeemed.device_token);
    (Device::new(device_id, client), redeemed.device_token)
}

/// A case and its random 256-bit key.
pub struct Case {
    pub id: Uuid,
    pub key: [u8; 32],
    pub key_id: Uuid,
}

impl Case {
    pub fn new() -> Case {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Case { id: Uuid::now_v7(), key, key_id: Uuid::now_v7() }
    }

    /// Seal `plaintext` as the next event of `device` on this case, as core does: AES-256-GCM
    /// with the routing metadata as associated data.
    pub fn seal(&self, device: &Device, kind: &str, plaintext: &str) -> SealedEvent {
        let seq = device.seq();
        self.seal_with_seq(device.id, seq, kind, plaintext)
    }

    pub fn seal_with_seq(&self, device_id: Uuid, seq: u64, kind: &str, plaintext: &str) -> SealedEvent {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let mut event = SealedEvent {
            format: SEALED_FORMAT,
            id: Uuid::now_v7(),
            case_id: self.id,
            kind: kind.to_owned(),
            device_id,
            device_seq: seq,
            hlc: Hlc { wall_ms: 1_764_279_012_345 + seq, counter: 0 },
            key_id: self.key_id,
            nonce: nonce.to_vec(),
            ciphertext: Vec::new(),
        };
        let cipher = Aes256Gcm::new_from_slice(&self.key).unwrap();
        let aad = event.associated_data();
        event.ciphertext =
            cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: &aad }).unwrap();
        event
    }

    /// Open an event of this case (what a device with the case key does).
    pub fn open(&self, event: &SealedEvent) -> String {
        let cipher = Aes256Gcm::new_from_slice(&self.key).unwrap();
        let aad = event.associated_data();
        let plain =
            cipher.decrypt(Nonce::from_slice(&event.nonce), Payload { msg: &event.ciphertext, aad: &aad }).unwrap();
        String::from_utf8(plain).unwrap()
    }
}

/// Every event of `client`'s team feed, following pages of `limit`.
pub async fn pull_all(client: &Client, limit: Option<u32>) -> Vec<SealedEvent> {
    let mut events = Vec::new();
    let mut cursor = 0;
    loop {
        let page = client.pull(cursor, limit).await.unwrap();
        events.extend(page.events);
        assert!(page.next_cursor >= cursor, "the cursor went backwards");
        cursor = page.next_cursor;
        if !page.more {
            return events;
        }
    }
}
