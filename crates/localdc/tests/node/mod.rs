//! The GramJS install the Node interop tests run, shared by those test binaries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// Installing Node and GramJS on a cold machine ends within this.
const SETUP_TIME: Duration = Duration::from_mins(10);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory with `node_modules/telegram` (GramJS 2.26.22). Always goes through the
/// setup script, which holds a lock while installing. Fails loudly, never skips.
pub async fn gramjs_dir() -> PathBuf {
    let root = workspace_root();
    let dir = std::env::var_os("LOCALDC_GRAMJS_DIR")
        .map_or_else(|| root.join("target/node-gramjs"), PathBuf::from);
    let script = root.join("scripts/setup-node-tests.sh");
    let output = tokio::time::timeout(
        SETUP_TIME,
        Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} took longer than {SETUP_TIME:?}", script.display()))
    .unwrap_or_else(|e| panic!("cannot run {}: {e} (is bash installed?)", script.display()));
    assert!(
        output.status.success(),
        "GramJS could not be set up ({} exited with {}): this test needs node and npm (or \
         root to install them) and npm registry access once\n{}{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    dir
}
