fn main() {
    // Every command the interface may call is declared here, and the capability in
    // `capabilities/main.json` allows exactly these: a command not listed cannot be invoked.
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}

const COMMANDS: &[&str] = &[
    "app_status",
    "create_workspace",
    "join_deployment",
    "unlock",
    "lock",
    "quick_exit",
    "touch",
    "change_passphrase",
    "set_settings",
    "translations",
    "ui_ready",
    "backup_workspace",
    "value_lists",
    "list_cases",
    "get_case",
    "get_case_after_change",
    "check_duplicates",
    "create_case",
    "update_case",
    "close_case",
    "reopen_case",
    "resolve_conflict",
    "add_note",
    "add_consent",
    "add_referral",
    "set_referral_status",
    "referral_packet",
    "list_forms",
    "get_form",
    "record_screening",
    "save_draft",
    "load_draft",
    "discard_draft",
    "service_directory",
    "sync_status",
    "sync_now",
];
