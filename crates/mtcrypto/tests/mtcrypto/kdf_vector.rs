//! MTProto 2.0 key derivation against an independent vector: the one in grammers-crypto's
//! test suite (github.com/Lonami/grammers, `lib/grammers-crypto/tests/lib.rs`,
//! `encrypt_client_data_v2`): auth key = bytes 0..=255, a 45-byte plaintext padded with 19
//! zero bytes, client-to-server. Also that suite's auth key id and aux hash.

#![cfg(test)]

use mtcrypto::kdf::{Direction, derive_aes_key_iv, msg_key};
use mtcrypto::{AuthKey, ige_encrypt};

fn counting_key() -> AuthKey {
    let mut bytes = [0u8; 256];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = i as u8;
    }
    AuthKey::from_bytes(bytes)
}

#[test]
fn auth_key_id_and_aux_hash() {
    let key = counting_key();
    assert_eq!(
        key.key_id().to_le_bytes(),
        [50, 209, 88, 110, 164, 87, 223, 200]
    );
    assert_eq!(key.aux_hash(), [73, 22, 214, 189, 183, 247, 142, 104]);
}

#[test]
fn client_message_encryption_matches_the_published_vector() {
    let key = counting_key();
    let mut plain = b"Hello, world! This data should remain secure!".to_vec();
    plain.resize(plain.len() + 19, 0);
    let msg_key = msg_key(&key, &plain, Direction::ClientToServer);
    let keys = derive_aes_key_iv(&key, &msg_key, Direction::ClientToServer);
    ige_encrypt(&keys.key, &keys.iv, &mut plain).unwrap();

    let mut packet = key.key_id().to_le_bytes().to_vec();
    packet.extend_from_slice(&msg_key);
    packet.extend_from_slice(&plain);
    let expected: [u8; 88] = [
        50, 209, 88, 110, 164, 87, 223, 200, 168, 23, 41, 212, 109, 181, 64, 25, 162, 191, 215,
        247, 68, 249, 185, 108, 79, 113, 108, 253, 196, 71, 125, 178, 162, 193, 95, 109, 219, 133,
        35, 95, 185, 85, 47, 29, 132, 7, 198, 170, 234, 0, 204, 132, 76, 90, 27, 246, 172, 68, 183,
        155, 94, 220, 42, 35, 134, 139, 61, 96, 115, 165, 144, 153, 44, 15, 41, 117, 36, 61, 86,
        62, 161, 128, 210, 24, 238, 117, 124, 154,
    ];
    assert_eq!(packet, expected);
}
