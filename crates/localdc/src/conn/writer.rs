//! The writing side of a connection, as a task of its own so that a client that does not
//! read cannot stall the reading side. The byte and message fault budgets apply here.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::dc::DcState;
use crate::transport::{PacketWriter, TransportError};

/// What the connection asks its writer to send.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A plain (handshake) message.
    Plain(Vec<u8>),
    /// An encrypted message.
    Encrypted(Vec<u8>),
    /// A quick-ack token.
    QuickAck(u32),
    /// A transport error; the connection closes after it.
    TransportError(i32),
    /// HTTP: an empty answer to the held request.
    Empty,
    /// HTTP: an error status for a request that cannot be served; the connection closes
    /// after it.
    HttpError(u16),
}

/// Packets queued to the writer at most; the connection waits beyond (backpressure).
pub(crate) const QUEUE: usize = 64;

/// Why the writer stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriterEnd {
    /// The connection dropped its sender: everything queued went out.
    #[error("drained")]
    Drained,
    /// A transport error went out.
    #[error("sent a transport error")]
    SentError,
    /// A fault budget ran out: the connection must close now.
    #[error("fault injection: {0}")]
    Fault(&'static str),
    /// The socket failed.
    #[error("{0}")]
    Failed(TransportError),
}

/// Sends what comes in on `queue` until it closes or something breaks.
pub(crate) async fn run(
    dc: Arc<DcState>,
    mut writer: PacketWriter,
    mut queue: mpsc::Receiver<Outbound>,
) -> WriterEnd {
    let mut encrypted_sent: u64 = 0;
    let end = loop {
        let Some(outbound) = queue.recv().await else {
            break WriterEnd::Drained;
        };
        let budget = dc.faults.drop_after_bytes();
        let result = match outbound {
            Outbound::Plain(packet) => writer.send(&packet, budget).await,
            Outbound::Encrypted(packet) => {
                if dc
                    .faults
                    .drop_after_messages()
                    .is_some_and(|limit| encrypted_sent >= limit)
                {
                    break WriterEnd::Fault("message budget spent");
                }
                encrypted_sent += 1;
                writer.send(&packet, budget).await
            }
            Outbound::QuickAck(token) => writer.send_quick_ack(token, budget).await,
            Outbound::Empty => writer.send_empty().await,
            Outbound::HttpError(status) => {
                if let Err(error) = writer.send_http_error(status).await {
                    break WriterEnd::Failed(error);
                }
                break WriterEnd::SentError;
            }
            Outbound::TransportError(code) => {
                if let Err(error) = writer.send_transport_error(code).await {
                    break WriterEnd::Failed(error);
                }
                break WriterEnd::SentError;
            }
        };
        match result {
            Ok(()) => {}
            Err(TransportError::BudgetSpent) => break WriterEnd::Fault("byte budget spent"),
            Err(error) => break WriterEnd::Failed(error),
        }
        // The message budget closes right after the last allowed packet.
        if dc
            .faults
            .drop_after_messages()
            .is_some_and(|limit| encrypted_sent >= limit)
        {
            break WriterEnd::Fault("message budget spent");
        }
    };
    tracing::trace!(dc = dc.id, sent = writer.bytes_sent(), "writer done");
    writer.shutdown().await;
    end
}
