//! Property tests: every function that takes bytes from the network (or a
//! key file) returns a value or an error for any input, and never panics.

// Test-only crate: lets clippy apply its test allowances (unwrap,
// indexing) to the helpers outside #[test] functions too.
#![cfg(test)]

use std::sync::OnceLock;

use mtcrypto::dh::TELEGRAM_DH_PRIME;
use mtcrypto::factor::{factorize_pq, factorize_pq_be};
use mtcrypto::handshake::{decrypt_answer, tmp_aes_key_iv};
use mtcrypto::{
    AuthKey, DhKeyPair, DhParams, RsaPrivateKey, RsaPublicKey, check_dh_params, check_g_a,
    ige_decrypt, ige_encrypt,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const TELEGRAM_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA6LszBcC1LGzyr992NzE0ieY+BSaOW622Aa9Bd4ZHLl+TuFQ4lo4g
5nKaMBwK/BIb9xUfg0Q29/2mgIR6Zr9krM7HjuIcCzFvDtr+L0GQjae9H0pRB2OO
62cECs5HKhT5DZ98K33vmWiLowc621dQuwKWSQKjWf50XYFw42h21P2KXUGyp2y/
+aEyZ+uVgLLQbRA1dEjSDZ2iGRy12Mk5gpYc397aYp438fsJoHIgJ2lgMv5h7WY9
t6N/byY9Nw9p21Og3AoXSL2q/2IJ1WRUhebgAdGVMlV1fkuOQoEzR7EdpqtQD9Cs
5+bfo3Nhmcyvk5ftB0WkJ9z6bNZ7yxrP8wIDAQAB
-----END RSA PUBLIC KEY-----
";

fn server_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::generate(&mut ChaCha20Rng::seed_from_u64(99)).unwrap())
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..n)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn public_pem_arbitrary_text(text in ".{0,400}") {
        let _ = RsaPublicKey::from_pem(&text);
        let _ = RsaPrivateKey::from_pem(&text);
    }

    #[test]
    fn public_pem_mutated(pos in 0usize..TELEGRAM_PEM.len(), byte in any::<u8>(), cut in 0usize..TELEGRAM_PEM.len()) {
        let mut bytes = TELEGRAM_PEM.as_bytes().to_vec();
        bytes[pos] = byte;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Ok(key) = RsaPublicKey::from_pem(&text) {
            // Whatever parses is a usable key with a fingerprint.
            let _ = key.fingerprint();
        }
        let _ = RsaPublicKey::from_pem(&TELEGRAM_PEM[..cut]);
    }

    #[test]
    fn public_key_components(n in proptest::collection::vec(any::<u8>(), 0..600), e in proptest::collection::vec(any::<u8>(), 0..12)) {
        if let Ok(key) = RsaPublicKey::from_components(&n, &e) {
            let _ = key.fingerprint();
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let _ = key.encrypt_rsa_pad(b"x", &mut rng);
        }
    }

    #[test]
    fn rsa_decrypt_arbitrary(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(plain) = server_key().decrypt_inner_data(&data) {
            let _ = plain.verify_data_len(data.len());
        }
    }

    #[test]
    fn factorize_any_u64(pq in any::<u64>()) {
        if let Ok((p, q)) = factorize_pq(pq) {
            prop_assert!(p < q);
            prop_assert_eq!(u64::from(p) * u64::from(q), pq);
            prop_assert!(is_prime(u64::from(p)));
        }
    }

    #[test]
    fn factorize_semiprimes(a in 2u32..100_000, b in 2u32..100_000) {
        let (p, q) = (a.min(b), a.max(b));
        let result = factorize_pq(u64::from(p) * u64::from(q));
        if p != q && is_prime(u64::from(p)) && is_prime(u64::from(q)) {
            prop_assert_eq!(result.unwrap(), (p, q));
        } else {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn factorize_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
        let _ = factorize_pq_be(&bytes);
    }

    #[test]
    fn handshake_answer_arbitrary(data in proptest::collection::vec(any::<u8>(), 0..700)) {
        let tmp = tmp_aes_key_iv(&[7; 32], &[9; 16]);
        prop_assert!(decrypt_answer(&data, &tmp).is_err());
    }

    #[test]
    fn dh_checks_arbitrary(p in proptest::collection::vec(any::<u8>(), 0..260), g in 0u32..10, value in proptest::collection::vec(any::<u8>(), 0..260)) {
        // Random bytes are never a safe prime (and the check must say so).
        prop_assert!(check_dh_params(&p, g).is_err());
        let _ = check_g_a(&value, &p);
        let _ = check_g_a(&value, &TELEGRAM_DH_PRIME);
        let params = DhParams::telegram();
        let pair = DhKeyPair::from_secret(&params, &[3; 256]).unwrap();
        let _ = pair.compute_auth_key(&params, &value);
        let _ = DhKeyPair::from_secret(&params, &value);
    }

    #[test]
    fn ige_any_length(data in proptest::collection::vec(any::<u8>(), 0..200), key in any::<[u8; 32]>(), iv in any::<[u8; 32]>()) {
        let mut buf = data.clone();
        let aligned = data.len() % 16 == 0;
        prop_assert_eq!(ige_encrypt(&key, &iv, &mut buf).is_ok(), aligned);
        prop_assert_eq!(ige_decrypt(&key, &iv, &mut buf).is_ok(), aligned);
        prop_assert_eq!(buf, data);
    }

    #[test]
    fn auth_key_any_slice(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(AuthKey::from_slice(&data).is_ok(), data.len() == 256);
    }
}
