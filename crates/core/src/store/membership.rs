//! A workspace as a device of a deployment: creating the deployment (administrator), teams,
//! invitations and enrolment, the signed team directory, and sharing cases with teams.
//! The network calls that go with each step live in the sync crate; this is the local half.

use std::path::Path;

use chrono::Utc;
use harbour_wire::protocol::{
    CreateInvitationResponse, DeviceInfo, ListedDevice, RegisterDeploymentRequest, SignedDirectory, Team, TeamDirectory,
};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Workspace, insert_own, last_device_seq, set_meta};
use crate::crypto::{KdfParams, Secret};
use crate::deployment::{self, Invitation, RootKey, TeamSecret};
use crate::error::{Error, Result};
use crate::identity::{self, DeviceIdentity, SigningSecret};
use crate::ids::{CaseId, DeviceId};
use crate::keyfile::{self, Membership};
use crate::model::values;
use crate::store::CreateOptions;
use harbour_wire::identity::Credential;

/// A deployment being created on the administrator's laptop, before the server accepted it.
/// Nothing is stored until [`Workspace::complete_deployment`].
pub struct DeploymentPlan {
    pub deployment_id: Uuid,
    pub server_url: String,
    root: RootKey,
    ministry: TeamSecret,
    ministry_name: String,
    directory_key: Secret,
}

impl std::fmt::Debug for DeploymentPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentPlan").field("deployment_id", &self.deployment_id).finish_non_exhaustive()
    }
}

impl DeploymentPlan {
    pub fn ministry_team(&self) -> Team {
        self.ministry.team(&self.ministry_name)
    }

    /// What the server needs to register the deployment.
    pub fn registration(&self, bootstrap_token: &str, admin_device: DeviceId) -> RegisterDeploymentRequest {
        RegisterDeploymentRequest {
            bootstrap_token: bootstrap_token.trim().to_owned(),
            deployment_id: self.deployment_id,
            root_public_key: self.root.public_key().to_vec(),
            ministry_team: deployment::seal_team_names(
                &TeamDirectory {
                    deployment_id: self.deployment_id,
                    version: 0,
                    teams: vec![self.ministry_team()],
                    devices: Vec::new(),
                },
                &self.directory_key,
            )
            .teams
            .remove(0),
            admin_device_id: admin_device.0,
        }
    }
}

impl Workspace {
    pub fn membership(&self) -> Option<&Membership> {
        self.secrets.membership.as_ref()
    }

    fn admin_membership(&self) -> Result<&Membership> {
        match self.membership() {
            Some(membership) if membership.root_key.is_some() => Ok(membership),
            Some(_) => Err(Error::invalid("deployment", "only an administrator's laptop can do this")),
            None => Err(not_enrolled()),
        }
    }

    /// Starts a deployment with this laptop as its first administrator.
    pub fn plan_deployment(&self, server_url: &str, ministry_name: &str) -> Result<DeploymentPlan> {
        if self.membership().is_some() {
            return Err(Error::invalid("deployment", "this laptop already belongs to a deployment"));
        }
        Ok(DeploymentPlan {
            deployment_id: Uuid::now_v7(),
            server_url: server_url_checked(server_url)?,
            root: RootKey::generate(),
            ministry: TeamSecret::generate(),
            ministry_name: team_name(ministry_name)?,
            directory_key: Secret::random(),
        })
    }

    /// Keeps the deployment's keys once the server has registered it, and grants every case
    /// already on this laptop to the ministry team. Returns the first signed directory, to publish.
    pub fn complete_deployment(&mut self, plan: DeploymentPlan, device_token: &str) -> Result<SignedDirectory> {
        let directory = TeamDirectory {
            deployment_id: plan.deployment_id,
            version: 1,
            teams: vec![plan.ministry_team()],
            devices: Vec::new(),
        };
        let signed = plan.root.sign(&deployment::seal_team_names(&directory, &plan.directory_key));
        let identity = identity::self_certify(
            &plan.root,
            plan.deployment_id,
            plan.ministry.team_id,
            self.secrets.device_id,
            identity::now_ms(),
            Some(identity::seal_worker(&plan.ministry_team(), &self.worker)?),
        );
        self.secrets.membership = Some(Membership {
            deployment_id: plan.deployment_id,
            server_url: plan.server_url,
            device_token: Zeroizing::new(device_token.to_owned()),
            root_public_key: plan.root.public_key().to_vec(),
            ministry_team_id: plan.ministry.team_id,
            team_id: plan.ministry.team_id,
            admin: true,
            team_secrets: vec![plan.ministry],
            root_key: Some(plan.root),
            identity: Some(identity),
            directory_key: Some(plan.directory_key),
        });
        keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        self.store_directory(&signed)?;
        let existing: Vec<CaseId> = self.list_cases(&Default::default())?.into_iter().map(|case| case.id).collect();
        for case_id in existing {
            let ministry = self.home_teams()?;
            self.record_grants(case_id, &ministry, false)?;
        }
        self.audit_now("deployment.create", None, &plan.deployment_id.to_string())?;
        Ok(signed)
    }

    /// The verified team directory this laptop holds, if it belongs to a deployment.
    pub fn directory(&self) -> Result<Option<TeamDirectory>> {
        let Some(membership) = self.membership() else { return Ok(None) };
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'directory'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        let Some(text) = text else { return Ok(None) };
        let signed: SignedDirectory = serde_json::from_str(&text).map_err(|_| Error::Corrupt("directory".into()))?;
        let directory = deployment::verify_directory(&signed, &membership.root_public_key, membership.deployment_id)?;
        deployment::open_team_names(directory, membership.directory_key.as_ref()).map(Some)
    }

    /// The signed directory as stored, to publish or to put into an invitation.
    pub fn signed_directory(&self) -> Result<SignedDirectory> {
        let text: String = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'directory'")?
            .query_row([], |row| row.get(0))
            .optional()?
            .ok_or_else(not_enrolled)?;
        serde_json::from_str(&text).map_err(|_| Error::Corrupt("directory".into()))
    }

    /// Takes a directory from the server if it verifies against the pinned root key and is newer
    /// than the one held. Returns whether it was taken.
    pub fn accept_directory(&mut self, signed: &SignedDirectory) -> Result<bool> {
        let membership = self.membership().ok_or_else(not_enrolled)?;
        let incoming = deployment::verify_directory(signed, &membership.root_public_key, membership.deployment_id)?;
        let newer = self.directory()?.is_none_or(|held| incoming.version > held.version);
        if newer {
            self.store_directory(signed)?;
        }
        Ok(newer)
    }

    pub(super) fn store_directory(&mut self, signed: &SignedDirectory) -> Result<()> {
        let before = self.listed_devices()?;
        set_meta(&self.conn, "directory", &serde_json::to_string(signed).expect("a directory serializes"))?;
        // Grants whose author was not listed wait; a directory listing more laptops brings
        // them to be looked at again with the next pulled page.
        if self.listed_devices()?.len() > before.len() {
            set_meta(&self.conn, "grants_to_look_at_again", "1")?;
        }
        self.note_listing()
    }

    /// The laptops the held directory lists (see `TeamDirectory::devices`).
    pub(super) fn listed_devices(&self) -> Result<Vec<ListedDevice>> {
        Ok(self.directory()?.map(|directory| directory.devices).unwrap_or_default())
    }

    /// Whether the held directory lists this laptop with its own key: its grants then name it
    /// instead of carrying its certificate.
    pub(super) fn note_listing(&mut self) -> Result<()> {
        let listed = self.listed_devices()?;
        let device_id = self.secrets.device_id.0;
        if let Some(identity) = self.secrets.membership.as_mut().and_then(|membership| membership.identity.as_mut()) {
            let key = identity.key.public_key();
            identity.listed = listed.iter().any(|device| device.device_id == device_id && device.public_key == key);
        }
        Ok(())
    }

    /// Lists in the directory every laptop of `devices` (the server's list) whose certificate
    /// verifies against the root key and names it, unless revoked or listed already
    /// (administrators): returns the new signed version to publish, or `None` when nothing was
    /// added. A listed laptop is never taken out: grants it made stay checkable.
    pub fn list_certified_devices(&mut self, devices: &[DeviceInfo]) -> Result<Option<SignedDirectory>> {
        let Some(membership) = self.membership() else { return Ok(None) };
        if membership.root_key.is_none() {
            return Ok(None);
        }
        let (root_public_key, deployment_id) = (membership.root_public_key.clone(), membership.deployment_id);
        let Some(mut directory) = self.directory()? else { return Ok(None) };
        let before = directory.devices.len();
        for device in devices {
            if device.revoked || directory.devices.iter().any(|listed| listed.device_id == device.device_id) {
                continue;
            }
            let Some(certificate) = &device.certificate else { continue };
            let Ok(certified) = certificate.verify(&root_public_key, deployment_id) else { continue };
            if certified.device_id == device.device_id {
                directory.devices.push(ListedDevice::from_certified(&certified));
            }
        }
        if directory.devices.len() == before {
            return Ok(None);
        }
        directory.version += 1;
        let membership = self.secrets.membership.as_ref().expect("checked above");
        let signed = membership.root_key.as_ref().expect("checked above").sign(&seal_names(membership, &directory));
        self.store_directory(&signed)?;
        Ok(Some(signed))
    }

    /// Adds a team to the deployment (administrators): a new key pair, and a new signed
    /// directory version to publish.
    pub fn create_team(&mut self, name: &str) -> Result<(Team, SignedDirectory)> {
        let name = team_name(name)?;
        self.admin_membership()?;
        let mut directory = self.directory()?.ok_or_else(not_enrolled)?;
        if directory.teams.iter().any(|team| team.name.eq_ignore_ascii_case(&name)) {
            return Err(Error::invalid("team", format!("a team named \"{name}\" already exists")));
        }
        let secret = TeamSecret::generate();
        let team = secret.team(&name);
        directory.teams.push(team.clone());
        directory.version += 1;
        let membership = self.secrets.membership.as_mut().expect("checked above");
        let signed = membership.root_key.as_ref().expect("checked above").sign(&seal_names(membership, &directory));
        membership.team_secrets.push(secret);
        keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        self.store_directory(&signed)?;
        self.audit_now("team.create", None, &team.id.to_string())?;
        Ok((team, signed))
    }

    /// A team of the directory, by name (case-insensitive) or id.
    pub fn team(&self, name_or_id: &str) -> Result<Team> {
        let directory = self.directory()?.ok_or_else(not_enrolled)?;
        let wanted = name_or_id.trim();
        directory
            .teams
            .into_iter()
            .find(|team| team.name.eq_ignore_ascii_case(wanted) || team.id.to_string() == wanted)
            .ok_or_else(|| {
                Error::invalid("team", format!("no team \"{wanted}\" in the directory; `harbour team list` shows them"))
            })
    }

    /// Seals an invitation into `team` that the server has just recorded, under `code`.
    pub fn seal_invitation(&self, team: &Team, created: &CreateInvitationResponse, code: &str) -> Result<String> {
        deployment::seal_invitation(&self.invitation(team, created)?, code, KdfParams::STANDARD)
    }

    /// What an invitation into `team` carries, before it is sealed: with a credential signed by
    /// the root key for this one invitation (its team, its expiry, a new one-use signing key).
    pub fn invitation(&self, team: &Team, created: &CreateInvitationResponse) -> Result<Invitation> {
        let membership = self.admin_membership()?;
        let secret = membership
            .team_secrets
            .iter()
            .find(|secret| secret.team_id == team.id)
            .ok_or_else(|| Error::invalid("team", "this laptop does not hold that team's key"))?;
        let root = membership.root_key.as_ref().expect("an administrator's membership holds the root key");
        let invitation_key = SigningSecret::generate();
        let credential = identity::issue_credential(
            root,
            &Credential {
                deployment_id: membership.deployment_id,
                invitation_id: created.invitation_id,
                team_id: team.id,
                admin: created.admin,
                expires_ms: created.expires_at_ms,
                invitation_key: invitation_key.public_key().to_vec(),
            },
        );
        Ok(Invitation {
            server_url: membership.server_url.clone(),
            deployment_id: membership.deployment_id,
            ministry_team_id: membership.ministry_team_id,
            root_public_key: membership.root_public_key.clone(),
            team_id: team.id,
            team_name: team.name.clone(),
            team_secret: secret.secret.to_hex().to_string(),
            invitation_id: created.invitation_id,
            invitation_token: created.invitation_token.clone(),
            invitation_key: invitation_key.secret().to_hex().to_string(),
            credential,
            expires_ms: created.expires_at_ms,
            admin: created.admin,
            directory: self.signed_directory()?,
            directory_key: membership.directory_key.as_ref().map(|key| key.to_hex().to_string()),
        })
    }

    /// The first step of joining, before anything is sent: checks the invitation (its
    /// directory and credential verify against the root key it names, it has not expired) and
    /// makes this laptop's id, signing key and certificate, which the server checks at
    /// redemption.
    pub fn prepare_enrolment(invitation: &Invitation, worker: &str) -> Result<Enrolment> {
        Workspace::prepare_enrolment_as(invitation, worker, DeviceId::new())
    }

    /// [`Workspace::prepare_enrolment`] for a laptop that keeps its id (a standalone workspace
    /// joining later: its events already bear it).
    pub fn prepare_enrolment_as(invitation: &Invitation, worker: &str, device_id: DeviceId) -> Result<Enrolment> {
        deployment::verify_directory(&invitation.directory, &invitation.root_public_key, invitation.deployment_id)?;
        let damaged =
            || Error::invalid("invitation", "the invitation is damaged; ask your administrator for a new one");
        let root = harbour_wire::identity::verifying_key(&invitation.root_public_key).map_err(|_| damaged())?;
        invitation.credential.verify(harbour_wire::identity::CREDENTIAL_CONTEXT, &root).map_err(|_| damaged())?;
        let terms: Credential = serde_json::from_str(&invitation.credential.document).map_err(|_| damaged())?;
        if terms.team_id != invitation.team_id || terms.deployment_id != invitation.deployment_id {
            return Err(damaged());
        }
        let now = identity::now_ms();
        if now > terms.expires_ms {
            return Err(Error::invalid(
                "invitation",
                "this invitation has expired; ask your administrator for a new one",
            ));
        }
        let key_bytes = Zeroizing::new(hex::decode(&invitation.invitation_key).map_err(|_| damaged())?);
        let invitation_key = SigningSecret::from_secret(Secret::from_slice(&key_bytes).ok_or_else(damaged)?);
        if invitation_key.public_key().as_slice() != terms.invitation_key.as_slice() {
            return Err(damaged());
        }
        let key = SigningSecret::generate();
        let directory =
            deployment::verify_directory(&invitation.directory, &invitation.root_public_key, invitation.deployment_id)?;
        let ministry =
            directory.teams.iter().find(|team| team.id == invitation.ministry_team_id).ok_or_else(damaged)?;
        let worker = identity::seal_worker(ministry, &values::short_text("worker", worker)?)?;
        let box_secret = Secret::random();
        let certificate = identity::certify_device(
            &invitation_key,
            invitation.credential.clone(),
            device_id,
            &key,
            now,
            Some(worker),
            Some(&box_secret),
        );
        Ok(Enrolment {
            device_id,
            identity: DeviceIdentity { key, certificate, box_secret: Some(box_secret), listed: false },
        })
    }

    /// Creates a workspace that is a device of the deployment an invitation names, once the
    /// server has redeemed the invitation for `enrolment`'s certificate and minted `device_token`.
    pub fn join(
        dir: &Path,
        passphrase: &str,
        options: &CreateOptions,
        invitation: &Invitation,
        enrolment: Enrolment,
        device_token: &str,
    ) -> Result<Workspace> {
        let device_id = enrolment.device_id;
        let membership = membership_for(invitation, enrolment.identity, device_token)?;
        let mut workspace = Workspace::create_member(dir, passphrase, options, device_id, membership)?;
        workspace.store_directory(&invitation.directory)?;
        workspace.mark_certificate_sent()?;
        workspace.audit_now("device.enrol", None, &invitation.team_id.to_string())?;
        Ok(workspace)
    }

    /// This laptop's signing identity. An administrator's laptop made before laptops had one
    /// certifies itself with the root key it holds; any other must join again.
    pub(super) fn ensure_identity(&mut self) -> Result<()> {
        let device_id = self.secrets.device_id;
        let Some(membership) = self.secrets.membership.as_ref() else { return Ok(()) };
        if membership.identity.is_some() || membership.root_key.is_none() {
            return Ok(());
        }
        let ministry_id = membership.ministry_team_id;
        let ministry =
            self.directory()?.and_then(|directory| directory.teams.into_iter().find(|team| team.id == ministry_id));
        let worker = ministry.map(|team| identity::seal_worker(&team, &self.worker)).transpose()?;
        let membership = self.secrets.membership.as_mut().expect("checked above");
        let root = membership.root_key.as_ref().expect("checked above");
        membership.identity = Some(identity::self_certify(
            root,
            membership.deployment_id,
            ministry_id,
            device_id,
            identity::now_ms(),
            worker,
        ));
        keyfile::write(&self.dir, &self.sealer, &self.secrets)?;
        self.audit_now("device.certify", None, "")
    }

    /// The name of the worker a laptop was enrolled for, from its certificate (administrators,
    /// who hold the ministry team's key). `None` when it cannot be read.
    pub fn device_worker(&self, certificate: &harbour_wire::identity::DeviceCertificate) -> Option<String> {
        let membership = self.membership()?;
        let ministry = membership.team_secrets.iter().find(|secret| secret.team_id == membership.ministry_team_id)?;
        let sealed = certificate.unverified_device().ok()?.worker_sealed?;
        deployment::open_from_team(ministry, identity::WORKER_CONTEXT, &sealed)
    }

    /// This laptop's certificate, to give the server (once, for laptops made before certificates).
    pub fn certificate(&self) -> Option<&harbour_wire::identity::DeviceCertificate> {
        Some(&self.membership()?.identity.as_ref()?.certificate)
    }

    /// This laptop's certificate if the server has not acknowledged it yet. A laptop that joined
    /// with an invitation gave it at redemption.
    pub fn certificate_to_send(&self) -> Result<Option<harbour_wire::identity::DeviceCertificate>> {
        let sent: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'certificate_sent'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        Ok(if sent.is_some() { None } else { self.certificate().cloned() })
    }

    pub fn mark_certificate_sent(&mut self) -> Result<()> {
        set_meta(&self.conn, "certificate_sent", "1")
    }

    /// Shares a case with a team: grants it the case key (an event sealed to the team's public
    /// key) and queues the server-side grant so that the team may pull the case.
    pub fn share_case(&mut self, case_id: CaseId, team: &Team) -> Result<()> {
        self.membership().ok_or_else(not_enrolled)?;
        self.record_grants(case_id, std::slice::from_ref(team), true)
    }

    /// The teams a new case is granted to: this device's team and the ministry.
    pub(super) fn home_teams(&self) -> Result<Vec<Team>> {
        let Some(membership) = self.membership() else { return Ok(Vec::new()) };
        let Some(directory) = self.directory()? else { return Ok(Vec::new()) };
        let mut teams: Vec<Team> = directory
            .teams
            .into_iter()
            .filter(|team| team.id == membership.team_id || team.id == membership.ministry_team_id)
            .collect();
        teams.sort_by_key(|team| team.id);
        Ok(teams)
    }

    pub(super) fn record_grants(&mut self, case_id: CaseId, teams: &[Team], server_grant: bool) -> Result<()> {
        // Each team's key as the directory has it now (a caller's copy may predate a rotation).
        let directory = self.directory()?.ok_or_else(not_enrolled)?;
        let teams: Vec<Team> = teams
            .iter()
            .map(|team| {
                directory.teams.iter().find(|current| current.id == team.id).cloned().ok_or_else(|| {
                    Error::invalid(
                        "team",
                        format!("no team \"{}\" in the directory; `harbour team list` shows them", team.name),
                    )
                })
            })
            .collect::<Result<_>>()?;
        let teams = teams.as_slice();
        let key = self.case_key(case_id)?;
        let now = Utc::now();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut device_seq = last_device_seq(&tx)?;
        let author =
            self.secrets.membership.as_ref().and_then(|m| m.identity.as_ref()).ok_or_else(needs_new_invitation)?;
        let mut grants = deployment::GrantSealer::new(author);
        for team in teams {
            device_seq += 1;
            let hlc = self.clock.tick(now.timestamp_millis().max(0) as u64);
            let grant = grants.seal(case_id, &key, team, self.secrets.device_id, device_seq as u64, hlc)?;
            insert_own(&tx, &grant)?;
            if server_grant {
                tx.prepare_cached("INSERT OR IGNORE INTO shares (case_id, team_id, granted) VALUES (?1, ?2, 0)")?
                    .execute(params![case_id.to_string(), team.id.to_string()])?;
            }
            crate::audit::append(&tx, now, &self.worker, "case.share", Some(case_id), &team.id.to_string())?;
        }
        set_meta(&tx, "device_seq", &device_seq.to_string())?;
        set_meta(&tx, "hlc", &self.clock.last.to_sortable())?;
        tx.commit()?;
        Ok(())
    }
}

/// A laptop about to join: its id and its certified signing identity.
pub struct Enrolment {
    pub device_id: DeviceId,
    pub identity: DeviceIdentity,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment").field("device_id", &self.device_id).finish_non_exhaustive()
    }
}

pub(super) fn needs_new_invitation() -> Error {
    Error::invalid(
        "deployment",
        "this laptop joined its organisation before laptops had their own signing key, so it cannot share or sync cases; ask your administrator for a new invitation and join again",
    )
}

/// The membership an invitation gives a laptop with `identity`, once the server minted
/// `device_token` (its directory checked against the root key it names).
pub(super) fn membership_for(
    invitation: &Invitation,
    identity: DeviceIdentity,
    device_token: &str,
) -> Result<Membership> {
    deployment::verify_directory(&invitation.directory, &invitation.root_public_key, invitation.deployment_id)?;
    let secret_bytes = Zeroizing::new(
        hex::decode(&invitation.team_secret)
            .map_err(|_| Error::invalid("invitation", "the team key inside the invitation is damaged"))?,
    );
    let secret = Secret::from_slice(&secret_bytes)
        .ok_or_else(|| Error::invalid("invitation", "the team key inside the invitation is damaged"))?;
    Ok(Membership {
        deployment_id: invitation.deployment_id,
        server_url: invitation.server_url.clone(),
        device_token: Zeroizing::new(device_token.to_owned()),
        root_public_key: invitation.root_public_key.clone(),
        ministry_team_id: invitation.ministry_team_id,
        team_id: invitation.team_id,
        admin: invitation.admin,
        team_secrets: vec![TeamSecret { team_id: invitation.team_id, secret }],
        root_key: None,
        identity: Some(identity),
        directory_key: match &invitation.directory_key {
            Some(text) => Some(
                Secret::from_slice(&Zeroizing::new(hex::decode(text).map_err(|_| {
                    Error::invalid("invitation", "the directory key inside the invitation is damaged")
                })?))
                .ok_or_else(|| Error::invalid("invitation", "the directory key inside the invitation is damaged"))?,
            ),
            None => None,
        },
    })
}

/// A team's name: plain text of at most 100 characters (sealed, it must fit the server's 200).
fn team_name(name: &str) -> Result<String> {
    let name = values::short_text("team", name)?;
    if name.chars().count() > 100 {
        return Err(Error::invalid("team", "a team's name can have at most 100 characters"));
    }
    Ok(name)
}

/// The directory as signed: team names sealed when the deployment has a directory key.
pub(super) fn seal_names(membership: &Membership, directory: &TeamDirectory) -> TeamDirectory {
    match &membership.directory_key {
        Some(key) => deployment::seal_team_names(directory, key),
        None => directory.clone(),
    }
}

pub(super) fn not_enrolled() -> Error {
    Error::invalid(
        "deployment",
        "this laptop does not belong to a deployment yet; join one with `harbour enroll` (or create it with `harbour deployment create`)",
    )
}

fn server_url_checked(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_owned())
    } else {
        Err(Error::invalid("server", "give the server's address starting with https:// (or http:// on a test network)"))
    }
}
