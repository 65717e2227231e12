//! The auth-key handshake: the official worked example replayed through the client state
//! machine byte for byte, and both state machines agreeing on keys against each other.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use mtcrypto::dh::DhParams;
use mtcrypto::{CryptoRng, CryptoRngCore, RngCore, RsaPrivateKey, RsaPublicKey};
use mtproto::handshake::{
    ClientHandshake, ClientStep, HandshakeError, HandshakeOutcome, InnerDataEncryptor,
    ServerHandshake, ServerStep,
};
use mtproto::plain::{decode_plain, encode_plain};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value;
use tl_types::mtproto::{enums, types};
use tl_types::{Deserialize, Serialize};

fn sample() -> Value {
    serde_json::from_str(include_str!("../../../../testdata/auth_key_sample.json")).unwrap()
}

fn hex_at(value: &Value, path: &[&str]) -> Vec<u8> {
    let mut node = value;
    for key in path {
        node = &node[*key];
    }
    hex::decode(node.as_str().unwrap()).unwrap()
}

/// Hands out recorded random values in the order the client draws them, checking that each
/// draw asks for exactly the recorded length.
struct Recorded(VecDeque<Vec<u8>>);

impl RngCore for Recorded {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let next = self
            .0
            .pop_front()
            .expect("the client drew more randomness than recorded");
        assert_eq!(next.len(), dest.len(), "draw of unexpected length");
        dest.copy_from_slice(&next);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Recorded {}

/// The sample's RSA key is not published, so its ciphertext is replayed after checking that
/// the plaintext handed over is exactly the sample's `p_q_inner_data_dc`.
struct RecordedRsa {
    fingerprint: i64,
    expected_plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl InnerDataEncryptor for RecordedRsa {
    fn fingerprint(&self) -> i64 {
        self.fingerprint
    }
    fn encrypt(&self, data: &[u8], _: &mut dyn CryptoRngCore) -> Result<Vec<u8>, mtcrypto::Error> {
        assert_eq!(
            hex::encode_upper(data),
            hex::encode_upper(&self.expected_plaintext)
        );
        Ok(self.ciphertext.clone())
    }
}

#[test]
fn official_sample_replays_byte_for_byte() {
    let s = sample();
    let page = &s["page"];
    let msg_id =
        |step: &str| i64::from_le_bytes(hex_at(page, &[step, "message_id"]).try_into().unwrap());
    let body_of = |step: &str| hex_at(page, &[step, "payload"])[20..].to_vec();
    let framed = |msg_id: i64, body: &[u8]| {
        let mut out = Vec::new();
        encode_plain(msg_id, body, &mut out);
        hex::encode_upper(out)
    };

    let fingerprint = i64::from_le_bytes(hex_at(page, &["chosen_fingerprint"]).try_into().unwrap());
    let rsa = RecordedRsa {
        fingerprint,
        expected_plaintext: hex_at(page, &["step4_p_q_inner_data_dc", "data"]),
        ciphertext: hex_at(page, &["step4_p_q_inner_data_dc", "encrypted_data"]),
    };
    let mut rng = Recorded(VecDeque::from([
        hex_at(page, &["step1_req_pq_multi", "nonce"]),
        hex_at(page, &["step4_p_q_inner_data_dc", "new_nonce"]),
        hex_at(page, &["step7_client", "b"]),
        hex_at(page, &["step7_client", "padding"]),
    ]));
    let mut client = ClientHandshake::new(vec![Box::new(rsa)], 2, None);

    let req_pq = client.start(&mut rng).unwrap();
    assert_eq!(
        framed(msg_id("step1_req_pq_multi"), &req_pq),
        page["step1_req_pq_multi"]["payload"].as_str().unwrap()
    );

    let ClientStep::Send(req_dh) = client.handle(&body_of("step2_resPQ"), &mut rng).unwrap() else {
        panic!("expected req_DH_params");
    };
    assert_eq!(
        framed(msg_id("step5_req_DH_params"), &req_dh),
        page["step5_req_DH_params"]["payload"].as_str().unwrap()
    );

    let ClientStep::Send(set_dh) = client
        .handle(&body_of("step6_server_DH_params_ok"), &mut rng)
        .unwrap()
    else {
        panic!("expected set_client_DH_params");
    };
    assert_eq!(
        framed(msg_id("step7_set_client_DH_params"), &set_dh),
        page["step7_set_client_DH_params"]["payload"]
            .as_str()
            .unwrap()
    );

    let ClientStep::Done(outcome) = client
        .handle(&body_of("step9_dh_gen_ok"), &mut rng)
        .unwrap()
    else {
        panic!("expected the handshake to finish");
    };
    assert!(rng.0.is_empty(), "every recorded value was used");
    assert_eq!(
        hex::encode_upper(outcome.auth_key.as_bytes()),
        page["step8_auth_key"].as_str().unwrap()
    );
    let derived = &s["derived"];
    assert_eq!(
        outcome.auth_key.key_id().to_le_bytes().to_vec(),
        hex_at(derived, &["auth_key_id_sha1_last8"])
    );
    assert_eq!(
        outcome.server_salt.to_le_bytes().to_vec(),
        hex_at(
            derived,
            &["initial_server_salt_newnonce0_8_xor_servernonce0_8"]
        )
    );
    assert_eq!(
        i64::from(outcome.server_time),
        page["step6_server_DH_inner_data"]["server_time"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(outcome.dc_id, Some(2));
    // A finished handshake takes nothing more.
    assert!(matches!(
        client.handle(&[], &mut rng),
        Err(HandshakeError::Finished)
    ));
}

fn server_key() -> Arc<RsaPrivateKey> {
    static KEY: OnceLock<Arc<RsaPrivateKey>> = OnceLock::new();
    KEY.get_or_init(|| {
        Arc::new(RsaPrivateKey::generate(&mut ChaCha8Rng::seed_from_u64(7)).unwrap())
    })
    .clone()
}

/// Runs a handshake between the two state machines, passing every body through plain-message
/// framing, and returns both outcomes.
fn run(
    client: &mut ClientHandshake,
    server: &mut ServerHandshake,
    key_id_taken: &dyn Fn(u64) -> bool,
    seed: u64,
) -> Result<(Box<HandshakeOutcome>, Box<HandshakeOutcome>), HandshakeError> {
    let mut client_rng = ChaCha8Rng::seed_from_u64(seed);
    let mut server_rng = ChaCha8Rng::seed_from_u64(seed + 1000);
    let now = 1_700_000_000;
    let mut to_server = client.start(&mut client_rng)?;
    let mut server_outcome = None;
    for round in 0..32 {
        let mut packet = Vec::new();
        encode_plain(i64::from(round) << 2, &to_server, &mut packet);
        let reply = match server.handle(
            decode_plain(&packet).unwrap().body,
            now,
            key_id_taken,
            &mut server_rng,
        )? {
            ServerStep::Reply(reply) => reply,
            ServerStep::Done { reply, outcome } => {
                server_outcome = Some(outcome);
                reply
            }
        };
        match client.handle(&reply, &mut client_rng)? {
            ClientStep::Send(next) => to_server = next,
            ClientStep::Done(client_outcome) => {
                return Ok((
                    client_outcome,
                    server_outcome.expect("server finished first"),
                ));
            }
        }
    }
    panic!("handshake did not finish");
}

fn client_for(key: RsaPublicKey, expires_in: Option<i32>) -> ClientHandshake {
    ClientHandshake::new(vec![Box::new(key)], 4, expires_in)
}

fn assert_agree(client: &HandshakeOutcome, server: &HandshakeOutcome) {
    assert_eq!(client.auth_key.as_bytes(), server.auth_key.as_bytes());
    assert_eq!(client.server_salt, server.server_salt);
    assert_eq!(client.server_time, server.server_time);
    assert_eq!(client.expires_in, server.expires_in);
    assert_eq!(client.dc_id, server.dc_id);
}

#[test]
fn client_and_server_agree_on_permanent_and_temporary_keys() {
    let key = server_key();
    for (seed, expires_in) in [(1, None), (2, Some(86_400))] {
        let mut client = client_for(key.public_key().clone(), expires_in);
        let mut server = ServerHandshake::new(key.clone(), DhParams::telegram());
        let (c, s) = run(&mut client, &mut server, &|_| false, seed).unwrap();
        assert_agree(&c, &s);
        assert_eq!(s.dc_id, Some(4));
        assert_eq!(s.expires_in, expires_in);
    }
}

#[test]
fn a_taken_key_id_makes_the_client_retry() {
    let key = server_key();
    let mut client = client_for(key.public_key().clone(), None);
    let mut server = ServerHandshake::new(key.clone(), DhParams::telegram());
    let first = std::cell::Cell::new(None);
    // The first key id offered is "taken": the server answers dh_gen_retry once.
    let taken = |id: u64| match first.get() {
        None => {
            first.set(Some(id));
            true
        }
        Some(_) => false,
    };
    let (c, s) = run(&mut client, &mut server, &taken, 3).unwrap();
    assert_agree(&c, &s);
    assert_ne!(
        Some(c.auth_key.key_id()),
        first.get(),
        "the retry drew a new key"
    );
}

/// Stands in for clients that use the pre-RSA_PAD layout and/or `p_q_inner_data` without dc.
struct OldClient {
    key: RsaPublicKey,
    legacy_rsa: bool,
    without_dc: bool,
}

impl InnerDataEncryptor for OldClient {
    fn fingerprint(&self) -> i64 {
        self.key.fingerprint()
    }
    fn encrypt(
        &self,
        data: &[u8],
        mut rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, mtcrypto::Error> {
        let data = if self.without_dc {
            let enums::PQInnerData::Dc(d) = enums::PQInnerData::from_bytes(data).unwrap() else {
                panic!("the client sends p_q_inner_data_dc")
            };
            enums::PQInnerData::from(types::PQInnerData {
                pq: d.pq,
                p: d.p,
                q: d.q,
                nonce: d.nonce,
                server_nonce: d.server_nonce,
                new_nonce: d.new_nonce,
            })
            .to_bytes()
        } else {
            data.to_vec()
        };
        let block = if self.legacy_rsa {
            self.key.encrypt_legacy(&data, &mut rng)?
        } else {
            self.key.encrypt_rsa_pad(&data, &mut rng)?
        };
        Ok(block.to_vec())
    }
}

#[test]
fn server_accepts_legacy_rsa_and_inner_data_without_dc() {
    let key = server_key();
    for (seed, legacy_rsa, without_dc) in [(4, true, false), (5, false, true), (6, true, true)] {
        let old = OldClient {
            key: key.public_key().clone(),
            legacy_rsa,
            without_dc,
        };
        let mut client = ClientHandshake::new(vec![Box::new(old)], 4, None);
        let mut server = ServerHandshake::new(key.clone(), DhParams::telegram());
        let (c, s) = run(&mut client, &mut server, &|_| false, seed).unwrap();
        assert_eq!(c.auth_key.as_bytes(), s.auth_key.as_bytes());
        assert_eq!(s.dc_id, if without_dc { None } else { Some(4) });
    }
}

#[test]
fn client_refuses_servers_without_a_known_key() {
    let key = server_key();
    let other = RsaPrivateKey::generate(&mut ChaCha8Rng::seed_from_u64(99)).unwrap();
    let mut client = client_for(other.public_key().clone(), None);
    let mut server = ServerHandshake::new(key, DhParams::telegram());
    assert!(matches!(
        run(&mut client, &mut server, &|_| false, 8),
        Err(HandshakeError::NoKnownKey(_))
    ));
}
