//! What the client knows about Telegram before its first contact: DC addresses and the
//! RSA keys that sign handshakes. Public data; the full DC list then comes from
//! `help.getConfig`.

use std::net::{IpAddr, Ipv4Addr};

use mtcrypto::RsaPublicKey;

use crate::store::DcAddress;

/// Telegram's production DCs (IPv4, port 443), as `help.getConfig` lists them.
pub const PRODUCTION_DCS: [(i32, [u8; 4]); 5] = [
    (1, [149, 154, 175, 53]),
    (2, [149, 154, 167, 51]),
    (3, [149, 154, 175, 100]),
    (4, [149, 154, 167, 91]),
    (5, [91, 108, 56, 130]),
];

/// Telegram's test DCs (IPv4, port 443).
pub const TEST_DCS: [(i32, [u8; 4]); 3] = [
    (1, [149, 154, 175, 10]),
    (2, [149, 154, 167, 40]),
    (3, [149, 154, 175, 117]),
];

/// The port every built-in address uses.
pub const TELEGRAM_PORT: u16 = 443;

/// The production server key, fingerprint `0xd09d1d85de64fd85` (PKCS#1).
pub const PRODUCTION_RSA_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA6LszBcC1LGzyr992NzE0ieY+BSaOW622Aa9Bd4ZHLl+TuFQ4lo4g
5nKaMBwK/BIb9xUfg0Q29/2mgIR6Zr9krM7HjuIcCzFvDtr+L0GQjae9H0pRB2OO
62cECs5HKhT5DZ98K33vmWiLowc621dQuwKWSQKjWf50XYFw42h21P2KXUGyp2y/
+aEyZ+uVgLLQbRA1dEjSDZ2iGRy12Mk5gpYc397aYp438fsJoHIgJ2lgMv5h7WY9
t6N/byY9Nw9p21Og3AoXSL2q/2IJ1WRUhebgAdGVMlV1fkuOQoEzR7EdpqtQD9Cs
5+bfo3Nhmcyvk5ftB0WkJ9z6bNZ7yxrP8wIDAQAB
-----END RSA PUBLIC KEY-----
";

/// The test server key, fingerprint `0xb25898df208d2603` (PKCS#1).
pub const TEST_RSA_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAyMEdY1aR+sCR3ZSJrtztKTKqigvO/vBfqACJLZtS7QMgCGXJ6XIR
yy7mx66W0/sOFa7/1mAZtEoIokDP3ShoqF4fVNb6XeqgQfaUHd8wJpDWHcR2OFwv
plUUI1PLTktZ9uW2WE23b+ixNwJjJGwBDJPQEQFBE+vfmH0JP503wr5INS1poWg/
j25sIWeYPHYeOrFp/eXaqhISP6G+q2IeTaWTXpwZj4LzXq5YOpk4bYEQ6mvRq7D1
aHWfYmlEGepfaYR8Q0YqvvhYtMte3ITnuSJs171+GDqpdKcSwHnd6FudwGO4pcCO
j4WcDuXc2CTHgH8gFTNhp/Y8/SpDOhvn9QIDAQAB
-----END RSA PUBLIC KEY-----
";

/// Addresses for a built-in table.
pub(crate) fn addresses(table: &[(i32, [u8; 4])]) -> Vec<DcAddress> {
    table
        .iter()
        .map(|&(id, ip)| DcAddress::new(id, IpAddr::V4(Ipv4Addr::from(ip)), TELEGRAM_PORT))
        .collect()
}

/// Parses built-in PEMs (each is checked by a test, so none is ever skipped).
pub(crate) fn keys(pems: &[&str]) -> Vec<RsaPublicKey> {
    pems.iter()
        .filter_map(|pem| RsaPublicKey::from_pem(pem).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn built_in_keys_parse_with_their_published_fingerprints() {
        let prod = RsaPublicKey::from_pem(PRODUCTION_RSA_PEM).unwrap();
        assert_eq!(prod.fingerprint() as u64, 0xd09d_1d85_de64_fd85);
        assert_eq!(prod.bits(), 2048);
        let test = RsaPublicKey::from_pem(TEST_RSA_PEM).unwrap();
        assert_eq!(test.fingerprint() as u64, 0xb258_98df_208d_2603);
        assert_eq!(test.bits(), 2048);
        assert_eq!(keys(&[PRODUCTION_RSA_PEM, TEST_RSA_PEM]).len(), 2);
    }

    #[test]
    fn built_in_tables_cover_every_dc_once() {
        let prod = addresses(&PRODUCTION_DCS);
        assert_eq!(
            prod.iter().map(|a| a.dc_id).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert!(prod.iter().all(|a| a.port == 443 && !a.flags.ipv6));
        assert_eq!(addresses(&TEST_DCS).len(), 3);
    }
}
