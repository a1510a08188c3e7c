//! The task force's desk at the command line: the facts the annual figures need (the
//! trafficking process, the justice response, perpetrators, services received), the figures
//! (`harbour stats`) and the annual tables (`harbour report annual`).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use harbour_core::fold::CaseState;
use harbour_core::model::{
    ApproxDate, Country, JusticeStage, PerpetratorRole, ProcessStage, RecruiterRelation, ServiceType, Sex, case::coded,
    values,
};
use harbour_core::stats::annual::{AnnualReport, ReportPeriod, ReportUse};
use harbour_core::stats::suppress::DEFAULT_THRESHOLD;
use harbour_core::stats::{DEFAULT_INACTIVE_DAYS, DEFAULT_UNANSWERED_DAYS, StatsQuery};
use harbour_core::{EntryId, JusticeInput, PerpetratorInput, ProcessInput, Workspace};

use crate::output::Output;

#[derive(Subcommand)]
pub enum ProcessCommand {
    /// Record a stage of the trafficking process: where and when the person was recruited,
    /// moved or exploited.
    Add {
        case: String,
        /// recruitment, transit or exploitation.
        #[arg(long)]
        stage: String,
        /// ISO 3166-1 two-letter code.
        #[arg(long)]
        country: String,
        /// A town or site, in a few words.
        #[arg(long)]
        place: Option<String>,
        /// YYYY, YYYY-MM or YYYY-MM-DD; ~ in front when approximate (~2023-05).
        #[arg(long)]
        from: Option<String>,
        /// YYYY, YYYY-MM or YYYY-MM-DD; ~ in front when approximate.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum JusticeCommand {
    /// Record a step of the justice response.
    Add {
        case: String,
        /// reported, investigation, charged, prosecution, convicted, acquitted or dismissed.
        #[arg(long)]
        stage: String,
        /// The day it happened (YYYY-MM-DD); default: the day it is recorded.
        #[arg(long)]
        date: Option<String>,
        /// The perpetrator it concerns, as printed by `harbour perpetrator add`.
        #[arg(long)]
        perpetrator: Option<String>,
        /// For a conviction: the sentence, in months of imprisonment.
        #[arg(long)]
        sentence_months: Option<u32>,
    },
}

#[derive(Subcommand)]
pub enum PerpetratorCommand {
    /// Record a perpetrator as coded values only (never a name).
    Add {
        case: String,
        /// Comma-separated roles: recruiter, transporter, exploiter … (HTCDS per_RoleInProcess).
        #[arg(long)]
        role: String,
        /// female, male, transgender_non_conforming or unknown.
        #[arg(long)]
        sex: Option<String>,
        /// ISO 3166-1 two-letter code.
        #[arg(long)]
        nationality: Option<String>,
        /// Relationship to the person: intimate_partner, friend, family, other or unknown.
        #[arg(long)]
        relationship: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Record a service the person received.
    Add {
        case: String,
        /// shelter, medical, psychosocial, legal_aid, police, labour_inspection, immigration,
        /// consular, return_assistance, ngo or other.
        #[arg(long = "type")]
        service_type: String,
        /// The day it started (YYYY-MM-DD).
        #[arg(long)]
        date: String,
        /// The day it ended, when it has.
        #[arg(long)]
        until: Option<String>,
    },
}

#[derive(Args)]
pub struct StatsArgs {
    /// Count from this day (YYYY-MM-DD), included.
    #[arg(long)]
    from: Option<String>,
    /// Count up to this day (YYYY-MM-DD), included.
    #[arg(long)]
    to: Option<String>,
    /// Only this team's cases.
    #[arg(long)]
    team: Option<String>,
    /// Days without a change after which an open case is inactive.
    #[arg(long, default_value_t = DEFAULT_INACTIVE_DAYS)]
    inactive_days: u32,
    /// Days a referral may wait for an answer.
    #[arg(long, default_value_t = DEFAULT_UNANSWERED_DAYS)]
    unanswered_days: u32,
    /// List what one figure counts (its key, such as by_status.active or inactive).
    #[arg(long, value_name = "FIGURE")]
    cases: Option<String>,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The annual tables for the US TIP report (tip) or UNODC (calendar).
    Annual {
        /// tip (1 April – 31 March, ending in --year) or calendar.
        #[arg(long)]
        period: String,
        #[arg(long)]
        year: i32,
        /// Write the tables to this CSV file, small cells suppressed unless --internal (not
        /// with --json, which prints the true counts instead).
        #[arg(long, value_name = "FILE", conflicts_with = "json")]
        csv: Option<PathBuf>,
        /// Write true counts in the CSV file (for use inside the ministry only; audited as such).
        #[arg(long, requires = "csv")]
        internal: bool,
        /// Cells under this count are suppressed in the CSV file.
        #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
        threshold: u64,
    },
}

fn entry_id(field: &str, text: &str, how: &str) -> Result<EntryId> {
    Ok(text.trim().parse::<EntryId>().map_err(|_| harbour_core::Error::invalid(field, how.to_owned()))?)
}

fn optional_date(field: &str, text: Option<String>) -> Result<Option<chrono::NaiveDate>> {
    Ok(text.map(|text| values::parse_past_date(field, &text)).transpose()?)
}

pub fn process(command: ProcessCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let ProcessCommand::Add { case, stage, country, place, from, to } = command;
    let id = workspace.resolve(&case)?;
    let input = ProcessInput {
        stage: coded::<ProcessStage>("stage", &stage)?,
        country: Country::parse_for("country", &country)?,
        place,
        from: from.map(|text| ApproxDate::parse("from", &text)).transpose()?,
        to: to.map(|text| ApproxDate::parse("to", &text)).transpose()?,
    };
    let (entry, state) = workspace.add_process_event(id, input)?;
    out.entry_added("process stage", &entry.to_string(), &state);
    Ok(())
}

pub fn justice(command: JusticeCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let JusticeCommand::Add { case, stage, date, perpetrator, sentence_months } = command;
    let id = workspace.resolve(&case)?;
    let input = JusticeInput {
        stage: coded::<JusticeStage>("stage", &stage)?,
        date: optional_date("date", date)?,
        perpetrator: perpetrator
            .map(|text| {
                entry_id("perpetrator", &text, "give the perpetrator's id as printed by `harbour perpetrator add`")
            })
            .transpose()?,
        sentence_months,
    };
    let (entry, state) = workspace.add_justice_step(id, input)?;
    out.entry_added("justice step", &entry.to_string(), &state);
    Ok(())
}

pub fn perpetrator(command: PerpetratorCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let PerpetratorCommand::Add { case, role, sex, nationality, relationship } = command;
    let id = workspace.resolve(&case)?;
    let roles = role
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| coded::<PerpetratorRole>("role", part))
        .collect::<Result<Vec<_>, _>>()?;
    let input = PerpetratorInput {
        roles,
        sex: sex.map(|text| coded::<Sex>("sex", &text)).transpose()?,
        nationality: nationality.map(|text| Country::parse_for("nationality", &text)).transpose()?,
        relationship: relationship.map(|text| coded::<RecruiterRelation>("relationship", &text)).transpose()?,
    };
    let (entry, state) = workspace.add_perpetrator(id, input)?;
    out.entry_added("perpetrator", &entry.to_string(), &state);
    Ok(())
}

pub fn service(command: ServiceCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let ServiceCommand::Add { case, service_type, date, until } = command;
    let id = workspace.resolve(&case)?;
    let (entry, state) = workspace.add_service_received(
        id,
        coded::<ServiceType>("type", &service_type)?,
        values::parse_past_date("date", &date)?,
        optional_date("until", until)?,
    )?;
    out.entry_added("service", &entry.to_string(), &state);
    Ok(())
}

pub fn stats(args: StatsArgs, mut workspace: Workspace, out: &Output) -> Result<()> {
    let query = StatsQuery {
        from: optional_date("from", args.from)?,
        to: args.to.map(|text| crate::parse_date("to", &text)).transpose()?,
        team: args.team,
        today: values::today(),
        inactive_days: args.inactive_days,
        unanswered_days: args.unanswered_days,
    };
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(harbour_core::Error::invalid("to", "the end of the period is before its start").into());
    }
    let stats = workspace.statistics(&query)?;
    if let Some(key) = args.cases {
        let rows = workspace.drill_down(&stats, &key)?;
        if out.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            println!("{key}: {}", rows.len());
            for row in rows {
                let entry = row.entry.map(|entry| format!("  entry {entry}")).unwrap_or_default();
                println!("  {}  {}{entry}", row.code, row.status.as_str());
            }
        }
        return Ok(());
    }
    let figures = &stats.figures;
    if out.json {
        println!("{}", serde_json::to_string_pretty(&figures.to_json())?);
        return Ok(());
    }
    let period = match (query.from, query.to) {
        (None, None) => "all time".to_owned(),
        (from, to) => format!(
            "{} to {}",
            from.map_or_else(|| "the beginning".into(), |day| day.to_string()),
            to.map_or_else(|| "today".into(), |day| day.to_string())
        ),
    };
    println!("Figures for {period}{}", query.team.as_deref().map(|team| format!(", team {team}")).unwrap_or_default());
    for name in ["total", "needs_review", "inactive", "unanswered_referrals", "assisted"] {
        println!("{name}: {}", figures.count(name).unwrap_or(0));
    }
    for group in figures.group_names() {
        println!("\n{group}:");
        for value in figures.group(group).unwrap_or_default() {
            println!("  {value}: {}", figures.count(&format!("{group}.{value}")).unwrap_or(0));
        }
    }
    match figures.referral_median_days_to_accept {
        Some(days) => println!("\nreferral_median_days_to_accept: {days:.1}"),
        None => println!("\nreferral_median_days_to_accept: - (no referral accepted)"),
    }
    println!("\nList the cases behind a figure with: harbour stats --cases by_status.active");
    Ok(())
}

pub fn report(command: ReportCommand, mut workspace: Workspace, out: &Output) -> Result<()> {
    let ReportCommand::Annual { period, year, csv, internal, threshold } = command;
    if threshold < 2 {
        return Err(
            harbour_core::Error::invalid("threshold", "use a threshold of 2 or more (11 by default, as CTDC)").into()
        );
    }
    let period = ReportPeriod::parse(&period)?;
    if let Some(path) = &csv {
        // A new file only, as every export: refused before the report is made and audited.
        crate::export::refuse_existing(path)?;
    }
    let report_use = match (&csv, internal) {
        (None, _) => ReportUse::Shown,
        (Some(_), false) => ReportUse::Suppressed,
        (Some(_), true) => ReportUse::Internal,
    };
    let report = workspace.annual_report(period, year, report_use)?;
    if let Some(path) = csv {
        let text = report.to_csv(if internal { None } else { Some(threshold) });
        harbour_core::export::write_new(&path, text.as_bytes())?;
        out.message(&if internal {
            format!("Wrote {} with TRUE counts: for use inside the ministry only.", path.display())
        } else {
            format!("Wrote {}; counts under {threshold} are shown as <{threshold}.", path.display())
        });
        return Ok(());
    }
    if out.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_report(&report);
    Ok(())
}

fn print_report(report: &AnnualReport) {
    println!(
        "Annual figures {} to {} (true counts: do not send this screen outside the ministry)",
        report.from, report.to
    );
    for table in &report.tables {
        println!("\n{}", table.title);
        let mut header = vec![table.row_header.clone()];
        header.extend(table.columns.iter().cloned());
        header.push("total".into());
        println!("  {}", header.join(" | "));
        for (index, line) in table.grid().into_iter().enumerate() {
            let label = table.rows.get(index).cloned().unwrap_or_else(|| "total".into());
            let counts: Vec<String> = line.iter().map(u64::to_string).collect();
            println!("  {label} | {}", counts.join(" | "));
        }
    }
}

/// The sections of `harbour case show` for the process, justice, perpetrators and services.
pub fn print_case_facts(state: &CaseState) {
    let dates = |from: &Option<ApproxDate>, to: &Option<ApproxDate>| match (from, to) {
        (None, None) => String::new(),
        (from, to) => format!(
            " from {} to {}",
            from.map_or_else(|| "?".into(), |date| date.to_string()),
            to.map_or_else(|| "?".into(), |date| date.to_string())
        ),
    };
    if !state.process.is_empty() {
        println!("\nTrafficking process:");
        for stage in &state.process {
            let place = stage.entry.place.as_deref().map(|place| format!(", {place}")).unwrap_or_default();
            println!(
                "  {}: {}{place}{}  id {}",
                stage.entry.stage.label(),
                stage.entry.country.as_str(),
                dates(&stage.entry.from, &stage.entry.to),
                stage.entry.id
            );
        }
    }
    if !state.perpetrators.is_empty() {
        println!("\nPerpetrators:");
        for perpetrator in &state.perpetrators {
            let roles: Vec<&str> = perpetrator.entry.roles.iter().map(|role| role.label()).collect();
            println!(
                "  {} · sex {} · nationality {} · relationship {}  id {}",
                roles.join(", "),
                perpetrator.entry.sex.map_or("-", |sex| sex.label()),
                perpetrator.entry.nationality.as_ref().map_or("-", |country| country.as_str()),
                perpetrator.entry.relationship.map_or("-", |relation| relation.label()),
                perpetrator.entry.id
            );
        }
    }
    if !state.justice.is_empty() {
        println!("\nJustice:");
        for step in &state.justice {
            let date = step.entry.date.map_or_else(|| "date not given".into(), |date| date.to_string());
            let sentence =
                step.entry.sentence_months.map(|months| format!(", sentence {months} months")).unwrap_or_default();
            let perpetrator = step.entry.perpetrator.map(|id| format!(", perpetrator {id}")).unwrap_or_default();
            println!("  {} · {}{perpetrator}{sentence}  id {}", date, step.entry.stage.label(), step.entry.id);
        }
    }
    if !state.services.is_empty() {
        println!("\nServices received:");
        for service in &state.services {
            let until = service.entry.until.map(|until| format!(" to {until}")).unwrap_or_default();
            println!(
                "  {}{until} · {}  id {}",
                service.entry.date,
                service.entry.service_type.label(),
                service.entry.id
            );
        }
    }
}
