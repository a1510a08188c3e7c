//! Commands that talk to the ministry's server: creating the deployment, teams, invitations,
//! enrolment, devices, sharing and sync.

use std::sync::Mutex;

use anyhow::{Context, Result};
use clap::Subcommand;
use harbour_core::deployment;
use harbour_core::{CreateOptions, Workspace};
use harbour_sync::client::Client;
use harbour_sync::{Progress, SyncSummary, client_for, enroll as join_deployment, sync_once};
use serde_json::json;

use crate::output::{self, Output};

#[derive(Subcommand)]
pub enum DeploymentCommand {
    /// Create the deployment on a new server, with this laptop as its first administrator.
    Create {
        /// The server's address, such as https://harbour.example.gov.lc
        #[arg(long)]
        server: String,
        /// The one-time token printed by `harbour-server init`.
        #[arg(long)]
        bootstrap_token: String,
        /// The name of the ministry's team.
        #[arg(long, default_value = "Ministry")]
        ministry_name: String,
    },
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Add a team (a clinic, an embassy, a shelter) to the deployment.
    Create { name: String },
    /// The teams of the deployment's directory.
    List,
}

#[derive(Subcommand)]
pub enum InviteCommand {
    /// Invite a new laptop into a team. Prints the invitation and, separately, its one-time code.
    Create {
        #[arg(long)]
        team: String,
        /// The new laptop may administer the deployment (ministry team only).
        #[arg(long)]
        admin: bool,
        /// Days the invitation can wait to be used (1 to 90).
        #[arg(long, default_value_t = harbour_core::identity::DEFAULT_INVITATION_DAYS)]
        expires: u32,
    },
    /// The invitations made for this deployment and where each stands (administrators).
    List,
    /// Cancel an invitation that has not been used yet (administrators).
    Cancel { id: String },
}

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// The laptops of the deployment (administrators).
    List,
    /// Refuse a lost or stolen laptop at once (administrators).
    Revoke { device: String },
    /// Order a lost laptop wiped at its next contact, signed with the root key (administrators).
    Wipe {
        device: String,
        /// Let the laptop send the changes it has waiting before it destroys its data.
        #[arg(long)]
        send_first: bool,
    },
}

/// Two threads: a sync fetches the next page on one while it applies the last on the other.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the network runtime")
}

pub fn deployment(command: DeploymentCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let DeploymentCommand::Create { server, bootstrap_token, ministry_name } = command;
    let plan = workspace.plan_deployment(&server, &ministry_name)?;
    let runtime = runtime()?;
    let client = Client::new(&plan.server_url)?;
    let registration = plan.registration(&bootstrap_token, workspace.device_id());
    let registered = runtime.block_on(client.register_deployment(&registration))?;
    let deployment_id = plan.deployment_id;
    let signed = workspace.complete_deployment(plan, &registered.device_token)?;
    let client = client.with_token(&registered.device_token);
    let published = runtime.block_on(client.publish_directory(&signed)).is_ok();
    if out.json {
        out.value(&json!({ "deployment_id": deployment_id, "device_id": workspace.device_id(), "directory_published": published }));
    } else {
        println!("Created deployment {deployment_id}; this laptop is its first administrator.");
        if !published {
            println!("The team directory will be published at the next `harbour sync`.");
        }
    }
    Ok(())
}

pub fn team(command: TeamCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    match command {
        TeamCommand::Create { name } => {
            let (team, signed) = workspace.create_team(&name)?;
            let client = client_for(&workspace)?;
            let published = runtime()?.block_on(client.publish_directory(&signed)).is_ok();
            if out.json {
                out.value(&json!({ "id": team.id, "name": team.name, "directory_published": published }));
            } else {
                println!("Created team {} ({}).", team.name, team.id);
                if !published {
                    println!("The server could not be reached: the team will be published at the next `harbour sync`.");
                }
            }
        }
        TeamCommand::List => {
            let directory = workspace.directory()?.context("this laptop does not belong to a deployment yet")?;
            if out.json {
                let teams: Vec<_> =
                    directory.teams.iter().map(|team| json!({ "id": team.id, "name": team.name })).collect();
                out.value(&json!(teams));
            } else {
                for team in &directory.teams {
                    println!("{}  {}", team.id, team.name);
                }
            }
        }
    }
    Ok(())
}

pub fn invite(command: InviteCommand, workspace: Workspace, out: &Output) -> Result<()> {
    let client = client_for(&workspace)?;
    let runtime = runtime()?;
    match command {
        InviteCommand::Create { team, admin, expires } => {
            harbour_core::identity::invitation_expiry(0, expires)?;
            let team = workspace.team(&team)?;
            let created = runtime.block_on(client.create_invitation(team.id, admin, Some(expires)))?;
            let code = deployment::new_invitation_code();
            let invitation = workspace.seal_invitation(&team, &created, &code)?;
            let expires_at = output::format_ms(created.expires_at_ms);
            if out.json {
                out.value(&json!({
                    "invitation_id": created.invitation_id,
                    "invitation": invitation,
                    "code": code,
                    "team": team.name,
                    "expires_at": expires_at,
                }));
            } else {
                println!("Invitation into {} (send this by e-mail or message):\n\n{invitation}\n", team.name);
                println!("One-time code (give it by another channel, such as a phone call): {code}");
                println!(
                    "It can be used once, until {expires_at}; `harbour invite cancel {}` cancels it.",
                    created.invitation_id
                );
            }
        }
        InviteCommand::List => {
            let invitations = runtime.block_on(client.invitations())?;
            let team_name = team_names(&workspace)?;
            if out.json {
                let rows: Vec<_> = invitations
                    .iter()
                    .map(|invitation| {
                        json!({
                            "invitation_id": invitation.invitation_id,
                            "team_id": invitation.team_id,
                            "team": team_name(invitation.team_id),
                            "admin": invitation.admin,
                            "status": invitation.status,
                            "created_at": output::format_ms(invitation.created_at_ms),
                            "expires_at": output::format_ms(invitation.expires_at_ms),
                            "device_id": invitation.device_id,
                        })
                    })
                    .collect();
                out.value(&json!(rows));
            } else if invitations.is_empty() {
                println!("No invitations yet.");
            } else {
                for invitation in &invitations {
                    let status = serde_json::to_value(invitation.status)?;
                    println!(
                        "{}  {:<24} {:<10} until {}",
                        invitation.invitation_id,
                        team_name(invitation.team_id),
                        status.as_str().unwrap_or_default(),
                        output::format_ms(invitation.expires_at_ms)
                    );
                }
            }
        }
        InviteCommand::Cancel { id } => {
            let invitation_id: uuid::Uuid = id.trim().parse().map_err(|_| {
                harbour_core::Error::invalid("invitation", "give the invitation id shown by `harbour invite list`")
            })?;
            runtime.block_on(client.cancel_invitation(invitation_id))?;
            out.message(&format!("Invitation {invitation_id} is cancelled: it can no longer be used."));
        }
    }
    Ok(())
}

/// A team's name from this laptop's directory (its id when the directory does not know it).
fn team_names(workspace: &Workspace) -> Result<impl Fn(uuid::Uuid) -> String> {
    let directory = workspace.directory()?;
    Ok(move |id: uuid::Uuid| {
        directory
            .as_ref()
            .and_then(|d| d.teams.iter().find(|team| team.id == id))
            .map_or_else(|| id.to_string(), |team| team.name.clone())
    })
}

/// Joins a deployment with an invitation: the new workspace gets its own new passphrase.
pub fn enroll(
    dir: &std::path::Path,
    invitation: &str,
    code: &str,
    worker: String,
    passphrase: &str,
    out: &Output,
) -> Result<()> {
    let runtime = runtime()?;
    let options = CreateOptions { worker, ..CreateOptions::default() };
    let (workspace, client, team) = runtime.block_on(join_deployment(dir, invitation, code, passphrase, &options))?;
    let device_id = workspace.device_id();
    let workspace = Mutex::new(workspace);
    let first_sync = runtime.block_on(sync_once(&workspace, &client, &mut |_| {}));
    if out.json {
        out.value(&json!({
            "device_id": device_id,
            "team": team,
            "first_sync": first_sync.as_ref().ok(),
        }));
    } else {
        println!("This laptop joined the team {team}.");
        match first_sync {
            Ok(summary) => println!("First sync: {} events received.", summary.pulled),
            Err(error) => println!("The first sync did not finish ({error}); run `harbour sync` later."),
        }
    }
    Ok(())
}

/// `harbour join`: this workspace joins the invitation's organisation and keeps its cases, then
/// sends them in a first sync.
pub fn join_later(workspace: Workspace, invitation: &str, code: &str, out: &Output) -> Result<()> {
    let runtime = runtime()?;
    let device_id = workspace.device_id();
    let workspace = Mutex::new(workspace);
    let joined = runtime.block_on(harbour_sync::join_later::join_later(&workspace, invitation, code))?;
    let first_sync = runtime.block_on(sync_once(&workspace, &joined.client, &mut |_| {}));
    if out.json {
        out.value(&json!({
            "device_id": device_id,
            "team": joined.team,
            "cases": joined.cases,
            "first_sync": first_sync.as_ref().ok(),
        }));
    } else {
        println!("This laptop joined the team {}, keeping its {} cases.", joined.team, joined.cases);
        match first_sync {
            Ok(summary) => println!("First sync: {} events sent, {} received.", summary.pushed, summary.pulled),
            Err(error) => println!("The first sync did not finish ({error}); run `harbour sync` later."),
        }
    }
    Ok(())
}

pub fn device(command: DeviceCommand, workspace: Workspace, out: &Output) -> Result<()> {
    let client = client_for(&workspace)?;
    let runtime = runtime()?;
    match command {
        DeviceCommand::List => {
            let devices = runtime.block_on(client.devices())?;
            let team_name = team_names(&workspace)?;
            let worker = |device: &harbour_wire::protocol::DeviceInfo| {
                device.certificate.as_ref().and_then(|certificate| workspace.device_worker(certificate))
            };
            if out.json {
                let rows: Vec<_> = devices
                    .iter()
                    .map(|device| {
                        json!({
                            "device_id": device.device_id,
                            "team_id": device.team_id,
                            "team": team_name(device.team_id),
                            "worker": worker(device),
                            "admin": device.admin,
                            "revoked": device.revoked,
                            "wipe": device.wipe.as_ref().map(|wipe| json!({
                                "state": if wipe.done_at_ms.is_some() { "done" } else { "issued" },
                                "send_first": wipe.send_first,
                                "issued_at": output::format_ms(wipe.issued_at_ms),
                                "done_at": wipe.done_at_ms.map(output::format_ms),
                                "sent_first": wipe.sent_first,
                                "destroyed_unsent": wipe.destroyed_unsent,
                            })),
                            "created_at": output::format_ms(device.created_at_ms),
                        })
                    })
                    .collect();
                out.value(&json!(rows));
            } else {
                for device in &devices {
                    let state = match (&device.wipe, device.revoked) {
                        (Some(wipe), _) if wipe.done_at_ms.is_some() => "wiped",
                        (Some(_), _) => "wipe issued",
                        (None, true) => "revoked",
                        (None, false) => "active",
                    };
                    let admin = if device.admin { " (administrator)" } else { "" };
                    let worker = worker(device).unwrap_or_else(|| "—".into());
                    println!("{}  {:<24} {:<20} {state}{admin}", device.device_id, team_name(device.team_id), worker);
                }
            }
        }
        DeviceCommand::Wipe { device, send_first } => {
            let device_id = device_id(&device)?;
            let order = workspace.sign_wipe_order(device_id, send_first)?;
            runtime.block_on(client.order_wipe(device_id, &order))?;
            if out.json {
                out.value(&json!({ "device_id": device_id, "wipe": "issued", "send_first": send_first }));
            } else {
                println!(
                    "The wipe of laptop {device_id} is ordered: at its next contact it {}destroys its data and reports it. `harbour device list` shows when it is done.",
                    if send_first { "sends what it has waiting, then " } else { "" }
                );
            }
        }
        DeviceCommand::Revoke { device } => {
            let device_id = device_id(&device)?;
            runtime.block_on(client.revoke_device(device_id))?;
            let revoked = format!("Device {device_id} is revoked: the server refuses it from now on.");
            // Its team gets a new key, so that its copy of the old one opens nothing shared later.
            let devices = runtime.block_on(client.devices())?;
            let Some(team_id) = devices.iter().find(|d| d.device_id == device_id).map(|d| d.team_id) else {
                out.message(&revoked);
                return Ok(());
            };
            let keep: Vec<_> = devices
                .iter()
                .filter(|d| d.team_id == team_id && !d.revoked && d.device_id != device_id)
                .filter_map(|d| d.certificate.clone())
                .collect();
            let mut workspace = workspace;
            let rotation = workspace.rotate_team_key(team_id, &keep)?;
            runtime.block_on(client.publish_directory(&rotation.directory))?;
            let workspace = Mutex::new(workspace);
            runtime.block_on(sync_once(&workspace, &client, &mut |_| {}))?;
            if out.json {
                out.value(&json!({ "device_id": device_id, "revoked": true, "team_key_replaced": true, "laptops_given_the_new_key": rotation.kept.len() }));
            } else {
                println!("{revoked}");
                println!(
                    "Its team has a new key, sent to its {} other laptop(s): what is shared from now on cannot be opened with the revoked laptop's copy.",
                    rotation.kept.len()
                );
            }
        }
    }
    Ok(())
}

fn device_id(given: &str) -> Result<uuid::Uuid> {
    Ok(given
        .trim()
        .parse()
        .map_err(|_| harbour_core::Error::invalid("device", "give the device id shown by `harbour device list`"))?)
}

/// `harbour sync` on a laptop wiped on its administrator's order: delivers the report the
/// server did not receive yet. False when there is none.
pub fn deliver_wipe_report(dir: &std::path::Path, out: &Output) -> Result<bool> {
    if harbour_core::store::wipe::unsent_report(dir).is_none() {
        return Ok(false);
    }
    runtime()?.block_on(harbour_sync::deliver_unsent_wipe_report(dir))?;
    out.message("This laptop was wiped on your administrator's order; the server now knows it was done.");
    Ok(true)
}

/// Shares a case with a team, then tries to sync at once.
pub fn share(mut workspace: Workspace, case: &str, team: &str, out: &Output) -> Result<()> {
    let case_id = workspace.resolve(case)?;
    let team = workspace.team(team)?;
    workspace.share_case(case_id, &team)?;
    let outcome = sync_now(workspace);
    if out.json {
        out.value(&json!({ "case_id": case_id, "team": team.name, "synced": outcome.is_ok() }));
    } else {
        println!("The case is shared with {}.", team.name);
        if let Err(error) = outcome {
            println!("It will reach them at the next sync ({error}).");
        }
    }
    Ok(())
}

fn sync_now(workspace: Workspace) -> Result<SyncSummary> {
    let client = client_for(&workspace)?;
    let workspace = Mutex::new(workspace);
    Ok(runtime()?.block_on(sync_once(&workspace, &client, &mut |_| {}))?)
}

/// `harbour sync`: progress on stderr, the summary on stdout.
pub fn sync(workspace: Workspace, out: &Output) -> Result<()> {
    let client = client_for(&workspace)?;
    let workspace = Mutex::new(workspace);
    let json = out.json;
    let mut report = |progress: &Progress| {
        if !json {
            eprintln!(
                "sync: {:?} · sent {} events ({} bytes) · received {} events ({} bytes) · {} waiting",
                progress.phase,
                progress.pushed,
                progress.bytes_up,
                progress.pulled,
                progress.bytes_down,
                progress.waiting
            );
        }
    };
    let summary = runtime()?.block_on(sync_once(&workspace, &client, &mut report))?;
    if json {
        out.value(&serde_json::to_value(&summary)?);
    } else {
        println!(
            "Sync complete: {} events sent, {} received ({} new), {} cases updated.",
            summary.pushed, summary.pulled, summary.stored, summary.cases_updated
        );
        if summary.referrals_received > 0 {
            println!(
                "{} referrals to your team arrived; the laptops that made them will show them delivered.",
                summary.referrals_received
            );
        }
        if summary.waiting_for_key > 0 {
            println!("{} cases are waiting for their key from the team that shared them.", summary.waiting_for_key);
        }
        if summary.clock_clamped > 0 {
            println!(
                "{} events came from a laptop whose clock is far ahead; the cases are marked for review.",
                summary.clock_clamped
            );
        }
        if summary.service_directory_updated {
            println!("The organisation's service directory was updated (signed by its administrator).");
        }
        if summary.service_directory_published {
            println!("This laptop's service directory was published to the organisation.");
        }
        if summary.service_directory_rebased {
            println!(
                "Another administrator published the service directory first: it was taken, and this laptop's own edits were applied on top of it."
            );
        }
        if summary.service_directory_to_check > 0 {
            let to_check =
                workspace.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).service_directory_to_check()?;
            println!(
                "Both administrators changed these services: the other administrator's version was kept. Check them with `harbour directory show`: {}.",
                to_check.join(", ")
            );
        }
        if summary.service_directory_refused {
            println!(
                "The server offered a service directory that is not the organisation's latest signed one; it was not used and this laptop keeps its own. Tell your administrator."
            );
        }
    }
    Ok(())
}
