//! What the client does with each message the server sends.
//!
//! `bad_msg_notification` codes, and the reaction to each:
//! - 16, 17 (msg_id too low / too high): the clock is corrected from the notification's own
//!   msg_id (the server's clock), then the message goes again with a new msg_id. Like 32
//!   and 33, only about a message we remember sending.
//! - 32, 33 (seq_no too low / too high): the numbering of this session is broken beyond
//!   repair, so a new session id is taken at the next transmit (as TDLib does) and every
//!   unanswered request goes again in it; seq_no starts over from 0.
//! - 48 (bad salt, as `bad_server_salt`): the new salt is adopted, the message goes again.
//! - 64 (invalid container): the container's messages go again, each on its own.
//! - 18, 19, 20, 34, 35 and 48 without a salt: the message goes again with a new msg_id.
//! - anything else: the request is given up ([`ClientEvent::Rejected`]).
//!
//! A message is resent at most [`MAX_RESENDS`] times for bad_msg reasons, then rejected.

use tl_types::mtproto::types;
use tl_types::{Deserialize, Identifiable, Serialize};

use super::client::{ClientEvent, ClientSession, MAX_PENDING_ACKS, MAX_RESENDS, RequestId};
use super::error::SessionError;
use super::incoming::{Received, constructor};
use super::rpc::{RpcError, decode_result_within};
use super::seen::Seen;
use super::service::{self, Service};
use super::time::UnixTime;

/// Whether a message refused with `bad_msg_notification` code `code` may be accepted when
/// sent again (with a new msg_id, seq_no, session or salt): true for every code but the
/// ones this session cannot fix. A request refused with such a code after
/// [`MAX_RESENDS`] tries may still go through later, as a new call.
pub fn resending_helps(code: i32) -> bool {
    matches!(code, 16 | 17 | 18 | 19 | 20 | 32 | 33 | 34 | 35 | 48 | 64)
}

/// Service messages of our own waiting to be sent, at most.
const MAX_SERVICE_QUEUE: usize = 1024;

/// A received message, checked and decoded, before anything in the session changes.
#[derive(Debug)]
pub(super) enum Parsed<'a> {
    Answer {
        req_msg_id: i64,
        result: Result<Vec<u8>, RpcError>,
    },
    Service(Service<'a>),
}

/// Reads a message without touching the session, so that a packet with any bad message
/// changes nothing. Gzipped results expand to at most `budget` bytes in all.
pub(super) fn parse<'a>(
    message: &'a Received<'_>,
    budget: &mut usize,
) -> Result<Parsed<'a>, SessionError> {
    Ok(match service::parse(&message.body)? {
        Service::RpcResult { req_msg_id, result } => Parsed::Answer {
            req_msg_id,
            // A result that cannot be unpacked (a gzip bomb, a broken rpc_error) still
            // answers its request, as the raw object its caller will fail to decode: the
            // request ends in an error now instead of waiting for an answer never accepted.
            result: decode_result_within(result, budget).unwrap_or_else(|_| Ok(result.to_vec())),
        },
        other => Parsed::Service(other),
    })
}

impl ClientSession {
    pub(super) fn dispatch(
        &mut self,
        message: &Received<'_>,
        parsed: Parsed<'_>,
        now: UnixTime,
        events: &mut Vec<ClientEvent>,
    ) {
        let service = match parsed {
            Parsed::Answer { req_msg_id, result } => {
                if let Ok(object) = &result {
                    self.learn_salts(object);
                }
                self.resolve(req_msg_id, result, events);
                return;
            }
            Parsed::Service(service) => service,
        };
        match service {
            Service::Other => events.push(ClientEvent::Update(message.body.to_vec())),
            Service::BadSalt(bad) => {
                self.salt = bad.new_server_salt;
                // Announced salts may predate whatever made the server change its mind.
                self.future_salts.clear();
                self.resend(bad.bad_msg_id, bad.error_code, events);
            }
            Service::BadMsg(bad) => self.bad_msg(&bad, message.msg_id, now, events),
            Service::NewSession(created) => {
                self.salt = created.server_salt;
                // The server never saw what we sent before `first_msg_id` in this session.
                // Servers differ on whether that id names the first message of the packet
                // that opened the session or the packet itself (its container, whose id is
                // above its messages'): a request counts as unseen only when the message
                // that carried it is older, which is right under both readings. Comparing
                // the request's own id sent the requests of that first container twice.
                let lost: Vec<_> = self
                    .requests
                    .iter()
                    .filter(|(_, r)| r.sent.is_some_and(|s| s.carrier < created.first_msg_id))
                    .map(|(id, _)| *id)
                    .collect();
                for id in lost {
                    self.requeue(id);
                }
                events.push(ClientEvent::NewSession {
                    first_msg_id: created.first_msg_id,
                    unique_id: created.unique_id,
                });
            }
            Service::Ack(ids) => {
                for msg_id in ids {
                    self.mark_acked(msg_id);
                }
            }
            Service::Pong(pong) => self.resolve(pong.msg_id, Ok(message.body.to_vec()), events),
            Service::FutureSalts(salts) => {
                self.future_salts.replace(&salts.salts);
                self.resolve(salts.req_msg_id, Ok(message.body.to_vec()), events);
            }
            Service::DetailedInfo(info) => {
                self.mark_acked(info.msg_id);
                self.answer_info(info.answer_msg_id);
            }
            Service::NewDetailedInfo(info) => self.answer_info(info.answer_msg_id),
            Service::StateReq(ids) => {
                let info = ids.iter().map(|id| self.seen.state_of(*id)).collect();
                let reply = types::MsgsStateInfo {
                    req_msg_id: message.msg_id,
                    info,
                };
                self.push_service(reply.to_bytes());
            }
            Service::ResendReq(ids) => {
                for msg_id in ids {
                    if let Some(id) = self.current_request(msg_id) {
                        self.requeue(id);
                    }
                }
            }
            Service::StateInfo(info) => self.learn_states(&info, events),
            // Handled above, statuses we never asked for, and client-to-server messages a
            // server has no business sending.
            Service::RpcResult { .. }
            | Service::Info
            | Service::Ping(_)
            | Service::PingDelayDisconnect(_)
            | Service::GetFutureSalts(_)
            | Service::DestroySession(_)
            | Service::RpcDropAnswer(_)
            | Service::HttpWait(_) => {}
        }
    }

    fn bad_msg(
        &mut self,
        bad: &types::BadMsgNotification,
        notification_msg_id: i64,
        now: UnixTime,
        events: &mut Vec<ClientEvent>,
    ) {
        match bad.error_code {
            // About a message we never sent (or one long forgotten): nothing to fix.
            16 | 17 | 32 | 33 if !self.is_ours(bad.bad_msg_id) => {}
            16 | 17 => {
                self.ids.correct_from_msg_id(notification_msg_id, now);
                self.resend(bad.bad_msg_id, bad.error_code, events);
            }
            32 | 33 => {
                let refused = self.requests_in(bad.bad_msg_id);
                self.start_new_session(&refused, events);
            }
            code if resending_helps(code) => {
                self.resend(bad.bad_msg_id, bad.error_code, events);
            }
            code => {
                for id in self.requests_in(bad.bad_msg_id) {
                    self.reject(id, code, events);
                }
            }
        }
    }

    /// Sends again what went out as `msg_id`: a request, our own service message, or each
    /// message of a container (alone after code 64).
    fn resend(&mut self, msg_id: i64, code: i32, events: &mut Vec<ClientEvent>) {
        let inner = self
            .containers
            .remove(&msg_id)
            .unwrap_or_else(|| vec![msg_id]);
        for msg_id in inner {
            if let Some(body) = self.sent_service.remove(&msg_id) {
                self.resend_service(body);
                continue;
            }
            let Some(id) = self.current_request(msg_id) else {
                continue;
            };
            let Some(request) = self.requests.get_mut(&id) else {
                continue;
            };
            request.resends += 1;
            if request.resends > MAX_RESENDS {
                self.reject(id, code, events);
                continue;
            }
            request.alone |= code == 64;
            self.requeue(id);
        }
    }

    fn resend_service(&mut self, body: Vec<u8>) {
        if constructor(&body) == types::MsgsAck::CONSTRUCTOR_ID {
            // Merged into the next acknowledgment rather than sent as it was, and due at
            // once: they waited long enough already.
            if let Ok(ack) = types::MsgsAck::from_bytes(&body) {
                self.pending_acks.extend(ack.msg_ids);
                self.pending_acks.truncate(MAX_PENDING_ACKS);
                self.flush_acks();
            }
        } else {
            self.push_service(body);
        }
    }

    /// Queues a service message of our own; a server that keeps asking for them faster
    /// than we send gets no more than [`MAX_SERVICE_QUEUE`] waiting.
    pub(super) fn push_service(&mut self, body: Vec<u8>) {
        if self.service_queue.len() < MAX_SERVICE_QUEUE {
            self.service_queue.push_back(body);
        }
    }

    /// Whether `msg_id` is a message we sent and still remember.
    fn is_ours(&self, msg_id: i64) -> bool {
        self.by_msg_id.contains_key(&msg_id)
            || self.containers.contains_key(&msg_id)
            || self.sent_service.contains_key(&msg_id)
    }

    /// The requests that went out as `msg_id` (itself or the contents of a container).
    fn requests_in(&self, msg_id: i64) -> Vec<RequestId> {
        self.containers
            .get(&msg_id)
            .map_or_else(|| vec![msg_id], Clone::clone)
            .into_iter()
            .filter_map(|id| self.current_request(id))
            .collect()
    }

    /// The request whose latest copy went out as `msg_id`; `None` for an earlier copy that
    /// was already resent.
    fn current_request(&self, msg_id: i64) -> Option<RequestId> {
        let id = *self.by_msg_id.get(&msg_id)?;
        let request = self.requests.get(&id)?;
        request
            .sent
            .is_some_and(|sent| sent.msg_id == msg_id)
            .then_some(id)
    }

    fn reject(&mut self, id: RequestId, error_code: i32, events: &mut Vec<ClientEvent>) {
        if let Some(request) = self.forget(id)
            && !request.silent
        {
            events.push(ClientEvent::Rejected { id, error_code });
        }
    }

    fn resolve(
        &mut self,
        req_msg_id: i64,
        result: Result<Vec<u8>, RpcError>,
        events: &mut Vec<ClientEvent>,
    ) {
        let Some(id) = self.by_msg_id.get(&req_msg_id).copied() else {
            // Answered already (through another copy) or cancelled.
            return;
        };
        if let Some(request) = self.forget(id)
            && !request.silent
        {
            events.push(ClientEvent::Response { id, result });
        }
    }

    fn mark_acked(&mut self, msg_id: i64) {
        if let Some(id) = self.by_msg_id.get(&msg_id)
            && let Some(request) = self.requests.get_mut(id)
            && let Some(sent) = request.sent.as_mut()
        {
            sent.acked = true;
        }
    }

    /// The server's answer to our `msgs_state_req` about at-most-once requests: one it does
    /// not have (2, 3) goes again; one it has (4) waits for its answer; for 1 (nothing known:
    /// too old, or from before the server's session began) it waits on, as a
    /// `new_session_created` that comes later may still say the server never saw it, and
    /// the timeout gives it up; a status that makes no sense gives it up at once.
    fn learn_states(&mut self, info: &types::MsgsStateInfo, events: &mut Vec<ClientEvent>) {
        let Some(query) = self.sent_service.get(&info.req_msg_id) else {
            return;
        };
        let Ok(query) = types::MsgsStateReq::from_bytes(query) else {
            return;
        };
        for (msg_id, status) in query.msg_ids.iter().zip(&info.info) {
            let Some(id) = self.current_request(*msg_id) else {
                continue;
            };
            if self
                .requests
                .get(&id)
                .is_none_or(|r| r.state_asked.is_none())
            {
                continue;
            }
            match status & 7 {
                2 | 3 => self.requeue(id),
                4 => {
                    if let Some(request) = self.requests.get_mut(&id) {
                        request.state_asked = None;
                    }
                }
                1 => {}
                _ => self.give_up_uncertain(id, events),
            }
        }
    }

    /// `msg_detailed_info` names an answer: acknowledge it if we have it, ask for it if not.
    fn answer_info(&mut self, answer_msg_id: i64) {
        if self.seen.check(answer_msg_id) == Seen::New {
            let resend = types::MsgResendReq {
                msg_ids: vec![answer_msg_id],
            };
            self.push_service(resend.to_bytes());
        } else {
            self.queue_ack(answer_msg_id);
        }
    }

    /// A result that is `future_salts` (when the server wraps it in `rpc_result`).
    fn learn_salts(&mut self, object: &[u8]) {
        if constructor(object) == types::FutureSalts::CONSTRUCTOR_ID
            && let Ok(salts) = types::FutureSalts::from_bytes(object)
        {
            self.future_salts.replace(&salts.salts);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use tl_types::wire;

    use super::*;
    use crate::session::gzip;

    #[test]
    fn an_undecodable_result_still_answers_its_request() {
        let bomb = gzip::pack(&vec![0; gzip::MAX_UNPACKED + 4]).unwrap_or_default();
        let mut broken_error = types::RpcError::CONSTRUCTOR_ID.to_le_bytes().to_vec();
        broken_error.extend_from_slice(&400i32.to_le_bytes());
        broken_error.push(200); // a string length with nothing after it
        broken_error.extend_from_slice(&[0; 3]);
        for object in [bomb, broken_error] {
            let mut body = Vec::new();
            wire::write_u32(&mut body, 0xf35c_6d01); // rpc_result
            body.extend_from_slice(&77i64.to_le_bytes());
            body.extend_from_slice(&object);
            let message = Received {
                msg_id: 1,
                seq_no: 1,
                body: Cow::Owned(body),
            };
            let mut budget = gzip::MAX_UNPACKED;
            match parse(&message, &mut budget) {
                Ok(Parsed::Answer { req_msg_id, result }) => {
                    assert_eq!(req_msg_id, 77);
                    assert_eq!(result, Ok(object));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
