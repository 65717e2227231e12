//! Ready-made sessions: an auth key registered on a DC and logged in, so benchmarks and
//! interop scripts skip the login flow. Printed as hex and as a Telethon `StringSession`.

use std::net::{IpAddr, SocketAddr};

use mtcrypto::{AuthKey, RngCore};
use mtproto::session::SaltSchedule;

use super::World;
use super::store::phone_key;
use crate::RunningServer;
use crate::keys::NewKey;

/// A logged-in auth key.
#[derive(Clone)]
pub struct MintedSession {
    pub dc: i32,
    pub addr: SocketAddr,
    pub user_id: i64,
    pub auth_key: [u8; 256],
    pub key_id: u64,
    /// The server salt in force for the key (0: the minted key starts with salt 0).
    pub salt: i64,
    /// Telethon's `StringSession` for this key.
    pub string_session: String,
}

impl std::fmt::Debug for MintedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedSession")
            .field("dc", &self.dc)
            .field("addr", &self.addr)
            .field("user_id", &self.user_id)
            .field("key_id", &format_args!("{:#018x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// Why no session could be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("no account with phone {0} in the fixture")]
    UnknownAccount(String),
    #[error("the server has no DC {0}")]
    NoSuchDc(i32),
    #[error("the random auth key collided with a known one; try again")]
    Collision,
}

/// Registers a new auth key on DC `dc` (the account's home DC by default) of `server`,
/// logged in as the account with `phone`.
pub fn mint_session(
    server: &RunningServer,
    world: &World,
    phone: &str,
    dc: Option<i32>,
) -> Result<MintedSession, MintError> {
    let store = world.store();
    let account = store
        .accounts
        .get(&phone_key(phone))
        .ok_or_else(|| MintError::UnknownAccount(phone.to_owned()))?;
    let dc_id = dc.unwrap_or(account.home_dc);
    let handle = server.dc(dc_id).ok_or(MintError::NoSuchDc(dc_id))?;
    let mut rng = rand::rngs::OsRng;
    let mut bytes = [0u8; 256];
    rng.fill_bytes(&mut bytes);
    let now = mtnet::clock::unix_time();
    let salts = SaltSchedule::new(&mut rng)
        .with_period(handle.state().salt_period.as_secs())
        .with_initial_salt(0, now);
    let auth_key = AuthKey::from_bytes(bytes);
    let key_id = auth_key.key_id();
    handle
        .keys()
        .insert(NewKey {
            auth_key,
            salts,
            created: now,
            expires_in: None,
        })
        .ok_or(MintError::Collision)?;
    world.log_in(dc_id, key_id, account.user_id);
    let addr = handle.addr();
    Ok(MintedSession {
        dc: dc_id,
        addr,
        user_id: account.user_id,
        auth_key: bytes,
        key_id,
        salt: 0,
        string_session: string_session(dc_id, addr, &bytes),
    })
}

/// Telethon's `StringSession`: `"1" + urlsafe_b64(pack(">B4sH256s", dc, ip, port, key))`
/// (an IPv6 address takes 16 bytes in place of 4, as Telethon packs it).
pub fn string_session(dc: i32, addr: SocketAddr, auth_key: &[u8; 256]) -> String {
    let mut packed = Vec::with_capacity(1 + 16 + 2 + 256);
    packed.push(u8::try_from(dc).unwrap_or(0));
    match addr.ip() {
        IpAddr::V4(ip) => packed.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => packed.extend_from_slice(&ip.octets()),
    }
    packed.extend_from_slice(&addr.port().to_be_bytes());
    packed.extend_from_slice(auth_key);
    format!("1{}", base64_urlsafe(&packed))
}

/// URL-safe base64 with padding (Python's `base64.urlsafe_b64encode`).
fn base64_urlsafe(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let symbol =
        |index: u32| char::from(ALPHABET.get((index & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(symbol(n >> 18));
        out.push(symbol(n >> 12));
        out.push(if chunk.len() > 1 { symbol(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { symbol(n) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python() {
        // base64.urlsafe_b64encode(b"\xfb\xff\x00ab")
        assert_eq!(base64_urlsafe(b"\xfb\xff\x00ab"), "-_8AYWI=");
        assert_eq!(base64_urlsafe(b""), "");
        assert_eq!(base64_urlsafe(b"a"), "YQ==");
    }

    #[test]
    fn string_session_layout() {
        let key = [7u8; 256];
        let s = string_session(2, "127.0.0.1:20002".parse().unwrap(), &key);
        assert!(s.starts_with('1'));
        // 1 + 4 + 2 + 256 = 263 bytes -> 352 base64 chars.
        assert_eq!(s.len(), 1 + 352);
        // dc 2, 127.0.0.1: bytes 02 7f 00 -> "An8A".
        assert!(s[1..].starts_with("An8A"));
    }
}
