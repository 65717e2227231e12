#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! localdc as an MTProxy front, on loopback sockets: a client connects to DC 1's port with
//! a plain, `dd` or fake-TLS `ee` secret, asks for DC 2 in its obfuscation header, makes an
//! auth key and calls `help.getConfig` there; wrong secrets, a `dd` secret with another
//! framing, tampered and stale ClientHellos and unknown DCs are refused; clients without a
//! secret are served as before on the same port; the binary takes `--mtproxy-secret`.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Client, Conn, Received, STEP, with_init};
use localdc::{Config, ReadyInfo, RunningServer, Server};
use mtcrypto::RsaPublicKey;
use mtnet::{Endpoint, NetError, Proxy};
use mtproto::transport::fake_tls::{ClientHello, Progress, check_server_hello, server_hello_len};
use mtproto::transport::{PaddingStyle, ProxySecret, TransportKind};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tl_types::api::functions::help::GetConfig;
use tl_types::api::{enums, types};
use tl_types::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEST_TIME: Duration = Duration::from_mins(2);
const PLAIN: [u8; 16] = *b"plain-secret-key";
const PADDED: [u8; 16] = *b"padded-secretkey";
const TLS: [u8; 16] = *b"fake-tls-secret!";
const DOMAIN: &str = "www.example.org";

fn fake_tls(key: [u8; 16]) -> ProxySecret {
    ProxySecret::FakeTls {
        key,
        domain: DOMAIN.into(),
    }
}

async fn start() -> (RunningServer, RsaPublicKey) {
    start_padding(PaddingStyle::default()).await
}

async fn start_padding(padding: PaddingStyle) -> (RunningServer, RsaPublicKey) {
    let config = Config {
        dcs: 3,
        mtproxy_secrets: vec![
            ProxySecret::Plain(PLAIN),
            ProxySecret::Padded(PADDED),
            fake_tls(TLS),
        ],
        padding,
        ..Config::default()
    };
    let server = Server::start(config).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    (server, key)
}

/// Connects to the MTProxy at `proxy` with `secret`, asking for DC `dc` in the header.
async fn via_proxy(
    proxy: SocketAddr,
    secret: ProxySecret,
    kind: TransportKind,
    dc: i16,
) -> Result<Conn, NetError> {
    let endpoint = Endpoint::new(proxy, dc)
        .with_transport(kind)
        .with_proxy(Proxy::mtproxy(proxy, secret));
    let (reader, writer) = tokio::time::timeout(STEP, mtnet::connect(&endpoint))
        .await
        .expect("connect timed out")?;
    Ok(Conn {
        reader,
        writer,
        rng: StdRng::from_entropy(),
    })
}

async fn this_dc(client: &mut Client) -> i32 {
    let bytes = client
        .call(with_init(GetConfig {}.to_bytes()))
        .await
        .unwrap();
    let enums::Config::Config(config) = enums::Config::from_bytes(&bytes).unwrap();
    let config: types::Config = *config;
    config.this_dc
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_config_through_every_secret_form() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let proxy = server.addr(1).unwrap();
        let cases = [
            (ProxySecret::Plain(PLAIN), TransportKind::Abridged),
            (ProxySecret::Plain(PLAIN), TransportKind::Intermediate),
            // Padded intermediate is forced whatever is asked for.
            (ProxySecret::Padded(PADDED), TransportKind::Abridged),
            (fake_tls(TLS), TransportKind::Intermediate),
            (fake_tls(TLS), TransportKind::PaddedIntermediate),
        ];
        for (round, (secret, kind)) in cases.into_iter().enumerate() {
            let label = format!("{secret:?} {kind:?}");
            let mut conn = via_proxy(proxy, secret, kind, 2).await.unwrap();
            let keyed = conn.handshake(&key, 2).await;
            let mut client = Client::new(conn, &keyed);
            assert_eq!(this_dc(&mut client).await, 2, "{label}");
            // The key was made on DC 2, the DC the header named, not on the proxy's DC 1.
            assert_eq!(server.dc(2).unwrap().keys().len(), round + 1, "{label}");
            assert_eq!(server.dc(1).unwrap().keys().len(), 0, "{label}");
        }
        // A media DC id (negative) reaches the same DC.
        let mut conn = via_proxy(
            proxy,
            ProxySecret::Plain(PLAIN),
            TransportKind::Intermediate,
            -3,
        )
        .await
        .unwrap();
        let keyed = conn.handshake(&key, -3).await;
        assert_eq!(this_dc(&mut Client::new(conn, &keyed)).await, 3);

        // Clients without a secret are still served by the DC whose port they reached.
        for obfuscated in [false, true] {
            let (mut client, _) =
                Client::open(proxy, &key, 1, TransportKind::Intermediate, obfuscated).await;
            assert_eq!(this_dc(&mut client).await, 1);
        }
        server.shutdown().await;
    })
    .await
    .unwrap();
}

/// The connection is refused: either `connect` fails (fake TLS) or the handshake's first
/// request finds the connection closed.
async fn assert_refused(
    proxy: SocketAddr,
    key: &RsaPublicKey,
    secret: ProxySecret,
    kind: TransportKind,
) {
    let label = format!("{secret:?} {kind:?}");
    let Ok(mut conn) = via_proxy(proxy, secret, kind, 2).await else {
        return;
    };
    let outcome = tokio::time::timeout(STEP, conn.try_handshake(key, 2))
        .await
        .expect("a refused client was left waiting");
    assert!(
        outcome.is_err(),
        "{label}: the proxy served a client it should refuse"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_and_a_dd_secret_without_padding_refused() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let proxy = server.addr(1).unwrap();
        let wrong = *b"not-the-secret!!";
        assert_refused(
            proxy,
            &key,
            ProxySecret::Plain(wrong),
            TransportKind::Intermediate,
        )
        .await;
        assert_refused(
            proxy,
            &key,
            ProxySecret::Padded(wrong),
            TransportKind::Intermediate,
        )
        .await;
        assert_refused(proxy, &key, fake_tls(wrong), TransportKind::Intermediate).await;
        // The dd secret's key with framings other than padded intermediate.
        for kind in [TransportKind::Abridged, TransportKind::Intermediate] {
            assert_refused(proxy, &key, ProxySecret::Plain(PADDED), kind).await;
        }
        // The ee secret's key without the TLS handshake.
        assert_refused(
            proxy,
            &key,
            ProxySecret::Plain(TLS),
            TransportKind::Intermediate,
        )
        .await;
        // The ee secret's key with another domain in the ClientHello.
        let other_domain = ProxySecret::FakeTls {
            key: TLS,
            domain: "other.example.org".into(),
        };
        assert_refused(proxy, &key, other_domain, TransportKind::Intermediate).await;
        assert_eq!(server.dc(2).unwrap().keys().len(), 0);

        // A DC that does not exist: transport error -444.
        let mut conn = via_proxy(
            proxy,
            ProxySecret::Plain(PLAIN),
            TransportKind::Intermediate,
            9,
        )
        .await
        .unwrap();
        conn.send(&[0; 40]).await;
        assert_eq!(conn.recv().await, Received::TransportError(-444));
        server.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tgdls_client_reads_answers_padded_over_the_whole_range() {
    tokio::time::timeout(TEST_TIME, async {
        // Telegram pads at most 3 bytes, but the documentation allows 15: tgdl's client
        // must cope with both, through dd and ee secrets.
        let (server, key) = start_padding(PaddingStyle::FullRange).await;
        let proxy = server.addr(1).unwrap();
        for secret in [ProxySecret::Padded(PADDED), fake_tls(TLS)] {
            let mut conn = via_proxy(proxy, secret, TransportKind::PaddedIntermediate, 2)
                .await
                .unwrap();
            let keyed = conn.handshake(&key, 2).await;
            let mut client = Client::new(conn, &keyed);
            // Enough answers that every padding length 0..=15 almost surely occurs.
            for _ in 0..40 {
                assert_eq!(this_dc(&mut client).await, 2);
            }
        }
        server.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_fake_tls_only_padded_intermediate_is_served() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, key) = start().await;
        let proxy = server.addr(1).unwrap();
        let mut rng = StdRng::from_entropy();
        // A correct TLS handshake, then a header asking for plain intermediate inside: the
        // official MTProxy refuses that ("Expected random padding mode"), and so does localdc.
        for kind in [
            TransportKind::Intermediate,
            TransportKind::PaddedIntermediate,
        ] {
            let tcp = TcpStream::connect(proxy).await.unwrap();
            let stream = mtnet::mtproxy::client_handshake(tcp, &TLS, DOMAIN)
                .await
                .unwrap();
            let framing =
                mtnet::Framing::client_obfuscated(kind, 2, Some(&TLS), 1 << 20, &mut rng).unwrap();
            let (reader, mut writer) = framing.split(stream);
            writer.flush_preamble().await.unwrap();
            let mut conn = Conn {
                reader,
                writer,
                rng: StdRng::from_entropy(),
            };
            let outcome = tokio::time::timeout(STEP, conn.try_handshake(&key, 2))
                .await
                .expect("a refused client was left waiting");
            assert_eq!(
                outcome.is_ok(),
                kind == TransportKind::PaddedIntermediate,
                "{kind:?}"
            );
        }
        server.shutdown().await;
    })
    .await
    .unwrap();
}

/// Sends `hello` on a fresh connection to `addr` and returns what the server answered
/// before closing (or, if it kept the connection open, what it had sent after 5 s).
async fn answer_to(addr: SocketAddr, hello: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return answer,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&chunk[..n]);
                if let Ok(Progress::Complete { .. }) = server_hello_len(&answer) {
                    return answer;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_stale_client_hellos_get_no_answer() {
    tokio::time::timeout(TEST_TIME, async {
        let (server, _) = start().await;
        let proxy = server.addr(1).unwrap();
        let mut rng = StdRng::from_entropy();

        // Control: a good hello gets an answer carrying the secret's digest, in the current
        // clients' shape (about 1.7 KB) and in the older 517-byte one alike.
        let good = ClientHello::new(&TLS, DOMAIN, now(), &mut rng).unwrap();
        assert!(good.bytes.len() > 1700);
        let answer = answer_to(proxy, &good.bytes).await;
        assert_eq!(check_server_hello(&answer, &TLS, &good.random), Ok(()));
        let legacy = ClientHello::legacy(&TLS, DOMAIN, now(), &mut rng).unwrap();
        assert_eq!(legacy.bytes.len(), 517);
        let answer = answer_to(proxy, &legacy.bytes).await;
        assert_eq!(check_server_hello(&answer, &TLS, &legacy.random), Ok(()));

        // One bit changed in the session id (covered by the digest), or in the digest.
        for at in [60, 20] {
            let mut tampered = ClientHello::new(&TLS, DOMAIN, now(), &mut rng)
                .unwrap()
                .bytes;
            tampered[at] ^= 0x04;
            assert!(answer_to(proxy, &tampered).await.is_empty(), "byte {at}");
        }
        // Stamped outside the ±120 s window, either way.
        for skew in [-3600i64, -150, 150] {
            let time = (i64::from(now()) + skew) as u32;
            let stale = ClientHello::new(&TLS, DOMAIN, time, &mut rng).unwrap();
            assert!(
                answer_to(proxy, &stale.bytes).await.is_empty(),
                "skew {skew}"
            );
        }
        // Within the window: answered.
        let slightly_off = ClientHello::new(&TLS, DOMAIN, now() - 60, &mut rng).unwrap();
        assert!(!answer_to(proxy, &slightly_off.bytes).await.is_empty());
        server.shutdown().await;
    })
    .await
    .unwrap();
}

/// Waits for the ready file `child` writes.
async fn wait_ready(child: &mut tokio::process::Child, ready: &Path) -> ReadyInfo {
    loop {
        if let Ok(text) = std::fs::read_to_string(ready) {
            return serde_json::from_str(&text).unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("localdc exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_takes_mtproxy_secrets() {
    tokio::time::timeout(TEST_TIME, async {
        let dir = std::env::temp_dir().join(format!("localdc-mtproxy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ready = dir.join("ready.json");
        let ee = fake_tls(TLS).to_hex().to_string();
        let dd = ProxySecret::Padded(PADDED).to_hex().to_string();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_localdc"))
            .args(["--port-base", "0", "--dcs", "2"])
            .args(["--mtproxy-secret", &ee, "--mtproxy-secret", &dd])
            .arg("--ready-file")
            .arg(&ready)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let info = wait_ready(&mut child, &ready).await;
        let key = RsaPublicKey::from_pem(&info.rsa_public_key_pem).unwrap();
        let proxy = SocketAddr::new(info.dcs[0].host.parse().unwrap(), info.dcs[0].port);
        for secret in [fake_tls(TLS), ProxySecret::Padded(PADDED)] {
            let mut conn = via_proxy(proxy, secret, TransportKind::Intermediate, 2)
                .await
                .unwrap();
            let keyed = conn.handshake(&key, 2).await;
            assert_eq!(this_dc(&mut Client::new(conn, &keyed)).await, 2);
        }
        child.kill().await.unwrap();

        let output = localdc_output(&["--port-base", "0", "--mtproxy-secret", "ee00"]).await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--mtproxy-secret"), "{stderr}");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}

async fn localdc_output(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_localdc"))
        .args(args)
        .output()
        .await
        .unwrap()
}
