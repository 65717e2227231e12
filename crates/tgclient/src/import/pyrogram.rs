//! Pyrogram's sessions (and kurigram's, its maintained fork), as `storage/sqlite_storage.py`,
//! `storage/file_storage.py` and `storage/storage.py` define them.
//!
//! - The SQLite file: a `version` table (`number`: 1 to 3 in Pyrogram, up to 7 in
//!   kurigram 2.2.26, whose version 7 added `server_address` and `port`) and a `sessions`
//!   table with one row (`dc_id`, `test_mode`, `auth_key`, `date`, `user_id`, `is_bot`,
//!   and from version 3 `api_id`). A fresh file has the row with no key.
//! - Session strings: URL-safe base64 without padding of a big-endian struct, told apart
//!   by length as Pyrogram does: `dc_id: u8, test_mode: bool, key[256], user_id: u32,
//!   is_bot: bool` (263 bytes, the first layout), the same with `user_id: u64` (267), and
//!   the current `dc_id: u8, api_id: u32, test_mode: bool, key[256], user_id: u64,
//!   is_bot: bool` (271).

use std::path::Path;

use super::error::{Format, ImportError, Origin};
use mtcrypto::AuthKey;

use mtproto::base64::decode_lenient;

use super::{ImportSource, ImportedLogin, KEY_LEN, auth_key, dc_id, sqlite, stored_key};

/// The database versions Pyrogram and kurigram have had.
const VERSIONS: std::ops::RangeInclusive<i64> = 1..=7;
const OLD_STRING_LEN: usize = 1 + 1 + KEY_LEN + 4 + 1;
const OLD_STRING_64_LEN: usize = 1 + 1 + KEY_LEN + 8 + 1;
const STRING_LEN: usize = 1 + 4 + 1 + KEY_LEN + 8 + 1;

/// What a session holds, before its checks.
struct Fields {
    dc: i64,
    api_id: Option<i64>,
    test_mode: bool,
    /// The key, or why it is not one (reported after the test-mode check).
    key: Result<AuthKey, ImportError>,
    user_id: Option<i64>,
    is_bot: Option<bool>,
}

/// Reads a Pyrogram `.session` file (opened read-only).
pub fn read_file(path: &Path) -> Result<ImportedLogin, ImportError> {
    let db = sqlite::open(path, Format::Pyrogram)?;
    let version = db.version("number")?;
    if !VERSIONS.contains(&version) {
        return Err(ImportError::UnknownVersion {
            origin: db.origin,
            format: Format::Pyrogram,
            version,
        });
    }
    // Sessions before version 3 have no api_id.
    let api_id = if db.has_column("sessions", "api_id")? {
        "api_id"
    } else {
        "NULL"
    };
    let query = format!(
        "SELECT dc_id, test_mode, user_id, is_bot, {api_id}, {} FROM sessions",
        sqlite::KEY_COLUMNS
    );
    let row = db.first_row(&query, |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Option<bool>>(1)?,
            row.get::<_, Option<i64>>(2)?,
            row.get::<_, Option<bool>>(3)?,
            row.get::<_, Option<i64>>(4)?,
            row.get::<_, Option<Vec<u8>>>(5)?,
            row.get::<_, Option<i64>>(6)?,
        ))
    })?;
    let Some((dc, test_mode, user_id, is_bot, api_id, key, key_len)) = row else {
        return Err(ImportError::NotLoggedIn { origin: db.origin });
    };
    let fields = Fields {
        dc,
        api_id,
        test_mode: test_mode.unwrap_or(false),
        key: stored_key(&db.origin, key.as_deref(), key_len),
        user_id,
        is_bot,
    };
    login(&db.origin, fields)
}

/// Reads a Pyrogram session string, any layout it has had (surrounding whitespace
/// ignored; base64 padding optional).
pub fn read_string(text: &str) -> Result<ImportedLogin, ImportError> {
    let origin = Origin::String;
    let text = text.trim();
    let other = |found| ImportError::OtherFormat {
        origin: Origin::String,
        expected: Format::Pyrogram,
        found,
    };
    if super::telethon::is_string(text) {
        return Err(other(Some(Format::Telethon)));
    }
    let bytes = decode_lenient(text).ok_or_else(|| other(None))?;
    let mut s = Reader(&bytes);
    let fields = match bytes.len() {
        OLD_STRING_LEN | OLD_STRING_64_LEN => Fields {
            dc: i64::from(s.u8()?),
            api_id: None,
            test_mode: s.u8()? != 0,
            key: auth_key(&origin, s.take(KEY_LEN)?),
            user_id: Some(if bytes.len() == OLD_STRING_LEN {
                i64::from(s.u32()?)
            } else {
                s.i64()?
            }),
            is_bot: Some(s.u8()? != 0),
        },
        STRING_LEN => Fields {
            dc: i64::from(s.u8()?),
            api_id: Some(i64::from(s.u32()?)),
            test_mode: s.u8()? != 0,
            key: auth_key(&origin, s.take(KEY_LEN)?),
            user_id: Some(s.i64()?),
            is_bot: Some(s.u8()? != 0),
        },
        _ => {
            return Err(ImportError::malformed(
                &origin,
                "a length Pyrogram never writes",
            ));
        }
    };
    login(&origin, fields)
}

/// Whether `text` has the shape of a Pyrogram session string (for telling formats apart).
pub(super) fn is_string(text: &str) -> bool {
    decode_lenient(text)
        .is_some_and(|b| [OLD_STRING_LEN, OLD_STRING_64_LEN, STRING_LEN].contains(&b.len()))
}

fn login(origin: &Origin, fields: Fields) -> Result<ImportedLogin, ImportError> {
    if fields.test_mode {
        return Err(ImportError::TestMode {
            origin: origin.clone(),
        });
    }
    let auth_key = fields.key?;
    let api_id = fields
        .api_id
        .map(|id| {
            i32::try_from(id).map_err(|_| ImportError::malformed(origin, "an api_id out of range"))
        })
        .transpose()?;
    // Pyrogram writes 0 or NULL for an id not known yet.
    let user_id = fields.user_id.filter(|&id| id != 0);
    if user_id.is_some_and(|id| id < 0) {
        return Err(ImportError::malformed(origin, "a negative user id"));
    }
    Ok(ImportedLogin {
        source: ImportSource::Pyrogram {
            api_id: api_id.filter(|&id| id != 0),
        },
        dc_id: dc_id(origin, fields.dc)?,
        auth_key,
        other_keys: Vec::new(),
        user_id,
        is_bot: fields.is_bot,
    })
}

/// Big-endian reads from a string's bytes; running out is a malformed string (the length
/// was checked first, so it does not happen).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        if self.0.len() < n {
            return Err(ImportError::malformed(&Origin::String, "too short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ImportError> {
        self.take(N)?
            .try_into()
            .map_err(|_| ImportError::malformed(&Origin::String, "too short"))
    }

    fn u8(&mut self) -> Result<u8, ImportError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, ImportError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, ImportError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
}
