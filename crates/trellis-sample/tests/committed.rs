//! The committed sample data is exactly what the generator writes: regenerate
//! it into a temporary directory and compare byte for byte, so the CSVs in
//! `templates/crm-starter/data/` cannot drift from the code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const REGENERATE: &str = "run `cargo run -p trellis-sample -- templates/crm-starter/data` at the repository root and commit the result";

/// Files in `data/` that are written by hand, not by the generator.
const HAND_WRITTEN: &[&str] = &["users.csv"];

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/crm-starter/data")
}

#[test]
fn committed_csvs_are_the_generators_output() {
    let tmp = std::env::temp_dir().join(format!("trellis-sample-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = trellis_sample::write(&tmp).expect("generate into a temporary directory");
    let mut generated = BTreeSet::new();
    for (name, _, _) in &written {
        generated.insert(name.to_string());
        let fresh = std::fs::read(tmp.join(name)).unwrap();
        let stored = std::fs::read(committed().join(name)).unwrap_or_else(|e| panic!("templates/crm-starter/data/{name}: {e}; {REGENERATE}"));
        if fresh != stored {
            let line = fresh.split(|b| *b == b'\n').zip(stored.split(|b| *b == b'\n')).position(|(a, b)| a != b).map_or(0, |i| i + 1);
            panic!("templates/crm-starter/data/{name} differs from the generator's output (first at line {line}); {REGENERATE}");
        }
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(committed())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv") && !HAND_WRITTEN.contains(&n.as_str()))
        .collect();
    assert_eq!(on_disk, generated, "CSV files in templates/crm-starter/data that the generator does not write (or the reverse); {REGENERATE}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn generating_twice_gives_the_same_bytes() {
    assert_eq!(trellis_sample::generate(), trellis_sample::generate());
}
