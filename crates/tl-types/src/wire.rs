//! Low-level writers for the TL wire format: little-endian integers, length-prefixed padded
//! byte strings, boxed and bare vector headers.

/// Constructor id of a boxed `Vector`.
pub const VECTOR_ID: u32 = 0x1cb5_c415;
/// Constructor ids of `Bool`.
pub const BOOL_TRUE_ID: u32 = 0x9972_75b5;
pub const BOOL_FALSE_ID: u32 = 0xbc79_9737;

#[inline]
pub fn write_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[inline]
pub fn write_i32(out: &mut Vec<u8>, value: i32) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[inline]
pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[inline]
pub fn write_f64(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[inline]
pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    write_u32(out, if value { BOOL_TRUE_ID } else { BOOL_FALSE_ID });
}

/// The length of `bytes` as TL encodes it (prefix, data, zero padding to 4).
pub fn bytes_len(len: usize) -> usize {
    let prefix = if len < 254 { 1 } else { 4 };
    (prefix + len).next_multiple_of(4)
}

/// `bytes`/`string`: a 1-byte length (or 0xfe and a 3-byte length), the data, zero padding.
///
/// TL cannot carry 16 MiB or more in one string; longer input is truncated to that limit
/// rather than producing a length prefix that would corrupt the stream.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    const MAX: usize = (1 << 24) - 1;
    let bytes = bytes.get(..MAX).unwrap_or(bytes);
    let len = bytes.len();
    out.reserve(bytes_len(len));
    let header = if len < 254 {
        out.push(len as u8);
        1
    } else {
        out.push(254);
        out.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
        4
    };
    out.extend_from_slice(bytes);
    let padding = (header + len).next_multiple_of(4) - (header + len);
    out.resize(out.len() + padding, 0);
}

/// The count (and for a boxed vector the constructor id) before the elements.
pub fn write_vector_header(out: &mut Vec<u8>, len: usize, boxed: bool) {
    if boxed {
        write_u32(out, VECTOR_ID);
    }
    write_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
}
