//! The server side of the WebSocket upgrade.

use tokio::net::TcpStream;
use tokio_tungstenite::accept_hdr_async_with_config;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::NetError;
use crate::prefixed::Prefixed;
use crate::ws::{self, SUBPROTOCOL, WsStream};

/// The stream a server-side WebSocket runs over: the TCP connection with the request head
/// that detection already read put back in front.
pub(crate) type ServerWsStream = WsStream<Prefixed<TcpStream>>;

/// Completes the upgrade whose request head (and possibly more) is in `head`, agreeing to
/// the `binary` subprotocol when the client offers it.
pub(crate) async fn upgrade(
    tcp: TcpStream,
    head: Vec<u8>,
    max_packet: usize,
) -> Result<ServerWsStream, NetError> {
    // The error type is tungstenite's, fixed by its callback signature.
    #[allow(clippy::result_large_err)]
    let agree_binary = |request: &Request, mut response: Response| {
        let offered = request
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|protocol| protocol.trim() == SUBPROTOCOL);
        if offered {
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
        }
        Ok(response)
    };
    let stream = accept_hdr_async_with_config(
        Prefixed::new(head, tcp),
        agree_binary,
        Some(ws::config_for(max_packet)),
    )
    .await?;
    Ok(WsStream::new(stream))
}
