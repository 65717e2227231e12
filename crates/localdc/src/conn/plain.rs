//! auth_key_id 0: the auth-key handshake, one [`ServerHandshake`] per connection at a time.

use mtproto::handshake::{ServerHandshake, ServerStep};
use mtproto::plain::{decode_plain, encode_plain};
use mtproto::session::MsgIdKind;
use std::sync::Arc;

use super::writer::Outbound;
use super::{Connection, End, MAX_HANDSHAKES_PER_CONNECTION};

impl Connection {
    pub(super) async fn on_plain(&mut self, payload: &[u8]) -> Result<(), End> {
        let message = decode_plain(payload).map_err(|e| End::BadPacket(e.to_string()))?;
        if self.handshake.is_none() {
            if self.handshakes >= MAX_HANDSHAKES_PER_CONNECTION {
                return Err(End::TooManyHandshakes);
            }
            self.handshakes += 1;
            let handshake = ServerHandshake::new(Arc::clone(&self.dc.rsa), self.dc.dh.clone());
            self.handshake = Some((handshake, mtnet::clock::now()));
        }
        let now = self.dc.faults.now();
        let now_secs = i32::try_from(now.as_secs()).unwrap_or(i32::MAX);
        let step = {
            let Some((handshake, _)) = &mut self.handshake else {
                return Err(End::BadPacket("handshake vanished".into()));
            };
            let keys = &self.dc.keys;
            handshake.handle(
                message.body,
                now_secs,
                &|id| keys.contains(id),
                &mut self.rng,
            )
        };
        let reply = match step {
            Ok(ServerStep::Reply(reply)) => reply,
            Ok(ServerStep::Done { reply, outcome }) => {
                self.handshake = None;
                let key_id = outcome.auth_key.key_id();
                let stored = self.dc.keys.insert_key(
                    outcome.auth_key,
                    now,
                    outcome.expires_in,
                    // A quirk: the handshake's salt refused, so the first message meets
                    // bad_server_salt (servers may change salts whenever they like).
                    (!self.dc.faults.quirks().refuses_initial_salt(key_id))
                        .then_some(outcome.server_salt),
                    &mut self.rng,
                );
                if stored.is_none() {
                    // Another connection stored the same key id in the meantime.
                    return Err(End::BadPacket(
                        "auth key id taken during the handshake".into(),
                    ));
                }
                tracing::info!(key_id = %format_args!("{key_id:#018x}"),
                    dc_asked = ?outcome.dc_id, temporary = outcome.expires_in.is_some(),
                    "auth key created");
                reply
            }
            Err(error) => {
                self.handshake = None;
                return Err(End::Handshake(error));
            }
        };
        let mut packet = Vec::with_capacity(20 + reply.len());
        let msg_id = self.plain_ids.next(MsgIdKind::Response, now);
        encode_plain(msg_id, &reply, &mut packet);
        self.send(Outbound::Plain(packet)).await
    }
}
