//! Reading an XLSX workbook of past cases (calamine): the sheet named `cases` (a Harbour export's),
//! else the first sheet; its first row is the header.
//!
//! An XLSX file is a ZIP archive, so before the workbook is parsed every member is inflated once
//! into nothing and counted, against [`Limits`]: a file that inflates beyond them (a "zip
//! bomb"), or that is not a readable archive, is refused with one sentence and nothing is read
//! further. The counting reads the bytes themselves, not the sizes the archive claims.
//!
//! Dates: a date cell comes as a date (the workbook's 1900 or 1904 calendar applied by
//! calamine); a plain number in a date column is read as a serial day of the 1900 calendar
//! ([`serial_day`]).

use std::io::{Read, Seek};
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;

use super::{Cell, Row};
use crate::error::{Error, Result};

/// How much a workbook may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The file itself.
    pub file_bytes: u64,
    /// All its members inflated.
    pub inflated_bytes: u64,
    /// Members of the archive.
    pub members: usize,
}

impl Limits {
    /// Room for an XLSX export of 100,000 cases (~200 MB of XML) and then some.
    pub const DEFAULT: Limits = Limits { file_bytes: 128 << 20, inflated_bytes: 768 << 20, members: 10_000 };
}

/// The header and the rows of the workbook's cases sheet. Rows with no value at all are left out;
/// rows keep the numbers the spreadsheet shows.
pub fn read(path: &Path, limits: &Limits) -> Result<(Vec<String>, Vec<Row>)> {
    let size = std::fs::metadata(path).map_err(|error| Error::io(path, error))?.len();
    if size > limits.file_bytes {
        return Err(Error::invalid(
            "file",
            format!(
                "is a workbook of {} MB, more than the {} MB an import reads; split it into smaller files",
                size >> 20,
                limits.file_bytes >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|error| Error::io(path, error))?;
    read_bytes(&bytes, limits)
}

/// [`read`] of a workbook already in memory.
pub fn read_bytes(bytes: &[u8], limits: &Limits) -> Result<(Vec<String>, Vec<Row>)> {
    check_inflated(std::io::Cursor::new(bytes), limits)?;
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(|_| unreadable())?;
    let names = workbook.sheet_names();
    let sheet = names
        .iter()
        .find(|name| name.trim().eq_ignore_ascii_case("cases"))
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| Error::invalid("file", "is a workbook with no sheet; put the cases in its first sheet"))?;
    let range = workbook.worksheet_range(&sheet).map_err(|_| unreadable())?;
    let Some((first_row, _)) = range.start() else {
        return Err(Error::invalid("file", "has an empty first sheet; put a header row and the cases in it"));
    };
    let mut rows = range.rows();
    let headers = rows.next().map(|row| row.iter().map(header_text).collect()).unwrap_or_default();
    let rows = rows
        .enumerate()
        // The header is on spreadsheet row first_row + 1, the first case on first_row + 2.
        .map(|(index, row)| (first_row as usize + index + 2, row.iter().map(cell).collect::<Vec<_>>()))
        .filter(|(_, cells)| !cells.iter().all(Cell::is_blank))
        .collect();
    Ok((headers, rows))
}

/// The day of an Excel serial number in the 1900 calendar (1 = 1900-01-01; Excel counts a
/// 29 February 1900 that never was, so serials from 61 on are one day ahead of a plain count).
/// The time of day, if any, is dropped.
pub fn serial_day(serial: f64) -> Option<NaiveDate> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let epoch =
        if days >= 61 { NaiveDate::from_ymd_opt(1899, 12, 30)? } else { NaiveDate::from_ymd_opt(1899, 12, 31)? };
    if days == 60 {
        return None;
    }
    epoch.checked_add_signed(chrono::Duration::days(days))
}

fn unreadable() -> Error {
    Error::invalid(
        "file",
        "is not a readable XLSX workbook (damaged, cut short or of another kind); save it again from the spreadsheet as .xlsx or as CSV UTF-8",
    )
}

/// Inflates every member into nothing, counting: refused past the limits.
fn check_inflated(reader: impl Read + Seek, limits: &Limits) -> Result<()> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|_| unreadable())?;
    if archive.len() > limits.members {
        return Err(too_large(limits));
    }
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let member = archive.by_index(index).map_err(|_| unreadable())?;
        let budget = limits.inflated_bytes - total;
        let inflated = std::io::copy(&mut member.take(budget + 1), &mut std::io::sink()).map_err(|_| unreadable())?;
        total += inflated;
        if total > limits.inflated_bytes {
            return Err(too_large(limits));
        }
    }
    Ok(())
}

fn too_large(limits: &Limits) -> Error {
    Error::invalid(
        "file",
        format!(
            "unpacks to more than {} MB, more than a workbook of cases holds; it was not read. Save the cases again as .xlsx or as CSV UTF-8",
            limits.inflated_bytes >> 20
        ),
    )
}

fn header_text(data: &Data) -> String {
    match data {
        Data::String(text) => text.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Text(String::new()),
        Data::String(text) => Cell::Text(text.clone()),
        Data::Int(number) => Cell::Number(*number as f64),
        Data::Float(number) => Cell::Number(*number),
        Data::Bool(value) => Cell::Text(value.to_string()),
        Data::DateTime(value) if value.is_datetime() => {
            value.as_datetime().map(|at| Cell::Date(at.date())).unwrap_or(Cell::Error)
        }
        Data::DateTime(value) => Cell::Number(value.as_f64()),
        Data::DateTimeIso(text) => text
            .get(..10)
            .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
            .map(Cell::Date)
            .unwrap_or_else(|| Cell::Text(text.clone())),
        Data::DurationIso(text) => Cell::Text(text.clone()),
        Data::Error(_) => Cell::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_are_the_days_excel_shows() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(serial_day(1.0), day(1900, 1, 1));
        assert_eq!(serial_day(59.0), day(1900, 2, 28));
        assert_eq!(serial_day(60.0), None, "Excel's 29 February 1900 never was");
        assert_eq!(serial_day(61.0), day(1900, 3, 1));
        assert_eq!(serial_day(32_907.0), day(1990, 2, 3));
        assert_eq!(serial_day(45_292.75), day(2024, 1, 1), "the time of day is dropped");
        assert_eq!(serial_day(0.0), None);
        assert_eq!(serial_day(-3.0), None);
        assert_eq!(serial_day(f64::NAN), None);
        assert_eq!(serial_day(1e12), None);
    }

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn an_archive_that_inflates_past_the_limits_is_refused_unread() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = zip_of(&[("xl/worksheets/sheet1.xml", &zeros), ("xl/worksheets/sheet2.xml", &zeros)]);
        assert!(bomb.len() < 64 << 10, "a small file: {} bytes", bomb.len());
        let limits = Limits { file_bytes: 1 << 20, inflated_bytes: 6 << 20, members: 100 };
        let error = read_bytes(&bomb, &limits).unwrap_err();
        assert!(error.to_string().contains("unpacks to more than 6 MB"), "{error}");
        let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("m{i}"), vec![1u8])).collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|(name, bytes)| (name.as_str(), bytes.as_slice())).collect();
        let limits = Limits { members: 4, ..limits };
        assert!(read_bytes(&zip_of(&many), &limits).unwrap_err().to_string().contains("unpacks to more than"));
    }

    #[test]
    fn what_is_not_a_workbook_is_refused_with_what_to_do() {
        for bytes in [&b"PK\x03\x04 not really"[..], &b"garbage"[..]] {
            let error = read_bytes(bytes, &Limits::DEFAULT).unwrap_err();
            assert!(error.to_string().contains("not a readable XLSX workbook"), "{error}");
        }
        // A ZIP archive that is not a workbook (such as a Harbour CSV export).
        let archive = zip_of(&[("cases.csv", b"name\nAna\n")]);
        assert!(read_bytes(&archive, &Limits::DEFAULT).unwrap_err().to_string().contains("not a readable XLSX"));
    }

    #[test]
    fn cells_come_as_dates_numbers_and_text() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name("notes").unwrap();
        sheet.write_string(0, 0, "not the cases").unwrap();
        let sheet = workbook.add_worksheet();
        sheet.set_name("Cases").unwrap();
        let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
        for (column, header) in ["name", "birth_date", "estimated_age", "intake_date"].iter().enumerate() {
            sheet.write_string(1, column as u16 + 1, *header).unwrap();
        }
        sheet.write_string(2, 1, "Row Three").unwrap();
        let day = rust_xlsxwriter::ExcelDateTime::from_ymd(1990, 2, 3).unwrap();
        sheet.write_datetime_with_format(2, 2, &day, &date).unwrap();
        sheet.write_number(2, 3, 34.0).unwrap();
        sheet.write_number(2, 4, 45_292.0).unwrap();
        sheet.write_string(4, 1, "Row Five").unwrap();
        sheet.write_formula(4, 3, "=1/0").unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let (headers, rows) = read_bytes(&bytes, &Limits::DEFAULT).unwrap();
        assert_eq!(headers, ["name", "birth_date", "estimated_age", "intake_date"]);
        let numbers: Vec<usize> = rows.iter().map(|(row, _)| *row).collect();
        assert_eq!(numbers, [3, 5], "rows keep the spreadsheet's numbers; the empty row 4 is left out");
        assert_eq!(rows[0].1[1], Cell::Date(NaiveDate::from_ymd_opt(1990, 2, 3).unwrap()));
        assert_eq!(rows[0].1[2], Cell::Number(34.0));
        assert_eq!(rows[0].1[3], Cell::Number(45_292.0));
    }
}
