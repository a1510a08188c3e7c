//! Devices of a deployment driven through the library (core + the sync client), for tests that
//! need many operations faster than a process per command: the administrator creates the
//! deployment and its teams, invites devices, and each device joins with its own workspace.
//! Workspaces use `KdfParams::INSECURE_FAST_FOR_TESTS`.

use std::path::Path;
use std::sync::Mutex;

use harbour_core::crypto::KdfParams;
use harbour_core::deployment;
use harbour_core::{CreateOptions, DeviceId, Workspace};
use harbour_sync::client::Client;
use harbour_sync::{SyncSummary, client_for, sync_once};
use harbour_wire::protocol::Team;

use crate::PASSPHRASE;

/// One laptop: its workspace and a client authenticated as it.
#[derive(Debug)]
pub struct Device {
    pub label: String,
    pub team: Team,
    pub workspace: Mutex<Workspace>,
    pub client: Client,
}

impl Device {
    pub fn device_id(&self) -> DeviceId {
        self.lock().device_id()
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Workspace> {
        self.workspace.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One complete `sync_once`; panics with the error's sentence (which holds no case data).
    pub async fn sync(&self) -> SyncSummary {
        match sync_once(&self.workspace, &self.client, &mut |_| {}).await {
            Ok(summary) => summary,
            Err(error) => panic!("{} could not sync: {error}", self.label),
        }
    }
}

fn options(worker: &str) -> CreateOptions {
    CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, worker: worker.to_owned(), ..CreateOptions::default() }
}

/// Creates a deployment on the server at `url` with a new administrator's workspace in `dir`.
pub async fn create_deployment(url: &str, bootstrap_token: &str, dir: &Path) -> Device {
    let mut workspace = Workspace::create(dir, PASSPHRASE, &options("Administrator")).expect("create the workspace");
    let plan = workspace.plan_deployment(url, "Ministry").expect("plan the deployment");
    let ministry = plan.ministry_team();
    let anonymous = Client::new(url).expect("a client");
    let registered = anonymous
        .register_deployment(&plan.registration(bootstrap_token, workspace.device_id()))
        .await
        .expect("register the deployment");
    let signed = workspace.complete_deployment(plan, &registered.device_token).expect("complete the deployment");
    let client = client_for(&workspace).expect("the administrator's client");
    client.publish_directory(&signed).await.expect("publish the directory");
    Device { label: "admin".into(), team: ministry, workspace: Mutex::new(workspace), client }
}

/// Adds a team and publishes the new directory.
pub async fn create_team(admin: &Device, name: &str) -> Team {
    let (team, signed) = admin.lock().create_team(name).expect("create the team");
    admin.client.publish_directory(&signed).await.expect("publish the directory");
    team
}

/// Invites a device into `team` and enrols it in a new workspace in `dir`: the invitation is
/// sealed under a one-time code (cheap parameters) and opened again, as `harbour enroll` does.
pub async fn enrol(admin: &Device, team: &Team, dir: &Path, label: &str) -> Device {
    let created = admin.client.create_invitation(team.id, false, None).await.expect("create the invitation");
    let invitation = admin.lock().invitation(team, &created).expect("the administrator can invite");
    let code = deployment::new_invitation_code();
    let sealed = deployment::seal_invitation(&invitation, &code, KdfParams::INSECURE_FAST_FOR_TESTS).expect("seal");
    let invitation = deployment::open_invitation(&sealed, &code).expect("the code opens the invitation");
    let enrolment = Workspace::prepare_enrolment(&invitation, label).expect("the invitation is valid");
    let redeemer = Client::new(&invitation.server_url).expect("a client").with_token(&invitation.invitation_token);
    let redeemed = redeemer
        .redeem_invitation(enrolment.device_id.0, &enrolment.identity.certificate)
        .await
        .expect("redeem the invitation");
    let workspace = Workspace::join(dir, PASSPHRASE, &options(label), &invitation, enrolment, &redeemed.device_token)
        .expect("join the deployment");
    let client = redeemer.with_token(&redeemed.device_token);
    Device { label: label.to_owned(), team: team.clone(), workspace: Mutex::new(workspace), client }
}
