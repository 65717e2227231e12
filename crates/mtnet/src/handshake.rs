//! Driving the auth-key handshake state machines over a packet stream.
//!
//! Each handshake body travels as a plain message (`auth_key_id = 0`) in its own packet; the
//! whole exchange runs under one timeout.

use std::time::Duration;

use mtcrypto::CryptoRngCore;
use mtproto::handshake::{
    ClientHandshake, ClientStep, HandshakeOutcome, ServerHandshake, ServerStep,
};
use mtproto::plain::{decode_plain, encode_plain};

use crate::NetError;
use crate::clock::unix_secs;
use crate::framed::{PacketReader, PacketWriter};
use crate::msg_id::PlainMsgIds;

/// Default limit on a whole handshake. It takes three round trips and a few milliseconds of
/// big-number arithmetic per side.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the client side, `req_pq_multi` to `dh_gen_ok`, within `limit`.
///
/// A transport error from the server (e.g. -404, -444) is [`NetError::Transport`]; quick
/// acks are ignored. The arithmetic runs on the calling task: a few milliseconds.
pub async fn client_handshake<R: CryptoRngCore + Send>(
    reader: &mut PacketReader,
    writer: &mut PacketWriter,
    handshake: ClientHandshake,
    rng: &mut R,
    limit: Duration,
) -> Result<HandshakeOutcome, NetError> {
    tokio::time::timeout(limit, run_client(reader, writer, handshake, rng))
        .await
        .map_err(|_| NetError::timeout("auth-key handshake", limit))?
}

async fn run_client<R: CryptoRngCore + Send>(
    reader: &mut PacketReader,
    writer: &mut PacketWriter,
    mut handshake: ClientHandshake,
    rng: &mut R,
) -> Result<HandshakeOutcome, NetError> {
    let mut ids = PlainMsgIds::client();
    let mut body = handshake.start(rng)?;
    loop {
        send_plain(writer, ids.next_id(), &body).await?;
        let packet = reader.recv_packet().await?;
        let message = decode_plain(&packet)?;
        match handshake.handle(message.body, rng)? {
            ClientStep::Send(next) => body = next,
            ClientStep::Done(outcome) => return Ok(*outcome),
        }
    }
}

/// Runs the server side until `dh_gen_ok` is sent, within `limit`.
///
/// `key_id_taken` says whether an auth key id is already in use (the client is then asked to
/// retry). The server clock is the system clock.
pub async fn server_handshake<R: CryptoRngCore + Send>(
    reader: &mut PacketReader,
    writer: &mut PacketWriter,
    handshake: ServerHandshake,
    key_id_taken: &(dyn Fn(u64) -> bool + Sync),
    rng: &mut R,
    limit: Duration,
) -> Result<HandshakeOutcome, NetError> {
    tokio::time::timeout(
        limit,
        run_server(reader, writer, handshake, key_id_taken, rng),
    )
    .await
    .map_err(|_| NetError::timeout("auth-key handshake", limit))?
}

async fn run_server<R: CryptoRngCore + Send>(
    reader: &mut PacketReader,
    writer: &mut PacketWriter,
    mut handshake: ServerHandshake,
    key_id_taken: &(dyn Fn(u64) -> bool + Sync),
    rng: &mut R,
) -> Result<HandshakeOutcome, NetError> {
    let mut ids = PlainMsgIds::server();
    loop {
        let packet = reader.recv_packet().await?;
        let message = decode_plain(&packet)?;
        match handshake.handle(message.body, unix_secs(), key_id_taken, rng)? {
            ServerStep::Reply(reply) => send_plain(writer, ids.next_id(), &reply).await?,
            ServerStep::Done { reply, outcome } => {
                send_plain(writer, ids.next_id(), &reply).await?;
                return Ok(*outcome);
            }
        }
    }
}

async fn send_plain(writer: &mut PacketWriter, msg_id: i64, body: &[u8]) -> Result<(), NetError> {
    let mut packet = Vec::with_capacity(20 + body.len());
    encode_plain(msg_id, body, &mut packet);
    writer.send(&packet).await
}
