//! Desktop's data file container (`ReadFile`): a file `NAME` is stored as `NAMEs`, or in
//! older versions as `NAME0`/`NAME1` (the newer of the two first). Each holds the magic
//! `TDF$`, the writer's version (`i32`, little-endian), the data, and an MD5 over the data,
//! its length, the version and the magic.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use super::error::{Check, TdataError};

const MAGIC: &[u8; 4] = b"TDF$";
const MD5_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + 4;

/// No file Desktop keeps for an account's login comes near this; larger ones are refused
/// before being read into memory.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Versions this reader knows: Desktop numbers its releases `major * 1_000_000 +
/// minor * 1_000 + patch`, from 1.0.0 on; anything outside is not a Desktop version.
const KNOWN_VERSIONS: std::ops::RangeInclusive<i32> = 1_000_000..=99_999_999;

/// One file's checked content.
#[derive(Debug)]
pub(super) struct DataFile {
    /// The file read (with its suffix).
    pub(super) path: PathBuf,
    /// The Desktop version that wrote it.
    pub(super) version: i32,
    /// The data between the header and the MD5.
    pub(super) data: Vec<u8>,
}

/// Reads `base` + `s`, or `base` + `0`/`1` as Desktop does: the first candidate that passes
/// the checks wins; if none does, the first candidate's error is returned.
pub(super) fn read_data_file(base: &Path) -> Result<DataFile, TdataError> {
    let candidates = candidates(base);
    let mut first_error = None;
    for path in candidates {
        match read_one(&path) {
            Ok(file) => return Ok(file),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| TdataError::Missing {
        file: base.to_path_buf(),
    }))
}

/// Whether any variant of `base` exists.
pub(super) fn exists(base: &Path) -> bool {
    !candidates(base).is_empty()
}

fn with_suffix(base: &Path, suffix: char) -> PathBuf {
    let mut name = base.as_os_str().to_os_string();
    name.push(suffix.to_string());
    PathBuf::from(name)
}

fn candidates(base: &Path) -> Vec<PathBuf> {
    let safe = with_suffix(base, 's');
    if safe.is_file() {
        return vec![safe];
    }
    let mut legacy: Vec<(PathBuf, Option<std::time::SystemTime>)> = ['0', '1']
        .into_iter()
        .map(|s| with_suffix(base, s))
        .filter(|p| p.is_file())
        .map(|p| {
            let modified = p.metadata().and_then(|m| m.modified()).ok();
            (p, modified)
        })
        .collect();
    // Desktop writes the two in turn: the newer is the better guess.
    legacy.sort_by_key(|(_, modified)| std::cmp::Reverse(*modified));
    legacy.into_iter().map(|(p, _)| p).collect()
}

fn read_one(path: &Path) -> Result<DataFile, TdataError> {
    let io = |source| TdataError::Io {
        file: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
        return Err(TdataError::TooLarge {
            file: path.to_path_buf(),
            limit: MAX_FILE_BYTES,
        });
    }
    parse(path, bytes)
}

/// Checks one file's bytes; the data part.
pub(super) fn parse(path: &Path, mut bytes: Vec<u8>) -> Result<DataFile, TdataError> {
    let file = || path.to_path_buf();
    let (magic, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(TdataError::Truncated { file: file() })?;
    if magic != MAGIC {
        return Err(TdataError::NotDesktopFile { file: file() });
    }
    let version = rest
        .first_chunk::<4>()
        .map(|v| i32::from_le_bytes(*v))
        .ok_or(TdataError::Truncated { file: file() })?;
    if !KNOWN_VERSIONS.contains(&version) {
        return Err(TdataError::UnknownVersion {
            file: file(),
            version,
        });
    }
    let data_len = bytes
        .len()
        .checked_sub(HEADER_LEN + MD5_LEN)
        .ok_or(TdataError::Truncated { file: file() })?;
    let data_end = HEADER_LEN + data_len;
    let data = bytes.get(HEADER_LEN..data_end).unwrap_or_default();
    let signature = bytes.get(data_end..).unwrap_or_default();
    // The length is hashed as the i32 Desktop keeps it in; files are capped far below i32.
    let hashed_len = i32::try_from(data_len).map_err(|_| TdataError::TooLarge {
        file: file(),
        limit: MAX_FILE_BYTES,
    })?;
    let digest = Md5::new()
        .chain_update(data)
        .chain_update(hashed_len.to_le_bytes())
        .chain_update(version.to_le_bytes())
        .chain_update(MAGIC)
        .finalize();
    if digest.as_slice() != signature {
        return Err(TdataError::Tampered {
            file: file(),
            check: Check::Md5,
        });
    }
    bytes.truncate(data_end);
    bytes.drain(..HEADER_LEN);
    Ok(DataFile {
        path: file(),
        version,
        data: bytes,
    })
}

/// The inverse of [`parse`], for building test folders.
#[cfg(test)]
pub(super) fn seal(version: i32, data: &[u8]) -> Vec<u8> {
    let len = i32::try_from(data.len()).unwrap_or(i32::MAX);
    let digest = Md5::new()
        .chain_update(data)
        .chain_update(len.to_le_bytes())
        .chain_update(version.to_le_bytes())
        .chain_update(MAGIC)
        .finalize();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: i32 = 5_010_003;

    #[test]
    fn a_sealed_file_parses_back() {
        let file = parse(Path::new("f"), seal(V, b"payload")).map(|f| (f.version, f.data));
        assert_eq!(file.ok(), Some((V, b"payload".to_vec())));
    }

    #[test]
    fn each_check_has_its_error() {
        let p = Path::new("f");
        let good = seal(V, b"payload");
        let mut flipped = good.clone();
        if let Some(b) = flipped.get_mut(10) {
            *b ^= 1;
        }
        assert!(matches!(
            parse(p, flipped),
            Err(TdataError::Tampered {
                check: Check::Md5,
                ..
            })
        ));
        assert!(matches!(
            parse(p, b"TDF%\0\0\0\0".to_vec()),
            Err(TdataError::NotDesktopFile { .. })
        ));
        assert!(matches!(
            parse(p, seal(-1, b"x")),
            Err(TdataError::UnknownVersion { version: -1, .. })
        ));
        assert!(matches!(
            parse(p, seal(100_000_000, b"x")),
            Err(TdataError::UnknownVersion { .. })
        ));
        for len in 0..HEADER_LEN + MD5_LEN {
            let cut = good.get(..len).unwrap_or_default().to_vec();
            assert!(
                matches!(parse(p, cut), Err(TdataError::Truncated { .. })),
                "length {len}"
            );
        }
    }

    #[test]
    fn the_safe_file_wins_then_the_newer_legacy_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = dir.path().join("map");
        assert!(matches!(
            read_data_file(&base),
            Err(TdataError::Missing { .. })
        ));
        let write = |suffix: char, data: &[u8]| {
            std::fs::write(with_suffix(&base, suffix), seal(V, data))
                .unwrap_or_else(|e| panic!("{e}"));
        };
        write('0', b"zero");
        assert_eq!(
            read_data_file(&base).ok().map(|f| f.data),
            Some(b"zero".to_vec())
        );
        write('s', b"safe");
        assert_eq!(
            read_data_file(&base).ok().map(|f| f.data),
            Some(b"safe".to_vec())
        );
    }

    #[test]
    fn a_damaged_newer_legacy_file_falls_back_to_the_older() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = dir.path().join("map");
        let older = with_suffix(&base, '1');
        let newer = with_suffix(&base, '0');
        std::fs::write(&older, seal(V, b"older")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&newer, b"TDF$damaged").unwrap_or_else(|e| panic!("{e}"));
        let past = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
        std::fs::File::options()
            .write(true)
            .open(&older)
            .and_then(|f| f.set_modified(past))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(candidates(&base), vec![newer, older.clone()]);
        assert_eq!(
            read_data_file(&base).ok().map(|f| f.data),
            Some(b"older".to_vec())
        );

        std::fs::write(&older, b"junk").unwrap_or_else(|e| panic!("{e}"));
        std::fs::File::options()
            .write(true)
            .open(&older)
            .and_then(|f| f.set_modified(past))
            .unwrap_or_else(|e| panic!("{e}"));
        // Neither passes: the newer file's error is the one reported.
        assert!(matches!(
            read_data_file(&base),
            Err(TdataError::UnknownVersion { file, .. }) if file.ends_with("map0")
        ));
    }
}
