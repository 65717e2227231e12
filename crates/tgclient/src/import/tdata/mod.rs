//! Telegram Desktop's `tdata` folder, read as Desktop's storage code defines it.
//!
//! `key_datas` holds a salt and the folder's local key encrypted with a key derived from
//! the local passcode (empty when none is set), then the encrypted list of accounts. Each
//! account `n` has a folder named after its data name (`data`, `data#2`, ...) whose `map`
//! must decrypt with the local key, and beside that folder an encrypted file with its MTP
//! authorization: the user id, the main DC and the auth key per DC.
//!
//! Every file is bounded in size before it is read ([`MAX_FILE_BYTES`]) and every length
//! inside one is checked against the bytes present, so hostile input ends in a
//! [`TdataError`] naming the file, never a panic or a large allocation. Keys are
//! [`AuthKey`]s: wiped on drop, never printed.

mod container;
mod decrypt;
mod error;
mod key_datas;
mod local_key;
mod map;
mod mtp;
mod names;
mod stream;
#[cfg(test)]
mod tests;

use std::path::Path;

use mtcrypto::AuthKey;

use super::{ImportError, ImportSource, ImportedLogin};

pub use container::MAX_FILE_BYTES;
pub use error::{Check, TdataError};

/// The logged-in accounts of a `tdata` folder.
#[derive(Debug)]
pub struct DesktopTdata {
    /// The accounts, in Desktop's order; never empty.
    pub accounts: Vec<DesktopAccount>,
    /// The index of the account Desktop had active, when it wrote one.
    pub active_index: Option<i32>,
    /// The Desktop version that last wrote `key_datas`.
    pub app_version: i32,
}

/// One account's login.
#[derive(Debug)]
pub struct DesktopAccount {
    /// Desktop's index for the account (0 for the first).
    pub index: i32,
    /// The logged-in user's id.
    pub user_id: u64,
    /// The account's main DC.
    pub main_dc: i32,
    /// The auth keys Desktop holds, one per DC.
    pub keys: Vec<DcAuthKey>,
}

impl DesktopAccount {
    /// The auth key of the main DC, if Desktop has one.
    pub fn main_key(&self) -> Option<&AuthKey> {
        self.keys
            .iter()
            .find(|k| k.dc_id == self.main_dc)
            .map(|k| &k.key)
    }

    /// The account as a login to hand off: the main DC's key, the other DCs' keys beside
    /// it. `app_version` is the folder's ([`DesktopTdata::app_version`]), the identity a
    /// fallback `initConnection` gives.
    pub fn to_imported(&self, app_version: i32) -> Result<ImportedLogin, ImportError> {
        let no_key = || ImportError::NoMainKey {
            index: self.index,
            user_id: self.user_id,
            dc_id: self.main_dc,
        };
        let auth_key = self.main_key().ok_or_else(no_key)?.clone();
        let user_id = i64::try_from(self.user_id).map_err(|_| ImportError::DesktopUserId {
            index: self.index,
            user_id: self.user_id,
        })?;
        Ok(ImportedLogin {
            source: ImportSource::Desktop { app_version },
            dc_id: self.main_dc,
            auth_key,
            other_keys: self
                .keys
                .iter()
                .filter(|k| k.dc_id != self.main_dc)
                .cloned()
                .collect(),
            user_id: Some(user_id),
            // Telegram Desktop logs in users only.
            is_bot: Some(false),
        })
    }
}

/// An auth key and the DC it belongs to.
#[derive(Debug, Clone)]
pub struct DcAuthKey {
    /// The DC id.
    pub dc_id: i32,
    /// The key (its `Debug` shows only the key id).
    pub key: AuthKey,
}

/// Reads the `tdata` folder `dir` with the local `passcode` (empty when none is set).
///
/// Accounts that are not logged in (user id 0) and later accounts of a user already read
/// are left out, as Desktop does; a folder with none left is [`TdataError::NoAccounts`].
pub fn read_tdata(dir: &Path, passcode: &[u8]) -> Result<DesktopTdata, TdataError> {
    let key_base = dir.join(key_datas::BASE_NAME);
    if !container::exists(&key_base) {
        return Err(TdataError::NotTdata {
            dir: dir.to_path_buf(),
        });
    }
    let index = key_datas::read_key_data(dir, passcode)?;
    let mut accounts: Vec<DesktopAccount> = Vec::new();
    for &account_index in &index.indices {
        let name = names::account_key_name(account_index);
        map::check_map(&dir.join(&name), &index.local_key)?;
        let account = mtp::read_account(dir, &name, account_index, &index.local_key)?;
        if account.user_id != 0 && !accounts.iter().any(|a| a.user_id == account.user_id) {
            accounts.push(account);
        }
    }
    if accounts.is_empty() {
        return Err(TdataError::NoAccounts { file: key_base });
    }
    Ok(DesktopTdata {
        accounts,
        active_index: index.active,
        app_version: index.version,
    })
}
