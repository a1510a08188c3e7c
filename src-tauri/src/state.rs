//! The shell's state, one type per concern: the open workspace ([`Session`]), the settings
//! file ([`Settings`]), the inactivity clock ([`Activity`]) and the background sync
//! ([`SyncRunner`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use harbour_core::Workspace;
use harbour_core::forms::Lang;
use harbour_sync::{LoopSettings, SyncStatus};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter};
use tokio::sync::{Notify, watch};

use crate::error::{CommandError, CommandResult};

pub type SharedWorkspace = Arc<Mutex<Workspace>>;

/// The workspace, while it is unlocked.
pub struct Session {
    pub dir: PathBuf,
    /// The app started on what a wipe leaves (its report still to deliver): the first screen
    /// says so, even once the report has gone out in the background.
    pub wiped_at_start: bool,
    open: Mutex<Option<SharedWorkspace>>,
}

impl Session {
    pub fn new(dir: PathBuf) -> Session {
        let wiped_at_start = crate::wipe_report::waiting(&dir);
        Session { dir, wiped_at_start, open: Mutex::new(None) }
    }

    pub fn is_open(&self) -> bool {
        lock(&self.open).is_some()
    }

    pub fn shared(&self) -> CommandResult<SharedWorkspace> {
        lock(&self.open).clone().ok_or_else(CommandError::locked)
    }

    /// Runs `f` on the unlocked workspace.
    pub fn with<T>(&self, f: impl FnOnce(&mut Workspace) -> harbour_core::Result<T>) -> CommandResult<T> {
        let shared = self.shared()?;
        let mut workspace = lock(&shared);
        Ok(f(&mut workspace)?)
    }

    pub fn open(&self, workspace: Workspace) -> SharedWorkspace {
        let shared = Arc::new(Mutex::new(workspace));
        *lock(&self.open) = Some(shared.clone());
        shared
    }

    /// Forgets the workspace; its keys are zeroized when the last holder (a sync in flight)
    /// lets go of it.
    pub fn close(&self) -> bool {
        lock(&self.open).take().is_some()
    }
}

/// A poisoned lock means a command panicked; the data behind it is still consistent (every
/// write is one transaction), so carry on with it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Preferences of this laptop's interface, kept in clear beside the workspace: they say
/// nothing about anyone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    pub language: String,
    /// 0 never locks on its own.
    pub auto_lock_minutes: u32,
    /// The dashboard counts an open case as inactive after this many days without a change.
    pub inactive_days: u32,
}

impl Default for Preferences {
    fn default() -> Preferences {
        Preferences {
            language: "en".into(),
            auto_lock_minutes: 5,
            inactive_days: harbour_core::stats::DEFAULT_INACTIVE_DAYS,
        }
    }
}

pub const MAX_AUTO_LOCK_MINUTES: u32 = 240;
/// The longest "no activity for N days" the dashboard offers (two years).
pub const MAX_INACTIVE_DAYS: u32 = 730;
const SETTINGS_FILE: &str = "desktop-settings.json";

pub struct Settings {
    path: PathBuf,
    current: Mutex<Preferences>,
}

impl Settings {
    /// Reads the settings file; a missing or unreadable one gives the defaults (it only holds
    /// preferences, and a broken one must not keep anyone out).
    pub fn load(dir: &Path) -> Settings {
        let path = dir.join(SETTINGS_FILE);
        let current = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<Preferences>(&text).ok())
            .filter(|prefs| Lang::parse(&prefs.language).is_some())
            .unwrap_or_default();
        Settings { path, current: Mutex::new(current) }
    }

    pub fn get(&self) -> Preferences {
        lock(&self.current).clone()
    }

    pub fn update(&self, language: Option<&str>, auto_lock_minutes: Option<u32>) -> CommandResult<Preferences> {
        let mut prefs = self.get();
        if let Some(language) = language {
            let lang = Lang::parse(language).ok_or_else(|| CommandError::invalid("language", "choose en, es or fr"))?;
            prefs.language = lang.code().to_owned();
        }
        if let Some(minutes) = auto_lock_minutes {
            if minutes > MAX_AUTO_LOCK_MINUTES {
                return Err(CommandError::invalid(
                    "auto_lock_minutes",
                    format!("choose 0 (never) to {MAX_AUTO_LOCK_MINUTES} minutes"),
                ));
            }
            prefs.auto_lock_minutes = minutes;
        }
        self.save(prefs)
    }

    /// Sets the days without a change after which the dashboard counts an open case as inactive.
    pub fn update_inactive_days(&self, days: u32) -> CommandResult<Preferences> {
        if !(1..=MAX_INACTIVE_DAYS).contains(&days) {
            return Err(CommandError::invalid("inactive_days", format!("choose 1 to {MAX_INACTIVE_DAYS} days")));
        }
        let mut prefs = self.get();
        prefs.inactive_days = days;
        self.save(prefs)
    }

    fn save(&self, prefs: Preferences) -> CommandResult<Preferences> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| io_error(&self.path, error))?;
        }
        let text = serde_json::to_string_pretty(&prefs).map_err(|error| CommandError::internal(error.to_string()))?;
        // Written beside and renamed, so a power cut leaves the old or the new file whole.
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(|error| io_error(&partial, error))?;
        std::fs::rename(&partial, &self.path).map_err(|error| io_error(&self.path, error))?;
        *lock(&self.current) = prefs.clone();
        Ok(prefs)
    }
}

fn io_error(path: &Path, error: std::io::Error) -> CommandError {
    CommandError::internal(format!("Could not save the settings in {} ({error}).", path.display()))
}

/// When the person last used the app.
pub struct Activity {
    last: Mutex<Instant>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity { last: Mutex::new(Instant::now()) }
    }
}

impl Activity {
    pub fn touch(&self) {
        *lock(&self.last) = Instant::now();
    }

    pub fn idle(&self) -> Duration {
        lock(&self.last).elapsed()
    }
}

/// Whether an unlocked app idle for `idle` should lock now.
pub fn should_auto_lock(idle: Duration, auto_lock_minutes: u32) -> bool {
    auto_lock_minutes > 0 && idle >= Duration::from_secs(u64::from(auto_lock_minutes) * 60)
}

/// The background sync loop of the unlocked workspace, if it belongs to a deployment.
#[derive(Default)]
pub struct SyncRunner {
    running: Mutex<Option<Running>>,
    last: Arc<Mutex<Option<SyncStatus>>>,
}

struct Running {
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
}

pub const SYNC_STATUS_EVENT: &str = "sync-status";

impl SyncRunner {
    /// Starts the loop for a workspace that belongs to a deployment; does nothing otherwise.
    pub fn start(&self, app: &AppHandle, workspace: &SharedWorkspace) {
        self.stop();
        let client = match harbour_sync::client_for(&lock(workspace)) {
            Ok(client) => client,
            Err(_) => return, // not enrolled: this laptop keeps its cases to itself
        };
        let (stop, stop_rx) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let last = self.last.clone();
        let app = app.clone();
        let on_status = move |status: SyncStatus| {
            if status == SyncStatus::Wiped {
                // Its files are gone: nothing is left to unlock, and the keys leave memory.
                use tauri::Manager;
                app.state::<Session>().close();
            }
            *lock(&last) = Some(status.clone());
            // Counts and states only: a status never carries case data.
            let _ = app.emit(SYNC_STATUS_EVENT, status);
        };
        tauri::async_runtime::spawn(harbour_sync::background_loop(
            workspace.clone(),
            client,
            LoopSettings::default(),
            wake.clone(),
            stop_rx,
            on_status,
        ));
        *lock(&self.running) = Some(Running { stop, wake });
    }

    pub fn stop(&self) {
        if let Some(running) = lock(&self.running).take() {
            let _ = running.stop.send(true);
        }
        *lock(&self.last) = None;
    }

    /// Asks for a sync now; false when no loop runs.
    pub fn wake(&self) -> bool {
        match lock(&self.running).as_ref() {
            Some(running) => {
                running.wake.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn last(&self) -> Option<SyncStatus> {
        lock(&self.last).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_lock_waits_the_chosen_minutes_and_zero_means_never() {
        assert!(!should_auto_lock(Duration::from_secs(299), 5));
        assert!(should_auto_lock(Duration::from_secs(300), 5));
        assert!(!should_auto_lock(Duration::from_secs(100_000), 0));
    }

    #[test]
    fn settings_are_checked_saved_and_read_back() {
        let dir = std::env::temp_dir().join(format!("harbour-settings-{}", std::process::id()));
        let settings = Settings::load(&dir);
        assert_eq!(settings.get(), Preferences::default());
        let error = settings.update(Some("de"), None).unwrap_err();
        assert_eq!((error.kind, error.field.as_deref()), ("invalid", Some("language")));
        assert!(settings.update(None, Some(MAX_AUTO_LOCK_MINUTES + 1)).is_err());
        settings.update(Some("fr"), Some(10)).unwrap();
        let error = settings.update_inactive_days(0).unwrap_err();
        assert_eq!((error.kind, error.field.as_deref()), ("invalid", Some("inactive_days")));
        assert!(settings.update_inactive_days(MAX_INACTIVE_DAYS + 1).is_err());
        settings.update_inactive_days(45).unwrap();
        let again = Settings::load(&dir);
        assert_eq!(again.get(), Preferences { language: "fr".into(), auto_lock_minutes: 10, inactive_days: 45 });
        std::fs::write(dir.join(SETTINGS_FILE), "{ not json").unwrap();
        assert_eq!(Settings::load(&dir).get(), Preferences::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
