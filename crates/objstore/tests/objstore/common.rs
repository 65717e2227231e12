//! Shared test helpers.

use bytes::Bytes;
use objstore::{PartReceipt, Target, UploadId, sha256_of};

/// Distinct pseudo-random bytes (Garage stores identical blocks once; distinct data keeps
/// its byte counter honest).
pub fn data(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// Uploads `parts` (1-based numbers) of `body` cut in `part_size` pieces.
pub async fn upload_parts(
    target: &Target,
    key: &str,
    upload: &UploadId,
    body: &Bytes,
    part_size: usize,
    parts: &[u32],
) -> Vec<PartReceipt> {
    let mut receipts = Vec::new();
    for &n in parts {
        let start = (n as usize - 1) * part_size;
        let end = (start + part_size).min(body.len());
        let piece = body.slice(start..end);
        let sha = sha256_of(&piece);
        receipts.push(target.put_part(key, upload, n, piece, sha).await.unwrap());
    }
    receipts
}
