//! Data → Import past cases from a CSV file or an XLSX workbook: the file's columns (those named
//! like a case field map themselves), a check of every row with the worker's column choices (a
//! dry run: each problem by row, field and fault, never the value; likely duplicates), then all
//! the cases in one transaction or none. The same `harbour_core::import` as `harbour import
//! cases`; the import is checked again when it is made, so a file changed since its check is
//! never imported unseen.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harbour_core::import::{self, ImportPlan, Mapping};
use harbour_core::model::Field;
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::Session;

#[derive(Deserialize)]
pub struct FileInput {
    pub path: String,
}

#[derive(Serialize)]
pub struct Column {
    pub column: String,
    /// The case field the column fills by its own name, if any.
    pub field: Option<&'static str>,
}

#[derive(Serialize)]
pub struct ImportColumns {
    pub columns: Vec<Column>,
    /// Every case field a column may be mapped to, in the case's order.
    pub fields: Vec<&'static str>,
}

#[derive(Deserialize)]
pub struct CheckInput {
    pub path: String,
    /// Column header → case field name, or null to leave the column out.
    #[serde(default)]
    pub mapping: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
pub struct ImportInput {
    pub path: String,
    #[serde(default)]
    pub mapping: BTreeMap<String, Option<String>>,
    /// The rows the worker saw in the check and confirmed.
    pub rows: usize,
}

#[derive(Serialize)]
pub struct Imported {
    pub imported: usize,
    pub codes: Vec<String>,
}

#[tauri::command(async)]
pub fn import_columns(session: State<'_, Session>, input: FileInput) -> CommandResult<ImportColumns> {
    // A locked app reads no file, not even its header.
    session.shared()?;
    let path = existing_file(&input.path)?;
    let columns = import::columns_of(&path)?
        .into_iter()
        .map(|(column, field)| Column { column, field: field.map(Field::as_str) })
        .collect();
    Ok(ImportColumns { columns, fields: Field::ALL.iter().map(|field| field.as_str()).collect() })
}

#[tauri::command(async)]
pub fn import_check(session: State<'_, Session>, input: CheckInput) -> CommandResult<ImportPlan> {
    let path = existing_file(&input.path)?;
    let mapping = mapping(&input.mapping)?;
    session.with(|workspace| import::plan_file(workspace, &path, &mapping))
}

#[tauri::command(async)]
pub fn import_cases(session: State<'_, Session>, input: ImportInput) -> CommandResult<Imported> {
    let path = existing_file(&input.path)?;
    let mapping = mapping(&input.mapping)?;
    let summary = session.with(|workspace| {
        let plan = import::plan_file(workspace, &path, &mapping)?;
        if plan.rows != input.rows {
            return Err(harbour_core::Error::invalid(
                "file",
                "changed since it was checked, so nothing was imported; check it again",
            ));
        }
        workspace.import_cases(plan)
    })?;
    Ok(Imported { imported: summary.imported, codes: summary.codes.iter().map(|code| code.to_string()).collect() })
}

fn existing_file(typed: &str) -> CommandResult<PathBuf> {
    let path = PathBuf::from(typed.trim());
    if typed.trim().is_empty() || !path.is_absolute() {
        return Err(CommandError::invalid("path", "give the whole path of the file, such as /media/usb/cases.csv"));
    }
    if !path.is_file() {
        return Err(CommandError::invalid("path", "there is no file there; check the path"));
    }
    Ok(path)
}

/// The worker's column choices as core's mapping; a field name the interface did not offer is refused.
fn mapping(chosen: &BTreeMap<String, Option<String>>) -> CommandResult<Mapping> {
    let mut columns = Vec::new();
    for (column, field) in chosen {
        let field = match field.as_deref().map(str::trim).filter(|field| !field.is_empty()) {
            Some(name) => Some(
                Field::ALL
                    .iter()
                    .copied()
                    .find(|field| field.as_str() == name)
                    .ok_or_else(|| CommandError::invalid("mapping", "choose each column's field from the list"))?,
            ),
            None => None,
        };
        columns.push((column.clone(), field));
    }
    Ok(Mapping::new(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_takes_only_the_fields_offered_and_a_file_must_be_there() {
        let chosen = BTreeMap::from([("Full name".to_owned(), Some("name".to_owned())), ("Notes".to_owned(), None)]);
        assert!(mapping(&chosen).is_ok());
        let odd = BTreeMap::from([("Full name".to_owned(), Some("favourite_colour".to_owned()))]);
        assert_eq!(mapping(&odd).unwrap_err().field.as_deref(), Some("mapping"));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(existing_file("cases.csv").unwrap_err().field.as_deref(), Some("path"));
        assert_eq!(
            existing_file(dir.path().join("none.csv").to_str().unwrap()).unwrap_err().field.as_deref(),
            Some("path")
        );
        let file = dir.path().join("cases.csv");
        std::fs::write(&file, "name\n").unwrap();
        assert_eq!(existing_file(file.to_str().unwrap()).unwrap(), file);
    }
}
