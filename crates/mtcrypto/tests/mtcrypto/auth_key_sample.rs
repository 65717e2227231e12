//! Known-answer tests from Telegram's worked auth-key example
//! (https://core.telegram.org/mtproto/samples-auth_key), vendored in
//! `testdata/auth_key_sample.json` at the repository root.

// Test-only crate: lets clippy apply its test allowances (unwrap,
// indexing) to the helpers outside #[test] functions too.
#![cfg(test)]

use mtcrypto::handshake::{
    DhGenOutcome, decrypt_answer, encrypt_answer, initial_server_salt, new_nonce_hash,
    tmp_aes_key_iv,
};
use mtcrypto::hash::sha1;
use mtcrypto::{
    AuthKey, CryptoRng, DhKeyPair, DhParams, RngCore, RsaPublicKey, check_dh_params, check_g_a,
    factorize_pq, ige_decrypt, ige_encrypt,
};
use serde_json::Value;

const SAMPLE: &str = include_str!("../../../../testdata/auth_key_sample.json");

/// Telegram's production key behind fingerprint 85FD64DE851D9DD0.
const TELEGRAM_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA6LszBcC1LGzyr992NzE0ieY+BSaOW622Aa9Bd4ZHLl+TuFQ4lo4g
5nKaMBwK/BIb9xUfg0Q29/2mgIR6Zr9krM7HjuIcCzFvDtr+L0GQjae9H0pRB2OO
62cECs5HKhT5DZ98K33vmWiLowc621dQuwKWSQKjWf50XYFw42h21P2KXUGyp2y/
+aEyZ+uVgLLQbRA1dEjSDZ2iGRy12Mk5gpYc397aYp438fsJoHIgJ2lgMv5h7WY9
t6N/byY9Nw9p21Og3AoXSL2q/2IJ1WRUhebgAdGVMlV1fkuOQoEzR7EdpqtQD9Cs
5+bfo3Nhmcyvk5ftB0WkJ9z6bNZ7yxrP8wIDAQAB
-----END RSA PUBLIC KEY-----
";

struct Sample(Value);

impl Sample {
    fn load() -> Self {
        Self(serde_json::from_str(SAMPLE).unwrap())
    }

    fn str(&self, path: &str) -> String {
        let mut v = &self.0;
        for key in path.split('.') {
            v = &v[key];
        }
        v.as_str()
            .unwrap_or_else(|| panic!("{path} is not a string"))
            .to_owned()
    }

    fn hex(&self, path: &str) -> Vec<u8> {
        hex::decode(self.str(path)).unwrap()
    }

    fn arr<const N: usize>(&self, path: &str) -> [u8; N] {
        self.hex(path).try_into().unwrap()
    }

    fn new_nonce(&self) -> [u8; 32] {
        self.arr("page.step4_p_q_inner_data_dc.new_nonce")
    }

    fn server_nonce(&self) -> [u8; 16] {
        self.arr("page.step2_resPQ.server_nonce")
    }

    fn params(&self) -> DhParams {
        let g = self.0["page"]["step6_server_DH_inner_data"]["g"]
            .as_u64()
            .unwrap();
        DhParams::new(
            &self.hex("page.step6_server_DH_inner_data.dh_prime"),
            u32::try_from(g).unwrap(),
        )
        .unwrap()
    }

    fn client_pair(&self) -> DhKeyPair {
        DhKeyPair::from_secret(&self.params(), &self.hex("page.step7_client.b")).unwrap()
    }
}

/// Hands out fixed bytes, for replaying the sample's random padding.
struct ReplayRng(Vec<u8>);

impl RngCore for ReplayRng {
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
        assert!(dest.len() <= self.0.len(), "replay RNG ran dry");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ReplayRng {}

#[test]
fn pq_factorization() {
    let s = Sample::load();
    let pq: u64 = s.str("page.step3_factorization.pq").parse().unwrap();
    let p: u32 = s.str("page.step3_factorization.p").parse().unwrap();
    let q: u32 = s.str("page.step3_factorization.q").parse().unwrap();
    assert_eq!(factorize_pq(pq).unwrap(), (p, q));
    // The TL bytes in resPQ carry pq big-endian.
    let pq_tl = s.hex("page.step2_resPQ.pq_tl_bytes");
    assert_eq!(pq_tl[0], 8);
    assert_eq!(
        mtcrypto::factor::factorize_pq_be(&pq_tl[1..9]).unwrap(),
        (p, q)
    );
}

#[test]
fn telegram_key_fingerprint() {
    let s = Sample::load();
    let key = RsaPublicKey::from_pem(TELEGRAM_PEM).unwrap();
    assert_eq!(key.bits(), 2048);
    assert_eq!(key.e_be(), [1, 0, 1]);
    assert_eq!(key.fingerprint() as u64, 0xd09d_1d85_de64_fd85);
    assert_eq!(key.fingerprint(), -3_414_540_481_677_951_611);
    // On the wire (little-endian) it is the sample's chosen fingerprint.
    let chosen: [u8; 8] = s.arr("page.chosen_fingerprint");
    assert_eq!(key.fingerprint().to_le_bytes(), chosen);
    let offered = s.0["page"]["step2_resPQ"]["server_public_key_fingerprints"]
        .as_array()
        .unwrap();
    assert!(
        offered
            .iter()
            .any(|f| f.as_str() == Some("85FD64DE851D9DD0"))
    );
    // PEM round trip keeps the key.
    let again = RsaPublicKey::from_pem(&key.to_pkcs1_pem().unwrap()).unwrap();
    assert_eq!(again, key);
}

#[test]
fn tmp_aes_key_and_iv() {
    let s = Sample::load();
    let tmp = tmp_aes_key_iv(&s.new_nonce(), &s.server_nonce());
    assert_eq!(
        tmp.key.to_vec(),
        s.hex("page.step6_server_DH_params_ok.tmp_aes_key")
    );
    assert_eq!(
        tmp.iv.to_vec(),
        s.hex("page.step6_server_DH_params_ok.tmp_aes_iv")
    );
    assert_eq!(tmp.key.to_vec(), s.hex("page.step7_client.tmp_aes_key"));
    assert_eq!(tmp.iv.to_vec(), s.hex("page.step7_client.tmp_aes_iv"));
}

#[test]
fn server_answer_decrypts() {
    let s = Sample::load();
    let tmp = tmp_aes_key_iv(&s.new_nonce(), &s.server_nonce());
    let encrypted = s.hex("page.step6_server_DH_params_ok.encrypted_answer");
    let answer_with_hash = s.hex("page.step6_server_DH_params_ok.answer_with_hash");

    // Raw AES-256-IGE known answer.
    let mut buf = encrypted.clone();
    ige_decrypt(&tmp.key, &tmp.iv, &mut buf).unwrap();
    assert_eq!(buf, answer_with_hash);
    ige_encrypt(&tmp.key, &tmp.iv, &mut buf).unwrap();
    assert_eq!(buf, encrypted);

    // Framed: SHA1 checked, padding dropped.
    let padding = s.hex("derived.answer_padding");
    let answer = decrypt_answer(&encrypted, &tmp).unwrap();
    assert_eq!(
        answer,
        answer_with_hash[20..answer_with_hash.len() - padding.len()]
    );
    assert_eq!(sha1(&answer).to_vec(), answer_with_hash[..20]);
    // server_DH_inner_data constructor (little-endian on the wire).
    assert_eq!(answer[..4], [0xBA, 0x0D, 0x89, 0xB5]);
}

#[test]
fn dh_params_and_values() {
    let s = Sample::load();
    let p = s.hex("page.step6_server_DH_inner_data.dh_prime");
    check_dh_params(&p, 3).unwrap();
    let params = s.params();
    assert_eq!(params.prime_be().to_vec(), p);
    assert_eq!(params, DhParams::telegram());
    check_g_a(&s.hex("page.step6_server_DH_inner_data.g_a"), &p).unwrap();
    check_g_a(&s.hex("page.step7_client.g_b"), &p).unwrap();

    let client = s.client_pair();
    assert_eq!(client.public().to_vec(), s.hex("page.step7_client.g_b"));
}

#[test]
fn client_dh_inner_data_encrypts_byte_for_byte() {
    let s = Sample::load();
    let tmp = tmp_aes_key_iv(&s.new_nonce(), &s.server_nonce());
    let data = s.hex("page.step7_client.client_DH_inner_data.data");
    let padding = s.hex("page.step7_client.padding");
    let expected = s.hex("page.step7_client.encrypted_data");

    // By hand: SHA1(data) ++ data ++ padding, then IGE.
    let mut buf = [&sha1(&data)[..], &data, &padding].concat();
    assert_eq!(buf.len() % 16, 0);
    ige_encrypt(&tmp.key, &tmp.iv, &mut buf).unwrap();
    assert_eq!(buf, expected);

    // Through the framing helper, replaying the sample's padding.
    let mut rng = ReplayRng(padding.clone());
    assert_eq!(encrypt_answer(&data, &tmp, &mut rng).unwrap(), expected);
    assert!(rng.0.is_empty());

    // And the server side gets the data back.
    assert_eq!(decrypt_answer(&expected, &tmp).unwrap(), data);
}

#[test]
fn auth_key_and_derived_values() {
    let s = Sample::load();
    let params = s.params();
    let client = s.client_pair();
    let g_a = s.hex("page.step6_server_DH_inner_data.g_a");
    let key = client.compute_auth_key(&params, &g_a).unwrap();
    assert_eq!(key.as_bytes().to_vec(), s.hex("page.step8_auth_key"));

    let id: [u8; 8] = s.arr("derived.auth_key_id_sha1_last8");
    assert_eq!(key.key_id(), u64::from_le_bytes(id));
    assert_eq!(
        key.aux_hash(),
        s.arr::<8>("derived.auth_key_aux_hash_sha1_first8")
    );

    let hash1 = new_nonce_hash(&s.new_nonce(), DhGenOutcome::Ok, &key);
    assert_eq!(hash1, s.arr::<16>("page.step9_dh_gen_ok.new_nonce_hash1"));

    let salt = initial_server_salt(&s.new_nonce(), &s.server_nonce());
    assert_eq!(
        salt.to_le_bytes(),
        s.arr::<8>("derived.initial_server_salt_newnonce0_8_xor_servernonce0_8")
    );

    // Debug never shows the key bytes.
    let debug = format!("{key:?}");
    assert!(debug.contains(&format!("{:x}", key.key_id())));
    assert!(!debug.contains("ac, a2") && !debug.contains("172"));
    assert_eq!(AuthKey::from_slice(key.as_bytes()).unwrap(), key);
}

#[test]
fn p_q_inner_data_fits_rsa_pad() {
    // The sample's inner data plus its random padding fill RSA_PAD's 192
    // bytes exactly; the ciphertext itself cannot be replayed (temp_key is
    // not printed), so the round trip is tested in roundtrip.rs.
    let s = Sample::load();
    let data = s.hex("page.step4_p_q_inner_data_dc.data");
    let pad = s.hex("page.step4_p_q_inner_data_dc.rsa_pad_random_padding_bytes");
    assert!(data.len() <= mtcrypto::rsa::RSA_PAD_MAX_DATA);
    assert_eq!(
        data.len() + pad.len(),
        mtcrypto::rsa::RSA_PAD_DATA_WITH_PADDING
    );
}
