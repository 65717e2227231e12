//! seq_no: `2 × (content-related messages sent before) + 1` for a content-related message,
//! `2 × (that count)` for any other, so that the receiver can tell which messages need an
//! acknowledgment and whether some are missing.

use tl_types::Identifiable;
use tl_types::mtproto::{functions, types};

use super::container::MSG_CONTAINER_ID;
use super::gzip::GZIP_PACKED_ID;
use super::rpc::RPC_RESULT_ID;

/// The seq_no counter of one direction of one session.
#[derive(Debug, Clone, Default)]
pub struct SeqNo {
    content_sent: i32,
}

impl SeqNo {
    /// The counter of a new session.
    pub fn new() -> Self {
        Self::default()
    }

    /// The seq_no of the next message; counts it when it is content-related.
    pub fn next(&mut self, content_related: bool) -> i32 {
        let base = self.content_sent.wrapping_mul(2);
        if content_related {
            self.content_sent = self.content_sent.wrapping_add(1);
            base.wrapping_add(1)
        } else {
            base
        }
    }

    /// How many content-related messages were numbered so far.
    pub fn content_sent(&self) -> i32 {
        self.content_sent
    }
}

/// What a receiver may expect of a message's seq_no parity, from its constructor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relatedness {
    /// Always content-related (odd seq_no): every API call and result.
    Content,
    /// Never content-related (even seq_no): acknowledgments and containers.
    Service,
    /// MTProto service messages on which implementations disagree (Telethon numbers every
    /// function as content-related and every type as not, the documentation says "virtually
    /// all except containers and acknowledgments"); a receiver accepts either parity.
    Either,
}

/// How a message with this constructor id is numbered, as far as a receiver can insist.
pub fn classify(constructor_id: u32) -> Relatedness {
    match constructor_id {
        types::MsgsAck::CONSTRUCTOR_ID | MSG_CONTAINER_ID => Relatedness::Service,
        id if SERVICE_IDS.contains(&id) => Relatedness::Either,
        _ => Relatedness::Content,
    }
}

/// Whether this side numbers a message with this body as content-related when it sends it.
/// Acknowledgments, containers, `http_wait` and the status replies that acknowledge by
/// themselves (`msgs_state_info`, `msgs_all_info`) are not; everything else is.
pub fn is_content_related(body: &[u8]) -> bool {
    let Some(id) = body.first_chunk::<4>().map(|b| u32::from_le_bytes(*b)) else {
        return true;
    };
    !matches!(
        id,
        types::MsgsAck::CONSTRUCTOR_ID
            | MSG_CONTAINER_ID
            | types::HttpWait::CONSTRUCTOR_ID
            | types::MsgsStateInfo::CONSTRUCTOR_ID
            | types::MsgsAllInfo::CONSTRUCTOR_ID
    )
}

/// Constructors of the MTProto service schema that may travel inside a session.
const SERVICE_IDS: [u32; 27] = [
    types::BadMsgNotification::CONSTRUCTOR_ID,
    types::BadServerSalt::CONSTRUCTOR_ID,
    types::MsgsStateReq::CONSTRUCTOR_ID,
    types::MsgsStateInfo::CONSTRUCTOR_ID,
    types::MsgsAllInfo::CONSTRUCTOR_ID,
    types::MsgDetailedInfo::CONSTRUCTOR_ID,
    types::MsgNewDetailedInfo::CONSTRUCTOR_ID,
    types::MsgResendReq::CONSTRUCTOR_ID,
    types::RpcError::CONSTRUCTOR_ID,
    types::RpcAnswerUnknown::CONSTRUCTOR_ID,
    types::RpcAnswerDroppedRunning::CONSTRUCTOR_ID,
    types::RpcAnswerDropped::CONSTRUCTOR_ID,
    types::FutureSalts::CONSTRUCTOR_ID,
    types::Pong::CONSTRUCTOR_ID,
    types::DestroySessionOk::CONSTRUCTOR_ID,
    types::DestroySessionNone::CONSTRUCTOR_ID,
    types::NewSessionCreated::CONSTRUCTOR_ID,
    types::HttpWait::CONSTRUCTOR_ID,
    functions::RpcDropAnswer::CONSTRUCTOR_ID,
    functions::GetFutureSalts::CONSTRUCTOR_ID,
    functions::Ping::CONSTRUCTOR_ID,
    functions::PingDelayDisconnect::CONSTRUCTOR_ID,
    functions::DestroySession::CONSTRUCTOR_ID,
    functions::DestroyAuthKey::CONSTRUCTOR_ID,
    RPC_RESULT_ID,
    GZIP_PACKED_ID,
    MSG_COPY_ID,
];

/// `msg_copy#e06046b2`, obsolete; never sent.
const MSG_COPY_ID: u32 = 0xe060_46b2;

#[cfg(test)]
mod tests {
    use tl_types::Serialize;

    use super::*;

    #[test]
    fn numbering() {
        let mut seq = SeqNo::new();
        assert_eq!(seq.next(false), 0);
        assert_eq!(seq.next(true), 1);
        assert_eq!(seq.next(true), 3);
        assert_eq!(seq.next(false), 4);
        assert_eq!(seq.next(false), 4);
        assert_eq!(seq.next(true), 5);
        assert_eq!(seq.next(false), 6);
        assert_eq!(seq.content_sent(), 3);
    }

    #[test]
    fn what_is_content_related() {
        let ack = types::MsgsAck { msg_ids: vec![1] }.to_bytes();
        assert!(!is_content_related(&ack));
        assert!(!is_content_related(&MSG_CONTAINER_ID.to_le_bytes()));
        let wait = types::HttpWait {
            max_delay: 0,
            wait_after: 0,
            max_wait: 0,
        };
        assert!(!is_content_related(&wait.to_bytes()));
        assert!(is_content_related(
            &functions::Ping { ping_id: 1 }.to_bytes()
        ));
        assert!(is_content_related(&0x1234_5678_u32.to_le_bytes()));
        assert!(is_content_related(&[]));
    }

    #[test]
    fn what_a_receiver_insists_on() {
        assert_eq!(
            classify(types::MsgsAck::CONSTRUCTOR_ID),
            Relatedness::Service
        );
        assert_eq!(classify(MSG_CONTAINER_ID), Relatedness::Service);
        assert_eq!(
            classify(functions::Ping::CONSTRUCTOR_ID),
            Relatedness::Either
        );
        assert_eq!(
            classify(types::MsgsStateReq::CONSTRUCTOR_ID),
            Relatedness::Either
        );
        // invokeWithLayer and any other API call.
        assert_eq!(classify(0xda9b_0d0d), Relatedness::Content);
    }
}
