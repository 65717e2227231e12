//! The writing side of a connection, as a task of its own so that a client that does not
//! read cannot stall the reading side. The byte and message fault budgets apply here, and
//! so does WAN emulation ([`crate::wan`]): every server->client byte of every transport
//! passes through this task, so delays, bandwidth and drops are applied here once for all.

use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use mtproto::transport::TransportKind;

use crate::dc::DcState;
use crate::transport::{PacketWriter, TransportError, TransportInfo};
use crate::wan::shaper::Shaper;
use crate::wan::{ResetHandle, WanSettings};

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

impl Outbound {
    /// About the bytes it takes on the wire, for bandwidth shaping (framing headers count
    /// as 4 bytes; HTTP headers are not counted).
    fn wire_len(&self) -> u64 {
        match self {
            Outbound::Plain(packet) | Outbound::Encrypted(packet) => packet.len() as u64 + 4,
            Outbound::QuickAck(_) | Outbound::TransportError(_) => 4,
            Outbound::Empty | Outbound::HttpError(_) => 0,
        }
    }

    /// The auth key an encrypted packet is under (its first 8 bytes).
    fn key_id(&self) -> Option<u64> {
        match self {
            Outbound::Encrypted(packet) => mtproto::encrypted::auth_key_id(packet),
            _ => None,
        }
    }
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
    /// A fault budget ran out (or a random WAN drop came): the connection must close now.
    #[error("fault injection: {0}")]
    Fault(&'static str),
    /// The socket failed.
    #[error("{0}")]
    Failed(TransportError),
}

/// What [`WriterEnd::Fault`] says of a random WAN drop.
const WAN_DROP: &str = "random drop (WAN emulation)";

/// The socket side: writes frames and keeps the fault budgets.
struct Sink {
    dc: Arc<DcState>,
    writer: PacketWriter,
    encrypted_sent: u64,
    /// How the client connected (for cutting a frame by hand).
    info: TransportInfo,
    /// Frames written so far (the full transport numbers them).
    frames: u32,
    /// Stalled once: nothing goes out any more.
    mute: bool,
    /// The mid-frame generation this writer started under.
    mid_frame: u64,
}

impl Sink {
    /// Writes one frame; `Err` ends the writer.
    async fn write(&mut self, outbound: Outbound, raw: &ResetHandle) -> Result<(), WriterEnd> {
        let faults = &self.dc.faults;
        if self.mute || faults.stalled() {
            // Stall: read on, send nothing, ever again on this connection.
            self.mute = true;
            return Ok(());
        }
        if let Outbound::Plain(packet) | Outbound::Encrypted(packet) = &outbound
            && faults.mid_frame_generation() != self.mid_frame
        {
            let cut = cut_frame(&self.info, self.frames, packet);
            if let Err(error) = raw.write_raw(&cut) {
                tracing::debug!(%error, "could not write the cut frame");
            }
            return Err(WriterEnd::Fault("frame cut short"));
        }
        self.frames = self.frames.wrapping_add(1);
        let budget = faults.drop_after_bytes();
        let result = match outbound {
            Outbound::Plain(packet) => self.writer.send(&packet, budget).await,
            Outbound::Encrypted(packet) => {
                if faults
                    .drop_after_messages()
                    .is_some_and(|limit| self.encrypted_sent >= limit)
                {
                    return Err(WriterEnd::Fault("message budget spent"));
                }
                self.encrypted_sent += 1;
                self.writer.send(&packet, budget).await
            }
            Outbound::QuickAck(token) => self.writer.send_quick_ack(token, budget).await,
            Outbound::Empty => self.writer.send_empty().await,
            Outbound::HttpError(status) => {
                return Err(match self.writer.send_http_error(status).await {
                    Ok(()) => WriterEnd::SentError,
                    Err(error) => WriterEnd::Failed(error),
                });
            }
            Outbound::TransportError(code) => {
                return Err(match self.writer.send_transport_error(code).await {
                    Ok(()) => WriterEnd::SentError,
                    Err(error) => WriterEnd::Failed(error),
                });
            }
        };
        match result {
            Ok(()) => {}
            Err(TransportError::BudgetSpent) => return Err(WriterEnd::Fault("byte budget spent")),
            Err(error) => return Err(WriterEnd::Failed(error)),
        }
        // The message budget closes right after the last allowed packet.
        if faults
            .drop_after_messages()
            .is_some_and(|limit| self.encrypted_sent >= limit)
        {
            return Err(WriterEnd::Fault("message budget spent"));
        }
        Ok(())
    }
}

/// The first half of the frame that would carry `packet`, as the transport frames it (the
/// header announcing the whole length, then half the payload). Obfuscation is not applied.
fn cut_frame(info: &TransportInfo, seq: u32, packet: &[u8]) -> Vec<u8> {
    let half = packet.get(..packet.len() / 2).unwrap_or_default();
    let len = packet.len();
    let mut out = Vec::with_capacity(len / 2 + 128);
    if info.http {
        out.extend_from_slice(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {len}\r\nConnection: keep-alive\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(half);
        return out;
    }
    let mut frame = Vec::with_capacity(len + 16);
    let len32 = u32::try_from(len).unwrap_or(u32::MAX);
    match info.kind {
        TransportKind::Abridged if len / 4 < 0x7f => {
            frame.push(u8::try_from(len / 4).unwrap_or(0x7e));
        }
        TransportKind::Abridged => {
            frame.push(0x7f);
            frame.extend_from_slice(len32.div_ceil(4).to_le_bytes().get(..3).unwrap_or_default());
        }
        TransportKind::Intermediate | TransportKind::PaddedIntermediate => {
            frame.extend_from_slice(&len32.to_le_bytes());
        }
        TransportKind::Full => {
            frame.extend_from_slice(&len32.saturating_add(12).to_le_bytes());
            frame.extend_from_slice(&seq.to_le_bytes());
        }
    }
    frame.extend_from_slice(half);
    if info.websocket {
        // A binary WebSocket frame announcing the whole frame, cut the same way.
        let whole = len + (frame.len() - half.len());
        out.push(0x82);
        match whole {
            0..=125 => out.push(u8::try_from(whole).unwrap_or(125)),
            126..=0xffff => {
                out.push(126);
                out.extend_from_slice(&u16::try_from(whole).unwrap_or(u16::MAX).to_be_bytes());
            }
            _ => {
                out.push(127);
                out.extend_from_slice(&(whole as u64).to_be_bytes());
            }
        }
    }
    out.extend_from_slice(&frame);
    out
}

/// Resolves with the receiver once the WAN settings change (never if they cannot).
async fn wan_changed(mut settings: watch::Receiver<WanSettings>) -> watch::Receiver<WanSettings> {
    if settings.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    settings
}

/// Sends what comes in on `queue` until it closes or something breaks. `reset` makes a
/// WAN drop a reset rather than a clean close.
///
/// Without WAN settings each frame is written as it comes. With them, frames wait in the
/// shaper's delay line until due and are written then; the queue is read meanwhile, so a
/// frame's delay does not hold back the ones after it.
pub(crate) async fn run(
    dc: Arc<DcState>,
    writer: PacketWriter,
    info: TransportInfo,
    mut queue: mpsc::Receiver<Outbound>,
    reset: ResetHandle,
) -> WriterEnd {
    let wan_dc = Arc::clone(&dc);
    let wan = wan_dc.faults.wan();
    let mut shaper = Shaper::new(wan, dc.id);
    let mid_frame = dc.faults.mid_frame_generation();
    let mut sink = Sink {
        dc,
        writer,
        encrypted_sent: 0,
        info,
        frames: 0,
        mute: false,
        mid_frame,
    };
    // Timers are created here but only polled (and registered) once armed.
    let mut changes = pin!(wan_changed(wan.subscribe()));
    let mut due_timer = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
    let mut due_armed: Option<Instant> = None;
    let mut drop_timer = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
    let mut drop_armed: Option<Instant> = None;
    let mut closing = false;
    let end = 'writer: loop {
        let due = shaper.next_due();
        if due.is_none() && closing {
            break WriterEnd::Drained;
        }
        if due != due_armed {
            if let Some(at) = due {
                due_timer.as_mut().reset(at.into());
            }
            due_armed = due;
        }
        let drop_at = shaper.drop_at();
        if drop_at != drop_armed {
            if let Some(at) = drop_at {
                drop_timer.as_mut().reset(at.into());
            }
            drop_armed = drop_at;
        }
        // Biased: while frames come in, only the queue is polled, so the unshaped path
        // costs nothing beyond it; the settings watch is looked at when idle.
        tokio::select! {
            biased;
            () = &mut drop_timer, if drop_armed.is_some() => break WriterEnd::Fault(WAN_DROP),
            () = &mut due_timer, if due_armed.is_some() => {
                // Re-armed on the next turn for whatever is then first.
                due_armed = None;
                while let Some(outbound) = shaper.pop_due(Instant::now()) {
                    if let Err(end) = sink.write(outbound, &reset).await {
                        break 'writer end;
                    }
                }
            }
            received = queue.recv(), if !closing && shaper.accepting() => match received {
                None => closing = true,
                Some(outbound) => {
                    shaper.refresh();
                    if shaper.bypass() {
                        if let Err(end) = sink.write(outbound, &reset).await {
                            break end;
                        }
                    } else {
                        let bytes = outbound.wire_len();
                        let key_id = outbound.key_id();
                        shaper.push(Instant::now(), bytes, key_id, outbound);
                    }
                }
            },
            settings = &mut changes => {
                shaper.refresh();
                changes.set(wan_changed(settings));
            }
        }
    };
    tracing::trace!(dc = sink.dc.id, sent = sink.writer.bytes_sent(), %end, "writer done");
    if matches!(end, WriterEnd::Fault(WAN_DROP)) {
        // No clean shutdown: the socket is reset once the connection lets go of it.
        tracing::debug!(dc = sink.dc.id, "WAN emulation: dropping the connection");
        reset.arm();
    } else {
        sink.writer.shutdown().await;
    }
    end
}
