//! How the server checks what a client sends, answering as Telegram does:
//!
//! - msg_id not ≡ 0 mod 4: `bad_msg_notification` 18;
//! - msg_id more than 300 s in the past: 16; more than 30 s in the future: 17;
//! - msg_id seen before: ignored (the stored answer goes again if the client has not
//!   acknowledged it); below the window of remembered ids: 20;
//! - salt not accepted by the [`SaltSchedule`] now: `bad_server_salt` with the current salt;
//! - seq_no parity: 35 for an even seq_no on an API call, 34 for an odd one on an
//!   acknowledgment or container; service messages on which clients differ pass either way;
//! - seq_no order against the closest remembered messages (containers left out): 32 when a
//!   message with a lower msg_id has a higher seq_no (or the same odd one), 33 when one with
//!   a higher msg_id has a lower seq_no (or the same odd one). A gap is not an error: lost
//!   messages make gaps, and resent messages get new numbers;
//! - a malformed container: 64.
//!
//! A container's checks apply to the whole packet; then each inner message is checked on its
//! own, and only the ones that fail are refused.

use std::time::Duration;

use tl_types::Serialize;
use tl_types::mtproto::types;

use super::container;
use super::error::SessionError;
use super::incoming;
use super::msg_id::{MsgIdKind, msg_id_from_time};
use super::salt_schedule::SaltSchedule;
use super::seen::Seen;
use super::seq_no::{Relatedness, classify};
use super::server::{Outgoing, ServerEvent, ServerSession};
use super::server_quirks::{FirstMsgId, NewSessionNotice};
use super::service;
use super::time::UnixTime;
use crate::encrypted::MessageHeader;

/// How old a client msg_id may be.
pub const MAX_MSG_ID_PAST: Duration = Duration::from_mins(5);
/// How far ahead of the server's clock a client msg_id may be.
pub const MAX_MSG_ID_FUTURE: Duration = Duration::from_secs(30);

enum Verdict {
    Accept,
    Duplicate,
    Refuse(i32),
}

impl ServerSession {
    pub(super) fn receive(
        &mut self,
        header: MessageHeader,
        body: &[u8],
        salts: &SaltSchedule,
        now: UnixTime,
    ) -> Result<Vec<ServerEvent>, SessionError> {
        let outer = header.msg_id;
        let is_container = container::is_container(body);
        match self.check_msg_id(outer, now) {
            Verdict::Accept => {}
            Verdict::Duplicate => {
                if !is_container {
                    self.on_duplicate(outer);
                }
                return Ok(Vec::new());
            }
            Verdict::Refuse(code) => {
                self.notify(outer, header.seq_no, code);
                return Ok(Vec::new());
            }
        }
        if !salts.accepts(header.salt, now) {
            let bad = types::BadServerSalt {
                bad_msg_id: outer,
                bad_msg_seqno: header.seq_no,
                error_code: 48,
                new_server_salt: salts.current(now),
            };
            self.push_urgent(Outgoing::reply(bad.to_bytes(), false));
            return Ok(Vec::new());
        }
        if is_container && header.seq_no & 1 == 1 {
            self.notify(outer, header.seq_no, 34);
            return Ok(Vec::new());
        }
        let messages = match incoming::unpack(outer, header.seq_no, body) {
            Err(SessionError::Container(_)) => {
                self.notify(outer, header.seq_no, 64);
                return Ok(Vec::new());
            }
            unpacked => unpacked?,
        };
        let parsed = messages
            .iter()
            .map(|m| service::parse(&m.body))
            .collect::<Result<Vec<_>, _>>()?;

        // Everything parsed: from here on the session changes.
        self.prune_seen(now);
        if is_container {
            self.seen.insert_container(outer);
        }
        let mut accepted = Vec::with_capacity(messages.len());
        for (message, parsed) in messages.iter().zip(parsed) {
            match self.check_msg_id(message.msg_id, now) {
                Verdict::Accept => {}
                Verdict::Duplicate => {
                    self.on_duplicate(message.msg_id);
                    continue;
                }
                Verdict::Refuse(code) => {
                    self.notify(message.msg_id, message.seq_no, code);
                    continue;
                }
            }
            if let Some(code) =
                self.check_seq_no(message.msg_id, message.seq_no, message.constructor())
            {
                self.notify(message.msg_id, message.seq_no, code);
                continue;
            }
            self.seen.insert(message.msg_id, message.seq_no);
            accepted.push((message, parsed));
        }

        let mut events = Vec::new();
        if !self.created
            && let Some(first_message) = accepted.iter().map(|(m, _)| m.msg_id).min()
        {
            self.created = true;
            let first_msg_id = match self.quirks.first_msg_id {
                FirstMsgId::Container if is_container => outer,
                _ => first_message,
            };
            let created = types::NewSessionCreated {
                first_msg_id,
                unique_id: self.unique_id,
                server_salt: salts.current(now),
            };
            let notice = Outgoing {
                body: created.to_bytes(),
                content_related: true,
                kind: MsgIdKind::ServerInitiated,
                answers: None,
                fixed: None,
            };
            match self.quirks.new_session {
                // Sent on the server's own initiative, ahead of everything else.
                NewSessionNotice::First => self.urgent.push_front(notice),
                NewSessionNotice::AfterFirstAnswer => self.held_notice = Some(notice),
                NewSessionNotice::Never => {}
            }
            events.push(ServerEvent::SessionCreated { first_msg_id });
        }
        for (message, parsed) in accepted {
            self.dispatch(message, parsed, salts, now, &mut events);
        }
        Ok(events)
    }

    fn check_msg_id(&self, msg_id: i64, now: UnixTime) -> Verdict {
        if msg_id & 3 != 0 {
            return Verdict::Refuse(18);
        }
        let oldest = msg_id_from_time(now.saturating_sub(MAX_MSG_ID_PAST));
        let newest = msg_id_from_time(now + MAX_MSG_ID_FUTURE);
        if msg_id < oldest {
            return Verdict::Refuse(16);
        }
        if msg_id > newest {
            return Verdict::Refuse(17);
        }
        match self.seen.check(msg_id) {
            Seen::New => Verdict::Accept,
            Seen::Duplicate => Verdict::Duplicate,
            Seen::Forgotten => Verdict::Refuse(20),
        }
    }

    fn check_seq_no(&self, msg_id: i64, seq_no: i32, constructor: u32) -> Option<i32> {
        let odd = seq_no & 1 == 1;
        match classify(constructor) {
            Relatedness::Content if !odd => return Some(35),
            Relatedness::Service if odd => return Some(34),
            _ => {}
        }
        if let Some((_, before)) = self.seen.before(msg_id)
            && (before > seq_no || (before == seq_no && odd))
        {
            return Some(32);
        }
        if let Some((_, after)) = self.seen.after(msg_id)
            && (after < seq_no || (after == seq_no && odd))
        {
            return Some(33);
        }
        None
    }

    /// A message seen before: if we answered it and the answer is not acknowledged, the
    /// answer goes again (the client may have lost it); otherwise nothing.
    fn on_duplicate(&mut self, msg_id: i64) {
        if let Some(answer) = self.answers.get(&msg_id).copied()
            && let Some(stored) = self.forget_stored(answer)
        {
            self.resend_stored(answer, stored);
        }
    }

    fn notify(&mut self, bad_msg_id: i64, bad_msg_seqno: i32, error_code: i32) {
        let bad = types::BadMsgNotification {
            bad_msg_id,
            bad_msg_seqno,
            error_code,
        };
        self.push_urgent(Outgoing::reply(bad.to_bytes(), false));
    }

    /// Forgets ids old enough to be refused for their time anyway.
    fn prune_seen(&mut self, now: UnixTime) {
        let oldest = msg_id_from_time(now.saturating_sub(MAX_MSG_ID_PAST));
        if self.seen.lowest().is_some_and(|lowest| lowest < oldest) {
            self.seen.prune_below(oldest);
        }
    }
}
