//! The Python venv the interop tests run in (Telethon and kurigram, a Pyrogram fork), shared
//! by those test binaries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// Building the venv from PyPI on a cold machine ends within this.
const SETUP_TIME: Duration = Duration::from_mins(10);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python with the pinned clients installed. Always goes through the setup
/// script: it holds a lock while building, so a test never sees a venv whose packages are
/// still being installed by a test running beside it. Fails loudly, never skips.
pub async fn python() -> PathBuf {
    let root = workspace_root();
    let venv = std::env::var_os("LOCALDC_PY_VENV")
        .map_or_else(|| root.join("target/py-venv"), PathBuf::from);
    let script = root.join("scripts/setup-python-tests.sh");
    let output = tokio::time::timeout(
        SETUP_TIME,
        Command::new("bash")
            .arg(&script)
            .arg(&venv)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} took longer than {SETUP_TIME:?}", script.display()))
    .unwrap_or_else(|e| panic!("cannot run {}: {e} (is bash installed?)", script.display()));
    assert!(
        output.status.success(),
        "the Telethon venv could not be set up ({} exited with {}): this test needs python3 \
         with venv and pip, and PyPI access once\n{}{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    venv.join("bin/python")
}
