//! TLS records: the 5-byte header (type, version, big-endian length) around every message.

use super::FakeTlsError;

/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest record payload accepted: TLS 1.3 bounds a ciphertext record by 2^14 bytes of
/// plaintext plus 256 bytes of expansion.
pub const MAX_RECORD_PAYLOAD: usize = (1 << 14) + 256;
/// Largest payload put into one record sent: 2^14 bytes, TLS's plaintext limit.
pub const MAX_SEND_PAYLOAD: usize = 1 << 14;
/// A whole ChangeCipherSpec record, as both sides send it once.
pub const CHANGE_CIPHER_SPEC: [u8; 6] = [0x14, 0x03, 0x03, 0x00, 0x01, 0x01];

/// The legacy version every record after the ClientHello carries: TLS 1.2.
const VERSION: [u8; 2] = [0x03, 0x03];

/// The record types of a fake-TLS stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// `0x14`: sent once by each side around the handshake.
    ChangeCipherSpec,
    /// `0x15`: a TLS alert (the peer gives up).
    Alert,
    /// `0x16`: the ClientHello and the ServerHello.
    Handshake,
    /// `0x17`: everything else.
    ApplicationData,
}

impl ContentType {
    /// The type byte.
    pub fn byte(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => 0x14,
            ContentType::Alert => 0x15,
            ContentType::Handshake => 0x16,
            ContentType::ApplicationData => 0x17,
        }
    }

    /// The type a byte names, if it is one of the four.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x14 => Some(ContentType::ChangeCipherSpec),
            0x15 => Some(ContentType::Alert),
            0x16 => Some(ContentType::Handshake),
            0x17 => Some(ContentType::ApplicationData),
            _ => None,
        }
    }
}

/// A parsed record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The record type.
    pub content_type: ContentType,
    /// The payload length that follows the header, at most [`MAX_RECORD_PAYLOAD`].
    pub len: usize,
}

/// Parses the header at the start of `input`, as found after the handshake: a known type,
/// version `03 03`, a length within [`MAX_RECORD_PAYLOAD`]. `Ok(None)` while fewer than
/// [`RECORD_HEADER_LEN`] bytes are in.
pub fn parse_record_header(input: &[u8]) -> Result<Option<RecordHeader>, FakeTlsError> {
    let Some(&[kind, major, minor, hi, lo]) = input.first_chunk::<RECORD_HEADER_LEN>() else {
        return Ok(None);
    };
    let content_type = ContentType::from_byte(kind)
        .ok_or(FakeTlsError::UnexpectedRecord { content_type: kind })?;
    if [major, minor] != VERSION {
        return Err(FakeTlsError::Malformed {
            what: "record",
            reason: "version is not 03 03",
        });
    }
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > MAX_RECORD_PAYLOAD {
        return Err(FakeTlsError::RecordTooLarge {
            len,
            max: MAX_RECORD_PAYLOAD,
        });
    }
    Ok(Some(RecordHeader { content_type, len }))
}

/// The header of an application-data record of `len` payload bytes (at most
/// [`MAX_RECORD_PAYLOAD`]).
pub fn application_data_header(len: usize) -> Result<[u8; RECORD_HEADER_LEN], FakeTlsError> {
    record_header(ContentType::ApplicationData, len)
}

/// The header of a record of `content_type` and `len` payload bytes.
pub(super) fn record_header(
    content_type: ContentType,
    len: usize,
) -> Result<[u8; RECORD_HEADER_LEN], FakeTlsError> {
    let too_large = FakeTlsError::RecordTooLarge {
        len,
        max: MAX_RECORD_PAYLOAD,
    };
    if len > MAX_RECORD_PAYLOAD {
        return Err(too_large);
    }
    let [hi, lo] = u16::try_from(len).map_err(|_| too_large)?.to_be_bytes();
    Ok([content_type.byte(), VERSION[0], VERSION[1], hi, lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        for len in [0, 1, 2878, MAX_SEND_PAYLOAD, MAX_RECORD_PAYLOAD] {
            let header = application_data_header(len).unwrap();
            assert_eq!(
                parse_record_header(&header),
                Ok(Some(RecordHeader {
                    content_type: ContentType::ApplicationData,
                    len
                }))
            );
        }
        assert!(application_data_header(MAX_RECORD_PAYLOAD + 1).is_err());
        assert_eq!(
            parse_record_header(&CHANGE_CIPHER_SPEC),
            Ok(Some(RecordHeader {
                content_type: ContentType::ChangeCipherSpec,
                len: 1
            }))
        );
    }

    #[test]
    fn bad_headers_refused() {
        assert_eq!(parse_record_header(&[0x17, 3, 3, 0]), Ok(None));
        assert_eq!(
            parse_record_header(&[0x18, 3, 3, 0, 1]),
            Err(FakeTlsError::UnexpectedRecord { content_type: 0x18 })
        );
        assert!(parse_record_header(&[0x17, 3, 1, 0, 1]).is_err());
        assert_eq!(
            parse_record_header(&[0x17, 3, 3, 0xff, 0xff]),
            Err(FakeTlsError::RecordTooLarge {
                len: 0xffff,
                max: MAX_RECORD_PAYLOAD
            })
        );
    }
}
