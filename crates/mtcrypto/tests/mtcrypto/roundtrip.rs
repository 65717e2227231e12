//! Round trips and independent re-computations through the public API.

// Test-only crate: lets clippy apply its test allowances (unwrap,
// indexing) to the helpers outside #[test] functions too.
#![cfg(test)]

use std::sync::OnceLock;
use std::time::Instant;

use aes::Aes256;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use mtcrypto::dh::TELEGRAM_DH_PRIME;
use mtcrypto::{
    AesIge, AuthKey, Direction, Error, InnerDataPlain, RngCore, RsaPrivateKey, RsaPublicKey,
    SrpServerSession, derive_aes_key_iv, ige_decrypt, ige_encrypt, msg_key, msg_key_large,
    srp_client_proof, srp_verifier,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// One 2048-bit key for the whole test binary: generation is the slow part.
fn server_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let started = Instant::now();
        let key = RsaPrivateKey::generate(&mut rng(1)).unwrap();
        eprintln!("RSA-2048 key generation: {:?}", started.elapsed());
        key
    })
}

// ---------------------------------------------------------------- RSA

#[test]
fn rsa_pad_round_trip() {
    let key = server_key();
    let public = key.public_key();
    let mut r = rng(2);
    for len in [0usize, 1, 100, 143, 144] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
        let encrypted = public.encrypt_rsa_pad(&data, &mut r).unwrap();
        let started = Instant::now();
        let plain = key.decrypt_inner_data(&encrypted).unwrap();
        if len == 100 {
            eprintln!("RSA_PAD decrypt: {:?}", started.elapsed());
        }
        let InnerDataPlain::RsaPad(bytes) = &plain else {
            panic!("expected RSA_PAD, got {plain:?}");
        };
        assert_eq!(bytes.len(), 192);
        assert_eq!(&bytes[..len], &data[..]);
        plain.verify_data_len(len).unwrap();
        assert!(plain.verify_data_len(193).is_err());
    }
    assert!(matches!(
        public.encrypt_rsa_pad(&[0; 145], &mut r),
        Err(Error::TooLong { max: 144, .. })
    ));
}

#[test]
fn rsa_pad_is_randomized() {
    let public = server_key().public_key();
    let a = public.encrypt_rsa_pad(b"same", &mut rng(3)).unwrap();
    let b = public.encrypt_rsa_pad(b"same", &mut rng(4)).unwrap();
    assert_ne!(a, b);
}

#[test]
fn legacy_round_trip() {
    let key = server_key();
    let mut r = rng(5);
    for len in [0usize, 1, 96, 100, 235] {
        let data: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
        let encrypted = key.public_key().encrypt_legacy(&data, &mut r).unwrap();
        let plain = key.decrypt_inner_data(&encrypted).unwrap();
        let InnerDataPlain::Legacy { sha1, rest } = &plain else {
            panic!("expected the legacy layout, got {plain:?}");
        };
        assert_eq!(sha1, &mtcrypto::hash::sha1(&data));
        assert_eq!(rest.len(), 235);
        assert_eq!(&plain.data()[..len], &data[..]);
        plain.verify_data_len(len).unwrap();
        if len < 235 {
            assert_eq!(
                plain.verify_data_len(len + 1),
                Err(Error::LegacyHashMismatch { len: len + 1 })
            );
        }
    }
    assert!(key.public_key().encrypt_legacy(&[0; 236], &mut r).is_err());
}

#[test]
fn rsa_garbage_is_an_error() {
    let key = server_key();
    let n = key.public_key().n_be();
    // Not below the modulus.
    assert_eq!(
        key.decrypt_inner_data(&n).unwrap_err(),
        Error::RsaCiphertextOutOfRange
    );
    assert_eq!(
        key.decrypt_inner_data(&[0xFF; 256]).unwrap_err(),
        Error::RsaCiphertextOutOfRange
    );
    assert!(matches!(
        key.decrypt_inner_data(&[1; 257]),
        Err(Error::TooLong { .. })
    ));
    // Valid numbers that decrypt to noise.
    for input in [&[][..], &[0], &[1], &[2; 255], &[0x42; 256]] {
        assert_eq!(
            key.decrypt_inner_data(input).unwrap_err(),
            Error::RsaInnerDataInvalid
        );
    }
    // A flipped bit in a real ciphertext.
    let mut encrypted = key
        .public_key()
        .encrypt_rsa_pad(b"hello", &mut rng(6))
        .unwrap();
    encrypted[100] ^= 0x10;
    assert!(key.decrypt_inner_data(&encrypted).is_err());
}

#[test]
fn rsa_pem_round_trip() {
    let key = server_key();
    let pem = key.to_pkcs1_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let again = RsaPrivateKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_key(), key.public_key());

    let public_pem = key.public_key().to_pkcs1_pem().unwrap();
    assert!(public_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let public = RsaPublicKey::from_pem(&public_pem).unwrap();
    assert_eq!(&public, key.public_key());
    assert_eq!(public.fingerprint(), key.public_key().fingerprint());

    // Data encrypted to the re-imported public key opens with the re-imported
    // private key.
    let encrypted = public.encrypt_rsa_pad(b"pem", &mut rng(7)).unwrap();
    assert_eq!(
        &again.decrypt_inner_data(&encrypted).unwrap().data()[..3],
        b"pem"
    );

    // Debug never prints key material.
    let debug = format!("{again:?}");
    assert!(debug.contains("fingerprint"));
    assert!(!debug.contains("BEGIN"));

    assert!(RsaPrivateKey::from_pem(&public_pem).is_err());
    assert!(
        RsaPublicKey::from_pem("-----BEGIN RSA PUBLIC KEY-----\n-----END RSA PUBLIC KEY-----")
            .is_err()
    );
}

// ---------------------------------------------------------------- IGE

/// IGE written out block by block from its definition, with the AES block
/// cipher used directly.
fn reference_ige(key: &[u8; 32], iv: &[u8; 32], data: &[u8], encrypt: bool) -> Vec<u8> {
    let aes = Aes256::new(key.into());
    let mut prev_c: [u8; 16] = iv[..16].try_into().unwrap();
    let mut prev_p: [u8; 16] = iv[16..].try_into().unwrap();
    let mut out = Vec::new();
    for chunk in data.chunks(16) {
        let input: [u8; 16] = chunk.try_into().unwrap();
        let mut block = aes::Block::default();
        if encrypt {
            for i in 0..16 {
                block[i] = input[i] ^ prev_c[i];
            }
            aes.encrypt_block(&mut block);
            let c: Vec<u8> = (0..16).map(|i| block[i] ^ prev_p[i]).collect();
            out.extend_from_slice(&c);
            prev_c = c.try_into().unwrap();
            prev_p = input;
        } else {
            for i in 0..16 {
                block[i] = input[i] ^ prev_p[i];
            }
            aes.decrypt_block(&mut block);
            let p: Vec<u8> = (0..16).map(|i| block[i] ^ prev_c[i]).collect();
            out.extend_from_slice(&p);
            prev_p = p.try_into().unwrap();
            prev_c = input;
        }
    }
    out
}

#[test]
fn ige_matches_reference_and_round_trips() {
    let mut r = rng(8);
    for _ in 0..50 {
        let blocks = (r.next_u32() % 64) as usize;
        let mut key = [0u8; 32];
        let mut iv = [0u8; 32];
        let mut data = vec![0u8; blocks * 16];
        r.fill_bytes(&mut key);
        r.fill_bytes(&mut iv);
        r.fill_bytes(&mut data);

        let mut buf = data.clone();
        ige_encrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(buf, reference_ige(&key, &iv, &data, true));
        assert_eq!(reference_ige(&key, &iv, &buf, false), data);

        // The reusable struct gives the same result and decrypts back.
        let ige = AesIge::new(&key);
        let mut again = data.clone();
        ige.encrypt(&iv, &mut again).unwrap();
        assert_eq!(again, buf);
        ige.decrypt(&iv, &mut again).unwrap();
        assert_eq!(again, data);
        ige_decrypt(&key, &iv, &mut buf).unwrap();
        assert_eq!(buf, data);
    }
}

// ---------------------------------------------------------------- KDF

/// The MTProto 2.0 formulas written out with sha2 directly.
fn manual_kdf(auth_key: &[u8; 256], plaintext: &[u8], x: usize) -> ([u8; 16], Vec<u8>, Vec<u8>) {
    let large = Sha256::new()
        .chain_update(&auth_key[88 + x..88 + x + 32])
        .chain_update(plaintext)
        .finalize();
    let mk: [u8; 16] = large[8..24].try_into().unwrap();
    let a = Sha256::new()
        .chain_update(mk)
        .chain_update(&auth_key[x..x + 36])
        .finalize();
    let b = Sha256::new()
        .chain_update(&auth_key[40 + x..40 + x + 36])
        .chain_update(mk)
        .finalize();
    let key = [&a[0..8], &b[8..24], &a[24..32]].concat();
    let iv = [&b[0..8], &a[8..24], &b[24..32]].concat();
    (mk, key, iv)
}

#[test]
fn kdf_matches_formula() {
    let mut bytes = [0u8; 256];
    rng(9).fill_bytes(&mut bytes);
    let auth_key = AuthKey::from_bytes(bytes);
    let plaintext: Vec<u8> = (0..96u8).collect();
    for (direction, x) in [
        (Direction::ClientToServer, 0),
        (Direction::ServerToClient, 8),
    ] {
        assert_eq!(direction.x(), x);
        let (mk, key, iv) = manual_kdf(&bytes, &plaintext, x);
        assert_eq!(msg_key(&auth_key, &plaintext, direction), mk);
        assert_eq!(msg_key_large(&auth_key, &plaintext, direction)[8..24], mk);
        let derived = derive_aes_key_iv(&auth_key, &mk, direction);
        assert_eq!(derived.key.to_vec(), key);
        assert_eq!(derived.iv.to_vec(), iv);
        // Deterministic.
        let again = derive_aes_key_iv(&auth_key, &mk, direction);
        assert_eq!((again.key, again.iv), (derived.key, derived.iv));
    }
    let c2s = msg_key(&auth_key, &plaintext, Direction::ClientToServer);
    let s2c = msg_key(&auth_key, &plaintext, Direction::ServerToClient);
    assert_ne!(c2s, s2c);
}

#[test]
fn message_round_trip() {
    // Client encrypts; the server derives the same keys from msg_key,
    // decrypts, and recomputes msg_key over the plaintext to authenticate it.
    let mut r = rng(10);
    let mut bytes = [0u8; 256];
    r.fill_bytes(&mut bytes);
    let key = AuthKey::from_bytes(bytes);
    let mut plaintext = vec![0u8; 128];
    r.fill_bytes(&mut plaintext);

    let mk = msg_key(&key, &plaintext, Direction::ClientToServer);
    let mut wire = plaintext.clone();
    derive_aes_key_iv(&key, &mk, Direction::ClientToServer)
        .encrypt(&mut wire)
        .unwrap();
    assert_ne!(wire, plaintext);

    derive_aes_key_iv(&key, &mk, Direction::ClientToServer)
        .decrypt(&mut wire)
        .unwrap();
    assert_eq!(wire, plaintext);
    assert_eq!(msg_key(&key, &wire, Direction::ClientToServer), mk);
    // The wrong direction's keys give garbage.
    let mut wrong = plaintext.clone();
    derive_aes_key_iv(&key, &mk, Direction::ClientToServer)
        .encrypt(&mut wrong)
        .unwrap();
    derive_aes_key_iv(&key, &mk, Direction::ServerToClient)
        .decrypt(&mut wrong)
        .unwrap();
    assert_ne!(wrong, plaintext);
}

// ---------------------------------------------------------------- SRP

/// Full 100 000-iteration SRP through the public API: the verifier, the
/// server session and the client proof.
#[test]
fn srp_client_and_server_agree_only_on_the_right_password() {
    let p = TELEGRAM_DH_PRIME;
    let (salt1, salt2) = (b"client-salt-1234", b"server-salt");
    let started = Instant::now();
    let v = srp_verifier(b"hunter2", salt1, salt2, 3, &p).unwrap();
    eprintln!("srp_verifier (PBKDF2 x100000): {:?}", started.elapsed());

    let mut r = rng(11);
    let server = SrpServerSession::new(&v, salt1, salt2, 3, &p, &mut r).unwrap();
    let good = srp_client_proof(b"hunter2", salt1, salt2, 3, &p, server.srp_b(), &mut r).unwrap();
    server.verify(&good.a, &good.m1).unwrap();

    let bad = srp_client_proof(b"hunter3", salt1, salt2, 3, &p, server.srp_b(), &mut r).unwrap();
    assert_eq!(server.verify(&bad.a, &bad.m1), Err(Error::SrpProofMismatch));

    // A proof for one session does not open another (fresh b).
    let other = SrpServerSession::new(&v, salt1, salt2, 3, &p, &mut r).unwrap();
    assert_ne!(other.srp_b(), server.srp_b());
    assert_eq!(
        other.verify(&good.a, &good.m1),
        Err(Error::SrpProofMismatch)
    );
}
