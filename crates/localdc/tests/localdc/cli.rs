#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The `localdc` binary: ready file, saving and reloading the RSA key, a CDN DC, errors.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Client, with_init};
use localdc::ReadyInfo;
use mtcrypto::RsaPublicKey;
use mtproto::transport::TransportKind;
use tl_types::api::functions::help::{GetCdnConfig, GetConfig};
use tl_types::api::{enums, types};
use tl_types::{Deserialize, Serialize};
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

/// A temporary directory for one test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("localdc-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_dc_from_the_command_line() {
    let dir = temp_dir("cdn");
    let ready = dir.join("ready.json");
    let mut child = localdc()
        .args(["--port-base", "0", "--dcs", "2", "--cdn-dc", "201"])
        .arg("--ready-file")
        .arg(&ready)
        .spawn()
        .unwrap();
    let info = wait_ready(&mut child, &ready).await;
    assert_eq!(
        info.dcs.iter().map(|dc| dc.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(info.cdn_dcs.len(), 1);
    let cdn = &info.cdn_dcs[0];
    assert_eq!((cdn.id, cdn.host.as_str()), (201, "127.0.0.1"));
    let addr = |dc: &localdc::ReadyDc| SocketAddr::new(dc.host.parse().unwrap(), dc.port);

    tokio::time::timeout(WAIT, async {
        let key = RsaPublicKey::from_pem(&info.rsa_public_key_pem).unwrap();
        let (mut client, _) = Client::open(
            addr(&info.dcs[1]),
            &key,
            2,
            TransportKind::Intermediate,
            true,
        )
        .await;
        let bytes = client
            .call(with_init(GetConfig {}.to_bytes()))
            .await
            .unwrap();
        let enums::Config::Config(config) = enums::Config::from_bytes(&bytes).unwrap();
        let listed: Vec<types::DcOption> = config
            .dc_options
            .into_iter()
            .map(|enums::DcOption::DcOption(option)| *option)
            .filter(|option| option.id == 201)
            .collect();
        assert!(!listed.is_empty(), "no DC 201 in help.getConfig");
        assert!(
            listed
                .iter()
                .all(|option| option.cdn && option.port == i32::from(cdn.port))
        );

        let bytes = client.call(GetCdnConfig {}.to_bytes()).await.unwrap();
        let enums::CdnConfig::CdnConfig(cdn_config) = enums::CdnConfig::from_bytes(&bytes).unwrap();
        let cdn_keys: Vec<types::CdnPublicKey> = cdn_config
            .public_keys
            .into_iter()
            .map(|enums::CdnPublicKey::CdnPublicKey(key)| *key)
            .collect();
        assert_eq!(cdn_keys.len(), 1);
        assert_eq!(cdn_keys[0].dc_id, 201);
        // The CDN DC signs its handshakes with the key help.getCdnConfig gives.
        let cdn_key = RsaPublicKey::from_pem(&cdn_keys[0].public_key).unwrap();
        assert_ne!(cdn_key.fingerprint(), key.fingerprint());
        Client::open(addr(cdn), &cdn_key, 201, TransportKind::Intermediate, true).await;
    })
    .await
    .expect("CDN DC checks timed out");

    child.kill().await.unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    assert!(
        stdout.contains(&format!("CDN DC 201 127.0.0.1:{}", cdn.port)),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A CDN id among the main DCs is refused.
    let output = tokio::time::timeout(
        WAIT,
        localdc()
            .args(["--port-base", "0", "--dcs", "3", "--cdn-dc", "2"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--cdn-dc 2"), "{stderr}");
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
