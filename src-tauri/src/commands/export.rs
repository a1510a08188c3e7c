//! Data → Export: cases as a spreadsheet, the anonymised CTDC data set and the HTCDS transfer,
//! written where the worker says. The same core functions as `harbour export csv|ctdc|htcds`
//! (`Workspace::export_cases`, `export_ctdc`, `export_htcds`), so each export is audited the
//! same way (`export.cases`, `export.ctdc`, `export.htcds`: what and how many, never a value).
//!
//! Identifiable exports are encrypted as they are written, in the age format, to a passphrase
//! typed twice; in clear only when the worker ticks the choice that says what that means. A
//! file is never replaced, and a refusal is checked before anything is read or recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use harbour_core::anon::{CtdcExport, DEFAULT_K};
use harbour_core::export::{ExportFilters, ExportFormat, ExportQuery, Protection, Sheet};
use harbour_core::htcds::LeftOutReason;
use serde::{Deserialize, Serialize};
use tauri::State;
use zeroize::Zeroizing;

use crate::error::{CommandError, CommandResult};
use crate::state::Session;

/// How an identifiable export is written.
#[derive(Deserialize)]
pub struct ProtectInput {
    /// In clear: the worker chose it explicitly, after the warning.
    #[serde(default)]
    pub plaintext: bool,
    pub passphrase: Option<Zeroizing<String>>,
    pub passphrase_again: Option<Zeroizing<String>>,
}

#[derive(Default, Deserialize)]
pub struct FiltersInput {
    pub status: Option<String>,
    pub team: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub identification: Option<String>,
}

#[derive(Deserialize)]
pub struct ExportCasesInput {
    pub path: String,
    /// `csv` (a ZIP of CSV files) or `xlsx`.
    pub format: String,
    #[serde(default)]
    pub filters: FiltersInput,
    /// Optional sheets: referrals, screenings, justice.
    #[serde(default)]
    pub sheets: Vec<String>,
    pub protection: ProtectInput,
}

#[derive(Serialize)]
pub struct CasesExported {
    pub path: PathBuf,
    pub format: ExportFormat,
    pub encrypted: bool,
    pub rows: usize,
    pub sheets: BTreeMap<String, usize>,
}

#[derive(Deserialize)]
pub struct CtdcInput {
    pub path: String,
    pub k: Option<u64>,
}

/// What was written: core's summary of the data set, beside the file's path.
#[derive(Serialize)]
pub struct CtdcExported {
    pub path: PathBuf,
    #[serde(flatten)]
    pub export: CtdcExport,
}

#[derive(Deserialize)]
pub struct HtcdsInput {
    pub path: String,
    /// The organisation receiving the transfer, chosen from `htcds_recipients`.
    #[serde(default)]
    pub to: String,
    /// Case codes (every case when empty).
    #[serde(default)]
    pub cases: Vec<String>,
    pub protection: ProtectInput,
}

#[derive(Serialize)]
pub struct HtcdsExported {
    pub path: PathBuf,
    pub encrypted: bool,
    pub recipient: String,
    pub included: Vec<String>,
    /// Every case left out, by code.
    pub left_out: Vec<String>,
    /// The cases left out because no consent shares identity and case summary.
    pub not_consented: Vec<String>,
    /// The cases left out because their consent was given for another organisation.
    pub other_recipient: Vec<String>,
}

#[tauri::command(async)]
pub fn export_cases(session: State<'_, Session>, input: ExportCasesInput) -> CommandResult<CasesExported> {
    let path = new_file(&input.path)?;
    let format = match input.format.as_str() {
        "csv" => ExportFormat::CsvArchive,
        "xlsx" => ExportFormat::Xlsx,
        _ => return Err(CommandError::invalid("format", "choose CSV or XLSX")),
    };
    let filters = &input.filters;
    let query = ExportQuery::parse(&ExportFilters {
        status: filters.status.as_deref(),
        team: filters.team.as_deref(),
        from: filters.from.as_deref(),
        to: filters.to.as_deref(),
        identification: filters.identification.as_deref(),
    })?;
    let sheets = input.sheets.iter().map(|sheet| Sheet::parse_optional(sheet)).collect::<Result<Vec<_>, _>>()?;
    let protection = protection(&input.protection)?;
    let summary = session.with(|workspace| workspace.export_cases(&query, &sheets, format, &protection, &path))?;
    Ok(CasesExported {
        path: summary.path,
        format: summary.format,
        encrypted: summary.encrypted,
        rows: summary.rows,
        sheets: summary.sheets.into_iter().collect(),
    })
}

#[tauri::command(async)]
pub fn export_ctdc(session: State<'_, Session>, input: CtdcInput) -> CommandResult<CtdcExported> {
    let path = new_file(&input.path)?;
    let k = input.k.unwrap_or(DEFAULT_K);
    let export = session.with(|workspace| workspace.export_ctdc(&path, k))?;
    Ok(CtdcExported { path, export })
}

/// The organisations an HTCDS transfer may go to: the service directory's services and the
/// recipients the consents on this laptop name.
#[tauri::command(async)]
pub fn htcds_recipients(session: State<'_, Session>) -> CommandResult<Vec<String>> {
    session.with(|workspace| workspace.htcds_recipients())
}

#[tauri::command(async)]
pub fn export_htcds(session: State<'_, Session>, input: HtcdsInput) -> CommandResult<HtcdsExported> {
    if input.to.trim().is_empty() {
        return Err(CommandError::invalid(
            "to",
            "Choose the organisation that receives the transfer: only cases whose consent was given for it go.",
        ));
    }
    let path = new_file(&input.path)?;
    let protection = protection(&input.protection)?;
    let export = session.with(|workspace| {
        let ids = input
            .cases
            .iter()
            .map(|code| code.trim())
            .filter(|code| !code.is_empty())
            .map(|code| workspace.resolve(code))
            .collect::<Result<Vec<_>, _>>()?;
        workspace.export_htcds(&ids, &input.to, &protection, &path)
    })?;
    let left_out = |reason: LeftOutReason| -> Vec<String> {
        export.left_out.iter().filter(|left| left.reason == reason).map(|left| left.code.to_string()).collect()
    };
    Ok(HtcdsExported {
        path,
        encrypted: protection.is_encrypted(),
        recipient: export.recipient.clone(),
        included: export.included.iter().map(|code| code.to_string()).collect(),
        left_out: export.left_out.iter().map(|left| left.code.to_string()).collect(),
        not_consented: left_out(LeftOutReason::NotConsented),
        other_recipient: left_out(LeftOutReason::OtherRecipient),
    })
}

/// The path the worker typed, whole and not yet taken (refused before anything is recorded).
pub fn new_file(typed: &str) -> CommandResult<PathBuf> {
    let path = PathBuf::from(typed.trim());
    if typed.trim().is_empty() || !path.is_absolute() {
        return Err(CommandError::invalid("path", "give the whole path of the file, such as /media/usb/cases.zip.age"));
    }
    refuse_existing(&path)?;
    Ok(path)
}

fn refuse_existing(path: &Path) -> CommandResult<()> {
    if path.exists() {
        return Err(harbour_core::Error::FileExists(path.to_owned()).into());
    }
    Ok(())
}

/// The protection asked for: in clear only when chosen; else the passphrase, typed the same
/// twice and long enough (core's rule), or the `export_passphrase` refusal.
fn protection(input: &ProtectInput) -> CommandResult<Protection> {
    if input.plaintext {
        return Ok(Protection::Plaintext);
    }
    let first = input.passphrase.as_deref().map(String::as_str).unwrap_or_default();
    let again = input.passphrase_again.as_deref().map(String::as_str).unwrap_or_default();
    let refused = |why: &str| CommandError {
        field: Some(if first.is_empty() || why.contains("least") { "passphrase" } else { "passphrase_again" }.into()),
        ..CommandError::new("export_passphrase", why)
    };
    if first != again {
        return Err(refused("The two passphrases differ. Type the same passphrase twice; nothing was written."));
    }
    Protection::passphrase(first).map_err(|_| {
        refused("The export passphrase needs at least 8 characters. Choose a longer one; nothing was written.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(first: &str, again: &str) -> ProtectInput {
        ProtectInput {
            plaintext: false,
            passphrase: Some(Zeroizing::new(first.into())),
            passphrase_again: Some(Zeroizing::new(again.into())),
        }
    }

    #[test]
    fn an_export_is_encrypted_unless_clear_is_chosen_and_the_passphrase_is_typed_the_same_twice() {
        assert!(protection(&typed("correct horse", "correct horse")).unwrap().is_encrypted());
        let differ = protection(&typed("correct horse", "correct house")).unwrap_err();
        assert_eq!((differ.kind, differ.field.as_deref()), ("export_passphrase", Some("passphrase_again")));
        let short = protection(&typed("short", "short")).unwrap_err();
        assert_eq!((short.kind, short.field.as_deref()), ("export_passphrase", Some("passphrase")));
        let none = ProtectInput { plaintext: false, passphrase: None, passphrase_again: None };
        assert_eq!(protection(&none).unwrap_err().kind, "export_passphrase", "no passphrase is not clear");
        let clear = ProtectInput { plaintext: true, passphrase: None, passphrase_again: None };
        assert!(!protection(&clear).unwrap().is_encrypted());
    }

    #[test]
    fn an_export_goes_to_a_whole_path_that_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(new_file("cases.zip").unwrap_err().field.as_deref(), Some("path"));
        assert_eq!(new_file("  ").unwrap_err().field.as_deref(), Some("path"));
        let taken = dir.path().join("taken.zip");
        std::fs::write(&taken, b"kept").unwrap();
        assert_eq!(new_file(taken.to_str().unwrap()).unwrap_err().kind, "file_exists");
        let free = dir.path().join("free.zip");
        assert_eq!(new_file(&format!(" {} ", free.display())).unwrap(), free);
    }
}
