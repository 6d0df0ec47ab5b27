//! `trellis backup` and `trellis restore`: SQLite only; PostgreSQL has
//! pg_dump and pg_restore (docs/operations.md says how).
//!
//! Both write to a temporary file beside the destination, flush it to disk
//! and rename it into place, so a destination is either the old file or the
//! whole new one, never half of either.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use trellis_store::backup;

const PG_BACKUP: &str = "trellis backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. `pg_dump --format=custom --file=trellis.dump \"$DATABASE_URL\"` (see docs/operations.md, Backups)";
const PG_RESTORE: &str = "trellis restore writes SQLite databases; for PostgreSQL use pg_restore, e.g. `pg_restore --clean --if-exists --no-owner --dbname=\"$DATABASE_URL\" trellis.dump` (see docs/operations.md, Backups)";

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

fn sqlite_file(url: &str) -> anyhow::Result<PathBuf> {
    backup::sqlite_path(url).with_context(|| format!("'{url}' is not a SQLite database file URL (sqlite://FILE)"))
}

/// A fresh name beside `dest`, on the same file system so a rename is atomic.
fn temporary_beside(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "trellis.db".into());
    dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Flushes `tmp` to disk and renames it to `dest` (and flushes the folder, so the rename survives a power cut).
fn put_in_place(tmp: &Path, dest: &Path) -> anyhow::Result<()> {
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).with_context(|| format!("flushing {}", tmp.display()))?;
    std::fs::rename(tmp, dest).with_context(|| format!("moving the copy to {}", dest.display()))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Not every platform lets a folder be opened to flush it; the rename itself is done.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Removes the temporary file on every way out but success.
struct Cleanup<'a>(Option<&'a Path>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub async fn backup(url: &str, file: &Path, force: bool) -> anyhow::Result<()> {
    if is_postgres(url) {
        bail!("{PG_BACKUP}");
    }
    let source = sqlite_file(url)?;
    if !source.exists() {
        bail!("there is no database at {}", source.display());
    }
    if file.exists() && !force {
        bail!("{} exists; pass --force to replace it", file.display());
    }
    let tmp = temporary_beside(file);
    let _ = std::fs::remove_file(&tmp);
    let mut cleanup = Cleanup(Some(&tmp));
    backup::sqlite_backup(url, &tmp).await.with_context(|| format!("copying {}", source.display()))?;
    let info = backup::sqlite_inspect(&tmp).await.context("checking the copy")?;
    put_in_place(&tmp, file)?;
    cleanup.0 = None;
    println!("backed up {} to {} ({} forms, {} records, {} users; migration {})", source.display(), file.display(), info.forms, info.records, info.users, info.migration);
    Ok(())
}

pub async fn restore(url: &str, file: &Path, force: bool) -> anyhow::Result<()> {
    if is_postgres(url) {
        bail!("{PG_RESTORE}");
    }
    let target = sqlite_file(url)?;
    let info = backup::sqlite_inspect(file).await?;
    if !backup::sqlite_is_empty(&target).await.with_context(|| format!("reading {}", target.display()))? && !force {
        bail!("{} already holds a database; stop the server and pass --force to replace it", target.display());
    }
    let tmp = temporary_beside(&target);
    let _ = std::fs::remove_file(&tmp);
    let mut cleanup = Cleanup(Some(&tmp));
    backup::sqlite_copy(file, &tmp).await.with_context(|| format!("copying {}", file.display()))?;
    // A WAL left by the database being replaced belongs to it, not to the copy:
    // SQLite would replay it onto the restored file.
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", Path::new(&side).display())),
        }
    }
    put_in_place(&tmp, &target)?;
    cleanup.0 = None;
    println!("restored {} to {} ({} forms, {} records, {} users; migration {})", file.display(), target.display(), info.forms, info.records, info.users, info.migration);
    Ok(())
}
