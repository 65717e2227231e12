//! The Telethon and Pyrogram readers against files and strings written as those projects
//! write them, and against hostile ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rusqlite::{Connection, params};

use super::*;

fn key(seed: u8) -> Vec<u8> {
    (0..=255u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn urlsafe(bytes: &[u8], padded: bool) -> String {
    let mut text = crate::login::base64url(bytes);
    while padded && !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// A Telethon database of `version` (the columns it had then) with one session row.
fn telethon_file(dir: &Path, version: i64, dc: i64, key: &[u8]) -> PathBuf {
    let path = dir.join("telethon.session");
    let conn = Connection::open(&path).unwrap();
    let takeout = if version >= 5 {
        ", takeout_id integer"
    } else {
        ""
    };
    conn.execute_batch(&format!(
        "create table version (version integer primary key);
         create table sessions (dc_id integer primary key, server_address text, port integer,
                                auth_key blob{takeout});
         create table entities (id integer primary key, hash integer not null, username text,
                                phone integer, name text, date integer);"
    ))
    .unwrap();
    conn.execute("insert into version values (?1)", [version])
        .unwrap();
    conn.execute(
        "insert into sessions (dc_id, server_address, port, auth_key) values (?1, '127.0.0.1', 443, ?2)",
        params![dc, key],
    )
    .unwrap();
    path
}

/// A Pyrogram database of `version` (without `api_id` before 3) with one session row.
fn pyrogram_file(dir: &Path, version: i64, row: (i64, bool, &[u8], Option<i64>, bool)) -> PathBuf {
    let path = dir.join("pyrogram.session");
    let conn = Connection::open(&path).unwrap();
    let api_id = if version >= 3 { "api_id INTEGER," } else { "" };
    conn.execute_batch(&format!(
        "CREATE TABLE sessions (dc_id INTEGER PRIMARY KEY, {api_id} test_mode INTEGER,
                                auth_key BLOB, date INTEGER NOT NULL, user_id INTEGER,
                                is_bot INTEGER);
         CREATE TABLE peers (id INTEGER PRIMARY KEY, access_hash INTEGER, type INTEGER NOT NULL,
                             phone_number TEXT);
         CREATE TABLE version (number INTEGER PRIMARY KEY);"
    ))
    .unwrap();
    conn.execute("INSERT INTO version VALUES (?1)", [version])
        .unwrap();
    let (dc, test, key, user, bot) = row;
    conn.execute(
        "INSERT INTO sessions (dc_id, test_mode, auth_key, date, user_id, is_bot) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
        params![dc, test, key, user, bot],
    )
    .unwrap();
    if version >= 3 {
        conn.execute("UPDATE sessions SET api_id = 12345", [])
            .unwrap();
    }
    path
}

fn telethon_string(dc: u8, ip: &[u8], key: &[u8], padded: bool) -> String {
    let mut bytes = vec![dc];
    bytes.extend_from_slice(ip);
    bytes.extend_from_slice(&443u16.to_be_bytes());
    bytes.extend_from_slice(key);
    format!("1{}", urlsafe(&bytes, padded))
}

/// Pyrogram's current layout (`>BI?256sQ?`).
fn pyrogram_string(dc: u8, api_id: u32, test: bool, key: &[u8], user: u64, bot: bool) -> String {
    let mut bytes = vec![dc];
    bytes.extend_from_slice(&api_id.to_be_bytes());
    bytes.push(u8::from(test));
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&user.to_be_bytes());
    bytes.push(u8::from(bot));
    urlsafe(&bytes, false)
}

#[test]
fn telethon_files_of_every_version_read_the_same_login() {
    for version in 1..=8 {
        let dir = tempfile::tempdir().unwrap();
        let path = telethon_file(dir.path(), version, 4, &key(1));
        let login = telethon::read_file(&path).unwrap();
        assert_eq!(login.dc_id, 4);
        assert_eq!(login.auth_key.as_bytes().as_slice(), key(1).as_slice());
        assert_eq!((login.user_id, login.is_bot), (None, None));
        assert_eq!(login.source, ImportSource::Telethon);
    }
}

#[test]
fn reading_a_session_file_leaves_it_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = telethon_file(dir.path(), 7, 2, &key(3));
    let before = std::fs::read(&path).unwrap();
    telethon::read_file(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // No journal or WAL file was made beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn telethon_session_without_a_login_or_of_an_unknown_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = telethon_file(dir.path(), 7, 2, b"");
    assert!(matches!(
        telethon::read_file(&path),
        Err(ImportError::NotLoggedIn { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = telethon_file(dir.path(), 9, 2, &key(0));
    let error = telethon::read_file(&path).unwrap_err();
    assert!(
        matches!(error, ImportError::UnknownVersion { version: 9, .. }),
        "{error}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = telethon_file(dir.path(), 7, 2, &key(0)[..255]);
    let error = telethon::read_file(&path).unwrap_err();
    assert!(
        matches!(error, ImportError::KeyLength { len: 255, .. }),
        "{error}"
    );
    // A huge key is measured, not read.
    let dir = tempfile::tempdir().unwrap();
    let path = telethon_file(dir.path(), 7, 2, &key(0));
    Connection::open(&path)
        .unwrap()
        .execute("update sessions set auth_key = zeroblob(3000000)", [])
        .unwrap();
    let error = telethon::read_file(&path).unwrap_err();
    assert!(
        matches!(error, ImportError::KeyLength { len: 3_000_000, .. }),
        "{error}"
    );
    // A key stored as text is not Telethon's layout.
    Connection::open(&path)
        .unwrap()
        .execute("update sessions set auth_key = ?1", [&"k".repeat(256)])
        .unwrap();
    let error = telethon::read_file(&path).unwrap_err();
    assert!(matches!(error, ImportError::Malformed { .. }), "{error}");
}

#[test]
fn telethon_strings_with_ipv4_or_ipv6_padded_or_not_and_spaced_read_back() {
    for (ip, padded) in [
        (&[127, 0, 0, 1][..], true),
        (
            &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1][..],
            false,
        ),
    ] {
        let text = format!("  {}\n", telethon_string(5, ip, &key(9), padded));
        let login = telethon::read_string(&text).unwrap();
        assert_eq!(login.dc_id, 5);
        assert_eq!(login.auth_key.as_bytes().as_slice(), key(9).as_slice());
    }
}

#[test]
fn pyrogram_files_of_every_version_read_the_same_login() {
    for version in 1..=7 {
        let dir = tempfile::tempdir().unwrap();
        let path = pyrogram_file(dir.path(), version, (2, false, &key(4), Some(1001), false));
        let login = pyrogram::read_file(&path).unwrap();
        assert_eq!(
            (login.dc_id, login.user_id, login.is_bot),
            (2, Some(1001), Some(false))
        );
        assert_eq!(login.auth_key.as_bytes().as_slice(), key(4).as_slice());
        let api_id = (version >= 3).then_some(12345);
        assert_eq!(login.source, ImportSource::Pyrogram { api_id });
    }
}

#[test]
fn pyrogram_fresh_test_mode_and_bot_sessions() {
    let dir = tempfile::tempdir().unwrap();
    // What Pyrogram writes before the first login: the row without a key.
    let path = pyrogram_file(dir.path(), 6, (2, false, b"", None, false));
    assert!(matches!(
        pyrogram::read_file(&path),
        Err(ImportError::NotLoggedIn { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = pyrogram_file(dir.path(), 6, (2, true, &key(1), Some(5), false));
    let error = pyrogram::read_file(&path).unwrap_err();
    assert!(matches!(error, ImportError::TestMode { .. }));
    assert!(error.to_string().contains("pyrogram.session"), "{error}");
    let dir = tempfile::tempdir().unwrap();
    let path = pyrogram_file(dir.path(), 6, (2, false, &key(1), Some(2001), true));
    assert_eq!(pyrogram::read_file(&path).unwrap().is_bot, Some(true));
}

#[test]
fn pyrogram_strings_of_every_layout_read_back() {
    let current = pyrogram_string(4, 777, false, &key(2), 1_234_567_890_123, true);
    let login = pyrogram::read_string(&format!(" {current} ")).unwrap();
    assert_eq!(
        (login.dc_id, login.user_id, login.is_bot),
        (4, Some(1_234_567_890_123), Some(true))
    );
    assert_eq!(login.source, ImportSource::Pyrogram { api_id: Some(777) });
    assert_eq!(login.auth_key.as_bytes().as_slice(), key(2).as_slice());

    // The first layout (`>B?256sI?`, 351 characters) and the 64-bit one (`>B?256sQ?`, 356).
    for wide in [false, true] {
        let mut bytes = vec![3, 0];
        bytes.extend_from_slice(&key(5));
        if wide {
            bytes.extend_from_slice(&5_000_000_000u64.to_be_bytes());
        } else {
            bytes.extend_from_slice(&1002u32.to_be_bytes());
        }
        bytes.push(0);
        let text = urlsafe(&bytes, false);
        assert_eq!(text.len(), if wide { 356 } else { 351 });
        let login = pyrogram::read_string(&text).unwrap();
        let user = if wide { 5_000_000_000 } else { 1002 };
        assert_eq!((login.dc_id, login.user_id), (3, Some(user)));
        assert_eq!(login.source, ImportSource::Pyrogram { api_id: None });
    }
    let test_mode = pyrogram_string(2, 1, true, &key(2), 1, false);
    assert!(matches!(
        pyrogram::read_string(&test_mode),
        Err(ImportError::TestMode { .. })
    ));
    let empty = pyrogram_string(2, 1, false, &[0; 256], 1, false);
    assert!(matches!(
        pyrogram::read_string(&empty),
        Err(ImportError::NotLoggedIn { .. })
    ));
}

#[test]
fn each_reader_names_the_format_it_was_given_instead() {
    let dir = tempfile::tempdir().unwrap();
    let pyro = pyrogram_file(dir.path(), 6, (2, false, &key(4), Some(1), false));
    let error = telethon::read_file(&pyro).unwrap_err();
    assert!(
        matches!(
            &error,
            ImportError::OtherFormat {
                expected: Format::Telethon,
                found: Some(Format::Pyrogram),
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{}: not a Telethon session (it looks like a Pyrogram one)",
            pyro.display()
        )
    );
    let tele = telethon_file(dir.path(), 7, 2, &key(0));
    let error = pyrogram::read_file(&tele).unwrap_err();
    assert!(matches!(
        error,
        ImportError::OtherFormat {
            found: Some(Format::Telethon),
            ..
        }
    ));

    let desktop = dir.path().join("key_datas");
    std::fs::write(&desktop, b"TDF$\x01\x02\x03\x04rest").unwrap();
    let error = telethon::read_file(&desktop).unwrap_err();
    assert!(matches!(
        error,
        ImportError::OtherFormat {
            found: Some(Format::Desktop),
            ..
        }
    ));
    let other_sqlite = dir.path().join("other.db");
    Connection::open(&other_sqlite)
        .unwrap()
        .execute_batch("create table t (x)")
        .unwrap();
    let error = pyrogram::read_file(&other_sqlite).unwrap_err();
    assert!(matches!(
        error,
        ImportError::OtherFormat { found: None, .. }
    ));

    let tele_string = telethon_string(2, &[127, 0, 0, 1], &key(1), true);
    let pyro_string = pyrogram_string(2, 1, false, &key(1), 1, false);
    let error = pyrogram::read_string(&tele_string).unwrap_err();
    assert!(matches!(
        error,
        ImportError::OtherFormat {
            found: Some(Format::Telethon),
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "the session string: not a Pyrogram session (it looks like a Telethon one)"
    );
    let error = telethon::read_string(&pyro_string).unwrap_err();
    assert!(matches!(
        error,
        ImportError::OtherFormat {
            found: Some(Format::Pyrogram),
            ..
        }
    ));
}

#[test]
fn a_missing_file_is_an_io_error_naming_it_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.session");
    let error = telethon::read_file(&path).unwrap_err();
    assert!(matches!(error, ImportError::Io { .. }));
    assert!(error.to_string().starts_with(&path.display().to_string()));
    assert!(!path.exists());
}

#[test]
fn no_error_shows_the_key_or_the_string() {
    let dir = tempfile::tempdir().unwrap();
    let key = key(0x41);
    let path = telethon_file(dir.path(), 9, 2, &key);
    let string = pyrogram_string(2, 1, true, &key, 1, false);
    let errors = [
        telethon::read_file(&path).unwrap_err(),
        pyrogram::read_string(&string).unwrap_err(),
        telethon::read_string(&string).unwrap_err(),
        pyrogram::read_string(&string[..300]).unwrap_err(),
    ];
    for error in errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(&string[10..40]), "{shown}");
        assert!(!shown.contains("AAAA"), "{shown}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_strings_never_panic(text in ".{0,400}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = telethon::read_string(&text);
        let _ = pyrogram::read_string(&text);
        let encoded = urlsafe(&bytes, false);
        let _ = pyrogram::read_string(&encoded);
        let _ = telethon::read_string(&format!("1{encoded}"));
    }

    #[test]
    fn mutated_strings_are_a_login_or_a_typed_error(
        flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..4),
        cut in 0usize..400,
    ) {
        for text in [
            telethon_string(2, &[127, 0, 0, 1], &key(1), true),
            pyrogram_string(2, 1, false, &key(1), 1, false),
        ] {
            let mut bytes = text.clone().into_bytes();
            let len = bytes.len();
            for (at, byte) in &flips {
                if let Some(slot) = bytes.get_mut(at % len) {
                    *slot = *byte;
                }
            }
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            for candidate in [mutated.as_str(), &text[..cut.min(text.len())]] {
                if let Ok(login) = telethon::read_string(candidate) {
                    prop_assert!(login.dc_id >= 1);
                }
                if let Ok(login) = pyrogram::read_string(candidate) {
                    prop_assert!(login.dc_id >= 1);
                }
            }
        }
    }

    #[test]
    fn random_and_mutated_session_files_are_a_login_or_a_typed_error(
        noise in proptest::collection::vec(any::<u8>(), 0..2048),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let random = dir.path().join("random.session");
        let mut bytes = b"SQLite format 3\0".to_vec();
        bytes.extend_from_slice(&noise);
        std::fs::write(&random, &bytes).unwrap();
        prop_assert!(telethon::read_file(&random).is_err());
        prop_assert!(pyrogram::read_file(&random).is_err());

        for path in [
            telethon_file(dir.path(), 7, 2, &key(1)),
            pyrogram_file(dir.path(), 6, (2, false, &key(1), Some(1), false)),
        ] {
            let mut bytes = std::fs::read(&path).unwrap();
            let len = bytes.len();
            for (at, byte) in &flips {
                bytes[at % len] = *byte;
            }
            std::fs::write(&path, &bytes).unwrap();
            let _ = telethon::read_file(&path);
            let _ = pyrogram::read_file(&path);
        }
    }
}

/// Files and strings written by the real libraries (`fixtures/make_fixtures.py`).
mod written_by_the_libraries {
    use super::*;

    /// The key `make_fixtures.py` stores.
    fn fixture_key() -> Vec<u8> {
        (0..256u32)
            .map(|i| u8::try_from((i * 7 + 1) % 256).unwrap())
            .collect()
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/import/fixtures")
            .join(name)
    }

    fn text(name: &str) -> String {
        std::fs::read_to_string(fixture(name)).unwrap()
    }

    #[test]
    fn telethon_1_45_file_and_strings() {
        let key = fixture_key();
        let file = telethon::read_file(&fixture("telethon.session")).unwrap();
        let string = telethon::read_string(&text("telethon.string")).unwrap();
        let ipv6 = telethon::read_string(&text("telethon-ipv6.string")).unwrap();
        for (login, dc) in [(file, 4), (string, 4), (ipv6, 5)] {
            assert_eq!(login.dc_id, dc);
            assert_eq!(login.auth_key.as_bytes().as_slice(), key.as_slice());
            assert_eq!(login.source, ImportSource::Telethon);
        }
    }

    #[test]
    fn kurigram_2_2_file_and_string() {
        let key = fixture_key();
        let file = pyrogram::read_file(&fixture("kurigram.session")).unwrap();
        let string = pyrogram::read_string(&text("kurigram.string")).unwrap();
        for login in [file, string] {
            assert_eq!(login.dc_id, 3);
            assert_eq!(login.user_id, Some(5_000_000_001));
            assert_eq!(login.is_bot, Some(false));
            assert_eq!(login.source, ImportSource::Pyrogram { api_id: Some(777) });
            assert_eq!(login.auth_key.as_bytes().as_slice(), key.as_slice());
        }
    }

    #[test]
    fn each_library_s_file_given_to_the_other_reader_is_named() {
        let error = pyrogram::read_file(&fixture("telethon.session")).unwrap_err();
        assert!(
            error.to_string().ends_with(
                "telethon.session: not a Pyrogram session (it looks like a Telethon one)"
            ),
            "{error}"
        );
        let error = telethon::read_file(&fixture("kurigram.session")).unwrap_err();
        assert!(
            matches!(
                error,
                ImportError::OtherFormat {
                    found: Some(Format::Pyrogram),
                    ..
                }
            ),
            "{error}"
        );
        let error = telethon::read_string(&text("kurigram.string")).unwrap_err();
        assert!(
            matches!(
                error,
                ImportError::OtherFormat {
                    found: Some(Format::Pyrogram),
                    ..
                }
            ),
            "{error}"
        );
    }
}
