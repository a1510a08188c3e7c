//! Data in and out: `harbour export csv|open`, `harbour backup`, `harbour restore`,
//! `harbour import cases` (CSV or XLSX). Identifiable exports are encrypted to a passphrase (age format) unless
//! `--plaintext` is given; the passphrase comes from HARBOUR_EXPORT_PASSPHRASE or a prompt.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use harbour_core::Workspace;
use harbour_core::export::{ExportFilters, ExportFormat, ExportQuery, Protection, Sheet};
use serde_json::json;
use zeroize::Zeroizing;

use crate::output::Output;

/// The variable an export's passphrase is read from before a prompt.
const EXPORT_PASSPHRASE_VAR: &str = "HARBOUR_EXPORT_PASSPHRASE";

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Cases as a spreadsheet: a ZIP of CSV files (or an XLSX workbook) with a data
    /// dictionary, encrypted to a passphrase unless --plaintext.
    Csv(CsvArgs),
    /// Decrypt an encrypted export (the same as `age -d` or `rage -d`).
    Open {
        /// The encrypted export.
        file: PathBuf,
        /// Where to write it in clear (a new file).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The anonymised CTDC data set and the HTCDS transfer.
    #[command(flatten)]
    Anon(crate::anon::ExportCommand),
}

#[derive(Args)]
pub struct CsvArgs {
    /// The file to write (it must not exist yet).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Write the export in clear, not encrypted: anyone who gets the file can read every case.
    #[arg(long)]
    plaintext: bool,
    /// Only cases of this status: active, follow_up, closed or closed_referred.
    #[arg(long)]
    status: Option<String>,
    /// Only cases of this team.
    #[arg(long)]
    team: Option<String>,
    /// Only cases registered on or after this day (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Only cases registered on or before this day (YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// Only cases with this identification status (or not_recorded).
    #[arg(long)]
    identification: Option<String>,
    /// Add sheets: referrals, screenings, justice (comma-separated).
    #[arg(long, value_delimiter = ',')]
    sheets: Vec<String>,
    /// Write an XLSX workbook instead of a ZIP of CSV files.
    #[arg(long)]
    xlsx: bool,
}

pub fn export(command: ExportCommand, unlock: impl FnOnce() -> Result<Workspace>, out: &Output) -> Result<()> {
    match command {
        ExportCommand::Csv(args) => csv(args, unlock, out),
        ExportCommand::Anon(command) => crate::anon::export(command, unlock()?, out),
        ExportCommand::Open { file, out: target } => {
            let passphrase = export_passphrase(false)?;
            let bytes = harbour_core::export::open_export(&file, &passphrase, &target)?;
            if out.json {
                // The rows of a decrypted file are not counted: it is written back as it was sealed.
                let value = json!({ "path": target, "rows": null, "bytes": bytes });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("Wrote {} in clear ({bytes} bytes). Delete it when you no longer need it.", target.display());
            }
            Ok(())
        }
    }
}

fn csv(args: CsvArgs, unlock: impl FnOnce() -> Result<Workspace>, out: &Output) -> Result<()> {
    let query = ExportQuery::parse(&ExportFilters {
        status: args.status.as_deref(),
        team: args.team.as_deref(),
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        identification: args.identification.as_deref(),
    })?;
    let sheets = args.sheets.iter().map(|text| Sheet::parse_optional(text)).collect::<Result<Vec<_>, _>>()?;
    refuse_existing(&args.out)?;
    let mut workspace = unlock()?;
    let protection = if args.plaintext {
        eprintln!(
            "harbour: warning: writing the export in clear (--plaintext). Anyone who gets {} can read every case in it; \
             keep it off shared drives and e-mail, and delete it when done.",
            args.out.display()
        );
        Protection::Plaintext
    } else {
        Protection::passphrase(&export_passphrase(true)?)?
    };
    let format = if args.xlsx { ExportFormat::Xlsx } else { ExportFormat::CsvArchive };
    let summary = workspace.export_cases(&query, &sheets, format, &protection, &args.out)?;
    if out.json {
        let sheets: serde_json::Map<String, serde_json::Value> =
            summary.sheets.iter().map(|(sheet, rows)| (sheet.clone(), json!(rows))).collect();
        let value = json!({
            "path": summary.path,
            "format": summary.format,
            "encrypted": summary.encrypted,
            "rows": summary.rows,
            "sheets": sheets,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let counts: Vec<String> = summary.sheets.iter().map(|(sheet, rows)| format!("{sheet} {rows}")).collect();
        let how = if summary.encrypted {
            "encrypted to the passphrase (age format: open it with `harbour export open`, `age -d` or `rage -d`)"
        } else {
            "IN CLEAR"
        };
        println!("Wrote {} cases to {}, {how}. Rows: {}.", summary.rows, summary.path.display(), counts.join(", "));
    }
    Ok(())
}

/// A file that would be written must not exist: checked before the passphrase is asked for.
pub(crate) fn refuse_existing(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(harbour_core::Error::FileExists(path.to_owned()).into());
    }
    Ok(())
}

/// The passphrase of an export: HARBOUR_EXPORT_PASSPHRASE, else a prompt (twice for a new one).
pub(crate) fn export_passphrase(new: bool) -> Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(EXPORT_PASSPHRASE_VAR) {
        return Ok(Zeroizing::new(value));
    }
    let ask = |label: &str| -> Result<Zeroizing<String>> {
        rpassword::prompt_password(label).map(Zeroizing::new).with_context(|| {
            format!("no export passphrase: set {EXPORT_PASSPHRASE_VAR}, or run harbour in a terminal to be asked")
        })
    };
    if !new {
        return ask("Export passphrase: ");
    }
    eprintln!(
        "Choose a passphrase for this export (at least 8 characters) and give it to the recipient another way \
         than the file itself."
    );
    let first = ask("Export passphrase: ")?;
    if first != ask("Type it again: ")? {
        bail!("the two passphrases differ; nothing was written");
    }
    Ok(first)
}

#[derive(Args)]
pub struct BackupArgs {
    /// The backup file to write (it must not exist yet), such as /media/stick/harbour.hbk.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file made by `harbour backup`.
    file: PathBuf,
    /// Replace the workspace already in --data-dir (it is kept aside, renamed, not deleted).
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Past cases from a CSV file or an XLSX workbook: columns named like the `case set` fields
    /// map themselves.
    Cases {
        /// The CSV file (UTF-8) or XLSX workbook (its `cases` sheet, else its first).
        file: PathBuf,
        /// Check every row and list problems and likely duplicates; import nothing.
        #[arg(long)]
        dry_run: bool,
        /// A JSON object of column header to field name for the other columns,
        /// such as {"Full name": "name", "Notes": null}.
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
    },
}

pub fn backup(args: BackupArgs, unlock: impl FnOnce() -> Result<Workspace>, out: &Output) -> Result<()> {
    refuse_existing(&args.out)?;
    let summary = unlock()?.backup(&args.out)?;
    if out.json {
        // A backup's rows are its cases.
        let value =
            json!({ "path": summary.path, "rows": summary.cases, "cases": summary.cases, "bytes": summary.bytes });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "Wrote the backup {} ({} cases, {} bytes), encrypted under this workspace's passphrase. \
             Restore it with `harbour restore {}` and that passphrase.",
            summary.path.display(),
            summary.cases,
            summary.bytes,
            summary.path.display()
        );
    }
    Ok(())
}

pub fn restore(args: RestoreArgs, dir: &Path, passphrase_file: Option<&Path>, out: &Output) -> Result<()> {
    if Workspace::exists(dir) && !args.force {
        bail!(
            "a Harbour workspace already exists in {}. Nothing was changed. Restore into another --data-dir, \
             or add --force to replace it (the current one is kept aside, renamed, not deleted).",
            dir.display()
        );
    }
    let passphrase = crate::passphrase::current(passphrase_file)?;
    let summary = Workspace::restore(&args.file, &passphrase, dir, args.force)?;
    if out.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "Restored {} cases ({} audit entries, chain intact) from the backup made {} into {}.",
        summary.cases,
        summary.audit_entries,
        summary.created_at,
        summary.dir.display()
    );
    if let Some(aside) = &summary.moved_aside {
        println!("The workspace that was there is kept in {}.", aside.display());
    }
    if summary.deployment_member {
        eprintln!(
            "harbour: warning: this backup is of a laptop of a deployment. Do not let the old laptop sync again: \
             both would use the same device id. Ask your administrator to revoke it."
        );
    }
    Ok(())
}

pub fn import(command: ImportCommand, unlock: impl FnOnce() -> Result<Workspace>, out: &Output) -> Result<()> {
    let ImportCommand::Cases { file, dry_run, mapping } = command;
    let mapping = match mapping {
        Some(path) => harbour_core::import::Mapping::from_json(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("could not read the mapping {}", path.display()))?,
        )?,
        None => harbour_core::import::Mapping::default(),
    };
    std::fs::File::open(&file).with_context(|| format!("could not read the file {}", file.display()))?;
    let mut workspace = unlock()?;
    let plan = harbour_core::import::plan_file(&workspace, &file, &mapping)?;
    if dry_run || !plan.is_clean() {
        if out.json {
            let value = json!({ "dry_run": dry_run, "rows": plan.rows, "imported": 0, "plan": plan });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            print_plan(&plan);
        }
        if !plan.is_clean() {
            bail!(
                "{} problem(s) in {}, so nothing was imported; correct the rows listed and import again",
                plan.problems.len(),
                file.display()
            );
        }
        if !out.json {
            println!("Dry run: nothing was imported. Run again without --dry-run to import the {} rows.", plan.rows);
        }
        return Ok(());
    }
    let duplicates = plan.duplicates.len();
    let summary = workspace.import_cases(plan)?;
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "rows": summary.imported, "imported": summary.imported, "codes": summary.codes, "possible_duplicates": duplicates })
            )?
        );
    } else {
        println!("Imported {} cases in one step.", summary.imported);
        if duplicates > 0 {
            println!("{duplicates} of them may be people already recorded: check with --dry-run's list.");
        }
    }
    Ok(())
}

fn print_plan(plan: &harbour_core::import::ImportPlan) {
    println!("{} rows read.", plan.rows);
    let columns: Vec<String> = plan.columns.iter().map(|(column, field)| format!("{column} → {field}")).collect();
    println!("Columns used: {}", columns.join(", "));
    if !plan.ignored_columns.is_empty() {
        println!("Columns left out (not a case field; map them with --mapping): {}", plan.ignored_columns.join(", "));
    }
    if plan.problems.is_empty() {
        println!("No problems.");
    } else {
        println!("Problems ({}):", plan.problems.len());
        for problem in &plan.problems {
            println!("  row {}, column \"{}\" ({}): {}", problem.row, problem.column, problem.field, problem.problem);
        }
    }
    for duplicate in &plan.duplicates {
        let reasons: Vec<String> = duplicate.reasons.iter().map(|reason| format!("{reason:?}")).collect();
        println!(
            "  row {} may be case {} (score {}: {})",
            duplicate.row,
            duplicate.code.as_str(),
            duplicate.score,
            reasons.join(", ")
        );
    }
}
