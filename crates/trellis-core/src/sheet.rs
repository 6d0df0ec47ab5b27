//! Spreadsheets as rows of text: CSV in UTF-8 (with or without a BOM),
//! UTF-16 or GBK, and Excel workbooks (XLSX, XLS, XLSB, ODS; the first sheet).
//!
//! Chinese Excel saves "CSV" in GBK, and "Unicode text" in UTF-16 with tabs,
//! so the encoding and the delimiter are detected rather than asked for.
//! Every cell becomes text the way a person reads it (`12`, not `12.0`; an
//! Excel date as `2026-01-31`), and [`crate::import`] types it by its field.
//!
//! A file is read as a stream ([`scan`]): one row at a time, within
//! [`Limits`] that hold whatever the file is — a million columns, a 100 MB
//! line, a quote never closed. CSV goes through `csv-core` with a fixed
//! output buffer, so a field past its limit is counted and dropped rather
//! than grown; XLSX and XLSB through calamine's cell readers. (Reading the
//! whole sheet into a `Vec` of rows, as this module once did, took a server
//! to 3.9 GB on an 8 MB file.)

use std::io::Cursor;
use std::ops::ControlFlow;

use calamine::{Data, DataRef, Reader, Sheets};

/// What one file may hold. Each bound is a per-file error (the header, the
/// row count, the workbook's size) or a per-row one (a cell, a row).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Columns of the header, and cells of any row.
    pub columns: usize,
    /// Characters of one cell: Excel's own limit, so every value imported exports back whole.
    pub cell_chars: usize,
    /// Characters of one header cell.
    pub header_chars: usize,
    /// Bytes of one row's cells together: the body limit of every other record write.
    pub row_bytes: usize,
    /// Rows (blank rows not counted).
    pub rows: usize,
    /// What a zipped workbook (XLSX, XLSB, ODS) unpacks to, by its zip directory.
    pub unpacked_bytes: u64,
    /// The largest XLS or ODS file: calamine reads those sheets whole, not as a stream.
    pub whole_bytes: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits { columns: 1_000, cell_chars: 32_767, header_chars: 255, row_bytes: 16 << 20, rows: 1_000_000, unpacked_bytes: 1 << 30, whole_bytes: 16 << 20 };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A sheet read from a file: a header row and the data rows after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    /// What the file was read as: `UTF-8`, `UTF-8 BOM`, `UTF-16`, `GBK` or `XLSX` (any workbook).
    pub encoding: &'static str,
}

/// The header of a file, and what the file was read as.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub columns: Vec<String>,
    /// `UTF-8`, `UTF-8 BOM`, `UTF-16`, `GBK` or `XLSX` (any workbook).
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

/// A row that breaks a [`Limits`] bound: it is refused, the file goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub number: usize,
    /// The column (0-based, as the header's) of the cell at fault.
    pub column: Option<usize>,
    pub message: String,
}

/// What [`scan`] hands over, in file order: the header first, then each row.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Header(Header),
    Row(Row),
    Refused(Refusal),
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

/// `1,000,000`: limits as people read them.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether the bytes are a workbook (a zip, as XLSX, XLSB and ODS are, or an OLE file, as XLS is).
fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Reads a whole CSV or workbook into memory: for small files and tests. A
/// row over a limit is an error here; imports use [`scan`].
pub fn read(bytes: &[u8]) -> Result<Sheet, SheetError> {
    let mut sheet = Sheet { columns: Vec::new(), rows: Vec::new(), encoding: "" };
    let mut refused = None;
    scan(bytes, &Limits::DEFAULT, &mut |item| {
        match item {
            Item::Header(h) => (sheet.columns, sheet.encoding) = (h.columns, h.encoding),
            Item::Row(r) => sheet.rows.push(r),
            Item::Refused(r) => {
                refused = Some(SheetError { row: Some(r.number), message: r.message });
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    match refused {
        Some(e) => Err(e),
        None => Ok(sheet),
    }
}

/// Reads a CSV or a workbook as a stream: `visit` gets the header, then
/// every row in file order, and may stop the reading with `Break`. Blank
/// rows are skipped; a header cell left empty is named by its column letter
/// (`C`), so it can still be mapped; a NUL in a cell is dropped (PostgreSQL's
/// JSON cannot hold one). Memory stays within a row's bound whatever the file.
pub fn scan(bytes: &[u8], limits: &Limits, visit: &mut dyn FnMut(Item) -> ControlFlow<()>) -> Result<(), SheetError> {
    if bytes.is_empty() {
        return Err(error("the file is empty"));
    }
    if is_workbook(bytes) {
        let mut out = Emit { limits, visit, encoding: "XLSX", header: false, rows: 0 };
        scan_workbook(bytes, limits, &mut out)
    } else {
        scan_csv(bytes, limits, visit)
    }
}

/// Hands rows to the visitor: the header first, blank rows skipped, bounds checked.
struct Emit<'a> {
    limits: &'a Limits,
    visit: &'a mut dyn FnMut(Item) -> ControlFlow<()>,
    encoding: &'static str,
    header: bool,
    rows: usize,
}

impl Emit<'_> {
    /// A row as read; `problem` when reading found it over a bound already.
    fn row(&mut self, number: usize, mut cells: Vec<String>, problem: Option<(Option<usize>, String)>) -> Result<ControlFlow<()>, SheetError> {
        if !self.header {
            if let Some((_, message)) = problem {
                return Err(SheetError { row: Some(number), message: format!("the header {message}") });
            }
            if let Some(i) = cells.iter().position(|c| c.trim().chars().count() > self.limits.header_chars) {
                return Err(SheetError { row: Some(number), message: format!("the header of column {} is longer than {} characters", column_letter(i), self.limits.header_chars) });
            }
            self.header = true;
            let columns = cells.into_iter().enumerate().map(|(i, c)| if c.trim().is_empty() { column_letter(i) } else { c.trim().replace('\0', "") }).collect();
            return Ok((self.visit)(Item::Header(Header { columns, encoding: self.encoding })));
        }
        let item = match problem {
            Some((column, message)) => Item::Refused(Refusal { number, column, message }),
            None => {
                let row = Row { number, cells: std::mem::take(&mut cells) };
                if row.is_blank() {
                    return Ok(ControlFlow::Continue(()));
                }
                match row.cells.iter().position(|c| c.chars().count() > self.limits.cell_chars) {
                    Some(i) => Item::Refused(Refusal { number, column: Some(i), message: self.cell_too_long() }),
                    None => {
                        let mut row = row;
                        for c in &mut row.cells {
                            if c.contains('\0') {
                                *c = c.replace('\0', "");
                            }
                        }
                        Item::Row(row)
                    }
                }
            }
        };
        self.rows += 1;
        if self.rows > self.limits.rows {
            return Err(SheetError { row: Some(number), message: format!("the file has more than {} rows; split it into several files", thousands(self.limits.rows)) });
        }
        Ok((self.visit)(item))
    }

    fn cell_too_long(&self) -> String {
        format!("the cell is longer than {} characters, the most a spreadsheet cell holds", thousands(self.limits.cell_chars))
    }

    fn too_many_cells(&self) -> String {
        format!("has more than {} cells; an import reads at most {} columns", thousands(self.limits.columns), thousands(self.limits.columns))
    }

    fn row_too_large(&self) -> String {
        format!("the row is larger than {} MiB, the limit of any record write", self.limits.row_bytes >> 20)
    }
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

/// Input fed to the CSV reader at a time.
const CHUNK: usize = 64 << 10;

/// A CSV file's bytes as UTF-8, a chunk at a time: as they are, or decoded.
struct Text<'a> {
    rest: &'a [u8],
    decoder: Option<encoding_rs::Decoder>,
    done: bool,
    /// Whether decoding met bytes the encoding does not have.
    bad: bool,
}

impl<'a> Text<'a> {
    fn new(bytes: &'a [u8], encoding: &'static str) -> Text<'a> {
        let (rest, decoder) = match encoding {
            "UTF-8 BOM" => (&bytes[3..], None),
            "UTF-8" => (bytes, None),
            // Sniffs the BOM again and drops it.
            "UTF-16" => (bytes, encoding_rs::Encoding::for_bom(bytes).map(|(e, _)| e.new_decoder())),
            _ => (bytes, Some(encoding_rs::GB18030.new_decoder_without_bom_handling())),
        };
        Text { rest, decoder, done: false, bad: false }
    }

    /// The next chunk into `buf`; false at the end.
    fn next(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        if self.done {
            return false;
        }
        let take = self.rest.len().min(CHUNK);
        let Some(d) = &mut self.decoder else {
            buf.extend_from_slice(&self.rest[..take]);
            self.rest = &self.rest[take..];
            self.done = self.rest.is_empty();
            return take > 0;
        };
        let last = take == self.rest.len();
        buf.resize(3 * CHUNK + 16, 0);
        let (result, read, written, bad) = d.decode_to_utf8(&self.rest[..take], buf, last);
        self.bad |= bad;
        self.rest = &self.rest[read..];
        buf.truncate(written);
        if last && self.rest.is_empty() && result == encoding_rs::CoderResult::InputEmpty {
            self.done = true;
        }
        true
    }
}

/// What a CSV file is encoded in, checked over the whole file (a pass with a fixed buffer).
fn detect(bytes: &[u8]) -> Result<&'static str, SheetError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest).map(|_| "UTF-8 BOM").map_err(|e| error(format!("the file starts as UTF-8 but is not: {e}")));
    }
    let utf16 = encoding_rs::Encoding::for_bom(bytes).is_some_and(|(e, _)| e != encoding_rs::UTF_8);
    if !utf16 && std::str::from_utf8(bytes).is_ok() {
        return Ok("UTF-8");
    }
    // GB18030 is the superset of GBK (and GB2312) that Chinese Excel and WPS write.
    let encoding = if utf16 { "UTF-16" } else { "GBK" };
    let mut text = Text::new(bytes, encoding);
    let mut buf = Vec::new();
    while text.next(&mut buf) && !text.bad {}
    match (text.bad, utf16) {
        (false, _) => Ok(encoding),
        (true, true) => Err(error("the file starts as UTF-16 but is not")),
        (true, false) => Err(error("the file is neither UTF-8 nor GBK text; save it from Excel as \"CSV UTF-8\" or as .xlsx")),
    }
}

/// The delimiter the header line uses most: a comma, a tab or a semicolon (a
/// comma on a tie). Only the first 256 KiB are looked at: a longer header is
/// refused anyway.
fn sniff_delimiter(bytes: &[u8], encoding: &'static str) -> u8 {
    let mut text = Text::new(bytes, encoding);
    let mut head = Vec::new();
    let mut buf = Vec::new();
    while head.len() < 256 << 10 && text.next(&mut buf) {
        head.extend_from_slice(&buf);
    }
    let head = String::from_utf8_lossy(&head);
    let first = head.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let count = |d: u8| first.bytes().filter(|b| *b == d).count();
    [b'\t', b';'].into_iter().fold(b',', |best, d| if count(d) > count(best) { d } else { best })
}

fn scan_csv(bytes: &[u8], limits: &Limits, visit: &mut dyn FnMut(Item) -> ControlFlow<()>) -> Result<(), SheetError> {
    let encoding = detect(bytes)?;
    let mut emit = Emit { limits, visit, encoding, header: false, rows: 0 };
    let mut csv = csv_core::ReaderBuilder::new().delimiter(sniff_delimiter(bytes, encoding)).build();
    let mut text = Text::new(bytes, encoding);
    let mut chunk = Vec::new();
    let mut pos = 0;
    let mut eof = false;
    let mut out = vec![0u8; CHUNK];
    // UTF-8 takes at most 4 bytes a character; the exact count is checked when the row is whole.
    let cell_cap = limits.cell_chars.saturating_mul(4);
    // Row numbers are the file's lines (a quoted line break makes a row two lines).
    let mut line = 1usize;
    let mut record_line = 1usize;
    let mut at_start = true;
    let mut cells: Vec<String> = Vec::new();
    let mut cell: Vec<u8> = Vec::new();
    let mut cell_over = false;
    let mut count = 0usize;
    let mut row_bytes = 0usize;
    let mut problem: Option<(Option<usize>, String)> = None;
    loop {
        if pos == chunk.len() && !eof {
            eof = !text.next(&mut chunk);
            pos = 0;
            continue;
        }
        let mut input = &chunk[pos..];
        if at_start {
            // Blank lines before a record: csv skips them; they still count as lines.
            let skip = input.iter().take_while(|b| matches!(b, b'\n' | b'\r')).count();
            line += input[..skip].iter().filter(|b| **b == b'\n').count();
            pos += skip;
            input = &input[skip..];
            if input.is_empty() && !eof {
                continue;
            }
            record_line = line;
            at_start = false;
        }
        let (result, read, written) = csv.read_field(input, &mut out);
        line += input[..read].iter().filter(|b| **b == b'\n').count();
        pos += read;
        row_bytes += written;
        if !cell_over && problem.is_none() {
            if cell.len() + written > cell_cap {
                cell_over = true;
                cell = Vec::new();
            } else {
                cell.extend_from_slice(&out[..written]);
            }
        }
        match result {
            csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {}
            csv_core::ReadFieldResult::End => break,
            csv_core::ReadFieldResult::Field { record_end } => {
                if problem.is_none() {
                    if cell_over {
                        problem = Some((Some(count), emit.cell_too_long()));
                    } else if row_bytes > limits.row_bytes {
                        problem = Some((None, emit.row_too_large()));
                    } else if count >= limits.columns {
                        problem = Some((None, emit.too_many_cells()));
                    } else {
                        cells.push(String::from_utf8(std::mem::take(&mut cell)).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()));
                    }
                    // A header past a bound ends the reading at once, not at the end of its line.
                    if problem.is_some() && !emit.header {
                        return emit.row(record_line, Vec::new(), problem).map(drop);
                    }
                }
                count += 1;
                cell.clear();
                cell_over = false;
                if record_end {
                    let flow = emit.row(record_line, std::mem::take(&mut cells), problem.take())?;
                    (count, row_bytes, at_start) = (0, 0, true);
                    if flow.is_break() {
                        return Ok(());
                    }
                }
            }
        }
    }
    if !emit.header {
        return Err(error("the file has no header row"));
    }
    Ok(())
}

/// Refuses a zipped workbook that says it unpacks past the limit (a zip bomb).
fn check_unpacked(bytes: &[u8], limits: &Limits) -> Result<(), SheetError> {
    // Not a readable zip: calamine says what is wrong with it.
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else { return Ok(()) };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        if let Ok(f) = zip.by_index_raw(i) {
            total = total.saturating_add(f.size());
        }
    }
    if total > limits.unpacked_bytes {
        return Err(error(format!("the workbook unpacks to {} MiB, more than the {} MiB an import reads; save it as CSV", total >> 20, limits.unpacked_bytes >> 20)));
    }
    Ok(())
}

fn scan_workbook(bytes: &[u8], limits: &Limits, emit: &mut Emit) -> Result<(), SheetError> {
    if bytes.starts_with(b"PK\x03\x04") {
        check_unpacked(bytes, limits)?;
    }
    let unreadable = |e: String| error(format!("the first sheet cannot be read: {e}"));
    let book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| error(format!("not a readable Excel workbook: {e}")))?;
    match book {
        Sheets::Xlsx(mut x) => {
            let name = x.sheet_names().first().cloned().ok_or_else(|| error("the workbook has no sheet"))?;
            let mut cells = x.worksheet_cells_reader(&name).map_err(|e| unreadable(e.to_string()))?;
            let first = cells.dimensions().start.1;
            stream_cells(emit, first, &mut || cells.next_cell().map(|c| c.map(|c| (c.get_position(), ref_text(c.get_value())))).map_err(|e| e.to_string()))
        }
        Sheets::Xlsb(mut x) => {
            let name = x.sheet_names().first().cloned().ok_or_else(|| error("the workbook has no sheet"))?;
            let mut cells = x.worksheet_cells_reader(&name).map_err(|e| unreadable(e.to_string()))?;
            let first = cells.dimensions().start.1;
            stream_cells(emit, first, &mut || cells.next_cell().map(|c| c.map(|c| (c.get_position(), ref_text(c.get_value())))).map_err(|e| e.to_string()))
        }
        mut book => {
            if bytes.len() > limits.whole_bytes {
                return Err(error(format!("XLS and ODS workbooks are read whole, up to {} MiB; save this one as .xlsx or CSV", limits.whole_bytes >> 20)));
            }
            let range = match book.worksheet_range_at(0) {
                Some(r) => r.map_err(|e| unreadable(e.to_string()))?,
                None => return Err(error("the workbook has no sheet")),
            };
            if range.width() > limits.columns {
                return Err(SheetError { row: Some(1), message: format!("the header {}", emit.too_many_cells()) });
            }
            // Row numbers as Excel shows them, from where the sheet's data starts.
            let first = range.start().map_or(1, |(row, _)| row as usize + 1);
            let mut any = false;
            for (i, cells) in range.rows().enumerate() {
                any = true;
                let cells: Vec<String> = cells.iter().map(cell_text).collect();
                let bytes: usize = cells.iter().map(String::len).sum();
                let problem = (bytes > limits.row_bytes).then(|| (None, emit.row_too_large()));
                if emit.row(first + i, cells, problem)?.is_break() {
                    return Ok(());
                }
            }
            if !any {
                return Err(error("the first sheet is empty"));
            }
            Ok(())
        }
    }
}

/// A cell: its position (row, column) and its text.
type CellRead = Option<((u32, u32), String)>;

/// Rows from a sheet's cells, which come row by row. `first` is the sheet's first column.
fn stream_cells(emit: &mut Emit, first: u32, next: &mut dyn FnMut() -> Result<CellRead, String>) -> Result<(), SheetError> {
    let limits = emit.limits;
    let mut current: Option<u32> = None;
    let mut cells: Vec<String> = Vec::new();
    let mut row_bytes = 0usize;
    let mut problem: Option<(Option<usize>, String)> = None;
    loop {
        let cell = next().map_err(|e| error(format!("the first sheet cannot be read: {e}")))?;
        let row = cell.as_ref().map(|((r, _), _)| *r);
        if let Some(cur) = current
            && row != Some(cur)
        {
            if row.is_some_and(|r| r < cur) {
                return Err(error("the first sheet's cells are out of order; save it again from Excel"));
            }
            let flow = emit.row(cur as usize + 1, std::mem::take(&mut cells), problem.take())?;
            row_bytes = 0;
            if flow.is_break() {
                return Ok(());
            }
        }
        let Some(((r, c), text)) = cell else { break };
        current = Some(r);
        let Some(i) = c.checked_sub(first).map(|i| i as usize) else { continue };
        if problem.is_some() || text.is_empty() {
            continue;
        }
        row_bytes += text.len();
        if i >= limits.columns {
            problem = Some((None, emit.too_many_cells()));
        } else if text.chars().count() > limits.cell_chars {
            problem = Some((Some(i), emit.cell_too_long()));
        } else if row_bytes > limits.row_bytes {
            problem = Some((None, emit.row_too_large()));
        } else {
            if cells.len() <= i {
                cells.resize(i + 1, String::new());
            }
            cells[i] = text;
            continue;
        }
        cells.clear();
        if !emit.header {
            return emit.row(r as usize + 1, Vec::new(), problem).map(drop);
        }
    }
    if !emit.header {
        return Err(error("the first sheet is empty"));
    }
    Ok(())
}

/// A streamed workbook cell as a person reads it.
fn ref_text(d: &DataRef) -> String {
    match d {
        DataRef::Empty => String::new(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => serial_text(d.as_f64()).unwrap_or_else(|| number_text(d.as_f64())),
        DataRef::Error(e) => format!("#{e:?}"),
    }
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

    /// Every item of a scan, header first.
    fn items(bytes: &[u8], limits: &Limits) -> Result<Vec<Item>, SheetError> {
        let mut out = Vec::new();
        scan(bytes, limits, &mut |i| {
            out.push(i);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    fn small() -> Limits {
        Limits { columns: 5, cell_chars: 10, header_chars: 8, row_bytes: 30, rows: 4, ..Limits::DEFAULT }
    }

    #[test]
    fn a_header_past_the_column_limit_is_refused_before_its_line_is_read() {
        let mut wide = "c,".repeat(1_000_000);
        wide.push_str("\n1\n");
        let e = items(wide.as_bytes(), &Limits::DEFAULT).unwrap_err();
        assert_eq!(e.row, Some(1));
        assert!(e.message.contains("more than 1,000 cells"), "{e}");
        let e = items(b"a,b,c\n1\n", &Limits { header_chars: 0, ..small() }).unwrap_err();
        assert!(e.message.contains("header of column A"), "{e}");
    }

    #[test]
    fn rows_past_a_bound_are_refused_and_the_file_goes_on() {
        let file = "a,b\n1,0123456789x\n2,ok\n\n1,2,3,4,5,6\n\"never closed,\n3,4\n";
        let got = items(file.as_bytes(), &small()).unwrap();
        let Item::Header(h) = &got[0] else { panic!("{got:?}") };
        assert_eq!(h.columns, ["a", "b"]);
        let Item::Refused(r) = &got[1] else { panic!("{got:?}") };
        assert_eq!((r.number, r.column), (2, Some(1)), "the long cell, at its column");
        assert!(r.message.contains("longer than 10 characters"), "{r:?}");
        assert_eq!(got[2], Item::Row(Row { number: 3, cells: vec!["2".into(), "ok".into()] }));
        let Item::Refused(r) = &got[3] else { panic!("{got:?}") };
        assert_eq!((r.number, r.column), (5, None), "numbered past the blank line");
        assert!(r.message.contains("more than 5 cells"), "{r:?}");
        // The quote never closes: the rest of the file is one cell, over the bound, refused.
        let Item::Refused(r) = &got[4] else { panic!("{got:?}") };
        assert_eq!(r.number, 6);
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn a_row_larger_than_the_row_bound_and_a_file_with_too_many_rows() {
        let got = items(b"a,b,c,d\n1234567890,1234567890,1234567890,1\n", &small()).unwrap();
        assert!(matches!(&got[1], Item::Refused(r) if r.message.contains("larger than")), "{got:?}");
        let e = items(b"a\n1\n2\n3\n4\n5\n", &small()).unwrap_err();
        assert_eq!(e.row, Some(6));
        assert!(e.message.contains("more than 4 rows"), "{e}");
    }

    #[test]
    fn a_huge_unterminated_quote_is_one_refused_row() {
        let mut file = b"name,phone\n\"".to_vec();
        file.extend(std::iter::repeat_n(b'x', 3 << 20));
        let got = items(&file, &Limits::DEFAULT).unwrap();
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Item::Refused(r) if r.number == 2 && r.column == Some(0)), "{:?}", got[1]);
    }

    #[test]
    fn a_workbook_that_unpacks_past_the_bound_is_refused_unread() {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("xl/sharedStrings.xml", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(&[b' '; 4096]).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let e = items(&bytes, &Limits { unpacked_bytes: 1000, ..Limits::DEFAULT }).unwrap_err();
        assert!(e.message.contains("unpacks to"), "{e}");
        let e = items(&bytes, &Limits::DEFAULT).unwrap_err();
        assert!(e.message.contains("not a readable Excel workbook"), "{e}");
    }

    #[test]
    fn scanning_stops_when_asked() {
        let mut seen = 0;
        scan(b"a\n1\n2\n3\n", &Limits::DEFAULT, &mut |_| {
            seen += 1;
            if seen == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
        assert_eq!(seen, 2);
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
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
