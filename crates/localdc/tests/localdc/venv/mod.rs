//! The Python venv the interop tests run in (Telethon and kurigram, a Pyrogram fork), shared
//! by those test binaries.

// The test files that declared this module allowed these at their root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use super::setup::Setup;

/// The venv's python with the pinned clients installed.
pub async fn python() -> PathBuf {
    let venv = Setup {
        script: "scripts/setup-python-tests.sh",
        dir_var: "LOCALDC_PY_VENV",
        default_dir: "target/py-venv",
        needs: "python3 with venv and pip, and PyPI access once",
    }
    .run()
    .await;
    venv.join("bin/python")
}
