#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! GramJS 2.26.22 (npm `telegram`), a real client speaking layer 198, against localdc,
//! which answers it in layer 198 (`tl_layers`): it logs in with a minted session, reads its
//! dialogs and history and downloads every file of the demo world (photos, a video on
//! another DC, a PDF, music on a third DC, a voice note, a sticker), each checked against
//! the world's SHA-256; it logs in by QR code, which needs the `updateLoginToken` localdc
//! pushes (in layer 198); and GramJS (198) runs beside Telethon (229) on one localdc.
//! Needs Node.js and npm (`scripts/setup-node-tests.sh` installs them and GramJS).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use localdc::world::{FileKey, Fixture, MintedSession, World, mint_session};
use localdc::{Config, Registry, RunningServer, Server};
use tokio::process::Command;

use crate::node;
use crate::venv;

const SCRIPT_TIME: Duration = Duration::from_mins(2);

/// Every file of the demo world a member of its three chats sees: photos at their largest
/// size, documents whole; with the DC that stores each.
fn demo_files() -> Vec<(FileKey, i32)> {
    vec![
        (FileKey::sized(77_001, "x"), 2),
        (FileKey::sized(77_002, "x"), 2),
        (FileKey::document(78_001), 4),
        (FileKey::document(78_002), 2),
        (FileKey::document(78_003), 1),
        (FileKey::document(78_004), 2),
        (FileKey::document(78_005), 2),
    ]
}

async fn demo_server() -> (Arc<World>, RunningServer) {
    let fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
    let world = Arc::new(World::from_fixture(fixture).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let server = Server::start_with(Config::default(), registry)
        .await
        .unwrap();
    (world, server)
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, server: &RunningServer) -> Self {
        let dir = std::env::temp_dir().join(format!("localdc-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("server_pub.pem"), server.public_key_pem()).unwrap();
        Self(dir)
    }

    fn pem(&self) -> PathBuf {
        self.0.join("server_pub.pem")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The GramJS world script, logged in as `phone`.
async fn gramjs_command(
    server: &RunningServer,
    world: &World,
    scratch: &Scratch,
    phone: &str,
) -> (Command, MintedSession) {
    gramjs_script("gramjs_world.js", server, world, scratch, phone).await
}

/// The GramJS script `name` (in `tests/interop`) with what every one of them takes: the
/// GramJS install, localdc's key, a session minted for `phone`, and the DC ports.
async fn gramjs_script(
    name: &str,
    server: &RunningServer,
    world: &World,
    scratch: &Scratch,
    phone: &str,
) -> (Command, MintedSession) {
    let gramjs = node::gramjs_dir().await;
    let minted = mint_session(server, world, phone, None).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name);
    let mut command = Command::new("node");
    command
        .arg(&script)
        .arg(&gramjs)
        .arg(scratch.pem())
        .arg(server.fingerprint().to_string())
        .arg(&minted.string_session)
        .arg(minted.dc.to_string())
        .arg(minted.addr.ip().to_string())
        .arg(dc_ports(server));
    (command, minted)
}

/// `1=PORT,2=PORT...`: where each DC listens (GramJS ignores the ports it is told).
fn dc_ports(server: &RunningServer) -> String {
    server
        .ready_info()
        .dcs
        .iter()
        .map(|dc| format!("{}={}", dc.id, dc.port))
        .collect::<Vec<_>>()
        .join(",")
}

async fn run(mut command: Command, who: &str) -> String {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {who}: {e}"));
    let output = tokio::time::timeout(SCRIPT_TIME, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{who} took longer than {SCRIPT_TIME:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{who}:\n{stdout}");
    assert!(
        output.status.success(),
        "{who} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// Checks GramJS's output: every demo file downloaded once, byte-exact, from its DC.
fn check_gramjs(stdout: &str, world: &World) {
    assert!(stdout.contains("me 1001"), "{stdout}");
    for title in ["Demo News", "Demo Group", "Old Friends"] {
        assert!(stdout.contains(title), "no dialog {title}:\n{stdout}");
    }
    let media: Vec<(i32, u64, String)> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("media "))
        .map(|rest| {
            let fields: Vec<&str> = rest.split(' ').collect();
            (
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
                fields[3].to_owned(),
            )
        })
        .collect();
    let files = demo_files();
    assert_eq!(media.len(), files.len(), "{stdout}");
    for (key, dc) in files {
        let info = world.file(&key).unwrap();
        assert_eq!(info.dc, dc);
        let sha = hex::encode(world.file_sha256(&key).unwrap());
        assert!(
            media.contains(&(dc, info.size, sha.clone())),
            "{key:?} (dc {dc}, {} bytes, sha256 {sha}) not downloaded right:\n{stdout}",
            info.size
        );
    }
    assert!(stdout.contains("gramjs: done"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gramjs_198_downloads_the_demo_world_byte_exact() {
    let (world, server) = demo_server().await;
    let scratch = Scratch::new("gramjs-world", &server);
    let (command, minted) = gramjs_command(&server, &world, &scratch, "15550001").await;
    let stdout = run(command, "GramJS").await;
    check_gramjs(&stdout, &world);
    // The layer GramJS declared is on its key, so it was answered in 198.
    let key = server
        .dc(minted.dc)
        .unwrap()
        .keys()
        .get(minted.key_id)
        .unwrap();
    assert_eq!(key.state().layer, Some(198));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gramjs_198_and_telethon_229_download_from_one_localdc_at_once() {
    let python = venv::python().await;
    let (world, server) = demo_server().await;
    let scratch = Scratch::new("gramjs-telethon", &server);
    let (gramjs, _) = gramjs_command(&server, &world, &scratch, "15550001").await;

    // Telethon as Bob (home DC 4), in the demo channel: the PDF (DC 2) and the video (DC 4).
    let bob = mint_session(&server, &world, "15550002", None).unwrap();
    assert_eq!(bob.dc, 4);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_media.py");
    let mut telethon = Command::new(&python);
    telethon
        .arg(&script)
        .arg(scratch.pem())
        .arg(&bob.string_session)
        .arg("demo_news");
    let wanted = [
        (5, FileKey::document(78_002)),
        (4, FileKey::document(78_001)),
    ];
    for (msg, key) in &wanted {
        let sha = hex::encode(world.file_sha256(key).unwrap());
        telethon.arg(format!("{msg}={sha}"));
    }

    let (gramjs_out, telethon_out) = tokio::join!(run(gramjs, "GramJS"), run(telethon, "Telethon"));
    check_gramjs(&gramjs_out, &world);
    for (msg, key) in &wanted {
        let sha = hex::encode(world.file_sha256(key).unwrap());
        assert!(
            telethon_out.contains(&format!("message {msg}: "))
                && telethon_out.contains(&format!("sha256={sha}")),
            "{telethon_out}"
        );
    }
    assert!(telethon_out.contains("all downloads ok"), "{telethon_out}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gramjs_198_logs_in_by_qr_code_through_a_pushed_update() {
    let (world, server) = demo_server().await;
    let scratch = Scratch::new("gramjs-qr", &server);
    // Alice (home DC 2) scans; the fresh client starts on DC 1, so it must migrate.
    let (mut command, _) =
        gramjs_script("gramjs_qr.js", &server, &world, &scratch, "15550001").await;
    command.arg("1");
    let stdout = run(command, "GramJS QR").await;
    // The fresh client only moves on once the pushed updateLoginToken (written in layer
    // 198) reached it: its script gives up before GramJS would export the token again.
    assert!(stdout.contains("qr user 1001"), "{stdout}");
    assert!(stdout.contains("qr me 1001"), "{stdout}");
    assert!(stdout.contains("qr dc 2"), "{stdout}");
    assert!(stdout.contains("gramjs qr: done"), "{stdout}");
    server.shutdown().await;
}
