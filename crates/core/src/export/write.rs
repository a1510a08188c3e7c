//! Writing the sheets of an export: as CSV files in a ZIP archive streamed into the sink, or as
//! an XLSX workbook built in memory and then written into the sink. Either way no clear byte
//! reaches the disk when the sink encrypts.

use std::io::Write;
use std::path::Path;

use super::protect::Sink;
use super::sheets::{self, ExportedCase, Sheet};
use crate::error::{Error, Result};

/// What the writers write: the selected cases (with their needs-review flag) and the sheets.
pub(super) struct Tables<'a> {
    pub cases: &'a [(ExportedCase, bool)],
    pub sheets: &'a [Sheet],
}

impl Tables<'_> {
    /// Every row of `sheet`, header excluded.
    fn rows(&self, sheet: Sheet) -> Box<dyn Iterator<Item = Vec<String>> + '_> {
        match sheet {
            Sheet::Cases => Box::new(self.cases.iter().map(|(case, review)| case.case_row(*review))),
            Sheet::Referrals => Box::new(self.cases.iter().flat_map(|(case, _)| case.referral_rows())),
            Sheet::Screenings => Box::new(self.cases.iter().flat_map(|(case, _)| case.screening_rows())),
            Sheet::Justice => Box::new(self.cases.iter().flat_map(|(case, _)| case.justice_rows())),
            Sheet::Dictionary => Box::new(sheets::dictionary_rows(self.sheets).into_iter()),
        }
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// Deflate's fastest level for the CSV files: its cost leaves the export's profile (the default
/// 6 was ~10 % of an export of 100,000 cases), for an archive 1.8 times larger (5.5 MB instead of
/// 3.1 MB for 100,000 cases; docs/PERFORMANCE.md).
const DEFLATE_LEVEL: i64 = 1;

/// One CSV file per sheet in a ZIP archive (streamed: no seeking back into the sink).
pub(super) fn csv_archive(tables: &Tables<'_>, sink: Sink, out: &Path) -> Result<Vec<(&'static str, usize)>> {
    let zip_error = |error: zip::result::ZipError| match error {
        zip::result::ZipError::Io(error) => Error::io(out, error),
        other => Error::io(out, std::io::Error::other(other.to_string())),
    };
    let mut zip = zip::ZipWriter::new_stream(sink);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .large_file(false);
    let mut counts = Vec::new();
    for &sheet in tables.sheets {
        zip.start_file(format!("{}.csv", sheet.as_str()), options).map_err(zip_error)?;
        zip.write_all(BOM).map_err(|error| Error::io(out, error))?;
        let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut zip);
        let csv_error = |error: csv::Error| Error::io(out, std::io::Error::other(error.to_string()));
        csv.write_record(sheet.columns().iter().map(|column| column.name)).map_err(csv_error)?;
        let mut rows = 0;
        for row in tables.rows(sheet) {
            for cell in &row {
                csv.write_field(sheets::neutralise(cell).as_bytes()).map_err(csv_error)?;
            }
            csv.write_record(None::<&[u8]>).map_err(csv_error)?;
            rows += 1;
        }
        csv.flush().map_err(|error| Error::io(out, error))?;
        drop(csv);
        counts.push((sheet.as_str(), rows));
    }
    let sink = zip.finish().map_err(zip_error)?.into_inner();
    sink.finish()?;
    Ok(counts)
}

/// An XLSX workbook with a worksheet per sheet. Cells are strings, which a spreadsheet never
/// runs as formulas, so they are written as they are.
pub(super) fn xlsx(tables: &Tables<'_>, mut sink: Sink, out: &Path) -> Result<Vec<(&'static str, usize)>> {
    let xlsx_error = |error: rust_xlsxwriter::XlsxError| Error::io(out, std::io::Error::other(error.to_string()));
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let mut counts = Vec::new();
    for &sheet in tables.sheets {
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(sheet.as_str()).map_err(xlsx_error)?;
        for (column, header) in sheet.columns().iter().enumerate() {
            worksheet.write_string_with_format(0, column as u16, header.name, &bold).map_err(xlsx_error)?;
        }
        let mut rows = 0u32;
        for row in tables.rows(sheet) {
            rows += 1;
            for (column, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    worksheet.write_string(rows, column as u16, cell).map_err(xlsx_error)?;
                }
            }
        }
        worksheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        counts.push((sheet.as_str(), rows as usize));
    }
    let bytes = zeroize::Zeroizing::new(workbook.save_to_buffer().map_err(xlsx_error)?);
    sink.write_all(&bytes).map_err(|error| Error::io(out, error))?;
    sink.finish()?;
    Ok(counts)
}
