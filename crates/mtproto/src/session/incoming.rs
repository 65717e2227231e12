//! The messages in a decrypted body, for either role: the body itself or the contents of its
//! container, each unpacked from `gzip_packed` when it came compressed.

use std::borrow::Cow;

use super::container::{self, read_container};
use super::error::SessionError;
use super::gzip::{self, GzipError};

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received<'a> {
    pub(crate) msg_id: i64,
    pub(crate) seq_no: i32,
    /// The object, already unpacked if it came gzipped.
    pub(crate) body: Cow<'a, [u8]>,
}

impl Received<'_> {
    pub(crate) fn constructor(&self) -> u32 {
        constructor(&self.body)
    }
}

/// The constructor id a body starts with (0 for a body too short to have one).
pub(crate) fn constructor(body: &[u8]) -> u32 {
    body.first_chunk::<4>()
        .map_or(0, |b| u32::from_le_bytes(*b))
}

/// Splits a decrypted body into its messages. All of a packet's `gzip_packed` together may
/// expand to [`gzip::MAX_UNPACKED`] bytes, so a container of many small bombs is refused too.
pub(crate) fn unpack(
    msg_id: i64,
    seq_no: i32,
    body: &[u8],
) -> Result<Vec<Received<'_>>, SessionError> {
    let mut budget = gzip::MAX_UNPACKED;
    if !container::is_container(body) {
        return Ok(vec![unpack_one(msg_id, seq_no, body, &mut budget)?]);
    }
    read_container(body)?
        .into_iter()
        .map(|inner| unpack_one(inner.msg_id, inner.seq_no, inner.body, &mut budget))
        .collect()
}

fn unpack_one<'a>(
    msg_id: i64,
    seq_no: i32,
    body: &'a [u8],
    budget: &mut usize,
) -> Result<Received<'a>, SessionError> {
    let body = if gzip::is_gzip_packed(body) {
        let object = gzip::unpack_with_limit(body, *budget)?;
        if container::is_container(&object) {
            // A container travels as the whole body of a packet, never inside gzip.
            return Err(GzipError::NotAnObject { len: object.len() }.into());
        }
        *budget -= object.len();
        Cow::Owned(object)
    } else {
        Cow::Borrowed(body)
    };
    Ok(Received {
        msg_id,
        seq_no,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::container::{InnerMessage, write_container};

    #[test]
    fn single_container_and_gzip() {
        let plain = 0x0102_0304_u32.to_le_bytes().to_vec();
        let got = unpack(8, 1, &plain).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].msg_id, got[0].seq_no), (8, 1));
        assert_eq!(got[0].constructor(), 0x0102_0304);
        assert!(matches!(got[0].body, Cow::Borrowed(_)));

        let big: Vec<u8> = (0..1000u32).flat_map(|i| (i % 3).to_le_bytes()).collect();
        let packed = gzip::pack(&big).unwrap();
        let mut body = Vec::new();
        write_container(
            &mut body,
            &[
                InnerMessage {
                    msg_id: 4,
                    seq_no: 1,
                    body: &plain,
                },
                InnerMessage {
                    msg_id: 12,
                    seq_no: 3,
                    body: &packed,
                },
            ],
        );
        let got = unpack(16, 4, &body).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].msg_id, 12);
        assert_eq!(&*got[1].body, big.as_slice());
    }

    #[test]
    fn total_expansion_is_bounded() {
        let zeros = vec![0u8; 9 << 20];
        let packed = gzip::pack(&zeros).unwrap();
        assert!(unpack(4, 1, &packed).is_ok());
        let mut body = Vec::new();
        write_container(
            &mut body,
            &[
                InnerMessage {
                    msg_id: 4,
                    seq_no: 1,
                    body: &packed,
                },
                InnerMessage {
                    msg_id: 8,
                    seq_no: 3,
                    body: &packed,
                },
            ],
        );
        assert!(matches!(
            unpack(12, 4, &body),
            Err(SessionError::Gzip(GzipError::TooLarge { .. }))
        ));
    }

    #[test]
    fn no_container_inside_gzip() {
        let mut inner = Vec::new();
        write_container(
            &mut inner,
            &[InnerMessage {
                msg_id: 4,
                seq_no: 1,
                body: &[1, 2, 3, 4],
            }],
        );
        let packed = gzip::pack(&inner).unwrap();
        assert!(unpack(8, 1, &packed).is_err());
        assert_eq!(constructor(&[1, 2]), 0);
    }
}
