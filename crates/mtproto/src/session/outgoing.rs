//! Turning a batch of outgoing bodies into one encrypted packet, for either role: msg_ids and
//! seq_nos in sending order, a container when there is more than one message (or when a
//! message goes again under its old msg_id, which may only travel inside a container).

use mtcrypto::kdf::Direction;
use mtcrypto::{AuthKey, RngCore};

use super::container::{self, INNER_HEADER, InnerMessage, OUTER_HEADER};
use super::msg_id::{MsgIdGenerator, MsgIdKind};
use super::seq_no::SeqNo;
use super::time::UnixTime;
use crate::MessageError;
use crate::encrypted::{MAX_MESSAGE, MessageHeader, encrypt};

/// The largest body the sessions accept to send: room is left for the `rpc_result` or
/// container header around it.
pub(crate) const MAX_BODY: usize = MAX_MESSAGE - 64;

/// One message to put in the next packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'a> {
    pub(crate) body: &'a [u8],
    pub(crate) content_related: bool,
    pub(crate) kind: MsgIdKind,
    /// Sent again as it was, msg_id and seq_no included.
    pub(crate) fixed: Option<(i64, i32)>,
}

/// The msg_id and seq_no a message went out with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) msg_id: i64,
    pub(crate) seq_no: i32,
}

/// A sealed packet and how its messages were numbered.
#[derive(Debug)]
pub(crate) struct Sealed {
    pub(crate) packet: Vec<u8>,
    /// One per item, in the order given.
    pub(crate) stamps: Vec<Stamp>,
    /// The container's msg_id, if the items went in one.
    pub(crate) container: Option<i64>,
    pub(crate) quick_ack: u32,
}

/// Everything that numbers and encrypts the messages of one side of a session.
#[derive(Debug)]
pub(crate) struct Sealer<'a> {
    pub(crate) auth_key: &'a AuthKey,
    pub(crate) direction: Direction,
    pub(crate) session_id: i64,
    pub(crate) salt: i64,
    pub(crate) container_kind: MsgIdKind,
}

impl Sealer<'_> {
    /// Numbers `items` (inner messages first, so that a container's id is the largest) and
    /// encrypts them as one packet. `items` must not be empty.
    pub(crate) fn seal(
        &self,
        items: &[Item<'_>],
        ids: &mut MsgIdGenerator,
        seq: &mut SeqNo,
        now: UnixTime,
        rng: &mut impl RngCore,
    ) -> Result<Sealed, MessageError> {
        let stamps: Vec<Stamp> = items
            .iter()
            .map(|item| match item.fixed {
                Some((msg_id, seq_no)) => Stamp { msg_id, seq_no },
                None => Stamp {
                    msg_id: ids.next(item.kind, now),
                    seq_no: seq.next(item.content_related),
                },
            })
            .collect();
        let single = match (items, stamps.as_slice()) {
            ([item], [stamp]) if item.fixed.is_none() => Some((item.body, *stamp)),
            _ => None,
        };
        let mut packet = Vec::new();
        let (container, quick_ack) = if let Some((body, stamp)) = single {
            let quick_ack = self.encrypt(stamp, body, rng, &mut packet)?;
            (None, quick_ack)
        } else {
            let inner: Vec<InnerMessage<'_>> = items
                .iter()
                .zip(&stamps)
                .map(|(item, stamp)| InnerMessage {
                    msg_id: stamp.msg_id,
                    seq_no: stamp.seq_no,
                    body: item.body,
                })
                .collect();
            let mut body = Vec::new();
            container::write_container(&mut body, &inner);
            let stamp = Stamp {
                msg_id: ids.next(self.container_kind, now),
                seq_no: seq.next(false),
            };
            let quick_ack = self.encrypt(stamp, &body, rng, &mut packet)?;
            (Some(stamp.msg_id), quick_ack)
        };
        Ok(Sealed {
            packet,
            stamps,
            container,
            quick_ack,
        })
    }

    fn encrypt(
        &self,
        stamp: Stamp,
        body: &[u8],
        rng: &mut impl RngCore,
        out: &mut Vec<u8>,
    ) -> Result<u32, MessageError> {
        let header = MessageHeader {
            salt: self.salt,
            session_id: self.session_id,
            msg_id: stamp.msg_id,
            seq_no: stamp.seq_no,
        };
        encrypt(self.auth_key, self.direction, &header, body, rng, out)
    }
}

/// What is left in the next packet: at most [`container::MAX_MESSAGES`] messages and
/// [`container::MAX_BYTES`], except that one message larger than that may go alone.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    messages: usize,
    bytes: usize,
    closed: bool,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Self {
            messages: 0,
            bytes: OUTER_HEADER,
            closed: false,
        }
    }

    /// Takes a body of `len` bytes if it fits.
    pub(crate) fn take(&mut self, len: usize) -> bool {
        let bytes = self.bytes.saturating_add(INNER_HEADER + len);
        let fits = self.messages == 0
            || (self.messages < container::MAX_MESSAGES && bytes <= container::MAX_BYTES);
        if self.closed || !fits {
            return false;
        }
        self.messages += 1;
        self.bytes = bytes;
        true
    }

    /// Takes a body that must travel on its own, if nothing was taken yet.
    pub(crate) fn take_alone(&mut self, len: usize) -> bool {
        if self.messages > 0 || !self.take(len) {
            return false;
        }
        self.closed = true;
        true
    }

    pub(crate) fn is_full(&self) -> bool {
        self.closed
            || self.messages >= container::MAX_MESSAGES
            || self.bytes >= container::MAX_BYTES
    }
}

/// Checks that a body can be sent: a whole number of 4-byte words, not too large.
pub(crate) fn check_body(body: &[u8]) -> Result<(), super::SessionError> {
    if body.len() < 4 || !body.len().is_multiple_of(4) || body.len() > MAX_BODY {
        return Err(super::SessionError::BadBody {
            len: body.len(),
            max: MAX_BODY,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_limits() {
        let mut budget = Budget::new();
        assert!(budget.take(2 << 20), "a large body may go alone");
        assert!(!budget.take(4), "but with nothing else");
        assert!(budget.is_full());

        let mut budget = Budget::new();
        for _ in 0..container::MAX_MESSAGES {
            assert!(budget.take(4));
        }
        assert!(!budget.take(4));

        let mut budget = Budget::new();
        assert!(budget.take(container::MAX_BYTES / 2));
        assert!(!budget.take(container::MAX_BYTES / 2));
        assert!(budget.take(1000));
        assert!(!budget.take_alone(4));

        let mut budget = Budget::new();
        assert!(budget.take_alone(8));
        assert!(!budget.take(4));
    }

    #[test]
    fn body_checks() {
        assert!(check_body(&[0; 4]).is_ok());
        assert!(check_body(&[]).is_err());
        assert!(check_body(&[0; 6]).is_err());
        assert!(check_body(&vec![0; MAX_BODY + 4]).is_err());
    }
}
