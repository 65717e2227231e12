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

fn hello(seed: u64) -> ClientHello {
    ClientHello::new(&KEY, DOMAIN, NOW, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
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
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1200)) {
        let _ = parse_record_header(&bytes);
        prop_assert!(bounded(&client_hello_len(&bytes), RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD));
        prop_assert!(bounded(&server_hello_len(&bytes), MAX_ANSWER));
        let _ = check_client_hello(&bytes, &secrets(), NOW, 120);
        let _ = check_server_hello(&bytes, &KEY, &[0; 32]);
    }

    #[test]
    fn random_bytes_behind_a_valid_prefix_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..600),
        cut in 0usize..517,
    ) {
        let hello = hello(1);
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
        at in 0usize..517,
        flip in 1u8..=255,
    ) {
        let hello = hello(seed);
        prop_assert!(check_client_hello(&hello.bytes, &secrets(), NOW, 120).is_ok());
        let mut mutated = hello.bytes.clone();
        mutated[at] ^= flip;
        if check_client_hello(&mutated, &secrets(), NOW, 120).is_ok() {
            prop_assert!(TIME_BYTES.contains(&at), "accepted with byte {} changed", at);
        }
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
