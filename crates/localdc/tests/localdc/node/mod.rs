//! The GramJS install the Node interop tests run, shared by those test binaries.

// The test files that declared this module allowed these at their root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use super::setup::Setup;

/// The directory with `node_modules/telegram` (GramJS 2.26.22).
pub async fn gramjs_dir() -> PathBuf {
    Setup {
        script: "scripts/setup-node-tests.sh",
        dir_var: "LOCALDC_GRAMJS_DIR",
        default_dir: "target/node-gramjs",
        needs: "node and npm (or root to install them) and npm registry access once",
    }
    .run()
    .await
}
