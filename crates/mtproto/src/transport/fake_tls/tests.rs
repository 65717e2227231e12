//! Round trips and refusals of the handshake messages.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;
use crate::transport::{Detected, ProxySecret, detect};

const KEY: [u8; 16] = [7; 16];
const DOMAIN: &str = "example.com";
const NOW: u32 = 1_700_000_000;
const WINDOW: u32 = 120;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn fake_tls(key: [u8; 16], domain: &str) -> ProxySecret {
    ProxySecret::FakeTls {
        key,
        domain: domain.into(),
    }
}

fn hello(seed: u64, time: u32) -> ClientHello {
    ClientHello::new(&KEY, DOMAIN, time, &mut rng(seed)).unwrap()
}

#[test]
fn client_hello_has_the_clients_shape() {
    let hello = hello(1, NOW);
    assert_eq!(hello.bytes.len(), CLIENT_HELLO_LEN);
    assert_eq!(
        &hello.bytes[..11],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    );
    assert_eq!(&hello.bytes[11..43], &hello.random);
    assert_eq!(hello.bytes[43], 32);
    assert_eq!(detect(&hello.bytes), Detected::FakeTls);
    assert_eq!(
        client_hello_len(&hello.bytes),
        Ok(Progress::Complete {
            len: CLIENT_HELLO_LEN
        })
    );
    assert_eq!(
        client_hello_len(&hello.bytes[..100]),
        Ok(Progress::NeedMore {
            at_least: CLIENT_HELLO_LEN
        })
    );
    let sni = [&[0, 0, 0, 16, 0, 14, 0, 0, 11][..], DOMAIN.as_bytes()].concat();
    assert!(hello.bytes.windows(sni.len()).any(|w| w == sni));
    // The extension order is shuffled: two seeds give two layouts.
    let other = ClientHello::new(&KEY, DOMAIN, NOW, &mut rng(2)).unwrap();
    assert_ne!(hello.bytes[112..], other.bytes[112..]);
}

#[test]
fn longest_domain_fits_and_one_more_does_not() {
    let longest = "a".repeat(MAX_DOMAIN_LEN);
    let hello = ClientHello::new(&KEY, &longest, NOW, &mut rng(3)).unwrap();
    assert_eq!(hello.bytes.len(), CLIENT_HELLO_LEN);
    let secrets = [fake_tls(KEY, &longest)];
    assert!(check_client_hello(&hello.bytes, &secrets, NOW, WINDOW).is_ok());
    let too_long = "a".repeat(MAX_DOMAIN_LEN + 1);
    assert_eq!(
        ClientHello::new(&KEY, &too_long, NOW, &mut rng(3)),
        Err(FakeTlsError::DomainTooLong {
            len: MAX_DOMAIN_LEN + 1,
            max: MAX_DOMAIN_LEN
        })
    );
}

#[test]
fn proxy_accepts_the_right_secret_among_others() {
    let hello = hello(4, NOW + 30);
    let secrets = [
        ProxySecret::Plain(KEY),
        fake_tls([1; 16], DOMAIN),
        ProxySecret::Padded(KEY),
        fake_tls(KEY, "EXAMPLE.com"),
    ];
    let accepted = check_client_hello(&hello.bytes, &secrets, NOW, WINDOW).unwrap();
    assert_eq!(accepted.secret_index, 3);
    assert_eq!(accepted.client_time, NOW + 30);
    assert_eq!(accepted.client_random, hello.random);
    assert_eq!(&accepted.session_id[..], &hello.bytes[44..76]);
}

#[test]
fn proxy_refuses_wrong_secret_domain_time_and_tampering() {
    let hello = hello(5, NOW);
    let check = |bytes: &[u8], secrets: &[ProxySecret], now| {
        check_client_hello(bytes, secrets, now, WINDOW)
    };
    let ours = [fake_tls(KEY, DOMAIN)];
    assert_eq!(
        check(
            &hello.bytes,
            &[ProxySecret::Plain(KEY), fake_tls([8; 16], DOMAIN)],
            NOW
        ),
        Err(FakeTlsError::NoSecretMatched { tried: 1 })
    );
    assert_eq!(
        check(&hello.bytes, &[fake_tls(KEY, "example.org")], NOW),
        Err(FakeTlsError::WrongDomain)
    );
    assert!(check(&hello.bytes, &ours, NOW + WINDOW).is_ok());
    assert_eq!(
        check(&hello.bytes, &ours, NOW + WINDOW + 1),
        Err(FakeTlsError::ClockSkew {
            skew: -i64::from(WINDOW + 1),
            window: WINDOW
        })
    );
    assert!(matches!(
        check(&hello.bytes, &ours, NOW - 1000),
        Err(FakeTlsError::ClockSkew { skew: 1000, .. })
    ));
    // Any byte outside the random is covered by the digest, and so are its first 28 bytes.
    for at in [0x30, 11, 38, 100, 516] {
        let mut tampered = hello.bytes.clone();
        tampered[at] ^= 0x01;
        assert!(check(&tampered, &ours, NOW).is_err(), "byte {at}");
    }
    let mut tampered = hello.bytes.clone();
    tampered[200] ^= 0x40;
    assert!(matches!(
        check(&tampered, &ours, NOW),
        Err(FakeTlsError::NoSecretMatched { tried: 1 } | FakeTlsError::Malformed { .. })
    ));
}

#[test]
fn strict_parse_refuses_bad_lengths() {
    let hello = hello(6, NOW);
    let ours = [fake_tls(KEY, DOMAIN)];
    let malformed = |bytes: &[u8]| {
        matches!(
            check_client_hello(bytes, &ours, NOW, WINDOW),
            Err(FakeTlsError::Malformed { .. })
        )
    };
    assert!(malformed(&hello.bytes[..516]));
    assert!(malformed(&[&hello.bytes[..], &[0]].concat()));
    let mut bad_session = hello.bytes.clone();
    bad_session[43] = 31;
    assert!(malformed(&bad_session));
    let mut bad_type = hello.bytes.clone();
    bad_type[5] = 2;
    assert!(malformed(&bad_type));
    assert!(malformed(&[]));
    assert!(client_hello_len(b"\x16\x03\x03\x02\x00").is_err());
    assert!(client_hello_len(b"\x16\x03\x01\xff\xff").is_err());
}

#[test]
fn server_answer_round_trip() {
    let hello = hello(7, NOW);
    let accepted = check_client_hello(&hello.bytes, &[fake_tls(KEY, DOMAIN)], NOW, WINDOW).unwrap();
    let answer = server_hello(&KEY, &accepted, &mut rng(8)).unwrap();
    assert_eq!(
        &answer[..11],
        b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"
    );
    assert_eq!(&answer[44..76], &accepted.session_id);
    assert_eq!(&answer[127..133], &CHANGE_CIPHER_SPEC);
    assert_eq!(&answer[133..136], b"\x17\x03\x03");
    let certificate = usize::from(u16::from_be_bytes([answer[136], answer[137]]));
    assert_eq!(answer.len(), 138 + certificate);
    assert!((1024..4096).contains(&certificate));

    // Fed piece by piece, the length is known once every header is in.
    let mut needed = 0;
    loop {
        match server_hello_len(&answer[..needed]).unwrap() {
            Progress::NeedMore { at_least } => {
                assert!(at_least > needed && at_least <= answer.len());
                needed = at_least;
            }
            Progress::Complete { len } => {
                assert_eq!(len, answer.len());
                break;
            }
        }
    }
    let with_more = [&answer[..], b"\x17\x03\x03\x00\x01x"].concat();
    assert_eq!(
        server_hello_len(&with_more),
        Ok(Progress::Complete { len: answer.len() })
    );

    assert_eq!(check_server_hello(&answer, &KEY, &hello.random), Ok(()));
    assert_eq!(
        check_server_hello(&answer, &[8; 16], &hello.random),
        Err(FakeTlsError::BadServerDigest)
    );
    let other_random = [0u8; 32];
    assert_eq!(
        check_server_hello(&answer, &KEY, &other_random),
        Err(FakeTlsError::BadServerDigest)
    );
    let mut tampered = answer.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        check_server_hello(&tampered, &KEY, &hello.random),
        Err(FakeTlsError::BadServerDigest)
    );
    assert!(check_server_hello(&with_more, &KEY, &hello.random).is_err());
}

#[test]
fn server_answer_framing_refusals() {
    let malformed = |bytes: &[u8]| server_hello_len(bytes).is_err();
    assert!(malformed(b"\x17\x03\x03\x00\x7a"));
    assert!(malformed(b"\x16\x03\x03\x00\x10"));
    assert!(malformed(b"\x16\x03\x03\xff\xff"));
    let mut answer = vec![0x16, 0x03, 0x03, 0x00, 0x26];
    answer.extend([0; 0x26]);
    answer.extend(b"\x14\x03\x03\x00\x01\x02");
    assert!(malformed(&answer));
    answer.truncate(answer.len() - 6);
    answer.extend(CHANGE_CIPHER_SPEC);
    answer.extend(b"\x16\x03\x03\x00\x01");
    assert!(malformed(&answer));
}
