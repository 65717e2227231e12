//! The MTProto service messages a session handles itself, read from a message body. Anything
//! else is for the application (an API call on the server, an update on the client).

use tl_types::mtproto::{functions, types};
use tl_types::{Deserialize, Identifiable};

use super::incoming::constructor;
use super::rpc::{RPC_RESULT_ID, read_rpc_result};

/// A message body, sorted out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Service<'a> {
    RpcResult {
        req_msg_id: i64,
        result: &'a [u8],
    },
    Ack(Vec<i64>),
    BadMsg(types::BadMsgNotification),
    BadSalt(types::BadServerSalt),
    NewSession(types::NewSessionCreated),
    Pong(types::Pong),
    FutureSalts(types::FutureSalts),
    DetailedInfo(types::MsgDetailedInfo),
    NewDetailedInfo(types::MsgNewDetailedInfo),
    StateReq(Vec<i64>),
    ResendReq(Vec<i64>),
    /// `msgs_state_info`: the answer to a `msgs_state_req`.
    StateInfo(types::MsgsStateInfo),
    /// `msgs_all_info`: an answer to a question we do not ask.
    Info,
    Ping(functions::Ping),
    PingDelayDisconnect(functions::PingDelayDisconnect),
    GetFutureSalts(functions::GetFutureSalts),
    DestroySession(functions::DestroySession),
    RpcDropAnswer(functions::RpcDropAnswer),
    HttpWait(types::HttpWait),
    /// Not a service message: the application's.
    Other,
}

/// Sorts out a body. A service message that does not parse exactly is an error; any other
/// constructor is [`Service::Other`] whatever follows it.
pub(crate) fn parse(body: &[u8]) -> Result<Service<'_>, tl_types::Error> {
    Ok(match constructor(body) {
        RPC_RESULT_ID => {
            let (req_msg_id, result) = read_rpc_result(body)?;
            Service::RpcResult { req_msg_id, result }
        }
        types::MsgsAck::CONSTRUCTOR_ID => Service::Ack(types::MsgsAck::from_bytes(body)?.msg_ids),
        types::BadMsgNotification::CONSTRUCTOR_ID => {
            Service::BadMsg(types::BadMsgNotification::from_bytes(body)?)
        }
        types::BadServerSalt::CONSTRUCTOR_ID => {
            Service::BadSalt(types::BadServerSalt::from_bytes(body)?)
        }
        types::NewSessionCreated::CONSTRUCTOR_ID => {
            Service::NewSession(types::NewSessionCreated::from_bytes(body)?)
        }
        types::Pong::CONSTRUCTOR_ID => Service::Pong(types::Pong::from_bytes(body)?),
        types::FutureSalts::CONSTRUCTOR_ID => {
            Service::FutureSalts(types::FutureSalts::from_bytes(body)?)
        }
        types::MsgDetailedInfo::CONSTRUCTOR_ID => {
            Service::DetailedInfo(types::MsgDetailedInfo::from_bytes(body)?)
        }
        types::MsgNewDetailedInfo::CONSTRUCTOR_ID => {
            Service::NewDetailedInfo(types::MsgNewDetailedInfo::from_bytes(body)?)
        }
        types::MsgsStateReq::CONSTRUCTOR_ID => {
            Service::StateReq(types::MsgsStateReq::from_bytes(body)?.msg_ids)
        }
        types::MsgResendReq::CONSTRUCTOR_ID => {
            Service::ResendReq(types::MsgResendReq::from_bytes(body)?.msg_ids)
        }
        types::MsgsStateInfo::CONSTRUCTOR_ID => {
            Service::StateInfo(types::MsgsStateInfo::from_bytes(body)?)
        }
        types::MsgsAllInfo::CONSTRUCTOR_ID => Service::Info,
        functions::Ping::CONSTRUCTOR_ID => Service::Ping(functions::Ping::from_bytes(body)?),
        functions::PingDelayDisconnect::CONSTRUCTOR_ID => {
            Service::PingDelayDisconnect(functions::PingDelayDisconnect::from_bytes(body)?)
        }
        functions::GetFutureSalts::CONSTRUCTOR_ID => {
            Service::GetFutureSalts(functions::GetFutureSalts::from_bytes(body)?)
        }
        functions::DestroySession::CONSTRUCTOR_ID => {
            Service::DestroySession(functions::DestroySession::from_bytes(body)?)
        }
        functions::RpcDropAnswer::CONSTRUCTOR_ID => {
            Service::RpcDropAnswer(functions::RpcDropAnswer::from_bytes(body)?)
        }
        types::HttpWait::CONSTRUCTOR_ID => Service::HttpWait(types::HttpWait::from_bytes(body)?),
        _ => Service::Other,
    })
}

/// A `msgs_ack` body.
pub(crate) fn ack_body(msg_ids: &[i64]) -> Vec<u8> {
    use tl_types::Serialize;
    types::MsgsAck {
        msg_ids: msg_ids.to_vec(),
    }
    .to_bytes()
}

/// The most ids one `msgs_ack`, `msgs_state_req` or `msg_resend_req` may carry.
pub(crate) const MAX_IDS: usize = 8192;

#[cfg(test)]
mod tests {
    use tl_types::Serialize;

    use super::*;
    use crate::session::rpc::write_rpc_result;

    #[test]
    fn sorts_service_messages() {
        let ack = ack_body(&[4, 8]);
        assert_eq!(parse(&ack).unwrap(), Service::Ack(vec![4, 8]));
        let ping = functions::Ping { ping_id: 7 }.to_bytes();
        assert_eq!(
            parse(&ping).unwrap(),
            Service::Ping(functions::Ping { ping_id: 7 })
        );
        let mut result = Vec::new();
        write_rpc_result(&mut result, 12, &[1, 2, 3, 4]);
        assert_eq!(
            parse(&result).unwrap(),
            Service::RpcResult {
                req_msg_id: 12,
                result: &[1, 2, 3, 4]
            }
        );
        assert_eq!(parse(&[9, 9, 9, 9, 1]).unwrap(), Service::Other);
        assert_eq!(parse(&[]).unwrap(), Service::Other);
    }

    #[test]
    fn malformed_service_messages_are_errors() {
        let ping = functions::Ping { ping_id: 7 }.to_bytes();
        assert!(parse(&ping[..8]).is_err());
        let mut long = ping.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(parse(&long).is_err());
        let salt = types::BadServerSalt {
            bad_msg_id: 1,
            bad_msg_seqno: 2,
            error_code: 48,
            new_server_salt: 3,
        }
        .to_bytes();
        assert!(parse(&salt[..salt.len() - 1]).is_err());
    }
}
