//! Creating, joining, unlocking and locking the workspace; settings and translations.

use harbour_core::forms::Strings;
use harbour_core::store::MIN_PASSPHRASE_CHARS;
use harbour_core::{CreateOptions, Workspace};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, State};
use zeroize::Zeroizing;

use crate::error::{CommandError, CommandResult};
use crate::state::{self, Activity, Session, Settings, SyncRunner};

#[derive(Debug, Serialize)]
pub struct AppStatus {
    pub workspace_exists: bool,
    /// The app started on a laptop wiped on its administrator's order, and no workspace was made
    /// since.
    pub wiped: bool,
    pub unlocked: bool,
    pub enrolled: bool,
    pub language: String,
    pub auto_lock_minutes: u32,
    /// The dashboard's "no activity for N days".
    pub inactive_days: u32,
    pub worker: Option<String>,
    pub team: Option<String>,
    pub device_id: Option<String>,
    pub version: &'static str,
}

/// Passphrases from the interface are `Zeroizing`: wiped from memory when dropped.
#[derive(Deserialize)]
pub struct NewWorkspace {
    pub passphrase: Zeroizing<String>,
    pub worker: String,
}

#[derive(Deserialize)]
pub struct JoinInput {
    pub invitation: String,
    pub code: String,
    pub passphrase: Zeroizing<String>,
    pub worker: String,
}

#[derive(Deserialize)]
pub struct UnlockInput {
    pub passphrase: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct PassphraseChange {
    pub current: Zeroizing<String>,
    pub new: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct SettingsInput {
    pub language: Option<String>,
    pub auto_lock_minutes: Option<u32>,
    pub inactive_days: Option<u32>,
}

#[tauri::command(async)]
pub fn app_status(session: State<'_, Session>, settings: State<'_, Settings>) -> CommandResult<AppStatus> {
    status(&session, &settings)
}

#[tauri::command(async)]
pub fn create_workspace(app: AppHandle, input: NewWorkspace) -> CommandResult<AppStatus> {
    let session = app.state::<Session>();
    if Workspace::exists(&session.dir) {
        return Err(harbour_core::Error::WorkspaceExists(session.dir.clone()).into());
    }
    check_new_passphrase(&input.passphrase)?;
    let options = CreateOptions { worker: worker_name(&input.worker)?, ..CreateOptions::default() };
    let workspace = Workspace::create(&session.dir, &input.passphrase, &options)?;
    opened(&app, workspace)
}

#[tauri::command]
pub async fn join_deployment(app: AppHandle, input: JoinInput) -> CommandResult<AppStatus> {
    let dir = app.state::<Session>().dir.clone();
    let options = CreateOptions { worker: worker_name(&input.worker)?, ..CreateOptions::default() };
    let (workspace, _, _) =
        harbour_sync::enroll(&dir, &input.invitation, &input.code, &input.passphrase, &options).await?;
    // The background loop starts with a first sync at once.
    opened(&app, workspace)
}

#[derive(Deserialize)]
pub struct JoinLaterInput {
    pub invitation: String,
    pub code: String,
}

#[derive(Serialize)]
pub struct JoinedLater {
    pub status: AppStatus,
    /// Cases moved into the organisation: sent at the first sync, which starts at once.
    pub cases: usize,
}

/// Settings → join an organisation: this standalone laptop joins with an invitation and its
/// code, keeping its id and its cases (`harbour_sync::join_later`, as `harbour join`). The
/// workspace is not locked while the server redeems the invitation.
#[tauri::command]
pub async fn join_organisation(app: AppHandle, input: JoinLaterInput) -> CommandResult<JoinedLater> {
    let shared = app.state::<Session>().shared()?;
    let joined = harbour_sync::join_later::join_later(&shared, &input.invitation, &input.code).await?;
    app.state::<SyncRunner>().start(&app, &shared);
    Ok(JoinedLater { status: status(&app.state::<Session>(), &app.state::<Settings>())?, cases: joined.cases })
}

#[tauri::command(async)]
pub fn unlock(app: AppHandle, input: UnlockInput) -> CommandResult<AppStatus> {
    let session = app.state::<Session>();
    if session.is_open() {
        return status(&session, &app.state::<Settings>());
    }
    let workspace = Workspace::unlock(&session.dir, &input.passphrase)?;
    opened(&app, workspace)
}

#[tauri::command(async)]
pub fn lock(app: AppHandle) {
    close(&app);
}

/// The quick exit: the interface has already hidden everything; lock at once.
#[tauri::command(async)]
pub fn quick_exit(app: AppHandle) {
    close(&app);
}

#[tauri::command(async)]
pub fn touch(activity: State<'_, Activity>) {
    activity.touch();
}

#[tauri::command(async)]
pub fn change_passphrase(session: State<'_, Session>, input: PassphraseChange) -> CommandResult<()> {
    check_new_passphrase(&input.new)?;
    // The current passphrase is asked again: an unlocked laptop left alone must not let
    // someone else take it over.
    drop(Workspace::unlock(&session.dir, &input.current)?);
    session.with(|workspace| workspace.change_passphrase(&input.new))
}

#[tauri::command(async)]
pub fn set_settings(
    session: State<'_, Session>,
    settings: State<'_, Settings>,
    input: SettingsInput,
) -> CommandResult<AppStatus> {
    settings.update(input.language.as_deref(), input.auto_lock_minutes)?;
    if let Some(days) = input.inactive_days {
        settings.update_inactive_days(days)?;
    }
    status(&session, &settings)
}

/// The whole shared translation table (`assets/i18n/strings.json`), as the core holds it.
#[tauri::command(async)]
pub fn translations() -> &'static Strings {
    Strings::builtin()
}

/// The start-up probe: with `HARBOUR_PROBE_READY=1`, prints when the first screen was drawn.
#[tauri::command]
pub fn ui_ready(screen: String) {
    if std::env::var_os("HARBOUR_PROBE_READY").is_some_and(|value| value == "1") {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let screen: String = screen.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(32).collect();
        println!("harbour-ready {} {screen}", now.as_millis());
    }
}

/// Locks: stops the sync loop and forgets the workspace.
pub fn close(app: &AppHandle) {
    app.state::<SyncRunner>().stop();
    app.state::<crate::commands::stats::Desk>().forget();
    app.state::<Session>().close();
}

fn opened(app: &AppHandle, workspace: Workspace) -> CommandResult<AppStatus> {
    let session = app.state::<Session>();
    let shared = session.open(workspace);
    app.state::<Activity>().touch();
    app.state::<SyncRunner>().start(app, &shared);
    status(&session, &app.state::<Settings>())
}

fn status(session: &Session, settings: &Settings) -> CommandResult<AppStatus> {
    let prefs = settings.get();
    let mut status = AppStatus {
        workspace_exists: Workspace::exists(&session.dir),
        wiped: session.wiped_at_start && !Workspace::exists(&session.dir),
        unlocked: false,
        enrolled: false,
        language: prefs.language,
        auto_lock_minutes: prefs.auto_lock_minutes,
        inactive_days: prefs.inactive_days,
        worker: None,
        team: None,
        device_id: None,
        version: env!("CARGO_PKG_VERSION"),
    };
    if let Ok(shared) = session.shared() {
        let workspace = state::lock(&shared);
        status.unlocked = true;
        status.worker = Some(workspace.worker().to_owned());
        status.device_id = Some(workspace.device_id().to_string());
        if let Some(membership) = workspace.membership() {
            status.enrolled = true;
            let team_id = membership.team_id;
            status.team = workspace
                .directory()?
                .and_then(|directory| directory.teams.into_iter().find(|team| team.id == team_id))
                .map(|team| team.name);
        }
    }
    Ok(status)
}

fn check_new_passphrase(passphrase: &str) -> CommandResult<()> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(CommandError::invalid(
            "passphrase",
            format!("use at least {MIN_PASSPHRASE_CHARS} characters; a few unrelated words are easy to remember"),
        ));
    }
    Ok(())
}

fn worker_name(text: &str) -> CommandResult<String> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(CommandError::invalid(
            "worker",
            "write your name or initials, as your team knows you (1 to 80 characters)",
        ));
    }
    Ok(name.to_owned())
}
