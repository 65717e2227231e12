//! The client role of the handshake.

use mtcrypto::dh::{DhKeyPair, DhParams};
use mtcrypto::handshake::{
    DhGenOutcome, decrypt_answer, encrypt_answer, initial_server_salt, new_nonce_hash,
    server_dh_params_fail_hash, tmp_aes_key_iv,
};
use mtcrypto::ige::AesKeyIv;
use mtcrypto::{AuthKey, CryptoRngCore, RsaPublicKey, factorize_pq};
use tl_types::mtproto::{enums, functions, types};
use tl_types::{Deserialize, Serialize};

use super::{HandshakeError, HandshakeOutcome, MAX_RETRIES};

/// Encrypts `p_q_inner_data` for `req_DH_params` under one server key. Implemented for
/// [`RsaPublicKey`] (RSA_PAD); a test can stand in a recorded ciphertext.
pub trait InnerDataEncryptor {
    fn fingerprint(&self) -> i64;
    fn encrypt(&self, data: &[u8], rng: &mut dyn CryptoRngCore)
    -> Result<Vec<u8>, mtcrypto::Error>;
}

impl InnerDataEncryptor for RsaPublicKey {
    fn fingerprint(&self) -> i64 {
        RsaPublicKey::fingerprint(self)
    }

    fn encrypt(
        &self,
        data: &[u8],
        mut rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, mtcrypto::Error> {
        self.encrypt_rsa_pad(data, &mut rng)
            .map(|block| block.to_vec())
    }
}

/// What the client does next.
#[derive(Debug)]
pub enum ClientStep {
    /// Send this body as a plain message and feed the answer to [`ClientHandshake::handle`].
    Send(Vec<u8>),
    /// The key is agreed.
    Done(Box<HandshakeOutcome>),
}

#[derive(Debug)]
enum State {
    Start,
    AwaitResPq,
    AwaitDhParams,
    AwaitDhGen(Box<PendingKey>),
    Finished,
}

/// What the server sent in `server_DH_inner_data`, kept so that a retry can draw a new `b`
/// against the same `g_a`.
#[derive(Debug)]
struct DhContext {
    dh: DhParams,
    g_a: Vec<u8>,
    tmp: AesKeyIv,
    server_time: i32,
    retries: u32,
}

/// The client's key while it waits for `dh_gen_*`.
#[derive(Debug)]
struct PendingKey {
    context: DhContext,
    auth_key: AuthKey,
}

/// The client side of one handshake.
pub struct ClientHandshake {
    keys: Vec<Box<dyn InnerDataEncryptor + Send + Sync>>,
    dc_id: i32,
    expires_in: Option<i32>,
    nonce: [u8; 16],
    server_nonce: [u8; 16],
    new_nonce: [u8; 32],
    state: State,
}

impl std::fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("dc_id", &self.dc_id)
            .field("expires_in", &self.expires_in)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// A handshake for DC `dc_id` (negative for media DCs, +10000 for test DCs) trusting
    /// `keys`. `expires_in` asks for a temporary key valid that many seconds.
    pub fn new(
        keys: Vec<Box<dyn InnerDataEncryptor + Send + Sync>>,
        dc_id: i32,
        expires_in: Option<i32>,
    ) -> Self {
        Self {
            keys,
            dc_id,
            expires_in,
            nonce: [0; 16],
            server_nonce: [0; 16],
            new_nonce: [0; 32],
            state: State::Start,
        }
    }

    /// The first message: `req_pq_multi`.
    pub fn start(&mut self, rng: &mut impl CryptoRngCore) -> Result<Vec<u8>, HandshakeError> {
        if !matches!(self.state, State::Start) {
            return Err(HandshakeError::Finished);
        }
        rng.fill_bytes(&mut self.nonce);
        self.state = State::AwaitResPq;
        Ok(functions::ReqPqMulti { nonce: self.nonce }.to_bytes())
    }

    /// Feeds the body of the server's answer. On error the handshake is over.
    pub fn handle(
        &mut self,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<ClientStep, HandshakeError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        let step = match state {
            State::AwaitResPq => self.on_res_pq(body, rng)?,
            State::AwaitDhParams => self.on_server_dh_params(body, rng)?,
            State::AwaitDhGen(pending) => self.on_dh_gen(body, rng, pending)?,
            State::Start | State::Finished => return Err(HandshakeError::Finished),
        };
        Ok(step)
    }

    fn on_res_pq(
        &mut self,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<ClientStep, HandshakeError> {
        let enums::ResPQ::ResPQ(res) = enums::ResPQ::from_bytes(body)?;
        check_nonce(&res.nonce, &self.nonce, "nonce")?;
        self.server_nonce = res.server_nonce;
        let key = self
            .keys
            .iter()
            .find(|k| {
                res.server_public_key_fingerprints
                    .contains(&k.fingerprint())
            })
            .ok_or_else(|| {
                HandshakeError::NoKnownKey(res.server_public_key_fingerprints.clone())
            })?;
        let pq = u64_from_be(&res.pq).ok_or(HandshakeError::BadLength("pq", 8))?;
        let (p, q) = factorize_pq(pq)?;
        rng.fill_bytes(&mut self.new_nonce);

        let (p, q, pq) = (
            be_trimmed(u64::from(p)),
            be_trimmed(u64::from(q)),
            res.pq.clone(),
        );
        let inner: enums::PQInnerData = match self.expires_in {
            None => types::PQInnerDataDc {
                pq,
                p: p.clone(),
                q: q.clone(),
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                new_nonce: self.new_nonce,
                dc: self.dc_id,
            }
            .into(),
            Some(expires_in) => types::PQInnerDataTempDc {
                pq,
                p: p.clone(),
                q: q.clone(),
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                new_nonce: self.new_nonce,
                dc: self.dc_id,
                expires_in,
            }
            .into(),
        };
        let mut rng: &mut dyn CryptoRngCore = rng;
        let encrypted_data = key.encrypt(&inner.to_bytes(), &mut rng)?;
        self.state = State::AwaitDhParams;
        Ok(ClientStep::Send(
            functions::ReqDHParams {
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                p,
                q,
                public_key_fingerprint: key.fingerprint(),
                encrypted_data,
            }
            .to_bytes(),
        ))
    }

    fn on_server_dh_params(
        &mut self,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<ClientStep, HandshakeError> {
        let ok = match enums::ServerDHParams::from_bytes(body)? {
            enums::ServerDHParams::Ok(ok) => ok,
            enums::ServerDHParams::Fail(fail) => {
                check_nonce(&fail.nonce, &self.nonce, "nonce")?;
                check_nonce(&fail.server_nonce, &self.server_nonce, "server_nonce")?;
                if fail.new_nonce_hash != server_dh_params_fail_hash(&self.new_nonce) {
                    return Err(HandshakeError::NewNonceHashMismatch);
                }
                return Err(HandshakeError::ServerRefused);
            }
        };
        check_nonce(&ok.nonce, &self.nonce, "nonce")?;
        check_nonce(&ok.server_nonce, &self.server_nonce, "server_nonce")?;
        let tmp = tmp_aes_key_iv(&self.new_nonce, &self.server_nonce);
        let answer = decrypt_answer(&ok.encrypted_answer, &tmp)?;
        let inner = types::ServerDHInnerData::from_bytes(&answer)?;
        check_nonce(&inner.nonce, &self.nonce, "nonce")?;
        check_nonce(&inner.server_nonce, &self.server_nonce, "server_nonce")?;
        let g = u32::try_from(inner.g).map_err(|_| mtcrypto::Error::DhValueOutOfRange)?;
        let dh = DhParams::new(&inner.dh_prime, g)?;
        dh.check_public(&inner.g_a)?;
        let context = DhContext {
            dh,
            g_a: inner.g_a,
            tmp,
            server_time: inner.server_time,
            retries: 0,
        };
        self.send_client_dh(rng, context, 0)
    }

    /// Draws `b`, computes the key, and sends `set_client_DH_params`.
    fn send_client_dh(
        &mut self,
        rng: &mut impl CryptoRngCore,
        context: DhContext,
        retry_id: i64,
    ) -> Result<ClientStep, HandshakeError> {
        let pair = DhKeyPair::generate(&context.dh, rng)?;
        let auth_key = pair.compute_auth_key(&context.dh, &context.g_a)?;
        let inner = types::ClientDHInnerData {
            nonce: self.nonce,
            server_nonce: self.server_nonce,
            retry_id,
            g_b: pair.public().to_vec(),
        };
        let encrypted_data = encrypt_answer(&inner.to_bytes(), &context.tmp, rng)?;
        self.state = State::AwaitDhGen(Box::new(PendingKey { context, auth_key }));
        Ok(ClientStep::Send(
            functions::SetClientDHParams {
                nonce: self.nonce,
                server_nonce: self.server_nonce,
                encrypted_data,
            }
            .to_bytes(),
        ))
    }

    fn on_dh_gen(
        &mut self,
        body: &[u8],
        rng: &mut impl CryptoRngCore,
        pending: Box<PendingKey>,
    ) -> Result<ClientStep, HandshakeError> {
        let answer = enums::SetClientDHParamsAnswer::from_bytes(body)?;
        let (nonce, server_nonce, hash, outcome) = match &answer {
            enums::SetClientDHParamsAnswer::DhGenOk(a) => {
                (a.nonce, a.server_nonce, a.new_nonce_hash1, DhGenOutcome::Ok)
            }
            enums::SetClientDHParamsAnswer::DhGenRetry(a) => (
                a.nonce,
                a.server_nonce,
                a.new_nonce_hash2,
                DhGenOutcome::Retry,
            ),
            enums::SetClientDHParamsAnswer::DhGenFail(a) => (
                a.nonce,
                a.server_nonce,
                a.new_nonce_hash3,
                DhGenOutcome::Fail,
            ),
        };
        check_nonce(&nonce, &self.nonce, "nonce")?;
        check_nonce(&server_nonce, &self.server_nonce, "server_nonce")?;
        if hash != new_nonce_hash(&self.new_nonce, outcome, &pending.auth_key) {
            return Err(HandshakeError::NewNonceHashMismatch);
        }
        match outcome {
            DhGenOutcome::Ok => Ok(ClientStep::Done(Box::new(HandshakeOutcome {
                auth_key: pending.auth_key,
                server_salt: initial_server_salt(&self.new_nonce, &self.server_nonce),
                server_time: pending.context.server_time,
                expires_in: self.expires_in,
                dc_id: Some(self.dc_id),
            }))),
            DhGenOutcome::Retry if pending.context.retries < MAX_RETRIES => {
                let retry_id = i64::from_le_bytes(pending.auth_key.aux_hash());
                let PendingKey { mut context, .. } = *pending;
                context.retries += 1;
                self.send_client_dh(rng, context, retry_id)
            }
            DhGenOutcome::Retry => Err(HandshakeError::TooManyRetries(MAX_RETRIES)),
            DhGenOutcome::Fail => Err(HandshakeError::DhGenFail),
        }
    }
}

pub(super) fn check_nonce<const N: usize>(
    received: &[u8; N],
    expected: &[u8; N],
    what: &'static str,
) -> Result<(), HandshakeError> {
    if received == expected {
        Ok(())
    } else {
        Err(HandshakeError::NonceMismatch(what))
    }
}

/// A big-endian number of at most 8 bytes.
pub(super) fn u64_from_be(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Big-endian bytes without leading zeros, as `p`, `q` and `pq` travel.
pub(super) fn be_trimmed(value: u64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    bytes.get(start..).unwrap_or_default().to_vec()
}
