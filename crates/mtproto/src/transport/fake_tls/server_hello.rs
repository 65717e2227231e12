//! The proxy's answer to a ClientHello: built by the proxy, checked by the client.

use rand_core::RngCore;

use super::digest::{ct_eq, hmac_sha256};
use super::hello_check::AcceptedHello;
use super::record::{
    CHANGE_CIPHER_SPEC, MAX_RECORD_PAYLOAD, RECORD_HEADER_LEN, application_data_header,
};
use super::{FakeTlsError, Progress, RANDOM_AT, RANDOM_LEN, SESSION_ID_LEN};
use crate::transport::wire::array_at;

/// Record header (handshake, TLS 1.2, 122 bytes), handshake header (ServerHello, 118
/// bytes) and legacy version TLS 1.2.
const PREFIX: [u8; RANDOM_AT] = [
    0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03,
];
/// No compression, 46 bytes of extensions (after the cipher suite).
const COMPRESSION_AND_EXTENSIONS_LEN: [u8; 3] = [0x00, 0x00, 0x2e];
/// key_share header: 36 bytes, group x25519, 32-byte key.
const KEY_SHARE_HEAD: [u8; 8] = [0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
/// supported_versions: TLS 1.3.
const SUPPORTED_VERSIONS: [u8; 6] = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
/// The fake encrypted certificate is this many bytes and up to [`CERTIFICATE_SPREAD`] more.
const CERTIFICATE_MIN: usize = 1024;
/// See [`CERTIFICATE_MIN`].
const CERTIFICATE_SPREAD: u32 = 3072;
/// Smallest ServerHello record payload that still holds the random.
const MIN_SERVER_HELLO: usize = RANDOM_AT + RANDOM_LEN - RECORD_HEADER_LEN;
/// What the answer is called in errors.
const WHAT: &str = "server answer";

/// The proxy's answer to `hello` under the matching secret's `key`: ServerHello (picking
/// the client's first TLS 1.3 cipher suite, as the official MTProxy does),
/// ChangeCipherSpec and a random application-data record, with the ServerHello random set
/// to the digest the client checks.
pub fn server_hello<R: RngCore + ?Sized>(
    key: &[u8; 16],
    hello: &AcceptedHello,
    rng: &mut R,
) -> Result<Vec<u8>, FakeTlsError> {
    let certificate_len = CERTIFICATE_MIN + (rng.next_u32() % CERTIFICATE_SPREAD) as usize;
    let mut out = Vec::with_capacity(
        PREFIX.len() + 122 + CHANGE_CIPHER_SPEC.len() + RECORD_HEADER_LEN + certificate_len,
    );
    out.extend_from_slice(&PREFIX);
    out.extend_from_slice(&[0; RANDOM_LEN]);
    out.push(SESSION_ID_LEN as u8);
    out.extend_from_slice(&hello.session_id);
    out.extend_from_slice(&hello.cipher_suite.to_be_bytes());
    out.extend_from_slice(&COMPRESSION_AND_EXTENSIONS_LEN);
    let mut key_share = [0u8; KEY_SHARE_HEAD.len() + 32];
    rng.fill_bytes(&mut key_share);
    for (dst, src) in key_share.iter_mut().zip(KEY_SHARE_HEAD) {
        *dst = src;
    }
    // Real servers differ in extension order; either is plausible.
    if rng.next_u32() & 1 == 0 {
        out.extend_from_slice(&key_share);
        out.extend_from_slice(&SUPPORTED_VERSIONS);
    } else {
        out.extend_from_slice(&SUPPORTED_VERSIONS);
        out.extend_from_slice(&key_share);
    }
    out.extend_from_slice(&CHANGE_CIPHER_SPEC);
    out.extend_from_slice(&application_data_header(certificate_len)?);
    let certificate_at = out.len();
    out.resize(certificate_at + certificate_len, 0);
    if let Some(certificate) = out.get_mut(certificate_at..) {
        rng.fill_bytes(certificate);
    }
    let digest = hmac_sha256(key, &[&hello.client_random, &out])?;
    if let Some(random) = out.get_mut(RANDOM_AT..RANDOM_AT + RANDOM_LEN) {
        random.copy_from_slice(&digest);
    }
    Ok(out)
}

/// How long the proxy's answer at the start of `input` is: a handshake record (`16 03 03`),
/// a ChangeCipherSpec record, and an application-data record, each length bounded by
/// [`MAX_RECORD_PAYLOAD`]. Checks only the record framing, as clients do; the digest
/// ([`check_server_hello`]) vouches for the rest.
pub fn server_hello_len(input: &[u8]) -> Result<Progress, FakeTlsError> {
    let need = |at_least: usize| Ok(Progress::NeedMore { at_least });
    let malformed = |reason| FakeTlsError::Malformed { what: WHAT, reason };

    let Some(&[kind, major, minor, hi, lo]) = input.first_chunk::<RECORD_HEADER_LEN>() else {
        return need(RECORD_HEADER_LEN);
    };
    if [kind, major, minor] != [0x16, 0x03, 0x03] {
        return Err(malformed("does not start with a TLS 1.2 handshake record"));
    }
    let hello_len = bounded_len(hi, lo)?;
    if hello_len < MIN_SERVER_HELLO {
        return Err(malformed("ServerHello too short to hold its random"));
    }
    let change_at = RECORD_HEADER_LEN + hello_len;
    let data_at = change_at + CHANGE_CIPHER_SPEC.len();
    let Some(change) = input.get(change_at..data_at) else {
        return need(data_at);
    };
    if change != CHANGE_CIPHER_SPEC {
        return Err(malformed(
            "no ChangeCipherSpec record after the ServerHello",
        ));
    }
    let Some(&[kind, major, minor, hi, lo]) = input
        .get(data_at..)
        .and_then(<[u8]>::first_chunk::<RECORD_HEADER_LEN>)
    else {
        return need(data_at + RECORD_HEADER_LEN);
    };
    if [kind, major, minor] != [0x17, 0x03, 0x03] {
        return Err(malformed(
            "no application-data record after the ChangeCipherSpec",
        ));
    }
    let total = data_at + RECORD_HEADER_LEN + bounded_len(hi, lo)?;
    if input.len() < total {
        return need(total);
    }
    Ok(Progress::Complete { len: total })
}

/// Checks the proxy's complete answer (exactly the bytes [`server_hello_len`] measured):
/// its ServerHello random must be HMAC-SHA256(`key`, `client_random` ++ the answer with
/// that random zeroed).
pub fn check_server_hello(
    answer: &[u8],
    key: &[u8; 16],
    client_random: &[u8; RANDOM_LEN],
) -> Result<(), FakeTlsError> {
    if server_hello_len(answer)? != (Progress::Complete { len: answer.len() }) {
        return Err(FakeTlsError::Malformed {
            what: WHAT,
            reason: "length differs from what its records say",
        });
    }
    let sent: [u8; RANDOM_LEN] = array_at(answer, RANDOM_AT);
    let mut zeroed = answer.to_vec();
    if let Some(random) = zeroed.get_mut(RANDOM_AT..RANDOM_AT + RANDOM_LEN) {
        random.fill(0);
    }
    let digest = hmac_sha256(key, &[client_random, &zeroed])?;
    if ct_eq(&digest, &sent) {
        Ok(())
    } else {
        Err(FakeTlsError::BadServerDigest)
    }
}

/// A record length, refused above [`MAX_RECORD_PAYLOAD`].
fn bounded_len(hi: u8, lo: u8) -> Result<usize, FakeTlsError> {
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len > MAX_RECORD_PAYLOAD {
        return Err(FakeTlsError::RecordTooLarge {
            len,
            max: MAX_RECORD_PAYLOAD,
        });
    }
    Ok(len)
}
