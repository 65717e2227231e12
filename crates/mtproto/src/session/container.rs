//! `msg_container#73f1f8dc messages:vector<%Message>` with
//! `message msg_id:long seqno:int bytes:int body:Object`: several messages in one encrypted
//! packet. Containers never nest.

use std::collections::HashSet;

use thiserror::Error;
use tl_types::{Reader, wire};

/// Constructor id of `msg_container`.
pub const MSG_CONTAINER_ID: u32 = 0x73f1_f8dc;
/// The most messages one container may carry when we send it.
pub const MAX_MESSAGES: usize = 1020;
/// The most bytes (all of the container's body) we put in one container; larger bodies go
/// on their own.
pub const MAX_BYTES: usize = 1 << 20;
/// What a received container may hold; more generous than what we send, the reader's real
/// bound being the bytes there are.
pub const MAX_READ_MESSAGES: usize = 8192;
/// msg_id, seqno and length in front of each inner body.
pub const INNER_HEADER: usize = 16;
/// The constructor id and the count in front of the messages.
pub const OUTER_HEADER: usize = 8;

/// One message inside a container, borrowing its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerMessage<'a> {
    pub msg_id: i64,
    pub seq_no: i32,
    /// A boxed TL object (never another container).
    pub body: &'a [u8],
}

/// Why a container was refused (`bad_msg_notification` 64 when a server sees one).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContainerError {
    #[error("not a container: {0}")]
    Tl(#[from] tl_types::Error),
    #[error("container of {count} messages is larger than allowed")]
    TooMany { count: usize },
    #[error("inner message {index} has a length of {length} with {remaining} bytes left")]
    BadLength {
        index: usize,
        length: usize,
        remaining: usize,
    },
    #[error("inner message {index} is itself a container")]
    Nested { index: usize },
    #[error("msg_id {msg_id:#018x} appears twice in the container")]
    DuplicateId { msg_id: i64 },
    #[error("{count} bytes after the last message")]
    TrailingBytes { count: usize },
}

/// Whether `body` is a container.
pub fn is_container(body: &[u8]) -> bool {
    body.first_chunk::<4>()
        .is_some_and(|id| u32::from_le_bytes(*id) == MSG_CONTAINER_ID)
}

/// How many bytes a container of messages with these body lengths takes.
pub fn container_len(body_lens: impl IntoIterator<Item = usize>) -> usize {
    body_lens
        .into_iter()
        .fold(OUTER_HEADER, |sum, len| sum + INNER_HEADER + len)
}

/// Appends a container holding `messages` to `out`.
pub fn write_container(out: &mut Vec<u8>, messages: &[InnerMessage<'_>]) {
    out.reserve(container_len(messages.iter().map(|m| m.body.len())));
    wire::write_u32(out, MSG_CONTAINER_ID);
    wire::write_u32(out, u32::try_from(messages.len()).unwrap_or(u32::MAX));
    for message in messages {
        wire::write_i64(out, message.msg_id);
        wire::write_i32(out, message.seq_no);
        wire::write_u32(out, u32::try_from(message.body.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(message.body);
    }
}

/// Reads and checks a container: every length within the input and a multiple of 4 (and at
/// least one constructor id), no nested container, no msg_id twice, nothing left over.
pub fn read_container(body: &[u8]) -> Result<Vec<InnerMessage<'_>>, ContainerError> {
    let mut reader = Reader::new(body);
    reader.expect_constructor(MSG_CONTAINER_ID, "msg_container")?;
    let count = reader.read_u32()? as usize;
    let most = reader.remaining().len() / (INNER_HEADER + 4);
    if count > most || count > MAX_READ_MESSAGES {
        return Err(ContainerError::TooMany { count });
    }
    let mut messages = Vec::with_capacity(count);
    let mut ids = HashSet::with_capacity(count);
    for index in 0..count {
        let msg_id = reader.read_i64()?;
        let seq_no = reader.read_i32()?;
        let length = reader.read_u32()? as usize;
        let remaining = reader.remaining().len();
        if length < 4 || !length.is_multiple_of(4) || length > remaining {
            return Err(ContainerError::BadLength {
                index,
                length,
                remaining,
            });
        }
        let inner = reader.read_slice(length)?;
        if is_container(inner) {
            return Err(ContainerError::Nested { index });
        }
        if !ids.insert(msg_id) {
            return Err(ContainerError::DuplicateId { msg_id });
        }
        messages.push(InnerMessage {
            msg_id,
            seq_no,
            body: inner,
        });
    }
    match reader.remaining().len() {
        0 => Ok(messages),
        count => Err(ContainerError::TrailingBytes { count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(i64, i32, Vec<u8>)> {
        (0..5)
            .map(|i| {
                let mut body = (0x1000_0000_u32 + i).to_le_bytes().to_vec();
                body.resize(4 + 4 * i as usize, i as u8);
                (1000 + 4 * i64::from(i), 2 * i as i32 + 1, body)
            })
            .collect()
    }

    fn build(items: &[(i64, i32, Vec<u8>)]) -> Vec<u8> {
        let messages: Vec<InnerMessage<'_>> = items
            .iter()
            .map(|(msg_id, seq_no, body)| InnerMessage {
                msg_id: *msg_id,
                seq_no: *seq_no,
                body,
            })
            .collect();
        let mut out = Vec::new();
        write_container(&mut out, &messages);
        out
    }

    #[test]
    fn round_trip() {
        let items = sample();
        let bytes = build(&items);
        assert!(is_container(&bytes));
        assert_eq!(
            bytes.len(),
            container_len(items.iter().map(|(_, _, b)| b.len()))
        );
        let read = read_container(&bytes).unwrap();
        assert_eq!(read.len(), items.len());
        for (got, (msg_id, seq_no, body)) in read.iter().zip(&items) {
            assert_eq!(got.msg_id, *msg_id);
            assert_eq!(got.seq_no, *seq_no);
            assert_eq!(got.body, body.as_slice());
        }
        assert_eq!(read_container(&build(&[])).unwrap(), vec![]);
    }

    #[test]
    fn rejects_bad_lengths() {
        let items = sample();
        let good = build(&items);
        // The first inner length field sits after the outer header, msg_id and seqno.
        let at = OUTER_HEADER + 12;
        for length in [0u32, 2, 6, u32::MAX, good.len() as u32] {
            let mut bad = good.clone();
            bad[at..at + 4].copy_from_slice(&length.to_le_bytes());
            assert!(
                matches!(
                    read_container(&bad),
                    Err(ContainerError::BadLength { .. } | ContainerError::TrailingBytes { .. })
                ),
                "length {length}"
            );
        }
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 4);
        assert!(read_container(&truncated).is_err());
        let mut trailing = good;
        trailing.extend_from_slice(&[0; 4]);
        assert_eq!(
            read_container(&trailing),
            Err(ContainerError::TrailingBytes { count: 4 })
        );
    }

    #[test]
    fn rejects_counts_beyond_the_input() {
        let mut bad = build(&sample());
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_container(&bad),
            Err(ContainerError::TooMany { .. })
        ));
        let mut short = build(&sample());
        short[4..8].copy_from_slice(&6u32.to_le_bytes());
        assert!(read_container(&short).is_err());
    }

    #[test]
    fn rejects_nesting_and_duplicates() {
        let inner = build(&sample());
        let nested = build(&[(1, 0, inner)]);
        assert_eq!(
            read_container(&nested),
            Err(ContainerError::Nested { index: 0 })
        );
        let mut items = sample();
        items[3].0 = items[1].0;
        assert_eq!(
            read_container(&build(&items)),
            Err(ContainerError::DuplicateId { msg_id: items[1].0 })
        );
        assert!(matches!(
            read_container(&[1, 2, 3, 4, 0, 0, 0, 0]),
            Err(ContainerError::Tl(_))
        ));
    }
}
