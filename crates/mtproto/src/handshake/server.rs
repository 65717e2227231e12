//! The server role of the handshake.

use std::sync::Arc;

use mtcrypto::dh::{DhKeyPair, DhParams};
use mtcrypto::handshake::{
    DhGenOutcome, decrypt_answer, encrypt_answer, initial_server_salt, new_nonce_hash,
    tmp_aes_key_iv,
};
use mtcrypto::ige::AesKeyIv;
use mtcrypto::{CryptoRngCore, InnerDataPlain, RsaPrivateKey, generate_pq};
use tl_types::mtproto::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize};

use super::client::{be_trimmed, check_nonce, u64_from_be};
use super::{HandshakeError, HandshakeOutcome, MAX_RETRIES};

/// What the server does next.
#[derive(Debug)]
pub enum ServerStep {
    /// Send this body as a plain message and wait for the client's next one.
    Reply(Vec<u8>),
    /// Send this body (`dh_gen_ok`); the key is agreed.
    Done {
        reply: Vec<u8>,
        outcome: Box<HandshakeOutcome>,
    },
}

/// The fields of `p_q_inner_data*` the server needs, whichever form the client sent.
struct InnerData {
    pq: Vec<u8>,
    p: Vec<u8>,
    q: Vec<u8>,
    nonce: [u8; 16],
    server_nonce: [u8; 16],
    new_nonce: [u8; 32],
    dc: Option<i32>,
    expires_in: Option<i32>,
}

#[derive(Debug)]
enum State {
    AwaitReqPq,
    AwaitReqDh { pq: u64 },
    AwaitClientDh(Box<PendingKey>),
    Finished,
}

/// The server side of one handshake.
#[derive(Debug)]
pub struct ServerHandshake {
    key: Arc<RsaPrivateKey>,
    dh: DhParams,
    nonce: [u8; 16],
    server_nonce: [u8; 16],
    state: State,
}

impl ServerHandshake {
    /// A handshake signed by `key`, agreeing keys in the group `dh`.
    pub fn new(key: Arc<RsaPrivateKey>, dh: DhParams) -> Self {
        Self {
            key,
            dh,
            nonce: [0; 16],
            server_nonce: [0; 16],
            state: State::AwaitReqPq,
        }
    }

    /// Feeds the body of a client's plain message. `now` is the server clock in unix
    /// seconds; `key_id_taken` says whether an auth key id is already in use (the client is
    /// then asked to retry with a new `b`).
    pub fn handle(
        &mut self,
        body: &[u8],
        now: i32,
        key_id_taken: &dyn Fn(u64) -> bool,
        rng: &mut impl CryptoRngCore,
    ) -> Result<ServerStep, HandshakeError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        match state {
            State::AwaitReqPq => self.on_req_pq(body, rng),
            State::AwaitReqDh { pq } => self.on_req_dh(body, pq, now, rng),
            State::AwaitClientDh(pending) => self.on_set_client_dh(body, pending, key_id_taken),
            State::Finished => Err(HandshakeError::Finished),
        }
    }

    fn on_req_pq(
        &mut self,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<ServerStep, HandshakeError> {
        // req_pq (older clients) and req_pq_multi have the same shape.
        let mut reader = Reader::new(body);
        let id = reader.read_u32()?;
        if id != functions::ReqPqMulti::CONSTRUCTOR_ID && id != functions::ReqPq::CONSTRUCTOR_ID {
            return Err(HandshakeError::UnexpectedMessage {
                expected: "req_pq_multi",
                received: id,
            });
        }
        self.nonce = reader.read_array()?;
        if !reader.is_empty() {
            return Err(tl_types::Error::TrailingBytes {
                count: reader.remaining().len(),
            }
            .into());
        }
        rng.fill_bytes(&mut self.server_nonce);
        let pq = generate_pq(rng)?;
        self.state = State::AwaitReqDh { pq: pq.pq };
        Ok(ServerStep::Reply(
            enums::ResPQ::from(types::ResPQ {
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                pq: be_trimmed(pq.pq),
                server_public_key_fingerprints: vec![self.key.public_key().fingerprint()],
            })
            .to_bytes(),
        ))
    }

    fn on_req_dh(
        &mut self,
        body: &[u8],
        pq: u64,
        now: i32,
        rng: &mut impl CryptoRngCore,
    ) -> Result<ServerStep, HandshakeError> {
        let request = functions::ReqDHParams::from_bytes(body)?;
        check_nonce(&request.nonce, &self.nonce, "nonce")?;
        check_nonce(&request.server_nonce, &self.server_nonce, "server_nonce")?;
        let fingerprint = self.key.public_key().fingerprint();
        if request.public_key_fingerprint != fingerprint {
            return Err(HandshakeError::NoKnownKey(vec![
                request.public_key_fingerprint,
            ]));
        }
        check_factors(pq, &request.p, &request.q)?;

        let plain = self.key.decrypt_inner_data(&request.encrypted_data)?;
        let inner = parse_inner_data(&plain)?;
        check_nonce(&inner.nonce, &self.nonce, "nonce")?;
        check_nonce(&inner.server_nonce, &self.server_nonce, "server_nonce")?;
        if u64_from_be(&inner.pq) != Some(pq) || inner.p != request.p || inner.q != request.q {
            return Err(HandshakeError::WrongFactors);
        }

        let pair = DhKeyPair::generate(&self.dh, rng)?;
        let answer = types::ServerDHInnerData {
            nonce: self.nonce,
            server_nonce: self.server_nonce,
            g: self.dh.g() as i32,
            dh_prime: self.dh.prime_be().to_vec(),
            g_a: pair.public().to_vec(),
            server_time: now,
        };
        let tmp = tmp_aes_key_iv(&inner.new_nonce, &self.server_nonce);
        let encrypted_answer = encrypt_answer(&answer.to_bytes(), &tmp, rng)?;
        self.state = State::AwaitClientDh(Box::new(PendingKey {
            new_nonce: inner.new_nonce,
            pair,
            tmp,
            server_time: now,
            dc: inner.dc,
            expires_in: inner.expires_in,
            retries: 0,
        }));
        Ok(ServerStep::Reply(
            enums::ServerDHParams::from(types::ServerDHParamsOk {
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                encrypted_answer,
            })
            .to_bytes(),
        ))
    }

    fn on_set_client_dh(
        &mut self,
        body: &[u8],
        mut pending: Box<PendingKey>,
        key_id_taken: &dyn Fn(u64) -> bool,
    ) -> Result<ServerStep, HandshakeError> {
        let request = functions::SetClientDHParams::from_bytes(body)?;
        check_nonce(&request.nonce, &self.nonce, "nonce")?;
        check_nonce(&request.server_nonce, &self.server_nonce, "server_nonce")?;
        let answer = decrypt_answer(&request.encrypted_data, &pending.tmp)?;
        let inner = types::ClientDHInnerData::from_bytes(&answer)?;
        check_nonce(&inner.nonce, &self.nonce, "nonce")?;
        check_nonce(&inner.server_nonce, &self.server_nonce, "server_nonce")?;
        let auth_key = pending.pair.compute_auth_key(&self.dh, &inner.g_b)?;
        let new_nonce = pending.new_nonce;

        if key_id_taken(auth_key.key_id()) {
            if pending.retries >= MAX_RETRIES {
                return Err(HandshakeError::TooManyRetries(MAX_RETRIES));
            }
            pending.retries += 1;
            let reply = enums::SetClientDHParamsAnswer::from(types::DhGenRetry {
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                new_nonce_hash2: new_nonce_hash(&new_nonce, DhGenOutcome::Retry, &auth_key),
            })
            .to_bytes();
            self.state = State::AwaitClientDh(pending);
            return Ok(ServerStep::Reply(reply));
        }

        let reply = enums::SetClientDHParamsAnswer::from(types::DhGenOk {
            nonce: self.nonce,
            server_nonce: self.server_nonce,
            new_nonce_hash1: new_nonce_hash(&new_nonce, DhGenOutcome::Ok, &auth_key),
        })
        .to_bytes();
        Ok(ServerStep::Done {
            reply,
            outcome: Box::new(HandshakeOutcome {
                server_salt: initial_server_salt(&new_nonce, &self.server_nonce),
                auth_key,
                server_time: pending.server_time,
                expires_in: pending.expires_in,
                dc_id: pending.dc,
            }),
        })
    }
}

/// The server's half-finished key while it waits for `set_client_DH_params`.
#[derive(Debug)]
struct PendingKey {
    new_nonce: [u8; 32],
    pair: DhKeyPair,
    tmp: AesKeyIv,
    server_time: i32,
    dc: Option<i32>,
    expires_in: Option<i32>,
    retries: u32,
}

/// `p` and `q` must be the big-endian factors of `pq` with `p < q`.
fn check_factors(pq: u64, p: &[u8], q: &[u8]) -> Result<(), HandshakeError> {
    let (Some(p), Some(q)) = (u64_from_be(p), u64_from_be(q)) else {
        return Err(HandshakeError::WrongFactors);
    };
    if p < q && p > 1 && p.checked_mul(q) == Some(pq) {
        Ok(())
    } else {
        Err(HandshakeError::WrongFactors)
    }
}

/// Parses any `p_q_inner_data*` form (with or without `dc`, permanent or temporary) and, for
/// the legacy RSA layout, checks the SHA1 over exactly the parsed bytes.
fn parse_inner_data(plain: &InnerDataPlain) -> Result<InnerData, HandshakeError> {
    let data = plain.data();
    let mut reader = Reader::new(data);
    // The four forms share their first six fields; they differ in `dc` and `expires_in`.
    macro_rules! common {
        ($d:expr, $dc:expr, $expires_in:expr) => {
            InnerData {
                pq: $d.pq,
                p: $d.p,
                q: $d.q,
                nonce: $d.nonce,
                server_nonce: $d.server_nonce,
                new_nonce: $d.new_nonce,
                dc: $dc,
                expires_in: $expires_in,
            }
        };
    }
    let inner = match enums::PQInnerData::deserialize(&mut reader)? {
        enums::PQInnerData::PQInnerData(d) => common!(d, None, None),
        enums::PQInnerData::Dc(d) => common!(d, Some(d.dc), None),
        enums::PQInnerData::Temp(d) => common!(d, None, Some(d.expires_in)),
        enums::PQInnerData::TempDc(d) => common!(d, Some(d.dc), Some(d.expires_in)),
    };
    plain.verify_data_len(data.len() - reader.remaining().len())?;
    Ok(inner)
}
