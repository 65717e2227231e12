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
        let Some(layer) = schema.layer else {
            fail(&path, &"no `// LAYER N` line");
        };
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

/// Some copies (grammers') declare the built-in types, `vector`'s with syntax the parser
/// refuses; the tables know them natively, so they become comments (lines kept in place).
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
        if BUILTINS.iter().any(|b| line.starts_with(b)) {
            out.push_str("// ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn fail(path: &Path, error: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {}: {error}", path.display());
    process::exit(1);
}
