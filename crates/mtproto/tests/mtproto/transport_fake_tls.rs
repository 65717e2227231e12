//! Property tests for the fake-TLS handshake parsers: random and mutated bytes never panic,
//! lengths asked for stay bounded, and a mutated ClientHello is accepted only when the
//! mutation sits in the 4 bytes that carry the client's clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtproto::transport::ProxySecret;
use mtproto::transport::fake_tls::{
    ClientHello, FakeTlsError, MAX_RECORD_PAYLOAD, Progress, RECORD_HEADER_LEN, check_client_hello,
    check_server_hello, client_hello_len, parse_record_header, server_hello, server_hello_len,
};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

const KEY: [u8; 16] = [0x5a; 16];
const DOMAIN: &str = "cdn.example.net";
const NOW: u32 = 1_750_000_000;
/// Bytes 39..43 of the hello: the last 4 of the random, the client's clock.
const TIME_BYTES: std::ops::Range<usize> = 39..43;
/// Longest answer the client may wait for: three records at their largest.
const MAX_ANSWER: usize = 3 * (RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD);

fn secrets() -> Vec<ProxySecret> {
    vec![
        ProxySecret::Plain(KEY),
        ProxySecret::FakeTls {
            key: KEY,
            domain: DOMAIN.into(),
        },
    ]
}

/// A hello of the current shape (about 1.7 KB) for even seeds, of the 517-byte one for odd.
fn hello(seed: u64) -> ClientHello {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if seed.is_multiple_of(2) {
        ClientHello::new(&KEY, DOMAIN, NOW, &mut rng).unwrap()
    } else {
        ClientHello::legacy(&KEY, DOMAIN, NOW, &mut rng).unwrap()
    }
}

fn bounded(progress: &Result<Progress, FakeTlsError>, limit: usize) -> bool {
    match *progress {
        Ok(Progress::NeedMore { at_least } | Progress::Complete { len: at_least }) => {
            at_least <= limit
        }
        Err(_) => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse_record_header(&bytes);
        prop_assert!(bounded(&client_hello_len(&bytes), RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD));
        prop_assert!(bounded(&server_hello_len(&bytes), MAX_ANSWER));
        let _ = check_client_hello(&bytes, &secrets(), NOW, 120);
        let _ = check_server_hello(&bytes, &KEY, &[0; 32]);
    }

    #[test]
    fn random_bytes_behind_a_valid_prefix_never_panic(
        seed in 0u64..2,
        tail in prop::collection::vec(any::<u8>(), 0..600),
        cut in 0usize..2000,
    ) {
        let hello = hello(seed);
        let cut = cut % hello.bytes.len();
        let mut bytes = hello.bytes[..cut].to_vec();
        bytes.extend(&tail);
        let _ = check_client_hello(&bytes, &secrets(), NOW, 120);
        let mut answer = b"\x16\x03\x03\x00\x7a".to_vec();
        answer.extend(&tail);
        prop_assert!(bounded(&server_hello_len(&answer), MAX_ANSWER));
        let _ = check_server_hello(&answer, &KEY, &hello.random);
    }

    #[test]
    fn mutated_hello_accepted_only_through_the_clock_bytes(
        seed in any::<u64>(),
        at in 0usize..2000,
        flip in 1u8..=255,
    ) {
        let hello = hello(seed);
        prop_assert!(check_client_hello(&hello.bytes, &secrets(), NOW, 120).is_ok());
        let mut mutated = hello.bytes.clone();
        let at = at % mutated.len();
        mutated[at] ^= flip;
        if check_client_hello(&mutated, &secrets(), NOW, 120).is_ok() {
            prop_assert!(TIME_BYTES.contains(&at), "accepted with byte {} changed", at);
        }
    }

    /// Several bytes changed, cut or inserted anywhere: never a panic, never a length
    /// asked for beyond one record.
    #[test]
    fn mangled_hello_never_panics(
        seed in any::<u64>(),
        edits in prop::collection::vec((0usize..2000, any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = hello(seed).bytes;
        for (at, byte, how) in edits {
            let at = at % (bytes.len() + 1);
            match how {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at.max(1)),
            }
        }
        prop_assert!(bounded(&client_hello_len(&bytes), RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD));
        let _ = check_client_hello(&bytes, &secrets(), NOW, 120);
    }

    #[test]
    fn mutated_answer_refused(seed in any::<u64>(), at in 0usize..1200, flip in 1u8..=255) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let hello = hello(seed);
        let accepted = check_client_hello(&hello.bytes, &secrets(), NOW, 120).unwrap();
        let answer = server_hello(&KEY, &accepted, &mut rng).unwrap();
        prop_assert_eq!(check_server_hello(&answer, &KEY, &hello.random), Ok(()));
        let mut mutated = answer.clone();
        let at = at % answer.len();
        mutated[at] ^= flip;
        prop_assert!(check_server_hello(&mutated, &KEY, &hello.random).is_err());
    }
}
