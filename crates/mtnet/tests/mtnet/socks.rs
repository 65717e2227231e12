//! Connecting through a real SOCKS5 server (fast-socks5) run in the test, with and without
//! username/password authentication.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{DC_ID, HANDSHAKE_LIMIT, bounded, client_handshake, listen, payload, rng};
use fast_socks5::Socks5Command;
use fast_socks5::server::{DnsResolveHelper as _, Socks5ServerProtocol, run_tcp_proxy};
use mtnet::{
    AcceptConfig, Accepted, Address, Carrier, Endpoint, Incoming, NetError, Proxy, Socks5Proxy,
    accept, connect,
};
use mtproto::transport::TransportKind;
use tokio::net::TcpStream;

const USER: &str = "tgdl";
const PASSWORD: &str = "correct horse";

/// Runs a SOCKS5 server on a loopback port: CONNECT only, with password authentication if
/// `password` is set.
async fn socks_server(password: bool) -> SocketAddr {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = serve(socket, password).await;
            });
        }
    });
    addr
}

async fn serve(
    socket: TcpStream,
    password: bool,
) -> Result<(), fast_socks5::server::SocksServerError> {
    let proto = if password {
        Socks5ServerProtocol::accept_password_auth(socket, |user, pass| {
            user == USER && pass == PASSWORD
        })
        .await?
        .0
    } else {
        Socks5ServerProtocol::accept_no_auth(socket).await?
    };
    let (proto, command, target) = proto.read_command().await?.resolve_dns().await?;
    assert!(matches!(command, Socks5Command::TCPConnect));
    run_tcp_proxy(proto, &target, Duration::from_secs(10), true).await?;
    Ok(())
}

/// An echo server behind the proxy that also runs the server handshake.
async fn target_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let (listener, addr) = listen().await;
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let Accepted::Packets {
            mut reader,
            mut writer,
            ..
        } = accept(tcp, &AcceptConfig::default()).await.unwrap()
        else {
            panic!("expected packets");
        };
        mtnet::server_handshake(
            &mut reader,
            &mut writer,
            common::server_handshake(),
            &|_| false,
            &mut rng(),
            HANDSHAKE_LIMIT,
        )
        .await
        .unwrap();
        loop {
            match reader.recv().await {
                Ok(Incoming::Packet(p)) => writer.send(&p).await.unwrap(),
                Err(NetError::Closed) => return,
                other => panic!("unexpected {other:?}"),
            }
        }
    });
    (addr, handle)
}

async fn through_proxy(
    proxy: Socks5Proxy,
    target: impl FnOnce(SocketAddr) -> Address,
    carrier: Carrier,
) {
    let (addr, server) = target_server().await;
    let endpoint = Endpoint::new(target(addr), DC_ID)
        .with_transport(TransportKind::Intermediate)
        .with_obfuscation(true)
        .with_carrier(carrier)
        .with_proxy(Proxy::Socks5(proxy));
    let (mut reader, mut writer) = connect(&endpoint).await.unwrap();
    mtnet::client_handshake(
        &mut reader,
        &mut writer,
        client_handshake(),
        &mut rng(),
        HANDSHAKE_LIMIT,
    )
    .await
    .unwrap();
    for (index, size) in [4, 1000, 1 << 20].into_iter().enumerate() {
        writer.send(&payload(size, index)).await.unwrap();
        assert_eq!(
            common::expect_packet(&mut reader).await,
            payload(size, index)
        );
    }
    writer.shutdown().await.unwrap();
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_without_authentication() {
    bounded(async {
        let proxy = socks_server(false).await;
        through_proxy(Socks5Proxy::new(proxy), Address::Socket, Carrier::Tcp).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_with_password_and_a_host_name() {
    bounded(async {
        let proxy = socks_server(true).await;
        // The target goes to the proxy as a name, resolved there.
        through_proxy(
            Socks5Proxy::with_password(proxy, USER, PASSWORD),
            |addr| Address::host("127.0.0.1", addr.port()),
            Carrier::Tcp,
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_carrying_a_websocket() {
    bounded(async {
        let proxy = socks_server(true).await;
        through_proxy(
            Socks5Proxy::with_password(proxy, USER, PASSWORD),
            Address::Socket,
            Carrier::websocket(),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn socks5_wrong_password_is_a_socks_error() {
    bounded(async {
        let proxy = socks_server(true).await;
        let (_listener, addr) = listen().await;
        let endpoint = Endpoint::new(addr, DC_ID).with_proxy(Proxy::Socks5(
            Socks5Proxy::with_password(proxy, USER, "wrong"),
        ));
        let err = connect(&endpoint).await.unwrap_err();
        assert!(matches!(err, NetError::Socks(_)), "{err}");
    })
    .await;
}
