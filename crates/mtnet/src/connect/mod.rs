//! The client side: opening a packet stream to a DC as an [`Endpoint`] describes.
//!
//! TCP or WebSocket, plain or obfuscated, or HTTP ([`crate::http`]), directly or through
//! SOCKS5, or through an MTProxy ([`crate::mtproxy`]).

mod dial;
mod endpoint;
mod websocket;

pub use endpoint::{Address, Carrier, DEFAULT_CONNECT_TIMEOUT, Endpoint, Proxy, Socks5Proxy};

pub(crate) use dial::dial;

use crate::NetError;
use crate::framed::{Framing, PacketReader, PacketWriter};
use crate::rng::secure_rng;

/// Opens a connection to `endpoint` and returns its packet stream halves, client role.
///
/// Everything up to and including sending the preamble (init tag or obfuscation header)
/// happens within the endpoint's connect timeout, so the server can identify the transport
/// before the first packet.
pub async fn connect(endpoint: &Endpoint) -> Result<(PacketReader, PacketWriter), NetError> {
    endpoint.validate()?;
    let limit = endpoint.connect_timeout;
    let (reader, writer) = tokio::time::timeout(limit, open(endpoint))
        .await
        .map_err(|_| NetError::timeout("connect", limit))??;
    tracing::debug!(
        address = %endpoint.address,
        transport = ?endpoint.transport,
        obfuscated = endpoint.is_obfuscated(),
        carrier = ?endpoint.carrier,
        "connected"
    );
    Ok((reader, writer))
}

async fn open(endpoint: &Endpoint) -> Result<(PacketReader, PacketWriter), NetError> {
    if let Some(Proxy::MtProxy { secret, .. }) = &endpoint.proxy {
        let tcp = dial::dial(&endpoint.address, endpoint.proxy.as_ref()).await?;
        return crate::mtproxy::open(tcp, endpoint, secret).await;
    }
    let framing = framing(endpoint)?;
    let tcp = dial::dial(&endpoint.address, endpoint.proxy.as_ref()).await?;
    let (reader, mut writer) = match &endpoint.carrier {
        Carrier::Tcp => framing.split_tcp(tcp),
        Carrier::WebSocket { path } => {
            let ws = websocket::upgrade(tcp, &endpoint.address, path, endpoint.max_packet).await?;
            framing.split(ws)
        }
        // The first connection of the carrier's pool.
        Carrier::Http { path } => return Ok(crate::http::open(tcp, endpoint, path)),
    };
    writer.flush_preamble().await?;
    Ok((reader, writer))
}

fn framing(endpoint: &Endpoint) -> Result<Framing, NetError> {
    if endpoint.is_obfuscated() {
        Framing::client_obfuscated(
            endpoint.transport,
            endpoint.dc_id,
            None,
            endpoint.max_packet,
            &mut secure_rng()?,
        )
    } else {
        Ok(Framing::client(endpoint.transport, endpoint.max_packet))
    }
}
