//! Telethon's sessions, as its `sessions/sqlite.py` and `sessions/string.py` define them.
//!
//! - The SQLite file: a `version` table (`version`, 1 to 8) and a `sessions` table with
//!   one row (`dc_id`, `server_address`, `port`, `auth_key`, from version 5 `takeout_id`,
//!   from version 8 (Telethon 1.45) `tmp_auth_key`). An empty `auth_key` means not logged
//!   in.
//! - `StringSession`: `1`, then URL-safe base64 of a big-endian `dc_id: u8`, the IPv4 (4
//!   bytes) or IPv6 (16) address, `port: u16` and the 256-byte key.
//!
//! Telethon stores neither the user id nor whether the account is a bot; the address is
//! not used (tgdl reaches the DC through its own configuration).

use std::path::Path;

use super::error::{Format, ImportError, Origin};
use mtcrypto::AuthKey;
use mtproto::base64::decode_lenient;

use super::{ImportSource, ImportedLogin, KEY_LEN, auth_key, dc_id, sqlite, stored_key};

/// The database versions Telethon has had.
const VERSIONS: std::ops::RangeInclusive<i64> = 1..=8;
/// The only `StringSession` version.
const STRING_VERSION: char = '1';
const IPV4_STRING_LEN: usize = 1 + 4 + 2 + KEY_LEN;
const IPV6_STRING_LEN: usize = 1 + 16 + 2 + KEY_LEN;

/// Reads a Telethon `.session` file (opened read-only).
pub fn read_file(path: &Path) -> Result<ImportedLogin, ImportError> {
    let db = sqlite::open(path, Format::Telethon)?;
    let version = db.version("version")?;
    if !VERSIONS.contains(&version) {
        return Err(ImportError::UnknownVersion {
            origin: db.origin,
            format: Format::Telethon,
            version,
        });
    }
    let query = format!("SELECT dc_id, {} FROM sessions", sqlite::KEY_COLUMNS);
    let row = db.first_row(&query, |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Option<Vec<u8>>>(1)?,
            row.get::<_, Option<i64>>(2)?,
        ))
    })?;
    let Some((dc, key, key_len)) = row else {
        return Err(ImportError::NotLoggedIn { origin: db.origin });
    };
    let auth_key = stored_key(&db.origin, key.as_deref(), key_len)?;
    login(&db.origin, dc, auth_key)
}

/// Reads a Telethon `StringSession` (surrounding whitespace ignored; base64 padding
/// optional).
pub fn read_string(text: &str) -> Result<ImportedLogin, ImportError> {
    let origin = Origin::String;
    let text = text.trim();
    let Some(encoded) = text.strip_prefix(STRING_VERSION) else {
        let found = super::pyrogram::is_string(text).then_some(Format::Pyrogram);
        return Err(ImportError::OtherFormat {
            origin,
            expected: Format::Telethon,
            found,
        });
    };
    let bytes = decode_lenient(encoded)
        .ok_or_else(|| ImportError::malformed(&origin, "not base64 after the version"))?;
    let ip_len = match bytes.len() {
        IPV4_STRING_LEN => 4,
        IPV6_STRING_LEN => 16,
        _ => {
            return Err(ImportError::malformed(
                &origin,
                "a length Telethon never writes",
            ));
        }
    };
    let (dc, rest) = bytes
        .split_first()
        .ok_or_else(|| ImportError::malformed(&origin, "empty"))?;
    let key = rest
        .get(ip_len + 2..)
        .ok_or_else(|| ImportError::malformed(&origin, "too short"))?;
    login(&origin, i64::from(*dc), auth_key(&origin, key)?)
}

/// Whether `text` has the shape of a `StringSession` (for telling formats apart).
pub(super) fn is_string(text: &str) -> bool {
    text.strip_prefix(STRING_VERSION)
        .and_then(decode_lenient)
        .is_some_and(|b| [IPV4_STRING_LEN, IPV6_STRING_LEN].contains(&b.len()))
}

fn login(origin: &Origin, dc: i64, auth_key: AuthKey) -> Result<ImportedLogin, ImportError> {
    Ok(ImportedLogin {
        source: ImportSource::Telethon,
        dc_id: dc_id(origin, dc)?,
        auth_key,
        other_keys: Vec::new(),
        user_id: None,
        is_bot: None,
    })
}
