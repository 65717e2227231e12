#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Telethon 1.45.0 (with cryptg), an unmodified real client, downloading media from
//! localdc: `download_media` of a document on its home DC and of one on another DC (it
//! exports and imports the authorization itself), each checked against the fixture's
//! SHA-256. Needs Python 3; the venv is made by `scripts/setup-python-tests.sh`
//! (PyPI access needed once).

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use localdc::world::{FileKey, Fixture, World, mint_session};
use localdc::{Config, Registry, Server};
use tokio::process::Command;

use crate::venv;

const SCRIPT_TIME: Duration = Duration::from_mins(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_downloads_media_from_the_home_dc_and_another_dc() {
    let python = venv::python().await;
    let fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
    let world = Arc::new(World::from_fixture(fixture).unwrap());
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(&world));
    let server = Server::start_with(Config::default(), registry)
        .await
        .unwrap();
    // Alice lives on DC 2. In the demo channel, message 5 is a 2.5 MB PDF on DC 2 and
    // message 4 a 10 MiB video on DC 4.
    let minted = mint_session(&server, &world, "15550001", None).unwrap();
    assert_eq!(minted.dc, 2);
    let files = [(5, 78_002_i64, 2), (4, 78_001_i64, 4)];
    let expected: Vec<(i32, String)> = files
        .iter()
        .map(|(msg, media, dc)| {
            let key = FileKey::document(*media);
            assert_eq!(world.file(&key).unwrap().dc, *dc);
            (*msg, hex::encode(world.file_sha256(&key).unwrap()))
        })
        .collect();

    let dir = std::env::temp_dir().join(format!("localdc-telethon-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("server_pub.pem");
    std::fs::write(&pem, server.public_key_pem()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_media.py");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .arg(&pem)
        .arg(&minted.string_session)
        .arg("demo_news");
    for (msg, sha) in &expected {
        command.arg(format!("{msg}={sha}"));
    }
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
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
    for ((msg, sha), (_, media, dc)) in expected.iter().zip(files) {
        let line = format!("message {msg}: dc={dc} ");
        assert!(stdout.contains(&line), "no '{line}' in:\n{stdout}");
        assert!(stdout.contains(&format!("sha256={sha}")), "{stdout}");
        // The server saw the whole file go out, from the DC that stores it.
        let key = FileKey::document(media);
        let size = world.file(&key).unwrap().size;
        assert!(world.served_bytes(&key) >= size, "{media}");
        assert!(
            world
                .served_log()
                .iter()
                .filter(|r| r.key == key)
                .all(|r| r.dc == dc && !r.cdn)
        );
    }
    assert!(stdout.contains("all downloads ok"));
    server.shutdown().await;
}
