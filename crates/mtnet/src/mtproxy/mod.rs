//! MTProxy, the client side: reaching a DC through a proxy that knows a secret.
//!
//! The TCP connection goes to the proxy instead of the DC. The stream is always obfuscated
//! ([`Obfuscation::client`](mtproto::transport::Obfuscation::client)): the 64-byte header
//! names the DC to reach (bytes 60..62) and both directions' keys are
//! `SHA256(key ++ secret)`, so only a proxy with the secret can read it. The proxy opens the
//! header with each of its secrets, then relays the stream to the DC. By secret form
//! ([`ProxySecret`]):
//!
//! - plain (16 bytes): any obfuscatable framing;
//! - `dd` + 16 bytes: padded intermediate, whatever the endpoint asks for (the random
//!   padding blurs packet lengths, and such proxies accept nothing else);
//! - `ee` + 16 bytes + domain: first a fake TLS handshake posing as TLS 1.3 to that domain
//!   ([`client_handshake`], facts in [`mtproto::transport::fake_tls`]), then the obfuscated
//!   stream inside TLS application-data records ([`FakeTlsStream`]), the header at the start
//!   of the first; padded intermediate again, as TDLib uses and MTProxy requires there.
//!
//! Set up with [`Proxy::MtProxy`](crate::Proxy::MtProxy) on an [`Endpoint`] and opened by
//! [`connect`](crate::connect()); the server side is [`accept`](crate::accept()) with secrets
//! configured.

mod client;
mod stream;

pub use client::client_handshake;
pub(crate) use client::unix_now;
pub use stream::FakeTlsStream;

use mtproto::transport::{ProxySecret, TransportKind};
use tokio::net::TcpStream;

use crate::NetError;
use crate::connect::Endpoint;
use crate::framed::{Framing, PacketReader, PacketWriter};
use crate::rng::secure_rng;

/// The framing used through a proxy with `secret` when `requested` is asked for: padded
/// intermediate for `dd` and `ee` secrets, `requested` otherwise.
pub fn transport_for(secret: &ProxySecret, requested: TransportKind) -> TransportKind {
    secret.required_transport().unwrap_or(requested)
}

/// Opens the packet stream to `endpoint`'s DC over `tcp`, a connection to the proxy, and
/// sends the obfuscation header.
pub(crate) async fn open(
    tcp: TcpStream,
    endpoint: &Endpoint,
    secret: &ProxySecret,
) -> Result<(PacketReader, PacketWriter), NetError> {
    let kind = transport_for(secret, endpoint.transport);
    let framing = Framing::client_obfuscated(
        kind,
        endpoint.dc_id,
        Some(secret.key()),
        endpoint.max_packet,
        &mut secure_rng()?,
    )?;
    let (reader, mut writer) = match secret {
        ProxySecret::FakeTls { key, domain } => {
            framing.split(client_handshake(tcp, key, domain).await?)
        }
        ProxySecret::Plain(_) | ProxySecret::Padded(_) => framing.split_tcp(tcp),
    };
    writer.flush_preamble().await?;
    Ok((reader, writer))
}
