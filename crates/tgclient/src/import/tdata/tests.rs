//! The reader against folders this module writes the way Desktop does, and against hostile
//! changes to them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use mtcrypto::AuthKey;
use proptest::prelude::*;

use super::container::seal;
use super::decrypt::encrypt_local;
use super::local_key::passcode_key;
use super::names::account_key_name;
use super::*;

const VERSION: i32 = 5_010_003;

/// An account to write: index, user id, main DC, keys by DC.
struct Spec {
    index: i32,
    user_id: u64,
    main_dc: i32,
    keys: Vec<(i32, [u8; 256])>,
    legacy_ids: bool,
}

fn key_bytes(seed: u8) -> [u8; 256] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
}

fn qbytes(data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(data);
    out
}

fn authorization(spec: &Spec) -> Vec<u8> {
    let mut out = match u32::try_from(spec.user_id) {
        // Desktop before 64-bit ids: a 32-bit user id and the main DC, no tag.
        Ok(legacy) if spec.legacy_ids => {
            let mut out = legacy.to_be_bytes().to_vec();
            out.extend_from_slice(&spec.main_dc.to_be_bytes());
            out
        }
        _ => {
            let mut out = [0xFF; 8].to_vec();
            out.extend_from_slice(&spec.user_id.to_be_bytes());
            out.extend_from_slice(&spec.main_dc.to_be_bytes());
            out
        }
    };
    out.extend_from_slice(&i32::try_from(spec.keys.len()).unwrap().to_be_bytes());
    for (dc, key) in &spec.keys {
        out.extend_from_slice(&dc.to_be_bytes());
        out.extend_from_slice(key);
    }
    out.extend_from_slice(&0i32.to_be_bytes());
    out
}

/// Writes a folder as Desktop would; the files written, by role.
fn write_folder(dir: &Path, passcode: &[u8], specs: &[Spec]) -> Vec<PathBuf> {
    let salt = [0x5Au8; 32];
    let local_key = AuthKey::from_bytes(key_bytes(99));
    let mut info = i32::try_from(specs.len()).unwrap().to_be_bytes().to_vec();
    for s in specs {
        info.extend_from_slice(&s.index.to_be_bytes());
    }
    info.extend_from_slice(&specs[0].index.to_be_bytes());
    let mut key_datas = qbytes(&salt);
    key_datas.extend(qbytes(&encrypt_local(
        local_key.as_bytes(),
        &passcode_key(passcode, &salt),
    )));
    key_datas.extend(qbytes(&encrypt_local(&info, &local_key)));
    let mut files = vec![dir.join("key_datas")];
    std::fs::write(&files[0], seal(VERSION, &key_datas)).unwrap();
    for s in specs {
        let name = account_key_name(s.index);
        std::fs::create_dir_all(dir.join(&name)).unwrap();
        let mut map = qbytes(&[]);
        map.extend(qbytes(&[]));
        map.extend(qbytes(&encrypt_local(&[0, 0, 0, 0], &local_key)));
        let map_path = dir.join(&name).join("maps");
        std::fs::write(&map_path, seal(VERSION, &map)).unwrap();
        let mut block = 0x4bu32.to_be_bytes().to_vec();
        block.extend(qbytes(&authorization(s)));
        let mtp_path = dir.join(format!("{name}s"));
        std::fs::write(
            &mtp_path,
            seal(VERSION, &qbytes(&encrypt_local(&block, &local_key))),
        )
        .unwrap();
        files.push(map_path);
        files.push(mtp_path);
    }
    files
}

fn two_accounts() -> Vec<Spec> {
    vec![
        Spec {
            index: 0,
            user_id: 1_000_001,
            main_dc: 2,
            keys: vec![(2, key_bytes(1)), (4, key_bytes(2))],
            legacy_ids: false,
        },
        Spec {
            index: 1,
            user_id: 7_000_000_001,
            main_dc: 4,
            keys: vec![(4, key_bytes(3))],
            legacy_ids: false,
        },
    ]
}

fn folder(passcode: &[u8]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let files = write_folder(dir.path(), passcode, &two_accounts());
    (dir, files)
}

#[test]
fn reads_both_accounts_with_their_keys() {
    let (dir, _) = folder(b"");
    let tdata = read_tdata(dir.path(), b"").unwrap();
    assert_eq!(tdata.app_version, VERSION);
    assert_eq!(tdata.active_index, Some(0));
    let got: Vec<_> = tdata
        .accounts
        .iter()
        .map(|a| {
            (
                a.index,
                a.user_id,
                a.main_dc,
                a.main_key().map(|k| *k.as_bytes()),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 1_000_001, 2, Some(key_bytes(1))),
            (1, 7_000_000_001, 4, Some(key_bytes(3)))
        ]
    );
    assert_eq!(tdata.accounts[0].keys.len(), 2);
}

#[test]
fn an_account_becomes_a_login_to_hand_off_with_its_main_key_first() {
    let (dir, _) = folder(b"");
    let tdata = read_tdata(dir.path(), b"").unwrap();
    let login = tdata.accounts[0].to_imported(tdata.app_version).unwrap();
    assert_eq!(
        login.source,
        ImportSource::Desktop {
            app_version: VERSION
        }
    );
    assert_eq!(
        (login.dc_id, login.user_id, login.is_bot),
        (2, Some(1_000_001), Some(false))
    );
    assert_eq!(*login.auth_key.as_bytes(), key_bytes(1));
    let others: Vec<_> = login
        .other_keys
        .iter()
        .map(|k| (k.dc_id, *k.key.as_bytes()))
        .collect();
    assert_eq!(others, vec![(4, key_bytes(2))]);

    let keyless = DesktopAccount {
        index: 3,
        user_id: 5,
        main_dc: 1,
        keys: Vec::new(),
    };
    let error = keyless.to_imported(VERSION).unwrap_err();
    assert!(
        matches!(
            error,
            ImportError::NoMainKey {
                index: 3,
                dc_id: 1,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_passcode_is_needed_and_checked() {
    let (dir, _) = folder(b"hunter2");
    assert_eq!(
        read_tdata(dir.path(), b"hunter2").unwrap().accounts.len(),
        2
    );
    let err = read_tdata(dir.path(), b"").unwrap_err();
    assert!(
        matches!(&err, TdataError::WrongPasscode { file } if file.ends_with("key_datas")),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"));
}

#[test]
fn a_folder_without_key_datas_is_not_tdata() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_tdata(dir.path(), b""),
        Err(TdataError::NotTdata { .. })
    ));
}

#[test]
fn a_missing_account_file_is_named() {
    let (dir, files) = folder(b"");
    std::fs::remove_file(&files[4]).unwrap();
    let err = read_tdata(dir.path(), b"").unwrap_err();
    assert!(
        matches!(&err, TdataError::Missing { file } if file.ends_with("A7FDF864FBC10B77")),
        "{err}"
    );
}

#[test]
fn account_counts_desktop_never_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<Spec> = (0..7)
        .map(|i| Spec {
            index: i,
            user_id: 10 + u64::try_from(i).unwrap(),
            main_dc: 1,
            keys: vec![(1, key_bytes(1))],
            legacy_ids: false,
        })
        .collect();
    write_folder(dir.path(), b"", &specs);
    assert!(matches!(
        read_tdata(dir.path(), b""),
        Err(TdataError::UnsupportedAccountCount { count: 7, .. })
    ));
}

#[test]
fn logged_out_and_repeated_accounts_are_left_out_as_desktop_does() {
    let account = |index, user_id| Spec {
        index,
        user_id,
        main_dc: 1,
        keys: vec![(1, key_bytes(5))],
        legacy_ids: false,
    };
    let dir = tempfile::tempdir().unwrap();
    write_folder(
        dir.path(),
        b"",
        &[account(0, 0), account(1, 42), account(2, 42)],
    );
    let read = read_tdata(dir.path(), b"").unwrap();
    let got: Vec<_> = read.accounts.iter().map(|a| (a.index, a.user_id)).collect();
    assert_eq!(got, vec![(1, 42)]);

    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), b"", &[account(0, 0)]);
    assert!(matches!(
        read_tdata(dir.path(), b""),
        Err(TdataError::NoAccounts { .. })
    ));
}

#[test]
fn reads_the_layout_from_before_64_bit_user_ids() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec {
        index: 0,
        user_id: 123_456,
        main_dc: 5,
        keys: vec![(5, key_bytes(9))],
        legacy_ids: true,
    };
    write_folder(dir.path(), b"", &[spec]);
    let read = read_tdata(dir.path(), b"").unwrap();
    let account = &read.accounts[0];
    assert_eq!((account.user_id, account.main_dc), (123_456, 5));
    assert_eq!(
        account.main_key().map(|k| *k.as_bytes()),
        Some(key_bytes(9))
    );
}

#[test]
fn debug_output_never_shows_a_key() {
    let (dir, _) = folder(b"");
    let tdata = read_tdata(dir.path(), b"").unwrap();
    let printed = format!("{tdata:?}");
    // A key printed as bytes would show its first ones as a list of numbers.
    let key = key_bytes(1);
    let first_bytes = format!("{}, {}, {}", key[0], key[1], key[2]);
    assert!(!printed.contains(&first_bytes), "{printed}");
    assert!(printed.contains("user_id: 1000001"), "{printed}");
}

#[test]
fn a_file_past_the_cap_is_refused_without_reading_it() {
    let (dir, files) = folder(b"");
    // A sparse file: reading it whole would take a gigabyte.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&files[2])
        .unwrap();
    f.set_len(1 << 30).unwrap();
    assert!(matches!(
        read_tdata(dir.path(), b""),
        Err(TdataError::TooLarge { .. })
    ));
}

#[test]
fn truncation_at_every_length_of_every_file_is_an_error() {
    let (dir, files) = folder(b"");
    for file in &files {
        let whole = std::fs::read(file).unwrap();
        for len in 0..whole.len() {
            std::fs::write(file, &whole[..len]).unwrap();
            assert!(
                read_tdata(dir.path(), b"").is_err(),
                "{} cut to {len}",
                file.display()
            );
        }
        std::fs::write(file, &whole).unwrap();
    }
    assert!(read_tdata(dir.path(), b"").is_ok());
}

/// Re-seals `file` with `data` in place of its data part, so the MD5 passes and the
/// layout inside is what gets tested.
fn reseal(file: &Path, data: &[u8]) {
    std::fs::write(file, seal(VERSION, data)).unwrap();
}

#[test]
fn huge_lengths_inside_checked_files_are_malformed() {
    let (dir, files) = folder(b"");
    // The salt's length set to ~4 GB.
    reseal(&files[0], &[0xFF, 0xFF, 0xFF, 0xFE, 1, 2, 3]);
    assert!(matches!(
        read_tdata(dir.path(), b""),
        Err(TdataError::Malformed { .. })
    ));

    let (dir, files) = folder(b"");
    // An authorization that claims 2^31-1 keys: refused before any is read.
    let local_key = AuthKey::from_bytes(key_bytes(99));
    let mut auth = [0xFF; 8].to_vec();
    auth.extend_from_slice(&1u64.to_be_bytes());
    auth.extend_from_slice(&2i32.to_be_bytes());
    auth.extend_from_slice(&i32::MAX.to_be_bytes());
    let mut block = 0x4bu32.to_be_bytes().to_vec();
    block.extend(qbytes(&auth));
    reseal(&files[2], &qbytes(&encrypt_local(&block, &local_key)));
    let err = read_tdata(dir.path(), b"").unwrap_err();
    assert!(
        matches!(&err, TdataError::Malformed { file, .. } if file.ends_with("D877F783D5D3EF8Cs")),
        "{err}"
    );
}

/// Replaces the account file `file` with `block` encrypted as Desktop would, so the checks
/// pass and the parser inside gets `block` as it is.
fn replace_decrypted(file: &Path, block: &[u8]) {
    let local_key = AuthKey::from_bytes(key_bytes(99));
    reseal(file, &qbytes(&encrypt_local(block, &local_key)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_authorizations_behind_valid_encryption_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..700),
        tagged in any::<bool>(),
    ) {
        let (dir, files) = folder(b"");
        let mut block = 0x4bu32.to_be_bytes().to_vec();
        let mut auth = if tagged { vec![0xFF; 8] } else { Vec::new() };
        auth.extend_from_slice(&bytes);
        block.extend(qbytes(&auth));
        replace_decrypted(&files[2], &block);
        // Anything may come out but a panic; what does come out is the file's content.
        if let Ok(read) = read_tdata(dir.path(), b"") {
            prop_assert!(read.accounts.iter().all(|a| a.keys.len() <= 64));
        }
        replace_decrypted(&files[2], &bytes);
        let _ = read_tdata(dir.path(), b"");
    }

    #[test]
    fn random_bytes_as_key_datas_are_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key_datas"), &bytes).unwrap();
        prop_assert!(read_tdata(dir.path(), b"").is_err());
    }

    #[test]
    fn random_data_behind_a_valid_seal_is_an_error(
        which in 0usize..5,
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let (dir, files) = folder(b"");
        reseal(&files[which], &bytes);
        prop_assert!(read_tdata(dir.path(), b"").is_err());
    }

    #[test]
    fn a_flipped_byte_anywhere_is_an_error(which in 0usize..5, at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (dir, files) = folder(b"");
        let mut bytes = std::fs::read(&files[which]).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        std::fs::write(&files[which], &bytes).unwrap();
        prop_assert!(read_tdata(dir.path(), b"").is_err());
    }

    #[test]
    fn a_flipped_byte_behind_a_valid_seal_is_an_error(
        which in 0usize..5,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (dir, files) = folder(b"");
        let sealed = std::fs::read(&files[which]).unwrap();
        let mut data = sealed[8..sealed.len() - 16].to_vec();
        let i = at.index(data.len());
        data[i] ^= 1 << bit;
        reseal(&files[which], &data);
        // A flip in a length or an encrypted part must be caught; nothing else is in
        // these files, so every flip is.
        prop_assert!(read_tdata(dir.path(), b"").is_err());
    }
}
