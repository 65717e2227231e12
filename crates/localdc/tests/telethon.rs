#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Telethon 1.45.0, an unmodified real client, against localdc: handshake and
//! `help.getConfig`/`help.getNearestDc` over four TCP transports. Needs Python 3; the venv
//! is made by `scripts/setup-python-tests.sh` when missing (PyPI access needed once).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use localdc::{Config, Server};
use tokio::process::Command;

/// The whole test, venv setup included, ends within this.
const SCRIPT_TIME: Duration = Duration::from_mins(2);
const SETUP_TIME: Duration = Duration::from_mins(10);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, made by the setup script if missing. Fails loudly, never skips.
async fn venv_python() -> PathBuf {
    let root = workspace_root();
    let venv = std::env::var_os("LOCALDC_PY_VENV")
        .map_or_else(|| root.join("target/py-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    if python.exists() {
        return python;
    }
    let script = root.join("scripts/setup-python-tests.sh");
    let status = tokio::time::timeout(
        SETUP_TIME,
        Command::new("bash")
            .arg(&script)
            .arg(&venv)
            .kill_on_drop(true)
            .status(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} took longer than {SETUP_TIME:?}", script.display()))
    .unwrap_or_else(|e| panic!("cannot run {}: {e} (is bash installed?)", script.display()));
    assert!(
        status.success() && python.exists(),
        "the Telethon venv could not be set up ({} exited with {status}): this test needs \
         python3 with venv and pip, and PyPI access once",
        script.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_gets_config_over_every_tcp_transport() {
    let python = venv_python().await;
    let server = Server::start(Config::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("localdc-telethon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("server_pub.pem");
    std::fs::write(&pem, server.public_key_pem()).unwrap();
    let port = server.addr(2).unwrap().port();
    std::fs::write(dir.join("dc2_port"), port.to_string()).unwrap();
    let ports: Vec<String> = server
        .dcs()
        .iter()
        .map(|dc| dc.addr().port().to_string())
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_smoke.py");

    let child = Command::new(&python)
        .arg(&script)
        .arg(&pem)
        .arg(port.to_string())
        .arg(ports.join(","))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    // On timeout the child is dropped, and killed with it.
    let output = tokio::time::timeout(SCRIPT_TIME, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the Telethon script took longer than {SCRIPT_TIME:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "Telethon failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for transport in [
        "ConnectionTcpFull",
        "ConnectionTcpAbridged",
        "ConnectionTcpIntermediate",
        "ConnectionTcpObfuscated",
    ] {
        let line = format!("{transport}: ok this_dc=2 ");
        assert!(stdout.contains(&line), "no '{line}' in:\n{stdout}");
    }
    assert!(stdout.contains("all transports ok"));
    server.shutdown().await;
}
