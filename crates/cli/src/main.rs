//! `harbour`: the command line over Harbour's core, for scripting and administration.
//!
//! Every command takes `--data-dir` and `--json`. The passphrase comes from
//! `HARBOUR_PASSPHRASE`, `--passphrase-file`, or a prompt. Errors are one sentence on stderr
//! and a non-zero exit status. Output to a closed pipe (`harbour case list | head -3`) ends
//! the process quietly with status 0, as ripgrep does, instead of panicking.

/// `println!` for this crate (its modules are declared below, so they use this one): a write
/// to a closed pipe ends the process quietly instead of panicking like `std`'s.
macro_rules! println {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for this crate, with the same closed-pipe behaviour as [`println!`].
macro_rules! print {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

mod anon;
mod args;
mod desk;
mod export;
mod output;
mod passphrase;
mod screening;
mod sync_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use harbour_core::model::{
    CaseFields, ConsentMethod, ConsentScope, Field, FieldValue, ReferralReason, ReferralStatus, ServiceType, Urgency,
    case::coded, values,
};
use harbour_core::{CaseQuery, ConsentInput, CreateOptions, EntryId, EventId, ReferralInput, Workspace};

use crate::args::{
    AuditCommand, CaseCommand, Cli, Command, ConsentCommand, NoteCommand, PassphraseCommand, ReferralCommand,
};
use crate::output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = cli.refuse_conflicts() {
        error.exit();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("harbour: {}", output::sentence(&error));
            ExitCode::FAILURE
        }
    }
}

/// Write to stdout. The reader went away (a closed pipe): stop quietly with status 0, as
/// ripgrep does. Any other failure to write is one sentence on stderr and status 1.
fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(error) = std::io::stdout().lock().write_fmt(text) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("harbour: could not write the output ({error}).");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let dir = data_dir(cli.global.data_dir.clone())?;
    let out = Output { json: cli.global.json };
    if cli.global.allow_insecure_http {
        harbour_sync::client::allow_insecure_http_in_this_process();
    }
    if harbour_sync::client::insecure_http_allowed() {
        eprintln!(
            "harbour: warning: plain http:// server addresses are allowed; anyone on the network could read \
             and alter what is sent. Use this on a test network only."
        );
    }
    let unlock = || -> Result<Workspace> {
        let passphrase = passphrase::current(cli.global.passphrase_file.as_deref())?;
        Ok(Workspace::unlock(&dir, &passphrase)?)
    };
    match cli.command {
        Command::Init { worker, code_prefix } => {
            if Workspace::exists(&dir) {
                return Err(harbour_core::Error::WorkspaceExists(dir).into());
            }
            let passphrase = passphrase::new(cli.global.passphrase_file.as_deref(), "HARBOUR_PASSPHRASE")?;
            let options = CreateOptions {
                code_prefix: harbour_core::CodePrefix::parse(&code_prefix)?,
                worker: worker.unwrap_or_else(default_worker),
                ..CreateOptions::default()
            };
            let workspace = Workspace::create(&dir, &passphrase, &options)?;
            out.created_workspace(&workspace);
        }
        Command::Case(command) => case(command, unlock()?, &out)?,
        Command::Note(NoteCommand::Add { case, text }) => {
            let mut workspace = unlock()?;
            let id = workspace.resolve(&case)?;
            let (note_id, state) = workspace.add_note(id, &text)?;
            out.entry_added("note", &note_id.to_string(), &state);
        }
        Command::Consent(ConsentCommand::Add { case, share, with, given_on, method, note }) => {
            let mut workspace = unlock()?;
            let id = workspace.resolve(&case)?;
            let scope = share
                .split(',')
                .filter(|part| !part.trim().is_empty())
                .map(ConsentScope::parse)
                .collect::<Result<Vec<_>, _>>()?;
            let given_on = match given_on {
                Some(text) => values::parse_past_date("given_on", &text)?,
                None => chrono::Utc::now().date_naive(),
            };
            let input =
                ConsentInput { scope, shared_with: with, given_on, method: ConsentMethod::parse(&method)?, note };
            let (consent_id, state) = workspace.add_consent(id, input)?;
            out.entry_added("consent", &consent_id.to_string(), &state);
        }
        Command::Referral(ReferralCommand::Add {
            case,
            service,
            service_type,
            consent,
            reason,
            urgency,
            details,
            team,
        }) => {
            let mut workspace = unlock()?;
            let id = workspace.resolve(&case)?;
            let input = ReferralInput {
                service,
                service_type: coded::<ServiceType>("type", &service_type)?,
                reason: coded::<ReferralReason>("reason", &reason)?,
                details,
                urgency: coded::<Urgency>("urgency", &urgency)?,
                consent_id: consent.parse::<EntryId>().map_err(|_| {
                    harbour_core::Error::invalid("consent", "give the consent's id as printed by `harbour consent add`")
                })?,
                // A referral to a team in Harbour (chosen here, or named by the service
                // directory) grants it the case.
                team,
            };
            let (referral_id, state) = workspace.add_referral(id, input)?;
            out.entry_added("referral", &referral_id.to_string(), &state);
        }
        Command::Referral(ReferralCommand::Status { case, referral, status, note }) => {
            let mut workspace = unlock()?;
            let id = workspace.resolve(&case)?;
            let referral_id = referral.parse::<EntryId>().map_err(|_| {
                harbour_core::Error::invalid("referral", "give the referral's id as printed by `harbour referral add`")
            })?;
            let state =
                workspace.set_referral_status(id, referral_id, ReferralStatus::parse(&status)?, note.as_deref())?;
            out.entry_added("referral status", &referral_id.to_string(), &state);
        }
        Command::Referral(ReferralCommand::Packet(command)) => screening::referral(command, unlock()?, &out)?,
        Command::Referral(ReferralCommand::Letter(command)) => anon::referral_letter(command, unlock()?, &out)?,
        Command::Form(command) => screening::form(command, &out)?,
        Command::Screening(command) => screening::screening(command, unlock, &out)?,
        Command::Directory(command) => screening::directory(command, unlock, &out)?,
        Command::Passphrase(PassphraseCommand::Change { new_passphrase_file }) => {
            let mut workspace = unlock()?;
            let new = passphrase::new(new_passphrase_file.as_deref(), "HARBOUR_NEW_PASSPHRASE")?;
            workspace.change_passphrase(&new)?;
            out.message("The passphrase was changed. Use the new one from now on.");
        }
        Command::Audit(AuditCommand::Show { limit, all_devices: false }) => out.audit(&unlock()?.audit_log(limit)?),
        Command::Audit(AuditCommand::Show { limit, all_devices: true }) => {
            out.device_audits(&unlock()?.audit_all_devices()?, limit)
        }
        Command::Audit(AuditCommand::Verify) => {
            let count = unlock()?.verify_audit()?;
            out.audit_verified(count);
        }
        Command::Deployment(command) => sync_cmd::deployment(command, unlock()?, &out)?,
        Command::Team(command) => sync_cmd::team(command, unlock()?, &out)?,
        Command::Invite(command) => sync_cmd::invite(command, unlock()?, &out)?,
        Command::Device(command) => sync_cmd::device(command, unlock()?, &out)?,
        Command::Sync => {
            // A laptop wiped on its administrator's order has no workspace left, only, perhaps,
            // the report the server did not receive yet.
            let wiped = !Workspace::exists(&dir) && sync_cmd::deliver_wipe_report(&dir, &out)?;
            if !wiped {
                sync_cmd::sync(unlock()?, &out)?;
            }
        }
        Command::Process(command) => desk::process(command, unlock()?, &out)?,
        Command::Justice(command) => desk::justice(command, unlock()?, &out)?,
        Command::Perpetrator(command) => desk::perpetrator(command, unlock()?, &out)?,
        Command::Service(command) => desk::service(command, unlock()?, &out)?,
        Command::Stats(args) => desk::stats(args, unlock()?, &out)?,
        Command::Report(command) => desk::report(command, unlock()?, &out)?,
        Command::Export(command) => export::export(command, unlock, &out)?,
        Command::Backup(args) => export::backup(args, unlock, &out)?,
        Command::Restore(args) => export::restore(args, &dir, cli.global.passphrase_file.as_deref(), &out)?,
        Command::Import(command) => export::import(command, unlock, &out)?,
        Command::Join { invitation, code } => {
            sync_cmd::join_later(unlock()?, &invitation_text(invitation)?, &code, &out)?;
        }
        Command::Enroll { invitation, code, worker } => {
            let invitation = invitation_text(invitation)?;
            let passphrase = passphrase::new(cli.global.passphrase_file.as_deref(), "HARBOUR_PASSPHRASE")?;
            let worker = worker.unwrap_or_else(default_worker);
            sync_cmd::enroll(&dir, &invitation, &code, worker, &passphrase, &out)?;
        }
    }
    Ok(())
}

/// An invitation given on the command line, or read from @FILE.
fn invitation_text(invitation: String) -> Result<String> {
    Ok(match invitation.strip_prefix('@') {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("could not read the invitation file {file}"))?
        }
        None => invitation,
    })
}

fn case(command: CaseCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    match command {
        CaseCommand::New { name, alias, sex, birth_date, age, nationality, language, phone, location, risk_level } => {
            let mut fields = CaseFields::named(&name)?;
            let mut set = |field: Field, text: Option<String>| -> Result<()> {
                if let Some(text) = text {
                    fields.set(FieldValue::parse(field, &text)?);
                }
                Ok(())
            };
            set(Field::Aliases, (!alias.is_empty()).then(|| alias.join(",")))?;
            set(Field::Sex, sex)?;
            set(Field::BirthDate, birth_date)?;
            set(Field::EstimatedAge, age)?;
            set(Field::Nationalities, (!nationality.is_empty()).then(|| nationality.join(",")))?;
            set(Field::Languages, (!language.is_empty()).then(|| language.join(",")))?;
            set(Field::Phone, phone)?;
            set(Field::Location, location)?;
            set(Field::RiskLevel, risk_level)?;
            // Offered before the case is made; the case is still made (scripts rely on it).
            let duplicates = workspace.likely_duplicates(&fields)?;
            let state = workspace.create_case(fields)?;
            out.case_created_with_duplicates(&state, &duplicates);
        }
        CaseCommand::List { search, status, team, from, to, needs_review, limit } => {
            let query = CaseQuery {
                search,
                status: status.map(|text| coded("status", &text)).transpose()?,
                team,
                updated_from: from.map(|text| values::parse_past_date("from", &text)).transpose()?,
                updated_to: to.map(|text| parse_date("to", &text)).transpose()?,
                needs_review,
                limit,
            };
            out.case_list(&workspace.list_cases(&query)?);
        }
        CaseCommand::Show { case } => {
            let id = workspace.resolve(&case)?;
            out.case(&workspace.view_case(id)?);
        }
        CaseCommand::Export { case } => {
            let id = workspace.resolve(&case)?;
            let state = workspace.export_case(id)?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        CaseCommand::Set { case, assignments, reason } => {
            let id = workspace.resolve(&case)?;
            let values = assignments
                .iter()
                .map(|assignment| {
                    let (field, value) = assignment.split_once('=').ok_or_else(|| {
                        harbour_core::Error::invalid(
                            assignment,
                            "write each change as FIELD=VALUE, such as risk_level=high",
                        )
                    })?;
                    Ok(FieldValue::parse(Field::parse(field)?, value)?)
                })
                .collect::<Result<Vec<_>>>()?;
            let state = workspace.update_case(id, values, reason)?;
            out.case_updated(&state);
        }
        CaseCommand::Close { case, reason, referred, in_error } => {
            let id = workspace.resolve(&case)?;
            let state = match reason {
                Some(reason) if !in_error => workspace.close_case(id, &reason, referred)?,
                _ => workspace.close_in_error(id)?,
            };
            out.case_updated(&state);
        }
        CaseCommand::Discard { case } => {
            let id = workspace.resolve(&case)?;
            workspace.discard_case(id)?;
            out.message(&format!("Discarded case {}: it is no longer on this laptop.", case.trim()));
        }
        CaseCommand::Reopen { case, reason } => {
            let id = workspace.resolve(&case)?;
            out.case_updated(&workspace.reopen_case(id, &reason)?);
        }
        CaseCommand::Share { case, team } => return sync_cmd::share(workspace, &case, &team, out),
        CaseCommand::Resolve { case, field, keep } => {
            let id = workspace.resolve(&case)?;
            let keep = keep.parse::<EventId>()?;
            out.case_updated(&workspace.resolve_conflict(id, Field::parse(&field)?, keep)?);
        }
    }
    Ok(())
}

fn parse_date(field: &str, text: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        harbour_core::Error::invalid(field, format!("\"{}\" is not a date; use YYYY-MM-DD", text.trim())).into()
    })
}

/// `--data-dir`, else `HARBOUR_DATA_DIR`, else the operating system's data directory.
fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    dirs::data_dir()
        .map(|dir| dir.join("harbour"))
        .context("no data directory is known for this system; give one with --data-dir")
}

fn default_worker() -> String {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "worker".into())
}
