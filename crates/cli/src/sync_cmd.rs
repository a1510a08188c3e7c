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

use crate::output::Output;

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
    },
}

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// The laptops of the deployment (administrators).
    List,
    /// Refuse a lost or stolen laptop at once (administrators).
    Revoke { device: String },
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
    let InviteCommand::Create { team, admin } = command;
    let team = workspace.team(&team)?;
    let client = client_for(&workspace)?;
    let created = runtime()?.block_on(client.create_invitation(team.id, admin))?;
    let code = deployment::new_invitation_code();
    let invitation = workspace.seal_invitation(&team, &created, &code)?;
    if out.json {
        out.value(&json!({ "invitation": invitation, "code": code, "team": team.name }));
    } else {
        println!("Invitation into {} (send this by e-mail or message):\n\n{invitation}\n", team.name);
        println!("One-time code (give it by another channel, such as a phone call): {code}");
    }
    Ok(())
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

pub fn device(command: DeviceCommand, workspace: Workspace, out: &Output) -> Result<()> {
    let client = client_for(&workspace)?;
    let runtime = runtime()?;
    match command {
        DeviceCommand::List => {
            let devices = runtime.block_on(client.devices())?;
            let directory = workspace.directory()?;
            let team_name = |id: uuid::Uuid| {
                directory
                    .as_ref()
                    .and_then(|d| d.teams.iter().find(|team| team.id == id))
                    .map_or_else(|| id.to_string(), |team| team.name.clone())
            };
            if out.json {
                out.value(&serde_json::to_value(&devices)?);
            } else {
                for device in devices {
                    let state = if device.revoked { "revoked" } else { "active" };
                    let admin = if device.admin { " (administrator)" } else { "" };
                    println!("{}  {:<24} {state}{admin}", device.device_id, team_name(device.team_id));
                }
            }
        }
        DeviceCommand::Revoke { device } => {
            let device_id: uuid::Uuid = device.trim().parse().map_err(|_| {
                harbour_core::Error::invalid("device", "give the device id shown by `harbour device list`")
            })?;
            runtime.block_on(client.revoke_device(device_id))?;
            out.message(&format!("Device {device_id} is revoked: the server refuses it from now on."));
        }
    }
    Ok(())
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
        if summary.waiting_for_key > 0 {
            println!("{} cases are waiting for their key from the team that shared them.", summary.waiting_for_key);
        }
        if summary.clock_clamped > 0 {
            println!(
                "{} events came from a laptop whose clock is far ahead; the cases are marked for review.",
                summary.clock_clamped
            );
        }
    }
    Ok(())
}
