//! The task force's desk: the dashboard's figures over the cases this laptop can read (the same
//! as `harbour stats --json`), the cases behind any number, and the annual tables.
//!
//! Opening the dashboard computes the figures once (one `stats.view` in the audit log, written by
//! the core) and keeps their numbers and query here (not the cases they count: the core keeps
//! every case's facts once, as small integers), so that following a number counts it again
//! without a second view in the log: exactly the cases it counted, or, when the cases changed
//! since and its number with them, a request to open the figures again.

use std::sync::{Arc, Mutex, Weak};

use harbour_core::stats::annual::{AnnualReport, ReportPeriod, ReportUse};
use harbour_core::stats::{DEFAULT_UNANSWERED_DAYS, DrillRow, Statistics, StatsQuery};
use harbour_core::{Workspace, model::values};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::{Session, Settings, lock};

/// Rows a drill-down sends at most; its `total` is always the figure's whole number.
pub const MAX_FIGURE_ROWS: usize = 1000;

/// The figures last shown (their numbers, not the cases they count), with the workspace they
/// were computed on: a lock (or another workspace) makes them unusable, and they are dropped
/// with the next dashboard.
#[derive(Default)]
pub struct Desk {
    shown: Mutex<Option<(Weak<Mutex<Workspace>>, Statistics)>>,
    annual: Mutex<Option<(Weak<Mutex<Workspace>>, AnnualReport)>>,
}

impl Desk {
    /// Forgets the figures (the workspace locked).
    pub fn forget(&self) {
        *lock(&self.shown) = None;
        *lock(&self.annual) = None;
    }
}

/// The figures kept in `slot` if they were computed on the workspace open now; else
/// `figures_gone` (Harbour was locked since they were shown, or they were never computed in
/// this session): the interface works them out again and asks for the number again.
fn kept<'a, T>(slot: &'a Option<(Weak<Mutex<Workspace>>, T)>, shared: &Arc<Mutex<Workspace>>) -> CommandResult<&'a T> {
    match slot {
        Some((workspace, kept)) if Weak::ptr_eq(workspace, &Arc::downgrade(shared)) => Ok(kept),
        _ => Err(CommandError::figures_gone()),
    }
}

/// The dashboard's filters, as the interface sends them (days as YYYY-MM-DD, empty = none).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DashboardQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub team: Option<String>,
}

#[derive(Serialize)]
pub struct Group {
    pub name: &'static str,
    pub values: Vec<String>,
}

#[derive(Serialize)]
pub struct Dashboard {
    /// `harbour stats --json`: singles as numbers, groups as objects of counts.
    pub figures: Value,
    /// Every group with its values in display order.
    pub groups: Vec<Group>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub team: Option<String>,
    pub today: String,
    pub inactive_days: u32,
    pub unanswered_days: u32,
}

#[derive(Serialize)]
pub struct FigureCases {
    pub key: String,
    /// The figure's number.
    pub total: usize,
    /// Its first `MAX_FIGURE_ROWS` lines: a case, with the referral or screening it counts.
    pub rows: Vec<DrillRow>,
}

fn optional_day(field: &str, text: Option<String>) -> CommandResult<Option<chrono::NaiveDate>> {
    match text.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| {
            harbour_core::Error::invalid(field, format!("\"{text}\" is not a date; use YYYY-MM-DD")).into()
        }),
    }
}

/// The dashboard: every figure over the cases this laptop can read, for the period and team
/// chosen. One `stats.view` in the audit log.
#[tauri::command(async)]
pub fn dashboard(
    session: State<'_, Session>,
    settings: State<'_, Settings>,
    desk: State<'_, Desk>,
    query: DashboardQuery,
) -> CommandResult<Dashboard> {
    let inactive_days = settings.get().inactive_days;
    let team = query.team.map(|team| team.trim().to_owned()).filter(|team| !team.is_empty());
    let stats_query = StatsQuery {
        from: optional_day("from", query.from)?,
        to: optional_day("to", query.to)?,
        team,
        today: values::today(),
        inactive_days,
        unanswered_days: DEFAULT_UNANSWERED_DAYS,
    };
    if let (Some(from), Some(to)) = (stats_query.from, stats_query.to)
        && to < from
    {
        return Err(CommandError::invalid("to", "the end of the period is before its start; choose a later end"));
    }
    let shared = session.shared()?;
    let stats = {
        let mut workspace = lock(&shared);
        let stats = workspace.statistics(&stats_query)?;
        // The scan's pages are not needed while the dashboard is on screen.
        workspace.release_page_cache()?;
        stats
    };
    crate::memory::give_back_freed();
    let figures = &stats.figures;
    let dashboard = Dashboard {
        figures: figures.to_json(),
        groups: figures
            .group_names()
            .map(|name| Group { name, values: figures.group(name).unwrap_or_default().to_vec() })
            .collect(),
        from: stats_query.from.map(|day| day.to_string()),
        to: stats_query.to.map(|day| day.to_string()),
        team: stats_query.team.clone(),
        today: stats_query.today.to_string(),
        inactive_days,
        unanswered_days: stats_query.unanswered_days,
    };
    *lock(&desk.shown) = Some((Arc::downgrade(&shared), stats));
    Ok(dashboard)
}

/// The cases behind one number of the dashboard on screen (`by_sex.female`, `inactive` …):
/// exactly those it counted. `count` is the number the screen shows: when the figures kept
/// here are not the ones on screen (a later computation replaced them) and give another
/// number, the answer is `figures_changed`, never a list whose count is not the number.
#[tauri::command(async)]
pub fn figure_cases(
    session: State<'_, Session>,
    desk: State<'_, Desk>,
    key: String,
    count: Option<usize>,
) -> CommandResult<FigureCases> {
    cases_of_figure(&desk, &session.shared()?, key, count)
}

fn cases_of_figure(
    desk: &Desk,
    shared: &Arc<Mutex<Workspace>>,
    key: String,
    count: Option<usize>,
) -> CommandResult<FigureCases> {
    let shown = lock(&desk.shown);
    let stats = kept(&shown, shared)?;
    let total = stats.figures.count(&key).unwrap_or(0);
    if let Some(on_screen) = count
        && on_screen != total
    {
        return Err(harbour_core::Error::FiguresChanged { key, shown: on_screen, now: total }.into());
    }
    let mut rows = lock(shared).drill_down(stats, &key)?;
    rows.truncate(MAX_FIGURE_ROWS);
    Ok(FigureCases { key, total, rows })
}

/// The annual tables for the US TIP report (`tip`) or UNODC (`calendar`), with true counts:
/// the task force's own view. One `report.export` (shown) in the audit log.
#[tauri::command(async)]
pub fn annual_figures(
    session: State<'_, Session>,
    desk: State<'_, Desk>,
    period: String,
    year: i32,
) -> CommandResult<AnnualReport> {
    let period = ReportPeriod::parse(&period)?;
    let shared = session.shared()?;
    let report = lock(&shared).annual_report(period, year, ReportUse::Shown)?;
    *lock(&desk.annual) = Some((Arc::downgrade(&shared), report.clone()));
    Ok(report)
}

/// The cases behind one cell of the annual tables on screen (a row or column one past the
/// last is its total): one line per victim or person the cell counts.
#[tauri::command(async)]
pub fn annual_cell_cases(
    session: State<'_, Session>,
    desk: State<'_, Desk>,
    table: String,
    row: usize,
    column: usize,
) -> CommandResult<FigureCases> {
    let shared = session.shared()?;
    let annual = lock(&desk.annual);
    let report = kept(&annual, &shared)?;
    let mut rows = lock(&shared).annual_cell_cases(report, &table, row, column)?;
    let total = rows.len();
    rows.truncate(MAX_FIGURE_ROWS);
    Ok(FigureCases { key: format!("{table}.{row}.{column}"), total, rows })
}

#[cfg(test)]
mod tests {
    use harbour_core::CreateOptions;
    use harbour_core::crypto::KdfParams;
    use harbour_core::model::{CaseFields, FieldValue, Sex};

    use super::*;

    fn workspace(dir: &std::path::Path) -> Arc<Mutex<Workspace>> {
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..CreateOptions::default() };
        Arc::new(Mutex::new(Workspace::create(dir, "correct horse battery staple", &options).unwrap()))
    }

    fn show(desk: &Desk, shared: &Arc<Mutex<Workspace>>) -> usize {
        let stats = lock(shared).statistics(&StatsQuery::new(values::today())).unwrap();
        let women = stats.figures.count("by_sex.female").unwrap_or(0);
        *lock(&desk.shown) = Some((Arc::downgrade(shared), stats));
        women
    }

    /// A number followed on figures that are not the ones kept is never listed under the
    /// generic `invalid`: `figures_gone` when nothing is kept for this workspace (locked since),
    /// `figures_changed` when the number on screen is not the kept one or the cases changed.
    #[test]
    fn a_number_on_figures_no_longer_kept_or_changed_has_its_own_kind() {
        let dir = tempfile::tempdir().unwrap();
        let shared = workspace(&dir.path().join("a"));
        let desk = Desk::default();
        let woman = |name: &str| {
            let mut fields = CaseFields::named(name).unwrap();
            fields.sex = Some(Sex::Female);
            lock(&shared).create_case(fields).unwrap().id
        };
        let first = woman("Figure person one");
        woman("Figure person two");

        let gone = cases_of_figure(&desk, &shared, "by_sex.female".into(), Some(2)).err().expect("refused");
        assert_eq!(gone.kind, "figures_gone", "nothing shown yet: {gone:?}");

        assert_eq!(show(&desk, &shared), 2);
        let listed = cases_of_figure(&desk, &shared, "by_sex.female".into(), Some(2)).unwrap();
        assert_eq!((listed.total, listed.rows.len()), (2, 2));
        // The screen shows another number than the figures kept (a later computation replaced them).
        let other = cases_of_figure(&desk, &shared, "by_sex.female".into(), Some(3)).err().expect("refused");
        assert_eq!((other.kind, other.field.as_deref()), ("figures_changed", None), "{other:?}");

        // The cases change and the figures are read again behind the screen's back: the kept
        // figures (2 women) can no longer be listed, in their own kind.
        lock(&shared).update_case(first, vec![FieldValue::Sex(Some(Sex::Male))], None).unwrap();
        let stale = lock(&desk.shown).as_ref().map(|(_, stats)| stats.clone()).unwrap();
        lock(&shared).statistics(&StatsQuery::new(values::today())).unwrap();
        *lock(&desk.shown) = Some((Arc::downgrade(&shared), stale));
        let changed = cases_of_figure(&desk, &shared, "by_sex.female".into(), Some(2)).err().expect("refused");
        assert_eq!(changed.kind, "figures_changed", "{changed:?}");
        assert_eq!(show(&desk, &shared), 1);
        assert_eq!(cases_of_figure(&desk, &shared, "by_sex.female".into(), Some(1)).unwrap().rows.len(), 1);

        // Figures of another workspace (or of one locked and opened again) are gone.
        let again = workspace(&dir.path().join("b"));
        let elsewhere = cases_of_figure(&desk, &again, "by_sex.female".into(), Some(1)).err().expect("refused");
        assert_eq!(elsewhere.kind, "figures_gone");
        desk.forget();
        assert_eq!(
            cases_of_figure(&desk, &shared, "by_sex.female".into(), None).err().expect("refused").kind,
            "figures_gone"
        );
    }
}
