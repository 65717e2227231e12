//! Opening the TCP connection: directly, through a SOCKS5 proxy, or to an MTProxy.

use tokio::net::TcpStream;
use tokio_socks::tcp::Socks5Stream;

use super::endpoint::{Address, Proxy, Socks5Proxy};
use crate::NetError;

/// A TCP connection to `target`, through `proxy` if given. The proxy resolves host names
/// itself, so a name never leaks to the local resolver when a proxy is configured. An
/// MTProxy is connected to instead of `target` (the obfuscation header names the DC).
pub(crate) async fn dial(target: &Address, proxy: Option<&Proxy>) -> Result<TcpStream, NetError> {
    let stream = match proxy {
        None => tcp(target).await?,
        Some(Proxy::Socks5(socks)) => via_socks5(socks, target).await?,
        Some(Proxy::MtProxy { address, .. }) => tcp(address).await?,
    };
    // MTProto traffic is request/response: small packets must not wait for Nagle.
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn tcp(address: &Address) -> Result<TcpStream, NetError> {
    Ok(match address {
        Address::Socket(addr) => TcpStream::connect(addr).await?,
        Address::Host { host, port } => TcpStream::connect((host.as_str(), *port)).await?,
    })
}

async fn via_socks5(proxy: &Socks5Proxy, target: &Address) -> Result<TcpStream, NetError> {
    let socket = tcp(&proxy.address).await?;
    let stream = match (&proxy.credentials, target) {
        (None, Address::Socket(addr)) => Socks5Stream::connect_with_socket(socket, *addr).await?,
        (None, Address::Host { host, port }) => {
            Socks5Stream::connect_with_socket(socket, (host.as_str(), *port)).await?
        }
        (Some((user, pass)), Address::Socket(addr)) => {
            Socks5Stream::connect_with_password_and_socket(socket, *addr, user, pass).await?
        }
        (Some((user, pass)), Address::Host { host, port }) => {
            Socks5Stream::connect_with_password_and_socket(
                socket,
                (host.as_str(), *port),
                user,
                pass,
            )
            .await?
        }
    };
    // After the SOCKS5 exchange the proxy relays bytes untouched: keep the bare socket.
    Ok(stream.into_inner())
}
