//! `key_datas` (Desktop's `Storage::Domain`): the salt, the local key encrypted with the
//! passcode key, and the encrypted list of account indices.

use std::path::Path;

use mtcrypto::AuthKey;

use super::container::read_data_file;
use super::decrypt::{DecryptError, decrypt_local, decrypt_part};
use super::error::TdataError;
use super::local_key::{SALT_LEN, passcode_key};
use super::stream::Stream;

/// The file's base name: `key_` + Desktop's data name, `data` unless Desktop was started
/// with another.
pub(super) const BASE_NAME: &str = "key_data";

/// The most accounts Desktop keeps in one folder (`kPremiumMaxAccounts`).
pub(super) const MAX_ACCOUNTS: i32 = 6;

/// The folder's index.
pub(super) struct KeyData {
    /// The key every other file is encrypted with.
    pub(super) local_key: AuthKey,
    /// The accounts' indices (0 is `data`, n is `data#n+1`), in Desktop's order, unique
    /// and within range.
    pub(super) indices: Vec<i32>,
    /// The index of the account Desktop had active, when written.
    pub(super) active: Option<i32>,
    /// The Desktop version that wrote it.
    pub(super) version: i32,
}

/// Reads and decrypts `key_datas` in `dir` with `passcode` (empty when none is set).
pub(super) fn read_key_data(dir: &Path, passcode: &[u8]) -> Result<KeyData, TdataError> {
    let file = read_data_file(&dir.join(BASE_NAME))?;
    let path = file.path.clone();
    let malformed = |what| TdataError::Malformed {
        file: path.clone(),
        what,
    };
    let mut stream = Stream::new(&file.data);
    let salt = stream.byte_array().map_err(|_| malformed("salt"))?;
    let key_encrypted = stream
        .byte_array()
        .map_err(|_| malformed("encrypted local key"))?;
    let info_encrypted = stream
        .byte_array()
        .map_err(|_| malformed("encrypted account list"))?;
    if salt.len() != SALT_LEN {
        return Err(malformed("salt length"));
    }

    let key_inner = decrypt_local(key_encrypted, &passcode_key(passcode, salt)).map_err(|e| {
        match e {
            // The MD5 held, so the bytes are Desktop's: another passcode made another key.
            DecryptError::Check => TdataError::WrongPasscode { file: path.clone() },
            DecryptError::BadSize | DecryptError::BadLength => malformed("encrypted local key"),
        }
    })?;
    let mut key_stream = Stream::new(&key_inner);
    let local_key = key_stream
        .raw(256)
        .ok()
        .filter(|_| key_stream.at_end())
        .and_then(|bytes| AuthKey::from_slice(bytes).ok())
        .ok_or_else(|| malformed("local key length"))?;

    let info = decrypt_part(&path, "encrypted account list", info_encrypted, &local_key)?;
    let mut info_stream = Stream::new(&info);
    let count = info_stream.i32().map_err(|_| malformed("account count"))?;
    if !(1..=MAX_ACCOUNTS).contains(&count) {
        return Err(TdataError::UnsupportedAccountCount {
            file: path,
            count,
            max: MAX_ACCOUNTS,
        });
    }
    let mut indices = Vec::new();
    for _ in 0..count {
        let index = info_stream.i32().map_err(|_| malformed("account index"))?;
        // Desktop skips an index out of range or seen before, and so do we.
        if (0..MAX_ACCOUNTS).contains(&index) && !indices.contains(&index) {
            indices.push(index);
        }
    }
    let active = if info_stream.at_end() {
        None
    } else {
        Some(info_stream.i32().map_err(|_| malformed("active account"))?)
    };
    Ok(KeyData {
        local_key,
        indices,
        active,
        version: file.version,
    })
}
