//! One live connection under the sender: a reader task feeding a channel, and the writer.

use std::pin::Pin;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::NetError;
use crate::connect::{Endpoint, connect};
use crate::framed::{Incoming, PacketReader, PacketWriter};

/// How many received packets may wait for the sender task before the reader pauses.
const INCOMING_QUEUE: usize = 64;

/// A connection whose incoming side is a channel, so the sender can wait on it alongside
/// its other events without cancelling a read half-way.
pub(super) struct Connection {
    pub(super) incoming: mpsc::Receiver<Result<Incoming, NetError>>,
    pub(super) writer: PacketWriter,
    /// Index into the configured endpoints.
    pub(super) endpoint: usize,
    reader: JoinHandle<()>,
}

impl Connection {
    pub(super) fn new(reader: PacketReader, writer: PacketWriter, endpoint: usize) -> Self {
        let (tx, incoming) = mpsc::channel(INCOMING_QUEUE);
        let reader = tokio::spawn(read_loop(reader, tx));
        Self {
            incoming,
            writer,
            endpoint,
            reader,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_loop(mut reader: PacketReader, tx: mpsc::Sender<Result<Incoming, NetError>>) {
    loop {
        let item = reader.recv().await;
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            return;
        }
    }
}

/// A connection's halves and the index of the endpoint they reach.
pub(super) type Opened = (usize, PacketReader, PacketWriter);

/// How the sender task opens a replacement connection: over the network, or (in tests)
/// through in-memory pipes, so that paused time drives the whole task deterministically.
pub(super) trait Dial: Send + Sync + 'static {
    fn dial<'a>(
        &'a self,
        endpoints: &'a [Endpoint],
        preferred: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Opened, NetError>> + Send + 'a>>;
}

/// Dials the configured endpoints for real.
pub(super) struct Network;

impl Dial for Network {
    fn dial<'a>(
        &'a self,
        endpoints: &'a [Endpoint],
        preferred: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Opened, NetError>> + Send + 'a>> {
        Box::pin(async move {
            let (index, reader, writer, ()) =
                connect_any(endpoints, preferred, |r, w| async move { Ok((r, w, ())) }).await?;
            Ok((index, reader, writer))
        })
    }
}

/// Opens the first endpoint that works, starting with `preferred`, and returns its index
/// with its halves; `establish` (e.g. a handshake) must succeed too for an endpoint to count.
pub(super) async fn connect_any<T, F, Fut>(
    endpoints: &[Endpoint],
    preferred: usize,
    mut establish: F,
) -> Result<(usize, PacketReader, PacketWriter, T), NetError>
where
    F: FnMut(PacketReader, PacketWriter) -> Fut,
    Fut: Future<Output = Result<(PacketReader, PacketWriter, T), NetError>>,
{
    let order = (0..endpoints.len())
        .map(|i| (preferred + i) % endpoints.len().max(1))
        .collect::<Vec<_>>();
    let mut last = NetError::InvalidEndpoint("no endpoint configured");
    for index in order {
        let Some(endpoint) = endpoints.get(index) else {
            continue;
        };
        let attempt = async {
            let (reader, writer) = connect(endpoint).await?;
            establish(reader, writer).await
        };
        match attempt.await {
            Ok((reader, writer, value)) => return Ok((index, reader, writer, value)),
            Err(error) => {
                tracing::info!(
                    address = %endpoint.address,
                    transport = ?endpoint.transport,
                    carrier = ?endpoint.carrier,
                    %error,
                    "endpoint failed, trying the next"
                );
                // An endpoint that cannot work here must not hide why the others failed:
                // the caller decides from that error whether to try again.
                if !matches!(error, NetError::InvalidEndpoint(_))
                    || matches!(last, NetError::InvalidEndpoint(_))
                {
                    last = error;
                }
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::connect::Carrier;
    use mtproto::transport::ProxySecret;

    /// A refused TCP endpoint and an invalid one (HTTP through an MTProxy): the refusal is
    /// what the caller hears, whatever the order.
    #[tokio::test]
    async fn an_invalid_endpoint_does_not_hide_a_refusal() {
        // A port nobody listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = Endpoint::new(std::net::SocketAddr::from(([127, 0, 0, 1], port)), 2);
        let invalid =
            refused
                .clone()
                .with_carrier(Carrier::http())
                .with_proxy(crate::Proxy::mtproxy(
                    refused.address.clone(),
                    ProxySecret::Plain([7; 16]),
                ));
        for endpoints in [
            vec![refused.clone(), invalid.clone()],
            vec![invalid.clone(), refused.clone()],
        ] {
            let error = connect_any(&endpoints, 0, |r, w| async move { Ok((r, w, ())) })
                .await
                .err()
                .unwrap();
            assert!(matches!(error, NetError::Io(_)), "{error}");
        }
    }
}
