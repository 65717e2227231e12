//! Where an account's files are: Desktop names them after the MD5 of the account's data
//! name (`data` for index 0, `data#2` for index 1, ...), as 16 hex digits taken a nibble at
//! a time from the low end of the digest's first 8 bytes read as a little-endian `u64`.

use md5::{Digest, Md5};

/// The account's data name.
fn data_name(index: i32) -> String {
    if index > 0 {
        format!("data#{}", i64::from(index) + 1)
    } else {
        "data".to_owned()
    }
}

/// The account's file key as Desktop spells it: the account's folder, and (with a suffix)
/// its MTP authorization file beside the folder.
pub(super) fn account_key_name(index: i32) -> String {
    let digest = Md5::digest(data_name(index).as_bytes());
    let mut low = [0u8; 8];
    low.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    let mut key = u64::from_le_bytes(low);
    let mut out = String::with_capacity(16);
    for _ in 0..16 {
        let nibble = u8::try_from(key & 0x0F).unwrap_or(0);
        out.push(char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        }));
        key >>= 4;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_accounts_have_desktops_folder_names() {
        // D877F783D5D3EF8C is the folder every Desktop install has for its first account.
        assert_eq!(account_key_name(0), "D877F783D5D3EF8C");
        assert_eq!(account_key_name(1), "A7FDF864FBC10B77");
    }
}
