//! The packs that ship inside the binary (`templates/`), so `trellis serve
//! --demo` and the pack gallery work from any folder with nothing beside the
//! binary.

use trellis_core::pack::{self, Files};

#[derive(rust_embed::RustEmbed)]
#[folder = "../../templates/"]
struct Templates;

/// The names of the bundled packs (their folders under `templates/`).
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = Templates::iter().filter_map(|p| p.strip_suffix("/pack.json").filter(|n| !n.contains('/')).map(str::to_owned)).collect();
    names.sort();
    names
}

/// A bundled pack's files.
pub fn files(name: &str) -> Option<Files> {
    let prefix = format!("{name}/");
    let files: Files = Templates::iter().filter_map(|p| p.strip_prefix(&prefix).map(str::to_owned)).filter_map(|rel| Templates::get(&format!("{prefix}{rel}")).map(|f| (rel, f.data.into_owned()))).collect();
    (!files.is_empty()).then_some(files)
}

/// A bundled pack's manifest, for the gallery.
pub fn manifest(name: &str) -> Option<pack::Manifest> {
    Templates::get(&format!("{name}/pack.json")).and_then(|f| serde_json::from_slice(&f.data).ok())
}
