//! Credentials from the usual AWS environment variables and from a profile file, as a
//! user's shell gives them: each case runs a child test process with its own environment
//! (the test process's environment stays untouched).

use std::process::Command;

use bytes::Bytes;
use objstore::garage::Garage;
use objstore::{StorageConfig, Target, sha256_of};

/// This test's name: each child process runs it again with `OBJSTORE_CHILD_KEY` set.
const TEST: &str = "credentials_env::credentials_from_the_environment_and_from_a_profile";

/// A child: opens the target from the environment alone and writes one object.
async fn child_writes_with_environment_credentials(key: String) {
    let url = std::env::var("OBJSTORE_CHILD_URL").unwrap();
    let target = Target::open(&url, &StorageConfig::default())
        .await
        .unwrap_or_else(|e| panic!("open failed: {e}"));
    target
        .put_small(&key, Bytes::from_static(b"hi"), sha256_of(b"hi"))
        .await
        .unwrap();
}

/// Runs the child with a clean AWS environment, `HOME` in a temp dir, and `vars`.
fn run_child(
    garage: &Garage,
    home: &std::path::Path,
    key: &str,
    vars: &[(&str, &str)],
) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([TEST, "--exact", "--nocapture"]);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL", garage.endpoint())
        .env("AWS_REGION", objstore::garage::REGION)
        .env("OBJSTORE_CHILD_URL", garage.url("env"))
        .env("OBJSTORE_CHILD_KEY", key);
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_the_environment_and_from_a_profile() {
    if let Ok(key) = std::env::var("OBJSTORE_CHILD_KEY") {
        return child_writes_with_environment_credentials(key).await;
    }
    let garage = Garage::start().await.unwrap();
    let creds = garage.config().credentials.unwrap();
    let home = tempfile::tempdir().unwrap();

    let (ok, out) = run_child(
        &garage,
        home.path(),
        "from-env",
        &[
            ("AWS_ACCESS_KEY_ID", &creds.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key),
        ],
    );
    assert!(ok, "{out}");

    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!(
            "[default]\naws_access_key_id = GK000000000000000000000000\naws_secret_access_key = {}\n\n[archive]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            "1".repeat(64),
            creds.access_key_id,
            creds.secret_access_key
        ),
    )
    .unwrap();
    let (ok, out) = run_child(
        &garage,
        home.path(),
        "from-profile",
        &[("AWS_PROFILE", "archive")],
    );
    assert!(ok, "{out}");

    // The default profile's key is unknown to Garage: refused, and the secret is not shown.
    let (ok, out) = run_child(&garage, home.path(), "refused", &[]);
    assert!(!ok);
    assert!(out.contains("refused the credentials"), "{out}");
    assert!(!out.contains(&"1".repeat(64)), "{out}");
    assert!(!out.contains(&creds.secret_access_key), "{out}");

    let empty_home = tempfile::tempdir().unwrap();
    let (ok, out) = run_child(&garage, empty_home.path(), "none", &[]);
    assert!(!ok);
    assert!(out.contains("no credentials"), "{out}");

    let target = garage.target("env").await.unwrap();
    assert_eq!(target.list("").await.unwrap(), ["from-env", "from-profile"]);
}
