//! Turns every pinned schema (`schema/api-N.tl`, plus the current layer from `tl-types`)
//! into compact tables (`tl_gen::layer_tables`), not into Rust types.

use std::path::{Path, PathBuf};
use std::{env, fs, process};

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo::rerun-if-changed=schema");
    let mut paths = vec![PathBuf::from("../tl-types/schema/api.tl")];
    let entries = fs::read_dir("schema").unwrap_or_else(|e| fail(Path::new("schema"), &e));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "tl") {
            paths.push(path);
        }
    }
    let mut layers = Vec::new();
    for path in paths {
        println!("cargo::rerun-if-changed={}", path.display());
        let source = fs::read_to_string(&path).unwrap_or_else(|e| fail(&path, &e));
        let schema = tl_gen::parse(&comment_builtins(&source)).unwrap_or_else(|e| fail(&path, &e));
        let Some(layer) = schema.layer.or_else(|| layer_of_file(&path)) else {
            fail(&path, &"no `// LAYER N` line");
        };
        if let Some(named) = layer_of_file(&path)
            && named != layer
        {
            fail(
                &path,
                &format!("the file is named for layer {named} but says {layer}"),
            );
        }
        if layers.iter().any(|(l, _)| *l == layer) {
            fail(&path, &format!("layer {layer} is pinned twice"));
        }
        layers.push((layer, schema));
    }
    let code = tl_gen::layer_tables::generate(&layers);
    if let Err(e) = fs::write(out_dir.join("tables.rs"), code) {
        fail(&out_dir, &e);
    }
}

/// Some copies declare the built-in types (grammers': `vector` with syntax the parser
/// refuses; TDLib's `telegram_api.tl`: `int ? = Int;` and other id-less lines). The tables
/// know them natively, so they become comments (lines kept in place for error positions).
fn comment_builtins(source: &str) -> String {
    const BUILTINS: [&str; 6] = [
        "boolFalse#",
        "boolTrue#",
        "true#",
        "vector#",
        "error#",
        "null#",
    ];
    let mut out = String::with_capacity(source.len() + 64);
    for line in source.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        let idless = !first.is_empty()
            && !first.starts_with("//")
            && !first.starts_with("---")
            && !first.contains('#')
            && line.contains('=');
        if idless || BUILTINS.iter().any(|b| line.starts_with(b)) {
            out.push_str("// ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `schema/api-N.tl` -> N, for copies without a `// LAYER N` line (TDLib's).
fn layer_of_file(path: &Path) -> Option<i32> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("api-")?
        .parse()
        .ok()
}

fn fail(path: &Path, error: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {}: {error}", path.display());
    process::exit(1);
}
