//! MTProxy secrets, from the hex and base64 forms found in configs and `tg://proxy` links.
//!
//! Byte layouts: 16 bytes = plain key; `dd` + 16 bytes = key, padded intermediate only;
//! `ee` + 16 bytes + domain = key for fake TLS, disguised as TLS to that domain.

use std::fmt;
use std::str::FromStr;

use zeroize::{Zeroize, Zeroizing};

use super::TransportKind;

/// Longest secret text accepted; real ones are under 600 characters (a 253-byte domain).
const MAX_TEXT: usize = 1024;
/// Longest DNS name.
const MAX_DOMAIN: usize = 253;
/// Prefix byte of padded-only secrets.
const PADDED_PREFIX: u8 = 0xdd;
/// Prefix byte of fake-TLS secrets.
const FAKE_TLS_PREFIX: u8 = 0xee;

/// An MTProxy secret. `Debug` does not print the key, and the key is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub enum ProxySecret {
    /// Any obfuscated transport.
    Plain([u8; 16]),
    /// Obfuscated padded intermediate only.
    Padded([u8; 16]),
    /// Fake TLS to `domain`, then the obfuscated stream inside it.
    FakeTls {
        /// The 16-byte key.
        key: [u8; 16],
        /// The host name the TLS handshake pretends to reach (validated: non-empty, ASCII
        /// letters, digits, `.` and `-`).
        domain: String,
    },
}

/// Why a secret could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Empty text.
    #[error("proxy secret is empty")]
    Empty,
    /// Text longer than any valid secret.
    #[error("proxy secret of {len} characters is too long")]
    TooLong {
        /// Length of the text.
        len: usize,
    },
    /// Neither hex nor base64.
    #[error("proxy secret is neither hex nor base64")]
    BadEncoding,
    /// Decoded bytes whose length fits no layout.
    #[error("proxy secret of {len} bytes fits no known layout")]
    BadLength {
        /// Decoded length.
        len: usize,
    },
    /// A long secret whose first byte is neither `dd` nor `ee`.
    #[error("proxy secret prefix {prefix:#04x} is neither dd nor ee")]
    UnknownPrefix {
        /// The first byte.
        prefix: u8,
    },
    /// A fake-TLS domain that is empty, too long, or not a host name.
    #[error("fake-TLS proxy secret has an invalid domain")]
    BadDomain,
}

impl ProxySecret {
    /// Parses hex or base64 (standard or URL-safe, padding optional). Text made only of hex
    /// digits is read as hex first, falling back to base64.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        check_text(text)?;
        if text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Self::from_hex(text).or_else(|err| Self::from_base64(text).map_err(|_| err));
        }
        Self::from_base64(text)
    }

    /// Parses the hex form: 32 digits, `dd` + 32, or `ee` + 32 + the hex of the domain.
    pub fn from_hex(text: &str) -> Result<Self, SecretError> {
        check_text(text)?;
        let bytes = decode_hex(text).ok_or(SecretError::BadEncoding)?;
        Self::from_bytes(&bytes)
    }

    /// Parses the base64 form (standard or URL-safe alphabet, padding optional) of the same
    /// byte layouts.
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        check_text(text)?;
        let bytes = crate::base64::decode_lenient(text).ok_or(SecretError::BadEncoding)?;
        Self::from_bytes(&bytes)
    }

    /// Reads the raw byte layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if let Ok(key) = <[u8; 16]>::try_from(bytes) {
            return Ok(Self::Plain(key));
        }
        let Some((&prefix, rest)) = bytes.split_first() else {
            return Err(SecretError::Empty);
        };
        match (prefix, rest.split_first_chunk::<16>()) {
            (PADDED_PREFIX, Some((key, []))) => Ok(Self::Padded(*key)),
            (FAKE_TLS_PREFIX, Some((key, domain))) => Ok(Self::FakeTls {
                key: *key,
                domain: parse_domain(domain)?,
            }),
            (prefix, Some(_)) if prefix != PADDED_PREFIX => {
                Err(SecretError::UnknownPrefix { prefix })
            }
            // Known prefix with the wrong length, or too short for any prefixed layout.
            _ => Err(SecretError::BadLength { len: bytes.len() }),
        }
    }

    /// The 16-byte key, the part the obfuscation keys are hashed with.
    pub fn key(&self) -> &[u8; 16] {
        match self {
            Self::Plain(key) | Self::Padded(key) | Self::FakeTls { key, .. } => key,
        }
    }

    /// The fake-TLS domain, if any.
    pub fn domain(&self) -> Option<&str> {
        match self {
            Self::FakeTls { domain, .. } => Some(domain),
            Self::Plain(_) | Self::Padded(_) => None,
        }
    }

    /// The transport the proxy insists on, if any: padded intermediate for `dd` and `ee`
    /// secrets. Clients use it with every secret longer than 16 bytes (TDLib:
    /// `ProxySecret::use_random_padding` in `td/mtproto/ProxySecret.h`), and the official
    /// MTProxy serving a fake-TLS domain refuses any other tag inside TLS ("Expected random
    /// padding mode", `net/net-tcp-rpc-ext-server.c`).
    pub fn required_transport(&self) -> Option<TransportKind> {
        match self {
            Self::Padded(_) | Self::FakeTls { .. } => Some(TransportKind::PaddedIntermediate),
            Self::Plain(_) => None,
        }
    }

    /// The raw byte layout (prefix, key, domain).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(17 + MAX_DOMAIN));
        match self {
            Self::Plain(key) => out.extend_from_slice(key),
            Self::Padded(key) => {
                out.push(PADDED_PREFIX);
                out.extend_from_slice(key);
            }
            Self::FakeTls { key, domain } => {
                out.push(FAKE_TLS_PREFIX);
                out.extend_from_slice(key);
                out.extend_from_slice(domain.as_bytes());
            }
        }
        out
    }

    /// The lowercase hex form.
    pub fn to_hex(&self) -> Zeroizing<String> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let bytes = self.to_bytes();
        let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 2));
        for &b in bytes.iter() {
            for nibble in [b >> 4, b & 0x0f] {
                out.push(char::from(
                    DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        }
        out
    }
}

impl FromStr for ProxySecret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, SecretError> {
        Self::parse(text)
    }
}

impl fmt::Debug for ProxySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("ProxySecret::Plain(..)"),
            Self::Padded(_) => f.write_str("ProxySecret::Padded(..)"),
            Self::FakeTls { domain, .. } => f
                .debug_struct("ProxySecret::FakeTls")
                .field("domain", domain)
                .finish_non_exhaustive(),
        }
    }
}

impl Drop for ProxySecret {
    fn drop(&mut self) {
        match self {
            Self::Plain(key) | Self::Padded(key) | Self::FakeTls { key, .. } => key.zeroize(),
        }
    }
}

fn check_text(text: &str) -> Result<(), SecretError> {
    if text.is_empty() {
        Err(SecretError::Empty)
    } else if text.len() > MAX_TEXT {
        Err(SecretError::TooLong { len: text.len() })
    } else {
        Ok(())
    }
}

fn parse_domain(bytes: &[u8]) -> Result<String, SecretError> {
    let valid = !bytes.is_empty()
        && bytes.len() <= MAX_DOMAIN
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !valid {
        return Err(SecretError::BadDomain);
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| SecretError::BadDomain)
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let digits = text.as_bytes();
    if digits.len() & 1 != 0 {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks_exact(2) {
        let [hi, lo] = pair else { return None };
        out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
    }
    Some(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoder() {
        assert_eq!(decode_hex("00ffA0").unwrap().as_slice(), &[0, 0xff, 0xa0]);
        assert!(decode_hex("0").is_none());
        assert!(decode_hex("0g").is_none());
    }

    #[test]
    fn debug_hides_the_key() {
        let secret = ProxySecret::Plain([0xab; 16]);
        assert!(!format!("{secret:?}").contains("171"));
        assert!(!format!("{secret:?}").to_lowercase().contains("ab"));
    }
}
