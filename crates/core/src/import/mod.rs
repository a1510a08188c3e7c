//! Past cases coming in from a spreadsheet: a CSV file (UTF-8, with or without a byte-order
//! mark) or an XLSX workbook ([`xlsx`]: its `cases` sheet, else its first).
//!
//! Columns named like the fields of `harbour case set` (`name`, `sex`, `birth_date`, `age`,
//! `nationalities` …) map themselves; a [`Mapping`] names the others. [`plan`] (CSV) and
//! [`plan_file`] (CSV or XLSX, told apart by their first bytes) read the whole file and check
//! every row as a case would be checked when typed, collecting every problem (row, column,
//! field and what is allowed, never the value) and the likely duplicates among the cases
//! already here (the duplicate check of `harbour case new`, for every row in one pass:
//! [`Workspace::likely_duplicates_of_many`]). [`Workspace::import_cases`] then records all the
//! cases in one transaction, or none: a file with any problem imports nothing.
//!
//! Rows are numbered as a spreadsheet shows them: the header is row 1, the first case row 2.
//! A cell that an export made inert (a `'` before `=`, `+`, `-`, `@`, tab or carriage return)
//! is read back without the quote, so an export imports as it was.

pub mod xlsx;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use chrono::NaiveDate;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::CaseCode;
use crate::matching::MatchReason;
use crate::model::{CaseFields, Fault, Field, FieldValue};
use crate::store::Workspace;

/// Columns of the file given other names than the fields': column header → field, or `None`
/// to leave a column out. Read from a JSON object such as `{"Full name": "name", "Notes": null}`.
#[derive(Clone, Debug, Default)]
pub struct Mapping(BTreeMap<String, Option<Field>>);

impl Mapping {
    pub fn from_json(text: &str) -> Result<Mapping> {
        let raw: BTreeMap<String, Option<String>> = serde_json::from_str(text).map_err(|_| {
            Error::invalid(
                "mapping",
                "write the mapping as a JSON object of column header to field name, such as {\"Full name\": \"name\", \"Notes\": null}",
            )
        })?;
        let mut mapping = BTreeMap::new();
        for (column, field) in raw {
            let field = field.as_deref().map(Field::parse).transpose()?;
            mapping.insert(column.trim().to_owned(), field);
        }
        Ok(Mapping(mapping))
    }

    /// A mapping from column headers to fields (`None`: leave the column out), as an
    /// interface's column choices give it.
    pub fn new(columns: impl IntoIterator<Item = (String, Option<Field>)>) -> Mapping {
        Mapping(columns.into_iter().map(|(column, field)| (column.trim().to_owned(), field)).collect())
    }

    fn field_of(&self, header: &str) -> Option<Field> {
        match self.0.get(header) {
            Some(field) => *field,
            None => Field::parse(header).ok(),
        }
    }
}

/// A problem of one row: where, which field, and what is allowed (never the value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: usize,
    pub column: String,
    pub field: String,
    /// Core's English sentence, for the command line.
    pub problem: String,
    /// What was wrong, as data an interface says in its language (`None`: a cell the file
    /// itself made unreadable, such as a spreadsheet error).
    pub fault: Option<Fault>,
    /// For a field of a coded list: the codes it takes.
    pub allowed: Option<String>,
}

/// A row that looks like a case already here.
#[derive(Clone, Debug, Serialize)]
pub struct RowDuplicate {
    pub row: usize,
    pub code: CaseCode,
    pub score: u8,
    pub reasons: Vec<MatchReason>,
}

/// What a file would import: checked, not yet recorded.
#[derive(Debug, Serialize)]
pub struct ImportPlan {
    /// Case rows read (the header excluded).
    pub rows: usize,
    /// Each column used and the field it fills.
    pub columns: Vec<(String, Field)>,
    /// Columns left out: neither named like a field nor mapped.
    pub ignored_columns: Vec<String>,
    pub problems: Vec<RowProblem>,
    pub duplicates: Vec<RowDuplicate>,
    #[serde(skip)]
    cases: Vec<CaseFields>,
}

impl ImportPlan {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What an import recorded.
#[derive(Clone, Debug, Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    pub codes: Vec<CaseCode>,
}

/// A cell as a file gives it: CSV cells are text; a workbook's may be numbers or dates.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    /// A spreadsheet error such as `#N/A` or `#DIV/0!`.
    Error,
}

impl Cell {
    pub(crate) fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(text) if text.trim().is_empty())
    }
}

/// A row of cells and the row number a spreadsheet shows for it.
pub(crate) type Row = (usize, Vec<Cell>);

/// Reads and checks a CSV file of cases against this workspace (for likely duplicates).
pub fn plan(workspace: &Workspace, reader: impl Read, mapping: &Mapping) -> Result<ImportPlan> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(reader);
    let unreadable =
        |_| Error::invalid("file", "is not a readable CSV file in UTF-8; save it from the spreadsheet as CSV UTF-8");
    let headers: Vec<String> = csv
        .headers()
        .map_err(unreadable)?
        .iter()
        .enumerate()
        .map(|(index, header)| if index == 0 { header.trim_start_matches('\u{feff}') } else { header }.to_owned())
        .collect();
    let rows = csv.records().enumerate().map(|(index, record)| {
        let record = record.map_err(unreadable)?;
        Ok((index + 2, record.iter().map(|cell| Cell::Text(cell.to_owned())).collect()))
    });
    plan_rows(workspace, headers, rows, mapping)
}

/// What a file of cases is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Csv,
    Xlsx,
}

/// Reads and checks a file of cases, CSV or XLSX (told apart by its first bytes, not its name).
/// A file that is neither (an encrypted export, an old `.xls` workbook, another ZIP archive)
/// is refused with what to do; nothing is written either way.
pub fn plan_file(workspace: &Workspace, path: &Path, mapping: &Mapping) -> Result<ImportPlan> {
    let kind = kind_of_file(path)?;
    match kind {
        Kind::Csv => {
            let file = std::fs::File::open(path).map_err(|error| Error::io(path, error))?;
            plan(workspace, std::io::BufReader::new(file), mapping)
        }
        Kind::Xlsx => {
            let (headers, rows) = xlsx::read(path, &xlsx::Limits::DEFAULT)?;
            plan_rows(workspace, headers, rows.into_iter().map(Ok), mapping)
        }
    }
}

/// The columns of a file of cases (CSV or XLSX), each with the field it fills by its own name
/// (`None`: a column to map, or to leave out). Nothing is checked or written.
pub fn columns_of(path: &Path) -> Result<Vec<(String, Option<Field>)>> {
    let headers = match kind_of_file(path)? {
        Kind::Csv => {
            let file = std::fs::File::open(path).map_err(|error| Error::io(path, error))?;
            let mut csv = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(file);
            let headers = csv.headers().map_err(|_| {
                Error::invalid("file", "is not a readable CSV file in UTF-8; save it from the spreadsheet as CSV UTF-8")
            })?;
            headers.iter().map(|header| header.trim_start_matches('\u{feff}').to_owned()).collect::<Vec<_>>()
        }
        Kind::Xlsx => xlsx::read(path, &xlsx::Limits::DEFAULT)?.0,
    };
    Ok(headers
        .into_iter()
        .map(|header| header.trim().to_owned())
        .filter(|header| !header.is_empty())
        .map(|header| {
            let field = Field::parse(&header).ok();
            (header, field)
        })
        .collect())
}

/// What a file of cases is, from its first bytes.
fn kind_of_file(path: &Path) -> Result<Kind> {
    let mut file = std::fs::File::open(path).map_err(|error| Error::io(path, error))?;
    let mut start = [0u8; 32];
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..]).map_err(|error| Error::io(path, error))? {
            0 => break,
            n => read += n,
        }
    }
    kind_of(&start[..read])
}

fn kind_of(start: &[u8]) -> Result<Kind> {
    if start.starts_with(b"PK\x03\x04") {
        return Ok(Kind::Xlsx);
    }
    if start.starts_with(b"age-encryption.org/") {
        return Err(Error::invalid(
            "file",
            "is an encrypted Harbour export; open it first with `harbour export open`, then import its cases sheet",
        ));
    }
    if start.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(Error::invalid(
            "file",
            "is an old Excel workbook (.xls); save it from the spreadsheet as .xlsx or as CSV UTF-8",
        ));
    }
    Ok(Kind::Csv)
}

/// Checks every row: the columns mapped to fields, each cell read as its field would be typed.
fn plan_rows(
    workspace: &Workspace,
    headers: Vec<String>,
    rows: impl Iterator<Item = Result<Row>>,
    mapping: &Mapping,
) -> Result<ImportPlan> {
    let headers: Vec<String> = headers.iter().map(|header| header.trim().to_owned()).collect();
    let mut columns: Vec<(usize, String, Field)> = Vec::new();
    let mut ignored_columns = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        match mapping.field_of(header) {
            Some(field) => {
                if let Some((_, other, _)) = columns.iter().find(|(_, _, taken)| *taken == field) {
                    return Err(Error::invalid(
                        "mapping",
                        format!(
                            "the columns \"{other}\" and \"{header}\" both fill the field {field}; map one of them to null"
                        ),
                    ));
                }
                columns.push((index, header.clone(), field));
            }
            None if header.is_empty() => {}
            None => ignored_columns.push(header.clone()),
        }
    }
    if !columns.iter().any(|(_, _, field)| *field == Field::Name) {
        return Err(Error::invalid(
            "name",
            "no column gives the person's name; call one column \"name\", or map one to name with --mapping",
        ));
    }
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    let mut case_rows = Vec::new();
    let mut duplicates = Vec::new();
    let mut count = 0;
    let blank = Cell::Text(String::new());
    for row in rows {
        let (row, cells) = row?;
        count += 1;
        let mut fields = None::<CaseFields>;
        let mut values = Vec::new();
        for (column_index, header, field) in &columns {
            let problem = |text: String, fault: Option<Fault>| RowProblem {
                row,
                column: header.clone(),
                field: field.as_str().to_owned(),
                problem: text,
                fault,
                allowed: if fault == Some(Fault::NotAllowed) { field.allowed_codes() } else { None },
            };
            let cell = match text_of(*field, cells.get(*column_index).unwrap_or(&blank)) {
                Ok(text) => text,
                Err((text, fault)) => {
                    problems.push(problem(text.to_owned(), fault));
                    continue;
                }
            };
            let cell = unquote(cell.trim());
            if *field == Field::Name {
                match CaseFields::named(cell) {
                    Ok(named) => fields = Some(named),
                    Err(error) => problems.push(problem(without_value(&error), fault_of(&error))),
                }
            } else if !cell.is_empty() {
                match FieldValue::parse(*field, cell) {
                    Ok(value) => values.push(value),
                    Err(error) => problems.push(problem(without_value(&error), fault_of(&error))),
                }
            }
        }
        let Some(mut fields) = fields else { continue };
        for value in values {
            fields.set(value);
        }
        case_rows.push(row);
        cases.push(fields);
    }
    // The duplicate check of every row in one pass over the cases here.
    let found = workspace.likely_duplicates_of_many(&cases)?;
    for (row, found) in case_rows.into_iter().zip(found) {
        for found in found {
            duplicates.push(RowDuplicate { row, code: found.code, score: found.score, reasons: found.reasons });
        }
    }
    Ok(ImportPlan {
        rows: count,
        columns: columns.into_iter().map(|(_, header, field)| (header, field)).collect(),
        ignored_columns,
        problems,
        duplicates,
        cases,
    })
}

/// The fields that hold a day.
fn is_date(field: Field) -> bool {
    matches!(field, Field::BirthDate | Field::IdentificationDate | Field::IntakeDate)
}

/// A cell as its field would be typed: a day as `YYYY-MM-DD` (a workbook's date cell, or a
/// serial number in a date column), a whole number without `.0`. The error is what was wrong,
/// without the value.
fn text_of(field: Field, cell: &Cell) -> std::result::Result<std::borrow::Cow<'_, str>, (&'static str, Option<Fault>)> {
    use std::borrow::Cow;
    match cell {
        Cell::Text(text) => Ok(Cow::Borrowed(text)),
        Cell::Date(day) => Ok(Cow::Owned(day.to_string())),
        Cell::Number(number) if is_date(field) => xlsx::serial_day(*number)
            .map(|day| Cow::Owned(day.to_string()))
            .ok_or(("the number is not a spreadsheet date; type the date as YYYY-MM-DD", Some(Fault::NotADate))),
        Cell::Number(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            Ok(Cow::Owned(format!("{}", *number as i64)))
        }
        Cell::Number(number) => Ok(Cow::Owned(number.to_string())),
        Cell::Error => {
            Err(("the cell holds a spreadsheet error (such as #N/A or #VALUE!); type the value itself", None))
        }
    }
}

impl Workspace {
    /// Records every case of a clean plan in one transaction, and one `import.cases` audit entry
    /// beside each case's own. A plan with problems records nothing.
    pub fn import_cases(&mut self, plan: ImportPlan) -> Result<ImportSummary> {
        if !plan.is_clean() {
            return Err(Error::invalid(
                "file",
                format!(
                    "{} problem(s) in the file, so nothing was imported; list them with --dry-run, correct the file and import it again",
                    plan.problems.len()
                ),
            ));
        }
        if plan.cases.is_empty() {
            return Err(Error::invalid("file", "holds no case rows under its header; nothing was imported"));
        }
        let states = self.create_cases(plan.cases)?;
        self.audit_now("import.cases", None, &format!("rows={}", states.len()))?;
        Ok(ImportSummary { imported: states.len(), codes: states.into_iter().map(|state| state.code).collect() })
    }
}

/// An export's inert cell (`'=…`) read back as it was typed.
fn unquote(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// What was wrong as data, when core said it.
fn fault_of(error: &Error) -> Option<Fault> {
    match error {
        Error::Invalid { fault, .. } => *fault,
        _ => None,
    }
}

/// What was wrong, without the value: core's sentences start with the refused value in quotes
/// (`"31/02/1990" is not a date; use YYYY-MM-DD`), which is cut to `the value is not a date …`.
fn without_value(error: &Error) -> String {
    let problem = match error {
        Error::Invalid { problem, .. } => problem.as_str(),
        _ => return "could not be read".into(),
    };
    if problem.starts_with('"')
        && let Some(end) = problem.rfind("\" ")
    {
        return format!("the value {}", &problem[end + 2..]);
    }
    problem.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_never_repeat_the_value() {
        let secret = "Ma\"ría\" is 1990";
        for field in [Field::BirthDate, Field::Sex, Field::Nationalities, Field::EstimatedAge, Field::Phone] {
            let error = FieldValue::parse(field, secret).unwrap_err();
            let text = without_value(&error);
            assert!(!text.contains("Ma") && !text.contains("1990"), "{field}: {text}");
        }
        let error = FieldValue::parse(Field::Sex, "x").unwrap_err();
        assert!(without_value(&error).starts_with("the value is not allowed; use one of: female"));
    }

    #[test]
    fn columns_map_themselves_by_name_and_problems_carry_their_fault_and_the_allowed_codes() {
        use crate::CreateOptions;
        use crate::crypto::KdfParams;
        let dir = tempfile::tempdir().unwrap();
        let options = CreateOptions { kdf: KdfParams::INSECURE_FAST_FOR_TESTS, ..Default::default() };
        let workspace = Workspace::create(&dir.path().join("ws"), "correct horse battery staple", &options).unwrap();
        let file = dir.path().join("cases.csv");
        std::fs::write(&file, "\u{feff}Full name,sex,Nationality,Remarks\nAna,dragon,VE,x\nBea,female,Atlantis,y\n")
            .unwrap();
        let columns = columns_of(&file).unwrap();
        let expected = [
            ("Full name".to_owned(), None),
            ("sex".to_owned(), Some(Field::Sex)),
            ("Nationality".to_owned(), Some(Field::Nationalities)),
            ("Remarks".to_owned(), None),
        ];
        assert_eq!(columns, expected);
        let mapping = Mapping::new([("Full name".to_owned(), Some(Field::Name)), ("Remarks".to_owned(), None)]);
        let plan = plan_file(&workspace, &file, &mapping).unwrap();
        let found: Vec<(usize, &str, Option<&str>)> =
            plan.problems.iter().map(|p| (p.row, p.field.as_str(), p.fault.map(Fault::code))).collect();
        assert_eq!(found, [(2, "sex", Some("not_allowed")), (3, "nationalities", Some("not_a_country"))]);
        assert!(plan.problems[0].allowed.as_deref().unwrap().starts_with("female"));
        assert_eq!(plan.problems[1].allowed, None);
        assert_eq!(plan.ignored_columns, ["Remarks"], "a column left out is listed as such");
    }

    #[test]
    fn inert_cells_come_back_as_typed() {
        assert_eq!(unquote("'=1+1"), "=1+1");
        assert_eq!(unquote("'-5"), "-5");
        assert_eq!(unquote("'tis"), "'tis");
        assert_eq!(unquote("O'Brien"), "O'Brien");
    }
}
