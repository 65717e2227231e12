use thiserror::Error;

/// Why a handshake failed. Every variant is a protocol violation or a refusal by the peer;
/// the connection should be dropped and the handshake started again.
#[derive(Debug, Error)]
pub enum HandshakeError {
    #[error("malformed handshake message: {0}")]
    Tl(#[from] tl_types::Error),
    #[error("handshake crypto check failed: {0}")]
    Crypto(#[from] mtcrypto::Error),
    #[error("expected {expected}, received constructor {received:#010x}")]
    UnexpectedMessage {
        expected: &'static str,
        received: u32,
    },
    #[error("{0} does not match the one of this handshake")]
    NonceMismatch(&'static str),
    #[error("the server offers no RSA key we know (fingerprints {0:?})")]
    NoKnownKey(Vec<i64>),
    #[error("the server refused the DH parameters (server_DH_params_fail)")]
    ServerRefused,
    #[error("the server answered dh_gen_fail")]
    DhGenFail,
    #[error("new_nonce_hash does not match")]
    NewNonceHashMismatch,
    #[error("{0} must be {1} bytes")]
    BadLength(&'static str, usize),
    #[error("p and q do not factor pq")]
    WrongFactors,
    #[error("the peer asked to retry more than {0} times")]
    TooManyRetries(u32),
    #[error("the handshake already finished or failed")]
    Finished,
}
