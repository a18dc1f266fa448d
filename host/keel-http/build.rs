//! Embeds the status page: every file under `ui/` becomes an entry of the
//! generated `ASSETS` table (its path below `ui/` and its bytes), so a new
//! view is one new file in `ui/views/` and nothing else.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("ui");
    // A directory here makes cargo rerun this script when anything below changes.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let entries: String = files
        .iter()
        .map(|file| {
            let name = file.strip_prefix(&root).expect("below ui/").to_str().expect("UTF-8 asset names");
            format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string())
        })
        .collect();
    let table = format!(
        "/// Every file of `ui/`, by its path below it.\npub(crate) static ASSETS: &[(&str, &[u8])] = &[\n{entries}];\n"
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("ui_assets.rs");
    std::fs::write(out, table).expect("write the asset table");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        match path.is_dir() {
            true => collect(&path, files),
            false => files.push(path),
        }
    }
}
