#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use mtcrypto::AuthKey;
use mtnet::AuthState;
use rusqlite::Connection;

use super::*;

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.session");
    (dir, path)
}

fn auth(seed: u8) -> AuthState {
    AuthState {
        auth_key: AuthKey::from_bytes([seed; 256]),
        salt: i64::from(seed) * 1000 - 7,
        time_offset: -i64::from(seed),
    }
}

#[test]
fn round_trip_of_everything() {
    let (_dir, path) = temp();
    let options = vec![
        DcAddress::new(1, IpAddr::V4(Ipv4Addr::new(149, 154, 175, 53)), 443),
        DcAddress {
            dc_id: 2,
            ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: 8443,
            flags: DcFlags {
                ipv6: true,
                media_only: true,
                tcpo_only: true,
                cdn: false,
                r#static: true,
                this_port_only: true,
            },
            secret: Some(vec![1, 2, 3]),
        },
    ];
    let me = SelfUser {
        id: 777,
        bot: true,
        username: Some("robot".into()),
    };
    let peers = vec![
        PeerRecord {
            kind: PeerKind::User,
            id: 5,
            access_hash: Some(-9),
            username: Some("Alice".into()),
        },
        PeerRecord {
            kind: PeerKind::Chat,
            id: 5,
            access_hash: None,
            username: None,
        },
        PeerRecord {
            kind: PeerKind::Channel,
            id: 1_000_000_000_123,
            access_hash: Some(i64::MIN),
            username: Some("news".into()),
        },
    ];
    {
        let mut store = SessionStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert!(store.home_dc().unwrap().is_none());
        assert!(store.self_user().unwrap().is_none());
        store.set_home_dc(4).unwrap();
        store.save_dc_auth(4, &auth(4)).unwrap();
        store.save_dc_auth(2, &auth(2)).unwrap();
        store.set_dc_authorized(4, true).unwrap();
        store.replace_dc_options(&options).unwrap();
        store.set_self_user(Some(&me)).unwrap();
        store.upsert_peers(&peers).unwrap();
        store.set_download_state("file:1", b"parts").unwrap();
    }
    let mut store = SessionStore::open(&path).unwrap();
    assert_eq!(store.home_dc().unwrap(), Some(4));
    let four = store.dc_auth(4).unwrap().unwrap();
    assert_eq!(four.auth.auth_key, AuthKey::from_bytes([4; 256]));
    assert_eq!((four.auth.salt, four.auth.time_offset), (3993, -4));
    assert!(four.authorized);
    assert!(!store.dc_auth(2).unwrap().unwrap().authorized);
    assert!(store.dc_auth(3).unwrap().is_none());
    assert_eq!(store.dc_auths().unwrap().len(), 2);
    assert_eq!(store.dc_options().unwrap(), options);
    assert_eq!(store.self_user().unwrap(), Some(me));
    for peer in &peers {
        assert_eq!(store.peer(peer.kind, peer.id).unwrap().as_ref(), Some(peer));
    }
    assert_eq!(
        store.peer_by_username("alice").unwrap(),
        Some(peers[0].clone())
    );
    assert_eq!(store.download_state("file:1").unwrap().unwrap(), b"parts");

    // Saving the same key keeps its authorization; a new key resets it.
    let mut same = auth(4);
    same.salt = 1;
    store.save_dc_auth(4, &same).unwrap();
    assert!(store.dc_auth(4).unwrap().unwrap().authorized);
    store.save_dc_auth(4, &auth(9)).unwrap();
    assert!(!store.dc_auth(4).unwrap().unwrap().authorized);

    // A min record does not erase what is known.
    store
        .upsert_peers(&[PeerRecord {
            kind: PeerKind::User,
            id: 5,
            access_hash: None,
            username: None,
        }])
        .unwrap();
    assert_eq!(
        store.peer(PeerKind::User, 5).unwrap(),
        Some(peers[0].clone())
    );

    store.clear_login().unwrap();
    assert!(store.self_user().unwrap().is_none());
    assert!(store.dc_auths().unwrap().is_empty());
    assert_eq!(store.home_dc().unwrap(), Some(4));
    store.remove_download_state("file:1").unwrap();
    assert!(store.download_state("file:1").unwrap().is_none());
}

#[test]
fn auth_key_is_not_in_debug_output() {
    let store = SessionStore::in_memory().unwrap();
    store.save_dc_auth(1, &auth(0xab)).unwrap();
    let debug = format!("{:?}", store.dc_auth(1).unwrap().unwrap());
    assert!(!debug.contains("171, 171"), "{debug}");
    assert!(debug.contains("AuthKey { id"), "{debug}");
    assert!(!debug.to_lowercase().contains("abab"), "{debug}");
}

#[cfg(unix)]
#[test]
fn new_file_is_private_and_exposed_one_is_flagged() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp();
    let store = SessionStore::open(&path).unwrap();
    assert!(!store.is_exposed());
    drop(store);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(SessionStore::open(&path).unwrap().is_exposed());
}

#[test]
fn garbage_file_is_corrupt_and_untouched() {
    let (_dir, path) = temp();
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let error = SessionStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("left untouched"));
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn damaged_sqlite_file_is_corrupt_and_untouched() {
    let (_dir, path) = temp();
    {
        let mut store = SessionStore::open(&path).unwrap();
        let many: Vec<PeerRecord> = (0..2000)
            .map(|id| PeerRecord {
                kind: PeerKind::User,
                id,
                access_hash: Some(id * 3),
                username: Some(format!("user{id}")),
            })
            .collect();
        store.upsert_peers(&many).unwrap();
        // Fold the WAL back so that the damage below hits real pages.
        store
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
            .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8192);
    for b in &mut bytes[4096..] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let error = SessionStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn foreign_database_is_refused_and_untouched() {
    let (_dir, path) = temp();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = SessionStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn newer_schema_is_refused() {
    let (_dir, path) = temp();
    drop(SessionStore::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
    }
    let error = SessionStore::open(&path).unwrap_err();
    assert!(
        matches!(error, StoreError::TooNew { found, .. } if found == SCHEMA_VERSION + 5),
        "{error}"
    );
}

#[test]
fn unreadable_paths_give_io_errors() {
    let (dir, path) = temp();
    // A directory where the file should be.
    std::fs::create_dir(&path).unwrap();
    let error = SessionStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error}");
    // A directory that does not exist.
    let error = SessionStore::open(dir.path().join("missing/dir/s.session")).unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error}");
}

#[cfg(unix)]
#[test]
fn file_without_read_permission_gives_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp();
    drop(SessionStore::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        // Running as root: permissions do not apply, nothing to test.
        eprintln!("skipped: the file is readable despite mode 000 (root?)");
        return;
    }
    let error = SessionStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error}");
}

#[test]
fn older_schema_is_migrated_with_its_data() {
    let (_dir, path) = temp();
    {
        // A session as version 1 wrote it.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "application_id", schema::APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO meta VALUES ('home_dc', 2), ('self_id', 42), ('self_bot', 0);
             INSERT INTO peers VALUES (1, 42, 99, 'me');",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO dc_auth VALUES (2, ?1, 5, 6), (3, ?1, 7, 8)",
            [vec![9u8; 256]],
        )
        .unwrap();
    }
    let store = SessionStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.home_dc().unwrap(), Some(2));
    assert_eq!(store.self_user().unwrap().unwrap().id, 42);
    let home = store.dc_auth(2).unwrap().unwrap();
    assert!(home.authorized, "the logged-in home key stays logged in");
    assert_eq!((home.auth.salt, home.auth.time_offset), (5, 6));
    assert!(!store.dc_auth(3).unwrap().unwrap().authorized);
    assert_eq!(
        store.peer_by_username("ME").unwrap().unwrap().access_hash,
        Some(99)
    );
    store.set_download_state("k", b"v").unwrap();
}

#[test]
fn bad_stored_values_are_typed_errors() {
    let store = SessionStore::in_memory().unwrap();
    store
        .conn
        .execute("INSERT INTO dc_auth VALUES (1, x'0102', 0, 0, 0)", [])
        .unwrap();
    store
        .conn
        .execute("INSERT INTO meta VALUES ('home_dc', 'two')", [])
        .unwrap();
    store
        .conn
        .execute(
            "INSERT INTO dc_options VALUES (1, 'not-an-ip', 1, 0, NULL)",
            [],
        )
        .unwrap();
    assert!(matches!(store.dc_auth(1), Err(StoreError::Invalid { .. })));
    assert!(matches!(store.home_dc(), Err(StoreError::Invalid { .. })));
    assert!(matches!(
        store.dc_options(),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn second_open_is_refused_while_the_first_is_open() {
    let (_dir, path) = temp();
    let first = SessionStore::open(&path).unwrap();
    let error = SessionStore::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    assert!(error.to_string().contains("in use"));
    drop(first);
    // The lock file stays behind, but without the lock it blocks nobody.
    assert!(lock::lock_path(&path).exists());
    drop(SessionStore::open(&path).unwrap());
}

#[test]
fn concurrent_opens_from_threads_let_exactly_one_in() {
    let (_dir, path) = temp();
    drop(SessionStore::open(&path).unwrap());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let result = SessionStore::open(&path);
                // Hold it long enough for every other thread to try.
                std::thread::sleep(std::time::Duration::from_millis(300));
                result.map(|_| ())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let opened = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(opened, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::InUse { .. }))
    );
}

#[test]
fn peek_reads_the_login_of_a_session_in_use_without_changing_it() {
    let (_dir, path) = temp();
    let me = SelfUser {
        id: 4242,
        bot: false,
        username: Some("alice".into()),
    };
    let mut store = SessionStore::open(&path).unwrap();
    store.set_home_dc(4).unwrap();
    store.set_self_user(Some(&me)).unwrap();
    // The store stays open (locked, WAL) while it is peeked at, as under a running tgdl.
    let before = std::fs::read(&path).unwrap();
    let peek = SessionStore::peek(&path).unwrap();
    assert_eq!(peek.self_user, Some(me));
    assert_eq!(peek.home_dc, Some(4));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    drop(store);
    assert_eq!(SessionStore::peek(&path).unwrap().home_dc, Some(4));
}

#[test]
fn peek_of_an_empty_or_fresh_session_is_no_login() {
    let (_dir, path) = temp();
    std::fs::write(&path, b"").unwrap();
    let nothing = SessionPeek {
        self_user: None,
        home_dc: None,
    };
    assert_eq!(SessionStore::peek(&path).unwrap(), nothing);
    drop(SessionStore::open(&path).unwrap());
    assert_eq!(SessionStore::peek(&path).unwrap(), nothing);
}

#[test]
fn peek_refuses_what_open_refuses() {
    let (dir, path) = temp();
    std::fs::write(&path, b"definitely not sqlite, just some text").unwrap();
    assert!(matches!(
        SessionStore::peek(&path),
        Err(StoreError::Corrupt { .. })
    ));
    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert!(matches!(
        SessionStore::peek(&foreign),
        Err(StoreError::Foreign { .. })
    ));
    let newer = dir.path().join("newer.session");
    drop(SessionStore::open(&newer).unwrap());
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    assert!(matches!(
        SessionStore::peek(&newer),
        Err(StoreError::TooNew { .. })
    ));
    assert!(matches!(
        SessionStore::peek(dir.path().join("missing.session")),
        Err(StoreError::Io { .. })
    ));
}

#[test]
fn uploads_round_trip_and_a_new_upload_forgets_the_old_parts() {
    let (_dir, path) = temp();
    let mut store = SessionStore::open(&path).unwrap();
    assert_eq!(store.upload("k").unwrap(), None);
    let mut record = UploadRecord {
        key: "k".into(),
        media_id: -5,
        thumb: "y".into(),
        size: 5 << 30,
        final_key: "chat/a.bin".into(),
        staging_key: ".tgdl/incoming/a".into(),
        upload_id: "u1".into(),
        part_size: 8 << 20,
        sha256: None,
        completed: false,
        parts: Vec::new(),
    };
    store.begin_upload(&record).unwrap();
    let parts: Vec<UploadedPart> = (1..=3u32)
        .map(|n| UploadedPart {
            number: n,
            start: u64::from(n - 1) * (8 << 20),
            end: u64::from(n) * (8 << 20),
            etag: format!("\"e{n}\""),
            sha256: [u8::try_from(n).unwrap(); 32],
            hash_state: vec![u8::try_from(n).unwrap(); 40],
        })
        .collect();
    // Added out of order; read back in order. A part uploaded again replaces its row.
    for part in parts.iter().rev() {
        store.add_upload_part("k", part).unwrap();
    }
    store.add_upload_part("k", &parts[1]).unwrap();
    store.set_upload_verified("k", &[9; 32]).unwrap();
    store.set_upload_completed("k").unwrap();
    drop(store);

    let mut store = SessionStore::open(&path).unwrap();
    let loaded = store.upload("k").unwrap().unwrap();
    record.parts.clone_from(&parts);
    record.sha256 = Some([9; 32]);
    record.completed = true;
    assert_eq!(loaded, record);

    store.drop_upload_parts_from("k", 3).unwrap();
    assert_eq!(store.upload("k").unwrap().unwrap().parts.len(), 2);

    record.upload_id = "u2".into();
    store.begin_upload(&record).unwrap();
    let fresh = store.upload("k").unwrap().unwrap();
    assert_eq!(fresh.upload_id, "u2");
    assert!(fresh.parts.is_empty() && fresh.sha256.is_none() && !fresh.completed);

    store.remove_upload("k").unwrap();
    assert_eq!(store.upload("k").unwrap(), None);
}
