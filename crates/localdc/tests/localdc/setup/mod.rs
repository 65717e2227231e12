//! Runs one of the project's setup scripts (the Python venv, the GramJS install) for the
//! interop tests. Always through the script, which holds a lock while installing, so a test
//! never sees an install still under way beside it. Fails loudly, never skips.

// The test files that declared this module allowed these at their root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// Installing on a cold machine ends within this.
const SETUP_TIME: Duration = Duration::from_mins(10);

/// A setup script and where it installs.
pub struct Setup {
    /// The script, from the workspace root.
    pub script: &'static str,
    /// The variable that moves the install elsewhere.
    pub dir_var: &'static str,
    /// The install directory by default, from the workspace root.
    pub default_dir: &'static str,
    /// What the script needs, for the failure message.
    pub needs: &'static str,
}

impl Setup {
    /// Runs the script; the install directory.
    pub async fn run(&self) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = std::env::var_os(self.dir_var)
            .map_or_else(|| root.join(self.default_dir), PathBuf::from);
        let script = root.join(self.script);
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
            "{} exited with {}: this test needs {}\n{}{}",
            script.display(),
            output.status,
            self.needs,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        dir
    }
}
