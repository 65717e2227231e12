//! Round trips and refusals of the handshake messages.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::hello_check::MAX_HELLO_PAYLOAD;
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

/// The extensions of a hello built here, as (type, body), read with plain offsets.
fn extensions(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let be16 = |at: usize| usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    // Record and handshake headers, version, random, session id.
    let suites_at = 5 + 4 + 2 + 32 + 1 + 32;
    let compression_at = suites_at + 2 + be16(suites_at);
    let mut at = compression_at + 1 + usize::from(bytes[compression_at]) + 2;
    assert_eq!(at + be16(at - 2), bytes.len(), "extensions run to the end");
    let mut out = Vec::new();
    while at < bytes.len() {
        let kind = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let len = be16(at + 2);
        out.push((kind, bytes[at + 4..at + 4 + len].to_vec()));
        at += 4 + len;
    }
    out
}

fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// The extensions TDLib's hello description permutes (`td/mtproto/TlsInit.cpp`).
const TDLIB_EXTENSIONS: [u16; 16] = [
    0x0000, 0x0005, 0x000a, 0x000b, 0x000d, 0x0010, 0x0012, 0x0017, 0x001b, 0x0023, 0x002b, 0x002d,
    0x0033, 0x44cd, 0xfe0d, 0xff01,
];

#[test]
fn client_hello_has_the_shape_tdlib_describes() {
    for seed in 0..20 {
        let hello = hello(seed, NOW);
        let bytes = &hello.bytes;
        let record_len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        assert_eq!(bytes.len(), 5 + record_len);
        assert_eq!(&bytes[..3], b"\x16\x03\x01");
        assert_eq!(bytes[5], 0x01);
        assert_eq!(&bytes[9..11], b"\x03\x03");
        assert_eq!(&bytes[11..43], &hello.random);
        assert_eq!(bytes[43], 32);
        // GREASE, then the 15 suites TDLib lists.
        assert_eq!(&bytes[76..78], b"\x00\x20");
        assert!(is_grease(u16::from_be_bytes([bytes[78], bytes[79]])));
        assert_eq!(&bytes[80..112], b"\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30\xcc\xa9\xcc\xa8\xc0\x13\xc0\x14\x00\x9c\x00\x9d\x00\x2f\x00\x35\x01\x00");

        let extensions = extensions(bytes);
        assert_eq!(extensions.len(), 18);
        let (first, first_body) = &extensions[0];
        let (last, last_body) = &extensions[17];
        assert!(is_grease(*first) && first_body.is_empty());
        assert!(is_grease(*last) && last_body == &[0]);
        assert_ne!(first, last);
        let mut middle: Vec<u16> = extensions[1..17].iter().map(|(kind, _)| *kind).collect();
        middle.sort_unstable();
        assert_eq!(middle, TDLIB_EXTENSIONS);

        let body = |kind: u16| &extensions.iter().find(|(k, _)| *k == kind).unwrap().1;
        let sni = [&[0, 14, 0, 0, 11][..], DOMAIN.as_bytes()].concat();
        assert_eq!(body(0x0000), &sni);
        // X25519MLKEM768 among the groups, and its 1216-byte share after a GREASE share.
        assert_eq!(&body(0x000a)[4..8], b"\x11\xec\x00\x1d");
        let key_share = body(0x0033);
        assert_eq!(key_share.len(), 0x04ef);
        assert_eq!(&key_share[..2], b"\x04\xed");
        assert_eq!(&key_share[4..11], b"\x00\x01\x00\x11\xec\x04\xc0");
        assert_eq!(&key_share[1227..1231], b"\x00\x1d\x00\x20");
        let versions = body(0x002b);
        assert_eq!(versions.len(), 7);
        assert_eq!(&versions[3..], b"\x03\x04\x03\x03");
        // The ECH payload is one of four lengths, and so is the whole hello: TDLib's fixed
        // parts (1566 bytes) plus the domain and that payload.
        let ech = body(0xfe0d);
        let payload = ech.len() - 42;
        assert!([144, 176, 208, 240].contains(&payload), "{payload}");
        assert_eq!(bytes.len(), 1566 + DOMAIN.len() + payload);
        assert!((1700..1830).contains(&bytes.len()));

        assert_eq!(detect(bytes), Detected::FakeTls);
        assert_eq!(
            client_hello_len(bytes),
            Ok(Progress::Complete { len: bytes.len() })
        );
        assert_eq!(
            client_hello_len(&bytes[..100]),
            Ok(Progress::NeedMore {
                at_least: bytes.len()
            })
        );
        let accepted = check_client_hello(bytes, &[fake_tls(KEY, DOMAIN)], NOW, WINDOW).unwrap();
        assert_eq!(accepted.cipher_suite, 0x1301);
    }
    // The order differs from hello to hello.
    let order = |seed| {
        extensions(&hello(seed, NOW).bytes)
            .iter()
            .map(|(kind, _)| *kind)
            .filter(|kind| !is_grease(*kind))
            .collect::<Vec<_>>()
    };
    assert_ne!(order(1), order(2));
}

#[test]
fn legacy_hello_is_517_bytes_and_accepted() {
    for seed in 0..10 {
        let hello = ClientHello::legacy(&KEY, DOMAIN, NOW, &mut rng(seed)).unwrap();
        assert_eq!(hello.bytes.len(), PADDED_HELLO_LEN);
        assert_eq!(
            &hello.bytes[..11],
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
        );
        let extensions = extensions(&hello.bytes);
        assert_eq!(extensions.last().unwrap().0, 0x0015, "padding last");
        assert_eq!(detect(&hello.bytes), Detected::FakeTls);
        let accepted =
            check_client_hello(&hello.bytes, &[fake_tls(KEY, DOMAIN)], NOW, WINDOW).unwrap();
        assert_eq!(accepted.client_random, hello.random);
    }
}

/// A hello of the current shape with `edit` applied to its extensions.
fn edited(seed: u64, edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    use super::client_hello::{current_extensions, greases};
    let mut rng = rng(seed);
    let grease = greases(&mut rng);
    let mut extensions = current_extensions(DOMAIN, &grease, &mut rng);
    edit(&mut extensions);
    ClientHello::assemble(&KEY, NOW, &grease, &extensions, &mut rng)
        .unwrap()
        .bytes
}

#[test]
fn any_size_and_order_is_accepted() {
    use super::client_hello::extension;
    let ours = [fake_tls(KEY, DOMAIN)];
    // Reversed order, and an unknown extension making it 12 KB: still a hello.
    let big = edited(30, |extensions| {
        extensions.reverse();
        extensions.insert(3, extension(0x7a7a, &[0x55; 10_000]));
    });
    assert!(big.len() > 11_000);
    assert_eq!(detect(&big), Detected::FakeTls);
    assert_eq!(
        client_hello_len(&big),
        Ok(Progress::Complete { len: big.len() })
    );
    assert!(check_client_hello(&big, &ours, NOW, WINDOW).is_ok());
    // Past TLS's 2^14-byte plaintext record: refused from the header alone.
    let huge = edited(31, |extensions| {
        extensions.push(extension(0x7a7a, &[0x55; 16_000]));
    });
    assert_eq!(
        client_hello_len(&huge),
        Err(FakeTlsError::RecordTooLarge {
            len: huge.len() - 5,
            max: MAX_HELLO_PAYLOAD
        })
    );
}

#[test]
fn tls_1_3_rules_are_enforced() {
    use super::client_hello::extension;
    let ours = [fake_tls(KEY, DOMAIN)];
    let refused = |bytes: Vec<u8>, why: &str| {
        let result = check_client_hello(&bytes, &ours, NOW, WINDOW);
        assert!(
            matches!(result, Err(FakeTlsError::Malformed { reason, .. }) if reason == why),
            "{why}: {result:?}"
        );
    };
    let without = |kind: u16| {
        move |extensions: &mut Vec<Vec<u8>>| {
            extensions.retain(|e| e[..2] != kind.to_be_bytes());
        }
    };
    refused(
        edited(40, |e| e.push(extension(0x0017, &[]))),
        "an extension type appears twice",
    );
    refused(
        edited(41, without(0x002b)),
        "TLS 1.3 not among the supported versions",
    );
    refused(
        edited(42, |e| {
            without(0x002b)(e);
            e.push(extension(0x002b, &[0x02, 0x03, 0x03]));
        }),
        "TLS 1.3 not among the supported versions",
    );
    refused(edited(43, without(0x0000)), "no server name");
    // pre_shared_key followed by the trailing GREASE extension.
    refused(
        edited(44, |e| e.push(extension(0x0029, &[0; 8]))),
        "pre_shared_key is not the last extension",
    );
    refused(
        edited(45, |e| {
            without(0x0033)(e);
            e.push(extension(0x0033, &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x00]));
        }),
        "empty key share",
    );
    refused(
        edited(46, |e| {
            without(0x0033)(e);
            e.push(extension(
                0x0033,
                &[0x00, 0x05, 0x00, 0x1d, 0x00, 0x20, 0x01],
            ));
        }),
        "key share cut short",
    );
    // Compression methods other than exactly "none".
    let mut compressed = hello(47, NOW).bytes;
    compressed[111] = 0x01; // the method byte after the count 1
    assert_eq!(&compressed[110..112], b"\x01\x01");
    refused(compressed, "compression methods other than none alone");
    // No TLS 1.3 cipher suite: every suite replaced by an old one.
    let mut old_suites = hello(48, NOW).bytes;
    for pair in old_suites[80..110].chunks_exact_mut(2) {
        pair.copy_from_slice(&[0x00, 0x2f]);
    }
    refused(old_suites, "no TLS 1.3 cipher suite offered");
}

#[test]
fn longest_domain_fits_and_one_more_does_not() {
    let longest = "a".repeat(MAX_DOMAIN_LEN);
    let secrets = [fake_tls(KEY, &longest)];
    let hello = ClientHello::new(&KEY, &longest, NOW, &mut rng(3)).unwrap();
    assert!(check_client_hello(&hello.bytes, &secrets, NOW, WINDOW).is_ok());
    let legacy = ClientHello::legacy(&KEY, &longest, NOW, &mut rng(3)).unwrap();
    assert_eq!(legacy.bytes.len(), PADDED_HELLO_LEN);
    assert!(check_client_hello(&legacy.bytes, &secrets, NOW, WINDOW).is_ok());
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
    for at in [0x30, 11, 38, 100, 516, hello.bytes.len() - 1] {
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
    assert!(malformed(&hello.bytes[..hello.bytes.len() - 1]));
    assert!(malformed(&[&hello.bytes[..], &[0]].concat()));
    let mut bad_session = hello.bytes.clone();
    bad_session[43] = 31;
    assert!(malformed(&bad_session));
    let mut bad_type = hello.bytes.clone();
    bad_type[5] = 2;
    assert!(malformed(&bad_type));
    assert!(malformed(&[]));
    assert!(client_hello_len(b"\x16\x03\x02\x02\x00").is_err());
    assert!(client_hello_len(b"\x16\x03\x01\x40\x01").is_err());
    assert!(client_hello_len(b"\x16\x03\x01\x00\x10").is_err());
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
