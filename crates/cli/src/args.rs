//! The command-line grammar. Names are fixed: scripts and checks outside the repository use them.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "harbour", version, about = "Harbour: case records for people who protect victims of trafficking.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Refuses what clap cannot see when a global flag comes before the subcommand: `--json`
    /// with `report annual --csv` (the file is written, nothing is printed, so one of the two
    /// would be ignored).
    pub fn refuse_conflicts(&self) -> Result<(), clap::Error> {
        if let Command::Report(crate::desk::ReportCommand::Annual { csv: Some(_), .. }) = &self.command
            && self.global.json
        {
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                "the argument '--csv <FILE>' cannot be used with '--json': --csv writes the tables to a file, \
                 --json prints them with true counts; choose one",
            ));
        }
        Ok(())
    }
}

#[derive(Args)]
pub struct Global {
    /// Where the workspace lives (default: the system's data directory, then harbour).
    #[arg(long, global = true, env = "HARBOUR_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Read the passphrase from the first line of this file (else HARBOUR_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Allow a plain http:// server address that is not this machine (a test network only:
    /// anyone on the way could read and alter the traffic). Also HARBOUR_ALLOW_INSECURE_HTTP=1.
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a new workspace on this laptop (refuses to overwrite an existing one).
    Init {
        /// Your name, recorded as the author of changes and in the audit log.
        #[arg(long)]
        worker: Option<String>,
        /// The letters that start every case code.
        #[arg(long, default_value = "LC")]
        code_prefix: String,
    },
    /// Cases: create, list, show, change, close, reopen, discard.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Notes on a case.
    #[command(subcommand)]
    Note(NoteCommand),
    /// What a person agreed to share, and with whom.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Referrals to services, and their status.
    #[command(subcommand)]
    Referral(ReferralCommand),
    /// Screening forms: list them, show one.
    #[command(subcommand)]
    Form(crate::screening::FormCommand),
    /// Filled screenings: record one on a case and see its result.
    #[command(subcommand)]
    Screening(crate::screening::ScreeningCommand),
    /// The services people can be referred to: show, import, export.
    #[command(subcommand)]
    Directory(crate::screening::DirectoryCommand),
    /// The passphrase that unlocks this workspace.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// The audit log: who did what, and whether it is intact.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The deployment this laptop administers.
    #[command(subcommand)]
    Deployment(crate::sync_cmd::DeploymentCommand),
    /// Teams of the deployment.
    #[command(subcommand)]
    Team(crate::sync_cmd::TeamCommand),
    /// Invitations for new laptops.
    #[command(subcommand)]
    Invite(crate::sync_cmd::InviteCommand),
    /// Join a deployment with an invitation and its one-time code (creates a new workspace).
    Enroll {
        /// The invitation text (or @FILE to read it from a file).
        #[arg(long)]
        invitation: String,
        /// The one-time code that came by another channel.
        #[arg(long)]
        code: String,
        /// Your name, recorded as the author of changes.
        #[arg(long)]
        worker: Option<String>,
    },
    /// Join an organisation with this laptop's workspace, keeping its cases (a laptop that
    /// started on its own): they are granted to the invitation's team and the ministry and sent.
    Join {
        /// The invitation text (or @FILE to read it from a file).
        #[arg(long)]
        invitation: String,
        /// The one-time code that came by another channel.
        #[arg(long)]
        code: String,
    },
    /// The deployment's laptops.
    #[command(subcommand)]
    Device(crate::sync_cmd::DeviceCommand),
    /// Send this laptop's changes to the server and receive the team's.
    Sync,
    /// Stages of the trafficking process: recruitment, transit, exploitation.
    #[command(subcommand)]
    Process(crate::desk::ProcessCommand),
    /// The justice response: reported, investigation, charges, prosecution, outcome.
    #[command(subcommand)]
    Justice(crate::desk::JusticeCommand),
    /// Perpetrators, as coded records only.
    #[command(subcommand)]
    Perpetrator(crate::desk::PerpetratorCommand),
    /// Services the person received.
    #[command(subcommand)]
    Service(crate::desk::ServiceCommand),
    /// The task force's figures, each with the cases behind it (recorded as one stats.view).
    Stats(crate::desk::StatsArgs),
    /// Reports: the annual tables for the US TIP report and UNODC.
    #[command(subcommand)]
    Report(crate::desk::ReportCommand),
    /// Exports that leave this laptop: cases as a spreadsheet and HTCDS transfers (encrypted
    /// unless --plaintext), and the anonymised CTDC data set.
    #[command(subcommand)]
    Export(crate::export::ExportCommand),
    /// Back up this workspace to one file (encrypted, checked on restore).
    Backup(crate::export::BackupArgs),
    /// Restore a backup into --data-dir with the passphrase it was made under.
    Restore(crate::export::RestoreArgs),
    /// Bring data in: past cases from a spreadsheet.
    #[command(subcommand)]
    Import(crate::export::ImportCommand),
}

#[derive(Subcommand)]
pub enum CaseCommand {
    /// Record a new case.
    New {
        #[arg(long)]
        name: String,
        /// Another name the person is known by (repeat for several).
        #[arg(long)]
        alias: Vec<String>,
        /// female, male, transgender_non_conforming or unknown.
        #[arg(long)]
        sex: Option<String>,
        /// YYYY-MM-DD.
        #[arg(long, conflicts_with = "age")]
        birth_date: Option<String>,
        /// Estimated age in years, when the birth date is not known.
        #[arg(long)]
        age: Option<String>,
        /// ISO 3166-1 two-letter code (repeat for several).
        #[arg(long)]
        nationality: Vec<String>,
        /// ISO 639 code (repeat for several).
        #[arg(long)]
        language: Vec<String>,
        /// E.164, such as +17584520000.
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        location: Option<String>,
        /// low, medium or high.
        #[arg(long)]
        risk_level: Option<String>,
    },
    /// List cases, newest change first.
    List {
        /// A fragment of a name, alias or case code; accents and case are ignored.
        #[arg(long)]
        search: Option<String>,
        /// active, follow_up, closed or closed_referred.
        #[arg(long)]
        status: Option<String>,
        /// The assigned team.
        #[arg(long)]
        team: Option<String>,
        /// Changed on or after this day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Changed on or before this day (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Only cases with concurrent edits waiting for review.
        #[arg(long)]
        needs_review: bool,
        /// At most this many (0 for all).
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Show a whole case with its entries, history and conflicts (recorded in the audit log).
    Show { case: String },
    /// Print a whole case as JSON to leave this laptop (recorded in the audit log as an export).
    Export { case: String },
    /// Change fields: FIELD=VALUE with snake_case names (risk_level=high, nationalities=LC,GY).
    Set {
        case: String,
        #[arg(required = true, value_name = "FIELD=VALUE")]
        assignments: Vec<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Close a case.
    Close {
        case: String,
        #[arg(long, required_unless_present = "in_error")]
        reason: Option<String>,
        /// The person was referred on (HTCDS ClosedReferred).
        #[arg(long, conflicts_with = "in_error")]
        referred: bool,
        /// The case was created by mistake (its reason is recorded as created_in_error). A case
        /// that never left this laptop can be discarded instead.
        #[arg(long, conflicts_with = "reason")]
        in_error: bool,
    },
    /// Delete a case created by mistake, with everything recorded on it. Only while none of it
    /// has left this laptop (not sent, not shared); recorded in the audit log.
    Discard { case: String },
    /// Reopen a closed case.
    Reopen {
        case: String,
        #[arg(long)]
        reason: String,
    },
    /// Share a case with another team: they receive it at their next sync.
    Share {
        case: String,
        #[arg(long)]
        team: String,
    },
    /// Settle a conflict: keep one of the concurrent versions of a field.
    Resolve {
        case: String,
        #[arg(long)]
        field: String,
        /// The event id of the version to keep, as shown by `harbour case show`.
        #[arg(long)]
        keep: String,
    },
}

#[derive(Subcommand)]
pub enum NoteCommand {
    /// Add a note to a case.
    Add {
        case: String,
        #[arg(long)]
        text: String,
    },
}

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Record what the person agreed to share.
    Add {
        case: String,
        /// Comma-separated: identity, contact, case_summary, screenings, health, notes.
        #[arg(long)]
        share: String,
        /// With whom (a team or service).
        #[arg(long)]
        with: String,
        /// The day consent was given (YYYY-MM-DD, default today).
        #[arg(long)]
        given_on: Option<String>,
        /// verbal or written.
        #[arg(long, default_value = "verbal")]
        method: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ReferralCommand {
    /// Refer the person to a service, relying on a recorded consent.
    Add {
        case: String,
        /// The service's name.
        #[arg(long)]
        service: String,
        /// shelter, medical, psychosocial, legal_aid, police, labour_inspection, immigration,
        /// consular, return_assistance, ngo or other.
        #[arg(long = "type")]
        service_type: String,
        /// The consent id this referral relies on.
        #[arg(long)]
        consent: String,
        /// additional_services_required, migration_or_change_of_location or other.
        #[arg(long, default_value = "additional_services_required")]
        reason: String,
        /// routine, urgent or emergency.
        #[arg(long, default_value = "routine")]
        urgency: String,
        #[arg(long)]
        details: Option<String>,
        /// The service's team in Harbour, if it has one: the case is shared with it.
        #[arg(long)]
        team: Option<String>,
    },
    /// Update a referral: accepted, declined or completed.
    Status {
        case: String,
        referral: String,
        status: String,
        #[arg(long)]
        note: Option<String>,
    },
    #[command(flatten)]
    Packet(crate::screening::ReferralPacketCommand),
    #[command(flatten)]
    Letter(crate::anon::ReferralLetterCommand),
}

#[derive(Subcommand)]
pub enum PassphraseCommand {
    /// Change the passphrase (the new one from HARBOUR_NEW_PASSPHRASE, a file, or a prompt).
    Change {
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// The newest entries of the audit log.
    Show {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Every laptop's log that reached this one (the ministry's laptops), chains checked.
        #[arg(long)]
        all_devices: bool,
    },
    /// Check that no entry was changed or removed.
    Verify,
}
