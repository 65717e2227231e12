//! Generates `tl_types::api` and `tl_types::mtproto` from the vendored schemas, and the
//! sample values the round-trip test builds for every constructor and function.

use std::path::{Path, PathBuf};
use std::{env, fs, process};

use tl_gen::codegen::{self, Config};
use tl_gen::{Schema, samples};

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    let mut layer = None;
    for (file, module, strings_as_bytes) in
        [("api.tl", "api", false), ("mtproto.tl", "mtproto", true)]
    {
        let path = Path::new("schema").join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let schema = load(&path);
        if module == "api" {
            layer = schema.layer;
        }
        let config = Config {
            module_path: format!("crate::{module}"),
            strings_as_bytes,
        };
        let code = codegen::generate(&schema, &config).unwrap_or_else(|e| fail(&path, &e));
        write(&out_dir.join(format!("{module}.rs")), &code);
        let sample_config = Config {
            module_path: format!("tl_types::{module}"),
            strings_as_bytes,
        };
        let samples =
            samples::generate(&schema, &sample_config).unwrap_or_else(|e| fail(&path, &e));
        write(&out_dir.join(format!("{module}_samples.rs")), &samples);
    }
    let Some(layer) = layer else {
        fail(Path::new("schema/api.tl"), &"no `// LAYER N` line");
    };
    write(
        &out_dir.join("layer.rs"),
        &format!("pub const LAYER: i32 = {layer};\n"),
    );
}

fn load(path: &Path) -> Schema {
    let source = fs::read_to_string(path).unwrap_or_else(|e| fail(path, &e));
    tl_gen::parse(&source).unwrap_or_else(|e| fail(path, &e))
}

fn write(path: &Path, contents: &str) {
    if let Err(e) = fs::write(path, contents) {
        fail(path, &e);
    }
}

fn fail(path: &Path, error: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {}: {error}", path.display());
    process::exit(1);
}
