//! `harbour form`, `harbour screening`, `harbour directory` and `harbour referral show`: the
//! screening forms, filled screenings, the service directory and referral packets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use harbour_core::directory::Directory;
use harbour_core::forms::{Answers, FormLibrary, Lang};
use harbour_core::{EntryId, Workspace};

use crate::output::Output;

#[derive(Subcommand)]
pub enum FormCommand {
    /// The screening forms this Harbour knows (the latest version of each).
    List {
        /// The language to show titles in: en, es or fr.
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// One form: its sections, questions, accepted answers, and how and why to ask.
    Show {
        /// The form's id, as `harbour form list` shows it.
        id: String,
        /// A particular version (default: the latest).
        #[arg(long)]
        version: Option<u32>,
        /// en, es or fr.
        #[arg(long, default_value = "en")]
        lang: String,
    },
}

#[derive(Subcommand)]
pub enum ScreeningCommand {
    /// Record a filled screening on a case and print its result and next steps.
    Add {
        case: String,
        /// The form's id (its latest version is used).
        #[arg(long)]
        form: String,
        /// A JSON object of question id → answer, e.g. {"q_documents": "yes", "q_debt": "declined"}.
        #[arg(long, value_name = "FILE.json")]
        answers: PathBuf,
        /// The language the questions were asked in, and of the result: en, es or fr.
        #[arg(long, default_value = "en")]
        lang: String,
    },
}

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// The services people can be referred to.
    Show {
        /// en, es or fr.
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// Replace the service directory with one edited outside Harbour (checked first).
    Import { file: PathBuf },
    /// Write the service directory as JSON, to edit or to give to another deployment.
    Export { file: PathBuf },
}

/// `harbour referral show`, flattened into `harbour referral`.
#[derive(Subcommand)]
pub enum ReferralPacketCommand {
    /// What may be sent to the service for a referral: only what the person's consent covers
    /// (recorded in the audit log as an export).
    Show { case: String, referral: String },
}

pub fn form(command: FormCommand, out: &Output) -> Result<()> {
    let library = FormLibrary::builtin();
    match command {
        FormCommand::List { lang } => out.forms(&library.latest_forms(), parse_lang(&lang)?),
        FormCommand::Show { id, version, lang } => {
            let lang = parse_lang(&lang)?;
            let form = match version {
                Some(version) => library.get(&id, version),
                None => library.latest(&id),
            };
            let form = form.ok_or_else(|| unknown_form(&id, version))?;
            out.form(form, lang);
        }
    }
    Ok(())
}

pub fn screening(command: ScreeningCommand, unlock: impl FnOnce() -> Result<Workspace>, out: &Output) -> Result<()> {
    let ScreeningCommand::Add { case, form, answers, lang } = command;
    let lang = parse_lang(&lang)?;
    let library = FormLibrary::builtin();
    let form = library.latest(&form).ok_or_else(|| unknown_form(&form, None))?;
    // The file is read before the passphrase is asked: a bad file is reported at once.
    let answers = read_answers(&answers)?;
    let mut workspace = unlock()?;
    let case_id = workspace.resolve(&case)?;
    let (recorded, result, state) = workspace.record_screening(case_id, form, answers, lang)?;
    let directory = workspace.service_directory()?;
    out.screening_recorded(&state, &recorded, form, &result, &directory, lang);
    Ok(())
}

pub fn directory(command: DirectoryCommand, unlock: impl FnOnce() -> Result<Workspace>, out: &Output) -> Result<()> {
    match command {
        DirectoryCommand::Show { lang } => {
            let lang = parse_lang(&lang)?;
            out.directory(&unlock()?.service_directory()?, lang);
        }
        DirectoryCommand::Import { file } => {
            let directory = Directory::import(&file)?;
            let mut workspace = unlock()?;
            let directory = workspace.set_service_directory(directory)?;
            out.directory_imported(&directory, workspace.service_directory_signed()?);
        }
        DirectoryCommand::Export { file } => {
            let directory = unlock()?.service_directory()?;
            directory.export(&file)?;
            if out.json {
                let value = serde_json::json!({
                    "path": file,
                    "rows": directory.services.len(),
                    "deployment": directory.deployment,
                    "version": directory.version,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            out.message(&format!(
                "Wrote the service directory ({} v{}, {} services) to {}.",
                directory.deployment,
                directory.version,
                directory.services.len(),
                file.display()
            ));
        }
    }
    Ok(())
}

pub fn referral(command: ReferralPacketCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let ReferralPacketCommand::Show { case, referral } = command;
    let case_id = workspace.resolve(&case)?;
    let referral_id = referral.parse::<EntryId>().map_err(|_| {
        harbour_core::Error::invalid("referral", "give the referral's id as printed by `harbour referral add`")
    })?;
    out.referral_packet(&workspace.referral_packet(case_id, referral_id)?);
    Ok(())
}

fn parse_lang(text: &str) -> Result<Lang> {
    Lang::parse(text).ok_or_else(|| {
        harbour_core::Error::invalid(
            "lang",
            format!("\"{}\" is not a language Harbour has; use en, es or fr", text.trim()),
        )
        .into()
    })
}

fn unknown_form(id: &str, version: Option<u32>) -> anyhow::Error {
    let which = version.map_or_else(|| id.to_owned(), |version| format!("{id} v{version}"));
    anyhow!("there is no form {which}; `harbour form list` shows the forms this Harbour has")
}

/// Reads an answers file. Messages say where the file is wrong, never what it holds.
fn read_answers(path: &Path) -> Result<Answers> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("could not read the answers file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        anyhow!(
            "the answers file {} is not valid JSON (line {}, column {}); write one object of question id → answer, \
             such as {{\"q_documents\": \"yes\"}}",
            path.display(),
            error.line(),
            error.column()
        )
    })?;
    match value {
        serde_json::Value::Object(map) => Ok(map.into_iter().collect()),
        _ => Err(anyhow!(
            "the answers file {} must hold one JSON object of question id → answer, such as {{\"q_documents\": \"yes\"}}",
            path.display()
        )),
    }
}
