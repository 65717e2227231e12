//! What a started server tells its clients: where each DC listens and which RSA key signs
//! the handshakes. Printed to stdout and written as JSON by `--ready-file`.

use serde::{Deserialize, Serialize};

/// One DC's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyDc {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

/// Everything a client needs to connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyInfo {
    pub dcs: Vec<ReadyDc>,
    /// CDN DCs, if any are served. Clients find them through `help.getConfig` (flag `cdn`)
    /// and their RSA key through `help.getCdnConfig`; listed here for tools that want to
    /// reach one directly. Absent from the file when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cdn_dcs: Vec<ReadyDc>,
    /// The server's RSA public key, PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`), the form Telethon's
    /// `rsa.add_key` takes.
    pub rsa_public_key_pem: String,
    /// The key's fingerprint as clients compute it (signed 64-bit).
    pub rsa_fingerprint: i64,
}

impl ReadyInfo {
    /// The JSON form written to the ready file.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A human-readable summary, one line per DC, then the key.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut text = String::new();
        for dc in &self.dcs {
            let _ = writeln!(text, "DC {} {}:{}", dc.id, dc.host, dc.port);
        }
        for dc in &self.cdn_dcs {
            let _ = writeln!(text, "CDN DC {} {}:{}", dc.id, dc.host, dc.port);
        }
        let _ = writeln!(
            text,
            "RSA fingerprint {:#018x} ({})",
            self.rsa_fingerprint as u64, self.rsa_fingerprint
        );
        text.push_str(&self.rsa_public_key_pem);
        if !self.rsa_public_key_pem.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}
