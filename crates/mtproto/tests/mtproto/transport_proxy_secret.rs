//! MTProxy secrets in their hex and base64 forms, and the malformed ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mtproto::transport::{ProxySecret, SecretError, TransportKind};

const KEY: [u8; 16] = [
    0xfb, 0xff, 0xbf, 0x3e, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xfe,
];
const KEY_HEX: &str = "fbffbf3e102030405060708090a0b0fe";

fn fake_tls() -> ProxySecret {
    ProxySecret::FakeTls {
        key: KEY,
        domain: "example.com".to_owned(),
    }
}

#[test]
fn hex_forms() {
    assert_eq!(ProxySecret::parse(KEY_HEX), Ok(ProxySecret::Plain(KEY)));
    assert_eq!(
        ProxySecret::parse(&KEY_HEX.to_uppercase()),
        Ok(ProxySecret::Plain(KEY))
    );
    assert_eq!(
        ProxySecret::parse(&format!("dd{KEY_HEX}")),
        Ok(ProxySecret::Padded(KEY))
    );
    let ee = format!("ee{KEY_HEX}{}", hex::encode("example.com"));
    assert_eq!(ProxySecret::parse(&ee), Ok(fake_tls()));
    assert_eq!(ProxySecret::from_hex(&ee), Ok(fake_tls()));
    assert_eq!(fake_tls().to_hex().as_str(), ee);
    assert_eq!(
        ProxySecret::Padded(KEY).to_hex().as_str(),
        format!("dd{KEY_HEX}")
    );
    // Surrounding whitespace, as pasted from a config, is ignored.
    assert_eq!(
        ProxySecret::parse(&format!("  {KEY_HEX}\n")),
        Ok(ProxySecret::Plain(KEY))
    );
}

#[test]
fn base64_forms() {
    let cases = [
        ("+/+/PhAgMEBQYHCAkKCw/g==", ProxySecret::Plain(KEY)),
        ("-_-_PhAgMEBQYHCAkKCw_g", ProxySecret::Plain(KEY)),
        ("-_-_PhAgMEBQYHCAkKCw_g==", ProxySecret::Plain(KEY)),
        ("3fv/vz4QIDBAUGBwgJCgsP4=", ProxySecret::Padded(KEY)),
        ("3fv_vz4QIDBAUGBwgJCgsP4", ProxySecret::Padded(KEY)),
        ("7vv/vz4QIDBAUGBwgJCgsP5leGFtcGxlLmNvbQ==", fake_tls()),
        ("7vv_vz4QIDBAUGBwgJCgsP5leGFtcGxlLmNvbQ", fake_tls()),
    ];
    for (text, want) in cases {
        assert_eq!(ProxySecret::parse(text).as_ref(), Ok(&want), "{text}");
        assert_eq!(ProxySecret::from_base64(text).as_ref(), Ok(&want), "{text}");
        assert_eq!(text.parse::<ProxySecret>().as_ref(), Ok(&want), "{text}");
    }
}

#[test]
fn accessors() {
    let secret = fake_tls();
    assert_eq!(secret.key(), &KEY);
    assert_eq!(secret.domain(), Some("example.com"));
    assert_eq!(
        secret.required_transport(),
        Some(TransportKind::PaddedIntermediate)
    );
    assert_eq!(
        ProxySecret::Padded(KEY).required_transport(),
        Some(TransportKind::PaddedIntermediate)
    );
    assert_eq!(ProxySecret::Plain(KEY).required_transport(), None);
    assert_eq!(ProxySecret::Plain(KEY).domain(), None);
    assert_eq!(
        ProxySecret::from_bytes(&secret.to_bytes()).as_ref(),
        Ok(&secret)
    );
    let debug = format!("{secret:?}");
    assert!(debug.contains("example.com") && !debug.contains("251"));
}

#[test]
fn malformed_secrets() {
    let long = "a".repeat(2000);
    let cases: Vec<(String, SecretError)> = vec![
        (String::new(), SecretError::Empty),
        ("   ".to_owned(), SecretError::Empty),
        (long, SecretError::TooLong { len: 2000 }),
        // 15 bytes of hex; also not base64 of any valid layout.
        (KEY_HEX[..30].to_owned(), SecretError::BadLength { len: 15 }),
        (format!("dd{KEY_HEX}00"), SecretError::BadLength { len: 18 }),
        (
            format!("ab{KEY_HEX}"),
            SecretError::UnknownPrefix { prefix: 0xab },
        ),
        (format!("ee{KEY_HEX}"), SecretError::BadDomain),
        (
            format!("ee{KEY_HEX}{}", hex::encode("exa mple.com")),
            SecretError::BadDomain,
        ),
        (
            format!("ee{KEY_HEX}{}", hex::encode("exämple.com")),
            SecretError::BadDomain,
        ),
        (
            format!("ee{KEY_HEX}{}", "61".repeat(254)),
            SecretError::BadDomain,
        ),
        ("!!!!".to_owned(), SecretError::BadEncoding),
        (
            "+/+/PhAgMEBQYHCAkKCw/g=".to_owned(),
            SecretError::BadEncoding,
        ),
        (
            "+/+/PhAgMEBQYHCAkKCw/g===".to_owned(),
            SecretError::BadEncoding,
        ),
        ("+/+/PhAgMEBQYHCAk".to_owned(), SecretError::BadEncoding),
        (
            "+/+/PhAgMEBQYHC".to_owned(),
            SecretError::BadLength { len: 11 },
        ),
        (
            "+/+/PhAgMEBQYHCAkKCw".to_owned(),
            SecretError::BadLength { len: 15 },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(ProxySecret::parse(&text), Err(want), "{text:?}");
    }
    // The layout follows the length: "dd" + 30 digits is a 16-byte plain key.
    let mut dd_key = KEY;
    dd_key.copy_within(..15, 1);
    dd_key[0] = 0xdd;
    assert_eq!(
        ProxySecret::parse(&format!("dd{}", &KEY_HEX[..30])),
        Ok(ProxySecret::Plain(dd_key))
    );
    assert_eq!(ProxySecret::from_bytes(&[]), Err(SecretError::Empty));
    assert_eq!(
        ProxySecret::from_hex("+/+/PhAgMEBQYHCAkKCw/g=="),
        Err(SecretError::BadEncoding)
    );
    // Hex text read as base64 gives 24 bytes starting 0x7d: no layout.
    assert_eq!(
        ProxySecret::from_base64(KEY_HEX),
        Err(SecretError::UnknownPrefix { prefix: 0x7d })
    );
}
