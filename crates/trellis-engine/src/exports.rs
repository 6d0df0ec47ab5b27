//! Exports: any filtered, sorted list of a form streamed out as CSV or XLSX.
//!
//! Records are read a keyset page at a time and written out as they come, so
//! memory does not grow with the rows: CSV chunks go straight to the
//! receiver; an XLSX sheet is built in constant-memory mode (rows go to a
//! temporary file) and its zip is streamed when the last row is in.

use std::collections::HashMap;
use std::io::Write;

use tokio::sync::mpsc;
use trellis_core::export::{self, Cell, Column};
use trellis_core::CompiledForm;
use trellis_core::query::{self, ListParams};
use uuid::Uuid;

use crate::{Actor, Engine, EngineError, Page, Result};

/// Records per page read.
const PAGE: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// `csv` or `xlsx`, also as a file name's ending.
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// A checked export, ready to stream: the filter and sort were understood.
pub struct Export {
    form: std::sync::Arc<CompiledForm>,
    /// Who exports: the list is theirs, as they may read it.
    actor: Actor,
    filter: Option<String>,
    sort: Option<String>,
    columns: Vec<Column>,
    users: HashMap<Uuid, String>,
    tz: jiff::tz::TimeZone,
    pub format: ExportFormat,
}

/// Chunks of the file, in order; an error ends the stream.
pub type Chunks = mpsc::Sender<std::io::Result<Vec<u8>>>;

/// Sends what is written to it as chunks (for the workbook's zip, written on a blocking thread).
struct ChunkWriter {
    tx: Chunks,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.tx.blocking_send(Ok(chunk)).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the receiver of the export went away"))?;
        }
        Ok(())
    }
}

fn internal(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(e.to_string())
}

impl Engine {
    /// Checks an export of `form` (a list filter and sort as for listing) before any byte is sent.
    /// It holds the records `actor` may read, without the columns hidden from them.
    pub async fn prepare_export(&self, actor: &Actor, form: &str, filter: Option<&str>, sort: Option<&str>, format: ExportFormat) -> Result<Export> {
        let form = self.form(form).await?;
        let q = query::parse_list(&form, &ListParams { filter, sort, cursor: None, limit: Some(PAGE), deleted: false })?;
        let grant = self.grant(actor, &form).await?;
        grant.check_list(q.filter.as_ref(), &q.sort)?;
        let users = self.store.users().await?.into_iter().map(|u| (u.id, u.email)).collect();
        let tz = jiff::tz::TimeZone::get(trellis_core::trigger::DEFAULT_TZ).unwrap_or(jiff::tz::TimeZone::UTC);
        let columns = export::columns(&form)
            .into_iter()
            .filter(|c| match &c.source {
                export::Source::Field(k) => grant.access.sees(k),
                export::Source::Segment(k) => grant.access.sees(&format!("segments.{k}")),
                export::Source::Meta(_) => true,
            })
            .collect();
        Ok(Export { form, actor: actor.clone(), filter: filter.map(str::to_owned), sort: sort.map(str::to_owned), columns, users, tz, format })
    }

    /// Streams the export into `out`; returns the number of records written.
    /// A failure midway ends the stream with an error, so a receiver never
    /// takes a cut-off file for a whole one.
    pub async fn run_export(&self, e: Export, out: Chunks) -> Result<u64> {
        let result = match e.format {
            ExportFormat::Csv => self.export_csv(&e, &out).await,
            ExportFormat::Xlsx => self.export_xlsx(e, out.clone()).await,
        };
        if let Err(err) = &result {
            let _ = out.send(Err(std::io::Error::other(err.to_string()))).await;
        }
        result
    }

    /// One page from `cursor` (the first without), and the cursor past it.
    async fn export_page(&self, e: &Export, cursor: Option<&str>) -> Result<Page> {
        self.list_records(&e.actor, e.form.key(), &ListParams { filter: e.filter.as_deref(), sort: e.sort.as_deref(), cursor, limit: Some(PAGE), deleted: false }).await
    }

    async fn export_csv(&self, e: &Export, out: &Chunks) -> Result<u64> {
        let row_bytes = |cells: Vec<String>| -> Result<Vec<u8>> {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            w.write_record(&cells).map_err(internal)?;
            w.into_inner().map_err(internal)
        };
        // A BOM, so Excel opens the Chinese text as UTF-8.
        let mut head = vec![0xEF, 0xBB, 0xBF];
        head.extend(row_bytes(e.columns.iter().map(|c| c.header.clone()).collect())?);
        if out.send(Ok(head)).await.is_err() {
            return Ok(0);
        }
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let page = self.export_page(e, cursor.as_deref()).await?;
            let mut w = csv::WriterBuilder::new().from_writer(Vec::with_capacity(page.items.len() * 200));
            for r in &page.items {
                w.write_record(e.columns.iter().map(|c| export::cell(&e.form, r, c, &e.users, &e.tz).text())).map_err(internal)?;
            }
            n += page.items.len() as u64;
            if out.send(Ok(w.into_inner().map_err(internal)?)).await.is_err() {
                return Ok(n);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(n),
            }
        }
    }

    async fn export_xlsx(&self, e: Export, out: Chunks) -> Result<u64> {
        // Pages go to a blocking thread that owns the workbook.
        let (pages, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<Cell>>>(2);
        let headers: Vec<String> = e.columns.iter().map(|c| c.header.clone()).collect();
        let title = e.form.def.title.clone();
        let sink = out.clone();
        // Set when reading failed: the workbook is then not saved, so no whole-looking file goes out.
        let abort = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let aborted = abort.clone();
        let writer = tokio::task::spawn_blocking(move || -> std::result::Result<(), String> {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet_with_constant_memory().map_err(|e| e.to_string())?;
            let name: String = title.chars().filter(|c| !"[]:*?/\\'".contains(*c)).take(31).collect();
            // Excel refuses some names ("History"); the default one does then.
            if !name.is_empty() && !name.eq_ignore_ascii_case("history") {
                let _ = sheet.set_name(name);
            }
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, h) in headers.iter().enumerate() {
                sheet.write_string_with_format(0, c as u16, h, &bold).map_err(|e| e.to_string())?;
            }
            let mut row: u32 = 1;
            for page in rx {
                for cells in page {
                    for (c, cell) in cells.into_iter().enumerate() {
                        let col = c as u16;
                        match cell {
                            Cell::Empty => Ok(&mut *sheet),
                            // A cell holds at most 32,767 characters.
                            Cell::Text(s) => sheet.write_string(row, col, if s.chars().count() > 32_767 { s.chars().take(32_767).collect() } else { s }),
                            Cell::Number(n) => sheet.write_number(row, col, n),
                            Cell::Bool(b) => sheet.write_boolean(row, col, b),
                        }
                        .map_err(|e| e.to_string())?;
                    }
                    row += 1;
                }
            }
            if aborted.load(std::sync::atomic::Ordering::SeqCst) {
                return Err("reading the records failed".into());
            }
            let mut w = ChunkWriter { tx: sink, buf: Vec::new() };
            book.save_to_writer(&mut w).map_err(|e| e.to_string())?;
            w.flush().map_err(|e| e.to_string())
        });
        let mut n = 0;
        let mut cursor: Option<String> = None;
        let read = async {
            loop {
                let page = self.export_page(&e, cursor.as_deref()).await?;
                let cells: Vec<Vec<Cell>> = page.items.iter().map(|r| e.columns.iter().map(|c| export::cell(&e.form, r, c, &e.users, &e.tz)).collect()).collect();
                n += page.items.len() as u64;
                // The thread is gone only when it failed; its error is reported below. The
                // channel holds two pages, so a send waits only while the thread writes one.
                if pages.send(cells).is_err() || out.is_closed() {
                    return Ok::<(), EngineError>(());
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return Ok(()),
                }
            }
        };
        let read = read.await;
        if read.is_err() {
            abort.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        drop(pages);
        let wrote = writer.await.map_err(internal)?;
        read?;
        if let Err(message) = wrote {
            return Err(EngineError::Internal(message));
        }
        Ok(n)
    }
}
