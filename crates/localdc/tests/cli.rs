#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The `localdc` binary: ready file, saving and reloading the RSA key, errors.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use localdc::ReadyInfo;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);

fn localdc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_localdc"));
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Waits for the ready file the child writes, then returns what it says.
async fn wait_ready(child: &mut Child, ready: &Path) -> ReadyInfo {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(text) = std::fs::read_to_string(ready) {
                return serde_json::from_str(&text).unwrap();
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("localdc exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("no ready file in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_file_and_a_saved_key_reused() {
    let dir = std::env::temp_dir().join(format!("localdc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ready = dir.join("ready.json");
    let key = dir.join("server.pem");

    let mut first = localdc()
        .args(["--port-base", "0", "--dcs", "3"])
        .arg("--ready-file")
        .arg(&ready)
        .arg("--write-rsa-key")
        .arg(&key)
        .spawn()
        .unwrap();
    let info = wait_ready(&mut first, &ready).await;
    assert_eq!(
        info.dcs.iter().map(|dc| dc.id).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        info.dcs
            .iter()
            .all(|dc| dc.host == "127.0.0.1" && dc.port < 32768)
    );
    assert!(
        info.rsa_public_key_pem
            .starts_with("-----BEGIN RSA PUBLIC KEY-----")
    );
    tokio::net::TcpStream::connect(("127.0.0.1", info.dcs[1].port))
        .await
        .unwrap();
    first.kill().await.unwrap();
    let mut stdout = String::new();
    first
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert!(
        stdout.contains(&format!("DC 2 127.0.0.1:{}", info.dcs[1].port)),
        "{stdout}"
    );
    assert!(stdout.contains("BEGIN RSA PUBLIC KEY"));

    // The saved key is loaded again: same fingerprint.
    std::fs::remove_file(&ready).unwrap();
    let mut second = localdc()
        .args(["--port-base", "0", "--dcs", "1"])
        .arg("--ready-file")
        .arg(&ready)
        .arg("--rsa-key")
        .arg(&key)
        .spawn()
        .unwrap();
    let again = wait_ready(&mut second, &ready).await;
    assert_eq!(again.rsa_fingerprint, info.rsa_fingerprint);
    second.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_file_fails_with_a_message() {
    let output = tokio::time::timeout(
        WAIT,
        localdc()
            .args(["--port-base", "0", "--rsa-key", "/nonexistent/key.pem"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("reading the RSA key /nonexistent/key.pem"),
        "{stderr}"
    );
}
