//! `rpc_result#f35c6d01 req_msg_id:long result:Object` (not in the generated schema: its
//! `Object` is whatever the request returns) and the `rpc_error` it may carry.

use std::fmt;

use tl_types::mtproto::types;
use tl_types::{Deserialize, Identifiable, Reader, Serialize, wire};

use super::gzip;

/// Constructor id of `rpc_result`.
pub const RPC_RESULT_ID: u32 = 0xf35c_6d01;

/// `rpc_error`: the server's refusal of a request, e.g. `420 FLOOD_WAIT_30`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpcError {
    /// The HTTP-like class: 303, 400, 401, 403, 406, 420, 500...
    pub code: i32,
    /// What went wrong, upper case, sometimes with a number (`FILE_MIGRATE_2`).
    pub message: String,
}

impl RpcError {
    /// An error with `code` (e.g. 420) and `message` (e.g. `FLOOD_WAIT_30`).
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The boxed `rpc_error` object.
    pub fn to_body(&self) -> Vec<u8> {
        types::RpcError {
            error_code: self.code,
            error_message: self.message.as_bytes().to_vec(),
        }
        .to_bytes()
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl std::error::Error for RpcError {}

/// Appends `rpc_result { req_msg_id, result }` to `out`; `result` is a boxed object.
pub fn write_rpc_result(out: &mut Vec<u8>, req_msg_id: i64, result: &[u8]) {
    out.reserve(12 + result.len());
    wire::write_u32(out, RPC_RESULT_ID);
    wire::write_i64(out, req_msg_id);
    out.extend_from_slice(result);
}

/// Splits an `rpc_result` into the request's msg_id and the (boxed) result.
pub fn read_rpc_result(body: &[u8]) -> Result<(i64, &[u8]), tl_types::Error> {
    let mut reader = Reader::new(body);
    reader.expect_constructor(RPC_RESULT_ID, "rpc_result")?;
    let req_msg_id = reader.read_i64()?;
    let result = reader.read_rest();
    if result.len() < 4 {
        return Err(tl_types::Error::UnexpectedEnd {
            needed: 4,
            remaining: result.len(),
        });
    }
    Ok((req_msg_id, result))
}

/// What a request's result says: the object (unpacked if it came gzipped) or an error.
pub fn decode_result(result: &[u8]) -> Result<Result<Vec<u8>, RpcError>, super::SessionError> {
    let mut budget = gzip::MAX_UNPACKED;
    decode_result_within(result, &mut budget)
}

/// [`decode_result`], unpacking at most `budget` bytes (and taking them off it), so that
/// the many results of one packet share one limit.
pub fn decode_result_within(
    result: &[u8],
    budget: &mut usize,
) -> Result<Result<Vec<u8>, RpcError>, super::SessionError> {
    let object = if gzip::is_gzip_packed(result) {
        let object = gzip::unpack_with_limit(result, *budget)?;
        *budget -= object.len();
        object
    } else {
        result.to_vec()
    };
    let is_error = object
        .first_chunk::<4>()
        .is_some_and(|id| u32::from_le_bytes(*id) == types::RpcError::CONSTRUCTOR_ID);
    if !is_error {
        return Ok(Ok(object));
    }
    let error = types::RpcError::from_bytes(&object)?;
    Ok(Err(RpcError {
        code: error.error_code,
        message: String::from_utf8_lossy(&error.error_message).into_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_ok_error_and_gzip() {
        let mut body = Vec::new();
        write_rpc_result(&mut body, 0x1234, &[9, 0, 0, 0, 1, 2, 3, 4]);
        let (id, result) = read_rpc_result(&body).unwrap();
        assert_eq!(id, 0x1234);
        assert_eq!(
            decode_result(result).unwrap(),
            Ok(vec![9, 0, 0, 0, 1, 2, 3, 4])
        );

        let error = RpcError::new(420, "FLOOD_WAIT_3");
        assert_eq!(error.to_string(), "420 FLOOD_WAIT_3");
        assert_eq!(decode_result(&error.to_body()).unwrap(), Err(error.clone()));

        let big: Vec<u8> = (0..4000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
        let packed = gzip::pack(&big).unwrap();
        assert_eq!(decode_result(&packed).unwrap(), Ok(big));
        let packed_error = gzip::pack(&error.to_body()).unwrap();
        assert_eq!(decode_result(&packed_error).unwrap(), Err(error));
    }

    #[test]
    fn results_of_one_packet_share_the_expansion_limit() {
        let packed = gzip::pack(&vec![0; 9 << 20]).unwrap();
        let mut budget = gzip::MAX_UNPACKED;
        assert!(decode_result_within(&packed, &mut budget).is_ok());
        assert_eq!(budget, gzip::MAX_UNPACKED - (9 << 20));
        assert!(decode_result_within(&packed, &mut budget).is_err());
    }

    #[test]
    fn rejects_malformed() {
        assert!(read_rpc_result(&[1, 2, 3]).is_err());
        let mut body = Vec::new();
        write_rpc_result(&mut body, 1, &[]);
        assert!(read_rpc_result(&body).is_err());
        // An rpc_error cut short.
        let error = RpcError::new(400, "X").to_body();
        assert!(decode_result(&error[..6]).is_err());
        assert!(decode_result(&error[..4]).is_err());
    }
}
