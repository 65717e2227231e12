//! An account's `map` file (in the account's folder): Desktop reads it before the account's
//! login and gives up on the account when it does not decrypt, so we check it the same way.
//! Its content (where the account's other files are) is not needed for a login.

use std::path::Path;

use mtcrypto::AuthKey;

use super::container::read_data_file;
use super::decrypt::decrypt_part;
use super::error::TdataError;
use super::stream::Stream;

/// Checks that `folder/map` holds a map encrypted with `local_key`.
pub(super) fn check_map(folder: &Path, local_key: &AuthKey) -> Result<(), TdataError> {
    let file = read_data_file(&folder.join("map"))?;
    let malformed = |what| TdataError::Malformed {
        file: file.path.clone(),
        what,
    };
    let mut stream = Stream::new(&file.data);
    // The first two are the legacy salt and key, empty since Desktop moved them to
    // key_datas.
    stream.byte_array().map_err(|_| malformed("legacy salt"))?;
    stream.byte_array().map_err(|_| malformed("legacy key"))?;
    let encrypted = stream
        .byte_array()
        .map_err(|_| malformed("encrypted map"))?;
    decrypt_part(&file.path, "encrypted map", encrypted, local_key).map(drop)
}
