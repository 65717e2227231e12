//! The source sessions tgdl's login import is tested on, made by the real clients against
//! localdc (`crates/tgdl/tests/interop/make_source_sessions.py`): Telethon 1.45.0 and
//! kurigram 2.2.26 each log in (a 2FA account, across a DC migration) and write their
//! session file and string; each of the four works on its own; and real Telethon does both
//! sides of a login-token handoff between two keys of the account, after which
//! `account.getAuthorizations` lists the new device and the source key still works.
//! Needs Python 3; the venv is made by `scripts/setup-python-tests.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::venv;
use crate::world::{demo, start};

/// One run of the script ends within this.
const SCRIPT_TIME: Duration = Duration::from_mins(2);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tgdl/tests/interop/make_source_sessions.py")
}

/// Runs the script with `request` on stdin; its one JSON line.
async fn run(python: &Path, request: &Value) -> Value {
    let mut child = Command::new(python)
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(request.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = tokio::time::timeout(SCRIPT_TIME, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the script took longer than {SCRIPT_TIME:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "script failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_make_four_working_sessions_and_hand_a_login_to_a_new_key() {
    let python = venv::python().await;
    let env = start(demo()).await;
    let server: Value = serde_json::from_str(&env.server.ready_info().to_json()).unwrap();
    let dir = std::env::temp_dir().join(format!("localdc-handoff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    // Bob: 2FA, home DC 4; both clients start on DC 2 and are sent there.
    let made = run(
        &python,
        &json!({"server": server, "phone": "15550002", "code": "54321",
                "password": "hunter2", "out": dir}),
    )
    .await;
    for library in ["telethon", "pyrogram"] {
        assert_eq!(made[library], json!({"user_id": 1002, "dc": 4}), "{made}");
    }
    let files = [
        "pyrogram.session",
        "pyrogram.string",
        "telethon.session",
        "telethon.string",
    ];
    assert_eq!(made["files"], json!(files));
    for file in files {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    // Each library logged in on its own: two logins, one per app.
    let logins = env.world.authorizations(1002);
    assert_eq!(logins.len(), 2, "{logins:?}");
    let mut versions: Vec<&str> = logins.iter().map(|a| a.app_version.as_str()).collect();
    versions.sort_unstable();
    assert_eq!(versions, ["1.45.0", "Pyrogram 2.2.26"]);

    // Each of the four sessions works on its own.
    let telethon_file = dir.join("telethon.session");
    for (library, source) in [
        ("telethon", json!({"file": telethon_file})),
        ("pyrogram", json!({"file": dir.join("pyrogram.session")})),
        (
            "telethon",
            json!({"string": std::fs::read_to_string(dir.join("telethon.string")).unwrap()}),
        ),
        (
            "pyrogram",
            json!({"string": std::fs::read_to_string(dir.join("pyrogram.string")).unwrap()}),
        ),
    ] {
        let mut check = source.clone();
        check["library"] = json!(library);
        let seen = run(&python, &json!({"server": server, "check": check})).await;
        assert_eq!(seen["user_id"], json!(1002), "{library} {source}");
        assert!(seen["dialogs"].as_u64().unwrap() > 0, "{seen}");
    }
    assert_eq!(
        env.world.authorizations(1002).len(),
        2,
        "checks log nobody in"
    );

    // Telethon on the source key accepts a token a fresh key asked for on DC 1.
    let handed = run(
        &python,
        &json!({"server": server, "token_login": {"file": telethon_file, "first_dc": 1,
                "device_model": "second key", "password": "hunter2"}}),
    )
    .await;
    assert_eq!(handed["new_user_id"], json!(1002));
    assert_eq!(handed["new_dc"], json!(4), "followed loginTokenMigrateTo");
    let accepted = &handed["accepted"];
    assert_eq!(accepted["device_model"], json!("second key"));
    let listed = handed["authorizations"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{handed}");
    assert_eq!(listed[0]["current"], json!(true));
    assert_eq!(listed[0]["hash"], json!(0));
    let new_device: Vec<&Value> = listed
        .iter()
        .filter(|a| a["device_model"] == json!("second key"))
        .collect();
    assert_eq!(new_device.len(), 1, "{handed}");
    assert_eq!(new_device[0]["hash"], accepted["hash"]);
    assert_eq!(new_device[0]["password_pending"], json!(false));
    assert_eq!(env.world.authorizations(1002).len(), 3);

    // The source key still works after the handoff.
    let seen = run(
        &python,
        &json!({"server": server, "check": {"library": "telethon", "file": telethon_file}}),
    )
    .await;
    assert_eq!(seen["user_id"], json!(1002));
    let _ = std::fs::remove_dir_all(&dir);
    env.server.shutdown().await;
}
