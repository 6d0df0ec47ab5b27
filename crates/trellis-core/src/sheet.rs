//! Spreadsheets as rows of text: CSV in UTF-8 (with or without a BOM),
//! UTF-16 or GBK, and Excel workbooks (XLSX, XLS, XLSB, ODS; the first sheet).
//!
//! Chinese Excel saves "CSV" in GBK, and "Unicode text" in UTF-16 with tabs,
//! so the encoding and the delimiter are detected rather than asked for.
//! Every cell becomes text the way a person reads it (`12`, not `12.0`; an
//! Excel date as `2026-01-31`), and [`crate::import`] types it by its field.

use std::io::Cursor;

use calamine::{Data, Reader};

/// A sheet read from a file: a header row and the data rows after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    /// What the file was read as: `UTF-8`, `UTF-8 BOM`, `UTF-16`, `GBK` or `XLSX` (any workbook).
    pub encoding: &'static str,
}

/// One data row. `number` is the row as the spreadsheet shows it (the header is row 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: usize,
    pub cells: Vec<String>,
}

impl Row {
    /// The cell of column `i`, `""` past the row's end.
    pub fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map_or("", String::as_str)
    }

    fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.trim().is_empty())
    }
}

/// Why a file could not be read; `row` when one row is at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", row.map(|r| format!("row {r}: ")).unwrap_or_default())]
pub struct SheetError {
    pub row: Option<usize>,
    pub message: String,
}

fn error(message: impl Into<String>) -> SheetError {
    SheetError { row: None, message: message.into() }
}

/// Whether the bytes are a workbook (a zip, as XLSX, XLSB and ODS are, or an OLE file, as XLS is).
fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Reads a CSV or a workbook. Blank rows are skipped; a header cell left
/// empty is named by its column letter (`C`), so it can still be mapped.
pub fn read(bytes: &[u8]) -> Result<Sheet, SheetError> {
    if bytes.is_empty() {
        return Err(error("the file is empty"));
    }
    let (columns, mut rows, encoding) = if is_workbook(bytes) { read_workbook(bytes)? } else { read_csv(bytes)? };
    rows.retain(|r| !r.is_blank());
    // A NUL is never meant (PostgreSQL's JSON cannot even hold one): it goes.
    for r in &mut rows {
        for c in &mut r.cells {
            if c.contains('\0') {
                *c = c.replace('\0', "");
            }
        }
    }
    let columns = columns.into_iter().enumerate().map(|(i, c)| if c.trim().is_empty() { column_letter(i) } else { c.trim().to_owned() }).collect();
    Ok(Sheet { columns, rows, encoding })
}

/// `A`, `B`, … `Z`, `AA`: how a spreadsheet names its columns.
pub fn column_letter(i: usize) -> String {
    let mut n = i + 1;
    let mut out = Vec::new();
    while n > 0 {
        let d = (n - 1) % 26;
        out.push(b'A' + d as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The text of a CSV file and what it was encoded in.
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str), SheetError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest).map(|s| (s.to_owned(), "UTF-8 BOM")).map_err(|e| error(format!("the file starts as UTF-8 but is not: {e}")));
    }
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(bytes)
        && enc != encoding_rs::UTF_8
    {
        let (text, _, bad) = enc.decode(bytes);
        if bad {
            return Err(error("the file starts as UTF-16 but is not"));
        }
        return Ok((text.into_owned(), "UTF-16"));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), "UTF-8"));
    }
    // GB18030 is the superset of GBK (and GB2312) that Chinese Excel and WPS write.
    let (text, bad) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if bad {
        return Err(error("the file is neither UTF-8 nor GBK text; save it from Excel as \"CSV UTF-8\" or as .xlsx"));
    }
    Ok((text.into_owned(), "GBK"))
}

/// The delimiter the header line uses most: a comma, a tab or a semicolon (a comma on a tie).
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let count = |d: u8| first.bytes().filter(|b| *b == d).count();
    [b'\t', b';'].into_iter().fold(b',', |best, d| if count(d) > count(best) { d } else { best })
}

fn read_csv(bytes: &[u8]) -> Result<(Vec<String>, Vec<Row>, &'static str), SheetError> {
    let (text, encoding) = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(sniff_delimiter(&text)).from_reader(text.as_bytes());
    let mut records = reader.records();
    let bad = |e: csv::Error| SheetError { row: e.position().map(|p| p.line() as usize), message: format!("not valid CSV: {e}") };
    let columns: Vec<String> = match records.next() {
        Some(header) => header.map_err(bad)?.iter().map(str::to_owned).collect(),
        None => return Err(error("the file has no header row")),
    };
    // csv's own line count skips blank lines; the byte offset is exact.
    let breaks: Vec<usize> = text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect();
    // A record's position is where reading it began, before any blank lines it skipped.
    let line_at = |byte: u64| {
        let start = text.as_bytes().get(byte as usize..).unwrap_or_default().iter().position(|b| !matches!(b, b'\n' | b'\r')).map_or(byte as usize, |n| byte as usize + n);
        breaks.partition_point(|&b| b < start) + 1
    };
    let mut rows = Vec::new();
    for rec in records {
        let rec = rec.map_err(bad)?;
        let number = rec.position().map_or(rows.len() + 2, |p| line_at(p.byte()));
        rows.push(Row { number, cells: rec.iter().map(str::to_owned).collect() });
    }
    Ok((columns, rows, encoding))
}

fn read_workbook(bytes: &[u8]) -> Result<(Vec<String>, Vec<Row>, &'static str), SheetError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| error(format!("not a readable Excel workbook: {e}")))?;
    let range = match book.worksheet_range_at(0) {
        Some(r) => r.map_err(|e| error(format!("the first sheet cannot be read: {e}")))?,
        None => return Err(error("the workbook has no sheet")),
    };
    // Row numbers as Excel shows them, from where the sheet's data starts.
    let first = range.start().map_or(1, |(row, _)| row as usize + 1);
    let mut lines = range.rows();
    let columns: Vec<String> = match lines.next() {
        Some(header) => header.iter().map(cell_text).collect(),
        None => return Err(error("the first sheet is empty")),
    };
    let rows = lines.enumerate().map(|(i, cells)| Row { number: first + 1 + i, cells: cells.iter().map(cell_text).collect() }).collect();
    Ok((columns, rows, "XLSX"))
}

/// A workbook cell as a person reads it.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => serial_text(d.as_f64()).unwrap_or_else(|| number_text(d.as_f64())),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// `12` for 12.0, `0.1` for 0.1: no float noise in whole numbers.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { f.to_string() }
}

/// An Excel serial date (days since 1899-12-30, the fraction is the time of
/// day) as `2026-01-31` or `2026-01-31T10:30:00` (wall time, no zone).
pub fn serial_text(serial: f64) -> Option<String> {
    // 1 is 1900-01-01; 2958465 is 9999-12-31. Excel's fictional 1900-02-29 (60) is skipped by starting at 1899-12-30.
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let epoch = jiff::civil::date(1899, 12, 30);
    let date = epoch.checked_add(jiff::Span::new().days(days)).ok()?;
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    if seconds == 0 {
        return Some(date.to_string());
    }
    let time = jiff::civil::Time::midnight().checked_add(jiff::Span::new().seconds(seconds.min(86_399))).ok()?;
    Some(date.to_datetime(time).strftime("%Y-%m-%dT%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utf8_with_and_without_a_bom() {
        let plain = read("name,phone\n张三,13800000000\n\n李四,13900000000\n".as_bytes()).unwrap();
        assert_eq!(plain.columns, ["name", "phone"]);
        assert_eq!(plain.encoding, "UTF-8");
        assert_eq!(plain.rows.len(), 2, "the blank line is skipped");
        assert_eq!(plain.rows[1].number, 4, "row numbers count the lines as the file has them");
        let bom = read(&[b"\xEF\xBB\xBF".as_slice(), "姓名\n张三\n".as_bytes()].concat()).unwrap();
        assert_eq!((bom.columns[0].as_str(), bom.encoding), ("姓名", "UTF-8 BOM"));
    }

    #[test]
    fn reads_gbk_and_utf16_tabs() {
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,城市\n张三,杭州\n");
        let sheet = read(&gbk).unwrap();
        assert_eq!(sheet.encoding, "GBK");
        assert_eq!(sheet.rows[0].cells, ["张三", "杭州"]);
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "姓名\t城市\n张三\t杭州\n".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        let sheet = read(&utf16).unwrap();
        assert_eq!((sheet.encoding, sheet.columns.len()), ("UTF-16", 2));
        assert_eq!(sheet.rows[0].cells, ["张三", "杭州"]);
    }

    #[test]
    fn refuses_what_is_not_text_and_names_bad_rows() {
        assert!(read(b"").is_err());
        let e = read(&[0xFF, 0x00, 0xC3, 0x28, 0xA0, 0xA1, 0x80]).unwrap_err();
        assert!(e.message.contains("neither UTF-8 nor GBK"), "{e}");
        let e = read(b"a,b\n\"unterminated,1\n").err();
        // csv reads an unterminated quote to the end of the file: one odd row, not an error.
        assert!(e.is_none());
    }

    #[test]
    fn unnamed_header_cells_get_their_column_letter() {
        let sheet = read(b"name,,x\n1,2,3\n").unwrap();
        assert_eq!(sheet.columns, ["name", "B", "x"]);
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn excel_serials_are_dates() {
        assert_eq!(serial_text(46053.0).as_deref(), Some("2026-01-31"));
        assert_eq!(serial_text(46053.4375).as_deref(), Some("2026-01-31T10:30:00"));
        assert_eq!(serial_text(0.5), None);
        assert_eq!(number_text(12.0), "12");
        assert_eq!(number_text(0.25), "0.25");
    }
}
