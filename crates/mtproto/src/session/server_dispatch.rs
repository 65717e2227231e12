//! What the server does with each accepted client message: service messages are answered
//! here, everything else goes to the application.

use std::time::Duration;

use tl_types::Serialize;
use tl_types::mtproto::{enums, types};

use super::incoming::Received;
use super::msg_id::MsgIdKind;
use super::rpc::write_rpc_result;
use super::salt_schedule::SaltSchedule;
use super::server::{Outgoing, ServerEvent, ServerSession};
use super::service::Service;
use super::time::UnixTime;

impl ServerSession {
    pub(super) fn dispatch(
        &mut self,
        message: &Received<'_>,
        service: Service<'_>,
        salts: &SaltSchedule,
        now: UnixTime,
        events: &mut Vec<ServerEvent>,
    ) {
        let msg_id = message.msg_id;
        // Whether the reply queued here acknowledges the message by itself.
        let mut answered = false;
        match service {
            Service::Other => {
                self.running.insert(msg_id, false);
                events.push(ServerEvent::Request {
                    msg_id,
                    body: message.body.to_vec(),
                });
            }
            Service::Ack(ids) => {
                for id in ids {
                    self.forget_stored(id);
                }
            }
            Service::Ping(ping) => {
                self.pong(msg_id, ping.ping_id);
                answered = true;
            }
            Service::PingDelayDisconnect(ping) => {
                self.pong(msg_id, ping.ping_id);
                let secs = u64::try_from(ping.disconnect_delay).unwrap_or(0);
                events.push(ServerEvent::DisconnectAfter {
                    delay: Duration::from_secs(secs),
                });
                answered = true;
            }
            Service::GetFutureSalts(get) => {
                let salts = types::FutureSalts {
                    req_msg_id: msg_id,
                    now: i32::try_from(now.as_secs()).unwrap_or(i32::MAX),
                    salts: salts.future_salts(now, usize::try_from(get.num).unwrap_or(1)),
                };
                self.normal.push_back(Outgoing {
                    body: salts.to_bytes(),
                    content_related: true,
                    kind: MsgIdKind::Response,
                    answers: Some(msg_id),
                    fixed: None,
                });
                answered = true;
            }
            Service::StateReq(_) if self.quirks.ignore_state_requests => {}
            Service::StateReq(ids) => {
                let info = types::MsgsStateInfo {
                    req_msg_id: msg_id,
                    info: ids.iter().map(|id| self.state_of(*id)).collect(),
                };
                self.push_urgent(Outgoing::reply(info.to_bytes(), false));
                answered = true;
            }
            Service::ResendReq(ids) => {
                for id in ids {
                    if let Some(stored) = self.forget_stored(id) {
                        self.resend_stored(id, stored);
                    }
                }
            }
            Service::DestroySession(destroy) => {
                self.running.insert(msg_id, false);
                events.push(ServerEvent::DestroySession {
                    msg_id,
                    session_id: destroy.session_id,
                });
            }
            Service::RpcDropAnswer(drop) => {
                let reply = self.drop_answer(drop.req_msg_id, events);
                let mut body = Vec::new();
                write_rpc_result(&mut body, msg_id, &reply.to_bytes());
                self.normal.push_back(Outgoing {
                    body,
                    content_related: true,
                    kind: MsgIdKind::Response,
                    answers: Some(msg_id),
                    fixed: None,
                });
                answered = true;
            }
            Service::HttpWait(wait) => events.push(ServerEvent::HttpWait {
                msg_id,
                max_delay: wait.max_delay,
                wait_after: wait.wait_after,
                max_wait: wait.max_wait,
            }),
            // Answers and notifications travel the other way; a client has no business
            // sending them, and statuses we never asked for need nothing.
            Service::RpcResult { .. }
            | Service::BadMsg(_)
            | Service::BadSalt(_)
            | Service::NewSession(_)
            | Service::Pong(_)
            | Service::FutureSalts(_)
            | Service::DetailedInfo(_)
            | Service::NewDetailedInfo(_)
            | Service::StateInfo(_)
            | Service::Info => {}
        }
        if message.seq_no & 1 == 1 && !answered {
            self.queue_ack(msg_id);
        }
    }

    /// `pong` is sent bare (its `msg_id` names the ping), ahead of everything else.
    fn pong(&mut self, ping_msg_id: i64, ping_id: i64) {
        let pong = types::Pong {
            msg_id: ping_msg_id,
            ping_id,
        };
        self.push_urgent(Outgoing::reply(pong.to_bytes(), false));
    }

    /// `rpc_drop_answer`: stop a running request, or take back an answer the client has not
    /// acknowledged.
    fn drop_answer(
        &mut self,
        req_msg_id: i64,
        events: &mut Vec<ServerEvent>,
    ) -> enums::RpcDropAnswer {
        if let Some(dropped) = self.running.get_mut(&req_msg_id) {
            if !*dropped {
                *dropped = true;
                events.push(ServerEvent::Cancelled { msg_id: req_msg_id });
            }
            return enums::RpcDropAnswer::RpcAnswerDroppedRunning;
        }
        let queued = self
            .normal
            .iter()
            .position(|out| out.answers == Some(req_msg_id) && out.fixed.is_none());
        if let Some(index) = queued {
            self.normal.remove(index);
            return enums::RpcDropAnswer::RpcAnswerDroppedRunning;
        }
        let sent = self.answers.get(&req_msg_id).copied();
        if let Some(answer) = sent
            && let Some(stored) = self.forget_stored(answer)
        {
            return types::RpcAnswerDropped {
                msg_id: answer,
                seq_no: stored.seq_no,
                bytes: i32::try_from(stored.body.len()).unwrap_or(i32::MAX),
            }
            .into();
        }
        enums::RpcDropAnswer::RpcAnswerUnknown
    }

    /// The `msgs_state_info` status of a client msg_id (+32 while its request runs).
    fn state_of(&self, msg_id: i64) -> u8 {
        let state = self.seen.state_of(msg_id);
        if self.running.contains_key(&msg_id) {
            state | 32
        } else {
            state
        }
    }
}
