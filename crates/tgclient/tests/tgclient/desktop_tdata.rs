//! tgdl's `tdata` reader against folders written by an independent writer: opentele-ng
//! 1.5.0 (from PyPI, installed by `scripts/setup-python-tests.sh`), which converts Telethon
//! sessions into Telegram Desktop folders without connecting anywhere. The generator
//! `tests/interop/make_tdata.py` gets known auth keys, DCs and user ids; the reader must
//! give the same back. Needs Python 3 and PyPI access once; fails, never skips, without.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tgclient::import::tdata::{TdataError, read_tdata};

/// An account given to the writer: DC, user id, auth key.
struct Account {
    dc_id: i32,
    user_id: u64,
    key: [u8; 256],
}

fn key(seed: u8) -> [u8; 256] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(73).wrapping_add(seed) ^ 0x5C)
}

fn accounts() -> [Account; 2] {
    [
        Account {
            dc_id: 2,
            user_id: 1_000_001,
            key: key(1),
        },
        Account {
            // A user id past 32 bits: Desktop's wide-id layout.
            dc_id: 4,
            user_id: 7_000_000_001,
            key: key(2),
        },
    ]
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, made (once per test binary) by the project's setup script.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = workspace();
        let venv = std::env::var_os("LOCALDC_PY_VENV")
            .map_or_else(|| root.join("target/py-venv"), PathBuf::from);
        let out = Command::new("bash")
            .arg(root.join("scripts/setup-python-tests.sh"))
            .arg(&venv)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "setup-python-tests.sh failed (needs python3 with venv and PyPI access once):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        venv.join("bin/python")
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Has opentele-ng write a folder for `accounts` into `out`; the files it wrote.
fn write_tdata(out: &Path, passcode: &str, accounts: &[Account]) -> Vec<String> {
    let accounts: Vec<_> = accounts
        .iter()
        .map(|a| {
            serde_json::json!({
                "dc_id": a.dc_id,
                "user_id": a.user_id,
                "auth_key_hex": hex(&a.key),
            })
        })
        .collect();
    let request = serde_json::json!({"out": out, "passcode": passcode, "accounts": accounts});
    let mut child = Command::new(python())
        .arg(workspace().join("crates/tgclient/tests/interop/make_tdata.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    // The keys go through stdin, never the command line.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "make_tdata.py failed:\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    String::from_utf8(done.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes `accounts` with `passcode` and checks the reader gets them back.
fn round_trip(passcode: &str, accounts: &[Account]) {
    let dir = tempfile::tempdir().unwrap();
    let tdata = dir.path().join("tdata");
    let files = write_tdata(&tdata, passcode, accounts);
    assert!(files.contains(&"key_datas".to_owned()), "{files:?}");
    assert!(files.contains(&"D877F783D5D3EF8Cs".to_owned()), "{files:?}");

    let read = read_tdata(&tdata, passcode.as_bytes()).unwrap();
    assert_eq!(read.accounts.len(), accounts.len());
    for (got, want) in read.accounts.iter().zip(accounts) {
        assert_eq!(got.user_id, want.user_id);
        assert_eq!(got.main_dc, want.dc_id);
        let main = got.main_key().expect("a key for the main DC");
        assert_eq!(main.as_bytes(), &want.key);
    }
    assert_eq!(
        read.accounts.iter().map(|a| a.index).collect::<Vec<_>>(),
        (0..i32::try_from(accounts.len()).unwrap()).collect::<Vec<_>>()
    );

    let wrong = if passcode.is_empty() { "guess" } else { "" };
    let err = read_tdata(&tdata, wrong.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, TdataError::WrongPasscode { file } if file.ends_with("key_datas")),
        "{err}"
    );
}

#[test]
fn one_account_without_a_passcode() {
    round_trip("", &accounts()[..1]);
}

#[test]
fn one_account_with_a_passcode() {
    round_trip("correct horse", &accounts()[..1]);
}

#[test]
fn two_accounts_without_a_passcode() {
    round_trip("", &accounts());
}

#[test]
fn two_accounts_with_a_non_ascii_passcode() {
    // Desktop derives the key from the passcode's UTF-8 bytes.
    round_trip("pässwörd", &accounts());
}

#[test]
fn a_tampered_account_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let tdata = dir.path().join("tdata");
    write_tdata(&tdata, "", &accounts());
    let file = tdata.join("A7FDF864FBC10B77s");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&file, bytes).unwrap();
    let err = read_tdata(&tdata, b"").unwrap_err();
    assert!(
        matches!(&err, TdataError::Tampered { file: f, .. } if *f == file),
        "{err}"
    );
}

/// A localdc login carried through a folder opentele-ng wrote: the key tgdl reads back
/// logs in to localdc as the same user from a fresh session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_localdc_login_read_back_from_tdata_works() {
    use std::sync::Arc;

    use localdc::world::World;
    use tgclient::{Client, SelfUser, SessionStore};
    use tl_types::api::{enums, functions};

    use crate::common;

    let world = Arc::new(
        World::from_fixture(common::files_channel(7, 601, &serde_json::json!([]))).unwrap(),
    );
    let server = common::serve(localdc::Config::default(), &world, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let source = common::open_client(
        &dir.path().join("source.session"),
        common::server_config(&server),
    );
    common::open_files_channel(&source).await;
    let me = source.self_user().unwrap().unwrap();
    let home = source.with_store(|s| s.home_dc()).unwrap().unwrap();
    let key = source.with_store(|s| s.dc_auth(home)).unwrap().unwrap();
    let tdata = dir.path().join("tdata");
    write_tdata(
        &tdata,
        "",
        &[Account {
            dc_id: home,
            user_id: u64::try_from(me.id).unwrap(),
            key: *key.auth.auth_key.as_bytes(),
        }],
    );

    let read = read_tdata(&tdata, b"").unwrap();
    let account = &read.accounts[0];
    assert_eq!(account.main_dc, home);
    let store = SessionStore::open(dir.path().join("imported.session")).unwrap();
    store.set_home_dc(account.main_dc).unwrap();
    store
        .save_dc_auth(
            account.main_dc,
            &mtnet::AuthState {
                auth_key: account.main_key().unwrap().clone(),
                salt: 0,
                time_offset: 0,
            },
        )
        .unwrap();
    store.set_dc_authorized(account.main_dc, true).unwrap();
    let mut store = store;
    store
        .set_self_user(Some(&SelfUser {
            id: i64::try_from(account.user_id).unwrap(),
            bot: false,
            username: None,
        }))
        .unwrap();
    let imported =
        Client::new(common::client_config(common::server_config(&server)), store).unwrap();
    let users = imported
        .invoke(&functions::users::GetUsers {
            id: vec![enums::InputUser::InputUserSelf],
        })
        .await
        .unwrap();
    let ids: Vec<i64> = users
        .iter()
        .map(|u| match u {
            enums::User::User(u) => u.id,
            enums::User::Empty(u) => u.id,
        })
        .collect();
    assert_eq!(ids, vec![me.id]);

    imported.close().await.unwrap();
    source.close().await.unwrap();
    server.shutdown().await;
}
