//! The commands the interface calls, one module per domain. Each adapts `harbour_core` or
//! `harbour_sync` in a few lines; rules live in the core. The list here, in `build.rs` and in
//! `capabilities/main.json` is the same (docs/DESKTOP.md describes each).
//!
//! Commands run off the main thread (`async`), so a slow disk or a large list never freezes
//! the window.

pub mod backup;
pub mod cases;
pub mod desk;
pub mod export;
pub mod import;
pub mod letter;
pub mod screening;
pub mod session;
pub mod stats;
pub mod sync;

pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        session::app_status,
        session::create_workspace,
        session::join_deployment,
        session::join_organisation,
        session::unlock,
        session::lock,
        session::quick_exit,
        session::touch,
        session::change_passphrase,
        session::set_settings,
        session::translations,
        session::ui_ready,
        backup::backup_workspace,
        export::export_cases,
        export::export_ctdc,
        export::export_htcds,
        export::htcds_recipients,
        import::import_columns,
        import::import_check,
        import::import_cases,
        cases::value_lists,
        cases::list_cases,
        cases::get_case,
        cases::get_case_after_change,
        cases::check_duplicates,
        cases::create_case,
        cases::update_case,
        cases::close_case,
        cases::discard_case,
        cases::reopen_case,
        cases::resolve_conflict,
        cases::add_note,
        cases::add_consent,
        cases::add_referral,
        cases::referral_news,
        cases::set_referral_status,
        cases::referral_packet,
        desk::add_process_event,
        desk::add_justice_step,
        desk::add_perpetrator,
        desk::add_service_received,
        letter::save_referral_letter,
        screening::list_forms,
        screening::get_form,
        screening::record_screening,
        screening::take_screening_result,
        screening::save_draft,
        screening::load_draft,
        screening::discard_draft,
        screening::service_directory,
        screening::may_edit_directory,
        screening::directory_teams,
        screening::service_directory_to_check,
        screening::service_directory_checked,
        screening::save_service,
        sync::sync_status,
        sync::sync_now,
        stats::dashboard,
        stats::figure_cases,
        stats::annual_figures,
        stats::annual_cell_cases,
    ]
}
