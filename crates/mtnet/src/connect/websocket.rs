//! The client side of the WebSocket upgrade.

use tokio::net::TcpStream;
use tokio_tungstenite::client_async_with_config;
use tokio_tungstenite::tungstenite::ClientRequestBuilder;
use tokio_tungstenite::tungstenite::http::Uri;

use super::endpoint::Address;
use crate::NetError;
use crate::ws::{self, SUBPROTOCOL, WsStream};

/// Upgrades `tcp` to a WebSocket at `ws://address/path` with subprotocol `binary`.
pub(crate) async fn upgrade(
    tcp: TcpStream,
    address: &Address,
    path: &str,
    max_packet: usize,
) -> Result<WsStream<TcpStream>, NetError> {
    let uri: Uri = format!("ws://{address}{path}")
        .parse()
        .map_err(|_| NetError::InvalidEndpoint("address and path do not form a URL"))?;
    let request = ClientRequestBuilder::new(uri).with_sub_protocol(SUBPROTOCOL);
    let (stream, _response) =
        client_async_with_config(request, tcp, Some(ws::config_for(max_packet))).await?;
    Ok(WsStream::new(stream))
}
