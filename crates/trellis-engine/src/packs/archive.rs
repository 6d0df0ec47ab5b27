//! A pack's files from a folder or an archive (`.tar.gz`, `.zip`), and back
//! to a `.tar.gz` or a folder. An archive may hold the pack at its root or in
//! one top folder (`crm-starter/pack.json`), as `tar czf` of a folder makes.

use std::io::{Read, Write};
use std::path::Path;

use trellis_core::pack::{Files, PackIssue};

use crate::{EngineError, Result};

/// Largest pack accepted, unpacked: a pack is definitions and sample data, not a data dump.
pub const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

fn refused(file: &str, message: impl Into<String>) -> EngineError {
    EngineError::Pack(vec![PackIssue { file: file.into(), line: 1, column: 1, message: message.into() }])
}

/// Reads a pack from a folder, a `.tar.gz` / `.tgz` or a `.zip`.
pub fn read_path(path: &Path) -> Result<Files> {
    let shown = path.display().to_string();
    if path.is_dir() {
        let mut files = Files::new();
        read_dir(path, path, &mut files).map_err(|e| refused(&shown, format!("cannot read the folder: {e}")))?;
        return Ok(files);
    }
    let bytes = std::fs::read(path).map_err(|e| refused(&shown, format!("cannot read: {e}")))?;
    read_archive(&shown, &bytes)
}

fn read_dir(root: &Path, dir: &Path, files: &mut Files) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            read_dir(root, &p, files)?;
        } else {
            let rel = p.strip_prefix(root).unwrap_or(&p).components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
            files.insert(rel, std::fs::read(&p)?);
        }
    }
    Ok(())
}

/// Reads an uploaded archive: gzip-compressed tar or zip, told apart by their first bytes.
pub fn read_archive(name: &str, bytes: &[u8]) -> Result<Files> {
    let files = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Files::new();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        let mut budget = Budget::default();
        for entry in archive.entries().map_err(|e| refused(name, format!("not a readable .tar.gz: {e}")))? {
            let mut entry = entry.map_err(|e| refused(name, format!("not a readable .tar.gz: {e}")))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = inside(name, &raw)?;
            let data = budget.read(name, &mut entry)?;
            out.insert(path, data);
        }
        out
    } else if bytes.starts_with(b"PK") {
        let mut out = Files::new();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| refused(name, format!("not a readable .zip: {e}")))?;
        let mut budget = Budget::default();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).map_err(|e| refused(name, format!("not a readable .zip: {e}")))?;
            if !f.is_file() {
                continue;
            }
            let path = inside(name, f.name())?;
            let data = budget.read(name, &mut f)?;
            out.insert(path, data);
        }
        out
    } else {
        return Err(refused(name, "a pack is a folder, a .tar.gz or a .zip"));
    };
    Ok(strip_top_folder(files))
}

/// An archive entry's path, normalised (`a/./b` and `a/x/../b` are `a/b`),
/// or a refusal when it is absolute or climbs out of the pack. One check for
/// tar and zip alike: neither format stops an archive from naming
/// `docs/../../../tmp/x`, and a path like that must never reach a file name.
fn inside(archive: &str, raw: &str) -> Result<String> {
    let outside = || refused(archive, format!("the archive holds a path outside the pack: {raw}"));
    // Windows tools write backslashes in zips; a drive (`C:`) or a leading separator is absolute.
    let unified = raw.replace('\\', "/");
    if unified.starts_with('/') || unified.contains('\0') || unified.split('/').next().is_some_and(|first| first.contains(':')) {
        return Err(outside());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(outside)?;
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// What an archive may still unpack to: counted on the bytes actually read,
/// not on the sizes its headers claim (a zip bomb lies about those).
#[derive(Default)]
struct Budget {
    used: u64,
}

impl Budget {
    fn read(&mut self, name: &str, r: &mut impl Read) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let left = MAX_UNPACKED - self.used;
        r.take(left + 1).read_to_end(&mut data).map_err(|e| refused(name, e.to_string()))?;
        self.used += data.len() as u64;
        if self.used > MAX_UNPACKED {
            return Err(refused(name, format!("the pack unpacks to more than {} MiB", MAX_UNPACKED >> 20)));
        }
        Ok(data)
    }
}

/// `crm-starter/pack.json` → `pack.json` when every file is under one folder holding pack.json.
fn strip_top_folder(files: Files) -> Files {
    let clean = |p: &str| p.trim_start_matches("./").to_owned();
    // macOS's Finder adds __MACOSX/ and .DS_Store to the zips it makes.
    let files: Files = files.into_iter().map(|(p, d)| (clean(&p), d)).filter(|(p, _)| !p.is_empty() && !p.starts_with("__MACOSX/") && !p.ends_with(".DS_Store")).collect();
    if files.contains_key("pack.json") {
        return files;
    }
    let top: std::collections::BTreeSet<&str> = files.keys().filter_map(|p| p.split_once('/').map(|(t, _)| t)).collect();
    match top.iter().next() {
        Some(t) if top.len() == 1 && files.keys().all(|p| p.starts_with(&format!("{t}/"))) && files.contains_key(&format!("{t}/pack.json")) => {
            let prefix = format!("{t}/");
            files.into_iter().map(|(p, d)| (p[prefix.len()..].to_owned(), d)).collect()
        }
        _ => files,
    }
}

/// A `.tar.gz` of the files, under a top folder named `top`.
pub fn to_tar_gz(top: &str, files: &Files) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| EngineError::Internal(format!("writing the archive: {e}"));
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder.append_data(&mut header, format!("{top}/{path}"), data.as_slice()).map_err(io)?;
    }
    let gz = builder.into_inner().map_err(io)?;
    gz.finish().map_err(io)
}

/// Writes the files into a new or empty folder (a folder holding files is
/// refused: files of an older export left in it would come back on install).
pub fn write_dir(dir: &Path, files: &Files) -> Result<()> {
    let io = |e: std::io::Error| EngineError::Internal(format!("writing {}: {e}", dir.display()));
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(EngineError::Conflict { zh: None, message: format!("{} is a folder with files in it; export into a new or empty folder", dir.display()), key: None });
    }
    for (path, data) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::File::create(&target).and_then(|mut f| f.write_all(data)).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_gz_round_trips_and_its_top_folder_is_dropped() {
        let files: Files = [("pack.json".to_owned(), b"{}".to_vec()), ("forms/a.json".to_owned(), b"{\"x\":1}".to_vec())].into();
        let bytes = to_tar_gz("mini", &files).unwrap();
        assert_eq!(read_archive("mini.tar.gz", &bytes).unwrap(), files);
        assert!(matches!(read_archive("x", b"hello"), Err(EngineError::Pack(_))));
    }

    #[test]
    fn a_zip_reads_like_a_folder_and_finder_litter_is_ignored() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (path, text) in [("mini/pack.json", "{}"), ("mini/forms/a.json", "{\"x\":1}"), ("__MACOSX/mini/._pack.json", "junk"), ("mini/.DS_Store", "junk")] {
            w.start_file(path, opts).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let files = read_archive("mini.zip", &bytes).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["forms/a.json", "pack.json"]);
    }

    fn tar_gz_with(path: &str) -> Vec<u8> {
        // `append_data` refuses `..`; a hostile archive is written byte by byte, so set the name raw.
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
        for (p, data) in [("pack.json", &b"{}"[..]), (path, &b"x"[..])] {
            let mut header = tar::Header::new_gnu();
            header.as_gnu_mut().unwrap().name[..p.len()].copy_from_slice(p.as_bytes());
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn zip_with(path: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (p, text) in [("pack.json", "{}"), (path, "x")] {
            w.start_file(p, opts).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_path_leaving_the_pack_is_refused_in_tar_and_zip_alike() {
        for bad in ["docs/../../../tmp/x", "../x", "/etc/passwd", "a/../../x", "..\\..\\x", "C:/x", "C:\\x"] {
            for (kind, bytes) in [("tar", tar_gz_with(bad)), ("zip", zip_with(bad))] {
                match read_archive("evil", &bytes) {
                    Err(EngineError::Pack(issues)) => assert!(issues[0].message.contains("outside the pack"), "{kind} {bad}: {issues:?}"),
                    other => panic!("{kind} {bad}: {other:?}"),
                }
            }
        }
        for (ok, seen) in [("docs/./a.md", "docs/a.md"), ("docs/x/../a.md", "docs/a.md")] {
            for bytes in [tar_gz_with(ok), zip_with(ok)] {
                let files = read_archive("fine", &bytes).unwrap();
                assert!(files.contains_key(seen), "{ok}: {:?}", files.keys().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn an_archive_that_unpacks_too_far_is_refused() {
        // 65 MiB of zeros compresses to a few hundred KiB.
        let files: Files = [("pack.json".to_owned(), vec![0u8; (MAX_UNPACKED + (1 << 20)) as usize])].into();
        let bytes = to_tar_gz("big", &files).unwrap();
        assert!(bytes.len() < 1 << 20);
        let Err(EngineError::Pack(issues)) = read_archive("big.tar.gz", &bytes) else { panic!("a bomb is refused") };
        assert!(issues[0].message.contains("more than 64 MiB"), "{issues:?}");
    }
}
