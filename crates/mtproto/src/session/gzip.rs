//! `gzip_packed#3072cfa1 packed_data:bytes`: a TL object compressed with gzip, which either
//! side may send in place of the object itself.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use thiserror::Error;
use tl_types::{Reader, wire};

/// Constructor id of `gzip_packed`.
pub const GZIP_PACKED_ID: u32 = 0x3072_cfa1;
/// The most a `gzip_packed` may expand to; anything larger is refused while decompressing,
/// so a small "gzip bomb" cannot make us allocate more than this.
pub const MAX_UNPACKED: usize = 16 << 20;
/// Bodies up to this size are never worth compressing.
pub const PACK_THRESHOLD: usize = 512;

/// How much of a body is compressed first to guess whether the whole is worth it (random file
/// parts are not, and compressing a megabyte of them costs milliseconds for nothing).
const SAMPLE: usize = 4096;
/// TL `bytes` cannot be longer than this.
const MAX_TL_BYTES: usize = (1 << 24) - 1;

/// Why a `gzip_packed` could not be unpacked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GzipError {
    #[error("not a gzip_packed object: {0}")]
    Tl(#[from] tl_types::Error),
    #[error("the compressed data is corrupt or truncated")]
    Corrupt,
    #[error("the data expands to more than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the data expands to {len} bytes, which is no TL object")]
    NotAnObject { len: usize },
}

/// Whether `body` is a `gzip_packed`.
pub fn is_gzip_packed(body: &[u8]) -> bool {
    body.first_chunk::<4>()
        .is_some_and(|id| u32::from_le_bytes(*id) == GZIP_PACKED_ID)
}

/// `gzip_packed` of `body`, or `None` when it would not fit in TL `bytes`.
pub fn pack(body: &[u8]) -> Option<Vec<u8>> {
    let compressed = compress(body)?;
    if compressed.len() > MAX_TL_BYTES {
        return None;
    }
    let mut out = Vec::with_capacity(wire::bytes_len(compressed.len()) + 4);
    wire::write_u32(&mut out, GZIP_PACKED_ID);
    wire::write_bytes(&mut out, &compressed);
    Some(out)
}

/// `body` as a `gzip_packed` when it is larger than [`PACK_THRESHOLD`] and that makes it
/// smaller; otherwise `body` itself.
pub fn pack_if_smaller(body: Vec<u8>) -> Vec<u8> {
    if body.len() <= PACK_THRESHOLD || is_gzip_packed(&body) {
        return body;
    }
    if body.len() > SAMPLE {
        let sample = body.get(..SAMPLE).unwrap_or(&body);
        let promising = compress(sample).is_some_and(|c| c.len() * 10 < sample.len() * 9);
        if !promising {
            return body;
        }
    }
    match pack(&body) {
        Some(packed) if packed.len() < body.len() => packed,
        _ => body,
    }
}

/// The object inside a `gzip_packed` body, expanded to at most [`MAX_UNPACKED`] bytes.
pub fn unpack(body: &[u8]) -> Result<Vec<u8>, GzipError> {
    unpack_with_limit(body, MAX_UNPACKED)
}

/// The object inside a `gzip_packed` body, expanded to at most `limit` bytes.
pub fn unpack_with_limit(body: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let mut reader = Reader::new(body);
    reader.expect_constructor(GZIP_PACKED_ID, "gzip_packed")?;
    let packed = reader.read_bytes()?;
    let object = decompress(packed, limit)?;
    if object.len() < 4 || object.len() % 4 != 0 {
        return Err(GzipError::NotAnObject { len: object.len() });
    }
    Ok(object)
}

/// Inflates gzip data, refusing to produce more than `limit` bytes.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    GzDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| GzipError::Corrupt)?;
    if out.len() > limit {
        return Err(GzipError::TooLarge { limit });
    }
    Ok(out)
}

fn compress(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::fast());
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compressible(len: usize) -> Vec<u8> {
        let mut body = Vec::with_capacity(len);
        body.extend_from_slice(&0x1122_3344_u32.to_le_bytes());
        while body.len() < len {
            body.extend_from_slice(b"abcdabcdxyzw");
        }
        body.truncate(len);
        body
    }

    #[test]
    fn round_trip() {
        for len in [4, 100, 512, 516, 4096, 100_000] {
            let body = compressible(len);
            let packed = pack(&body).unwrap();
            assert!(is_gzip_packed(&packed));
            assert_eq!(packed.len() % 4, 0);
            assert_eq!(unpack(&packed).unwrap(), body);
        }
    }

    #[test]
    fn packs_only_when_it_pays() {
        let small = compressible(512);
        assert_eq!(pack_if_smaller(small.clone()), small);
        let large = compressible(10_000);
        let packed = pack_if_smaller(large.clone());
        assert!(packed.len() < 1000);
        assert_eq!(unpack(&packed).unwrap(), large);
        // Incompressible data stays as it is.
        let mut state = 0x1234_5678_u32;
        let random: Vec<u8> = (0..20_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        assert_eq!(pack_if_smaller(random.clone()), random);
        // Already packed: not packed twice.
        assert_eq!(pack_if_smaller(packed.clone()), packed);
    }

    #[test]
    fn decompression_is_capped() {
        // 100 MiB of zeros compress to about 100 KiB; unpacking must stop at the cap.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < MAX_TL_BYTES);
        let mut body = GZIP_PACKED_ID.to_le_bytes().to_vec();
        wire::write_bytes(&mut body, &bomb);
        assert_eq!(
            unpack(&body),
            Err(GzipError::TooLarge {
                limit: MAX_UNPACKED
            })
        );
        assert_eq!(
            unpack_with_limit(&pack(&compressible(8192)).unwrap(), 8191),
            Err(GzipError::TooLarge { limit: 8191 })
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(unpack(&[1, 2, 3, 4]), Err(GzipError::Tl(_))));
        let mut body = GZIP_PACKED_ID.to_le_bytes().to_vec();
        wire::write_bytes(&mut body, b"definitely not gzip");
        assert_eq!(unpack(&body), Err(GzipError::Corrupt));
        let mut truncated = pack(&compressible(1000)).unwrap();
        truncated.truncate(truncated.len() - 8);
        assert!(unpack(&truncated).is_err());
        // Valid gzip of something that is not a TL object (3 bytes).
        let odd = compress(b"abc").unwrap();
        let mut body = GZIP_PACKED_ID.to_le_bytes().to_vec();
        wire::write_bytes(&mut body, &odd);
        assert_eq!(unpack(&body), Err(GzipError::NotAnObject { len: 3 }));
    }
}
