//! The core does no IO and reads no clock: this test fails when it starts to.

use std::path::Path;
use std::process::Command;

#[test]
fn core_depends_on_no_runtime_database_or_http_crate() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "trellis-core", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    for banned in ["tokio ", "sqlx", "axum", "reqwest", "hyper ", "mio "] {
        assert!(!tree.lines().any(|l| l.starts_with(banned)), "trellis-core depends on {banned}:\n{tree}");
    }
}

#[test]
fn core_sources_read_no_clock_and_touch_no_files() {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { dirs.push(path) } else { files.push(path) }
        }
    }
    assert!(files.len() > 10, "found only {files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for banned in ["std::fs", "std::net", "SystemTime", "Instant::now", "Timestamp::now", "Zoned::now", "now_v7", "std::env"] {
            assert!(!text.contains(banned), "{} uses {banned}", path.display());
        }
    }
}
