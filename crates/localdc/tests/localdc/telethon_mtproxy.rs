#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Telethon 1.45.0 (with cryptg), an unmodified real client, through localdc's MTProxy
//! front: `proxy=(host, port, secret)` with a plain secret and
//! `ConnectionTcpMTProxyIntermediate`, and with a `dd` secret and
//! `ConnectionTcpMTProxyRandomizedIntermediate`; it logs in with a minted session and
//! downloads a document from its home DC and one from another DC, every connection through
//! the proxy port, each file checked against the fixture's SHA-256.
//!
//! Telethon's randomized-intermediate codec strips only `len % 4` bytes of padding, which is
//! what Telegram's servers send (up to 3 bytes); with localdc padding its answers over the
//! whole 0-15 range the documentation allows, the same `dd` run breaks.
//!
//! Telethon 1.45.0 has no fake TLS: given an `ee` secret it drops the domain and sends a
//! bare obfuscated header, which the official MTProxy serving a domain refuses ("Expected
//! TLS-transport" in `net/net-tcp-rpc-ext-server.c`) as localdc does, so `ee` is not covered
//! here.
//!
//! Needs Python 3; the venv is made by `scripts/setup-python-tests.sh` (PyPI access needed
//! once).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use localdc::world::{FileKey, Fixture, World, mint_session};
use localdc::{Config, Registry, RunningServer, Server};
use mtproto::transport::{PaddingStyle, ProxySecret};
use tokio::process::Command;

use crate::venv;

/// The Python script's own limit for a run that should succeed; this side waits a little
/// longer for the process.
const SCRIPT_TIME: Duration = Duration::from_secs(100);
/// The limit for a run that should fail: Telethon skips answers it cannot decrypt and
/// waits on, so a broken run ends only here.
const BROKEN_TIME: Duration = Duration::from_secs(30);
const PLAIN: [u8; 16] = *b"telethon-plain!!";
const PADDED: [u8; 16] = *b"telethon-padded!";
/// Alice's chat with the two documents: message 5 a 2.5 MB PDF on DC 2 (her home DC),
/// message 4 a 10 MiB video on DC 4.
const CHAT: &str = "demo_news";
const FILES: [(i32, i64, i32); 2] = [(5, 78_002, 2), (4, 78_001, 4)];

/// A localdc with the demo world, serving both secrets on every DC port.
struct Setup {
    server: RunningServer,
    world: Arc<World>,
    session: String,
    dir: PathBuf,
}

impl Setup {
    async fn start(padding: PaddingStyle, name: &str) -> Self {
        let fixture = Fixture::from_json(include_str!("../../fixtures/demo.json")).unwrap();
        let world = Arc::new(World::from_fixture(fixture).unwrap());
        let mut registry = Registry::with_defaults();
        localdc::world::register(&mut registry, Arc::clone(&world));
        let config = Config {
            mtproxy_secrets: vec![ProxySecret::Plain(PLAIN), ProxySecret::Padded(PADDED)],
            padding,
            ..Config::default()
        };
        let server = Server::start_with(config, registry).await.unwrap();
        let minted = mint_session(&server, &world, "15550001", None).unwrap();
        assert_eq!(minted.dc, 2);
        let dir = std::env::temp_dir().join(format!(
            "localdc-telethon-mtproxy-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("server_pub.pem"), server.public_key_pem()).unwrap();
        Self {
            server,
            world,
            session: minted.string_session,
            dir,
        }
    }

    /// `msg=sha256` for each of `files`.
    fn expected(&self, files: &[(i32, i64, i32)]) -> Vec<String> {
        files
            .iter()
            .map(|(msg, media, dc)| {
                let key = FileKey::document(*media);
                assert_eq!(self.world.file(&key).unwrap().dc, *dc);
                format!(
                    "{msg}={}",
                    hex::encode(self.world.file_sha256(&key).unwrap())
                )
            })
            .collect()
    }

    /// Runs the script through the proxy on DC 1's port (Telethon asks for the DC it wants
    /// in each connection's header), with `secret` as Telethon takes it (hex) and its
    /// connection class `codec`.
    async fn telethon(
        &self,
        python: &Path,
        secret: &ProxySecret,
        codec: &str,
        files: &[(i32, i64, i32)],
        limit: Duration,
    ) -> Output {
        let proxy = self.server.addr(1).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/telethon_mtproxy.py");
        let child = Command::new(python)
            .arg(&script)
            .arg(self.dir.join("server_pub.pem"))
            .arg(&self.session)
            .arg(CHAT)
            .arg(proxy.ip().to_string())
            .arg(proxy.port().to_string())
            .arg(&*secret.to_hex())
            .arg(codec)
            .arg(limit.as_secs().to_string())
            .args(self.expected(files))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        tokio::time::timeout(limit + Duration::from_secs(20), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("the Telethon script outlived its own limit"))
            .unwrap()
    }

    async fn finish(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        self.server.shutdown().await;
    }
}

/// Telethon succeeded and printed each of `files` with the fixture's hash.
fn assert_downloaded(output: &Output, files: &[(i32, i64, i32)], expected: &[String], label: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{label}: Telethon failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stdout.contains("logged in as user"), "{label}: {stdout}");
    for ((msg, _, dc), want) in files.iter().zip(expected) {
        let sha = want.split_once('=').unwrap().1;
        let line = format!("message {msg}: dc={dc} ");
        assert!(stdout.contains(&line), "{label}: no '{line}' in:\n{stdout}");
        assert!(
            stdout.contains(&format!("sha256={sha}")),
            "{label}: {stdout}"
        );
    }
    assert!(stdout.contains("all downloads ok"), "{label}: {stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_downloads_through_plain_and_dd_secrets() {
    let python = venv::python().await;
    let setup = Setup::start(PaddingStyle::Deployed, "ok").await;
    // The plain secret fetches the home DC's file, the dd one both (the second through a
    // connection whose header asks for DC 4), to keep the run short in a debug build.
    let cases = [
        (
            ProxySecret::Plain(PLAIN),
            "ConnectionTcpMTProxyIntermediate",
            &FILES[..1],
        ),
        (
            ProxySecret::Padded(PADDED),
            "ConnectionTcpMTProxyRandomizedIntermediate",
            &FILES[..],
        ),
    ];
    for (secret, codec, files) in cases {
        let output = setup
            .telethon(&python, &secret, codec, files, SCRIPT_TIME)
            .await;
        println!("{}", String::from_utf8_lossy(&output.stdout));
        assert_downloaded(&output, files, &setup.expected(files), codec);
    }
    // Each file went out whole (the home DC's twice), from the DC that stores it.
    for (copies, (_, media, dc)) in [2, 1].into_iter().zip(FILES) {
        let key = FileKey::document(media);
        let size = setup.world.file(&key).unwrap().size;
        assert!(setup.world.served_bytes(&key) >= copies * size, "{media}");
        assert!(
            setup
                .world
                .served_log()
                .iter()
                .filter(|r| r.key == key)
                .all(|r| r.dc == dc && !r.cdn)
        );
    }
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telethon_dd_breaks_when_answers_carry_up_to_15_padding_bytes() {
    let python = venv::python().await;
    let setup = Setup::start(PaddingStyle::FullRange, "full-range").await;
    let output = setup
        .telethon(
            &python,
            &ProxySecret::Padded(PADDED),
            "ConnectionTcpMTProxyRandomizedIntermediate",
            &FILES[..1],
            BROKEN_TIME,
        )
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "Telethon coped with 0-15 bytes of padding:\n{stdout}"
    );
    // It fails decrypting an answer whose leftover padding it took for message bytes: the
    // ciphertext is no longer whole AES blocks (cryptg asserts on it), or the msg_key check
    // fails.
    assert!(
        stderr.contains("size % 16 == 0") || stderr.contains("Security error while unpacking"),
        "Telethon failed for another reason:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    setup.finish().await;
}
