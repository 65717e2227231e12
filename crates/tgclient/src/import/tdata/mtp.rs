//! An account's MTP authorization (`dbiMtpAuthorization` in the encrypted file named after
//! the account, beside its folder): the user id, the main DC, and the auth key per DC.

use std::path::Path;

use mtcrypto::AuthKey;

use super::container::read_data_file;
use super::decrypt::decrypt_part;
use super::error::TdataError;
use super::stream::{Short, Stream};
use super::{DcAuthKey, DesktopAccount};

/// The settings block that holds the authorization.
const MTP_AUTHORIZATION: u32 = 0x4b;

/// The first 8 bytes of the modern layout are two of these (all ones): 64-bit user ids
/// follow. Older files have a 32-bit user id and the main DC there instead.
const WIDE_IDS_TAG: i32 = -1;

/// No Desktop keeps more keys than this per list (one per DC, test DCs and media DCs
/// included); a larger count is refused before any key is read.
const MAX_KEYS: i32 = 64;

const KEY_LEN: usize = 256;

/// Reads the authorization of the account at `index`, whose files are named `key_name`.
pub(super) fn read_account(
    dir: &Path,
    key_name: &str,
    index: i32,
    local_key: &AuthKey,
) -> Result<DesktopAccount, TdataError> {
    let file = read_data_file(&dir.join(key_name))?;
    let path = file.path.clone();
    let malformed = |what| TdataError::Malformed {
        file: path.clone(),
        what,
    };
    let encrypted = Stream::new(&file.data)
        .byte_array()
        .map_err(|_| malformed("encrypted authorization"))?;
    let plain = decrypt_part(&path, "encrypted authorization", encrypted, local_key)?;
    let mut blocks = Stream::new(&plain);
    let mut account = None;
    while !blocks.at_end() {
        let id = blocks.u32().map_err(|_| malformed("settings block id"))?;
        if id != MTP_AUTHORIZATION {
            return Err(malformed(
                "a settings block other than the MTP authorization",
            ));
        }
        let serialized = blocks
            .byte_array()
            .map_err(|_| malformed("MTP authorization"))?;
        account = Some(
            parse_authorization(serialized, index).map_err(|_| malformed("MTP authorization"))?,
        );
    }
    account.ok_or_else(|| malformed("no MTP authorization"))
}

/// Parses Desktop's serialized MTP authorization.
fn parse_authorization(serialized: &[u8], index: i32) -> Result<DesktopAccount, Short> {
    let mut s = Stream::new(serialized);
    let (first, second) = (s.i32()?, s.i32()?);
    let (user_id, main_dc) = if (first, second) == (WIDE_IDS_TAG, WIDE_IDS_TAG) {
        (s.u64()?, s.i32()?)
    } else {
        // Legacy: a 32-bit user id (never negative), then the main DC.
        (u64::try_from(first).map_err(|_| Short)?, second)
    };
    let keys = read_keys(&mut s)?;
    // The keys Desktop still has to destroy on the server: read to check the layout only.
    read_keys(&mut s)?;
    Ok(DesktopAccount {
        index,
        user_id,
        main_dc,
        keys,
    })
}

fn read_keys(s: &mut Stream<'_>) -> Result<Vec<DcAuthKey>, Short> {
    let count = s.i32()?;
    if !(0..=MAX_KEYS).contains(&count) {
        return Err(Short);
    }
    let mut keys = Vec::new();
    for _ in 0..count {
        let dc_id = s.i32()?;
        let key = AuthKey::from_slice(s.raw(KEY_LEN)?).map_err(|_| Short)?;
        keys.push(DcAuthKey { dc_id, key });
    }
    Ok(keys)
}
