//! A process killed (SIGKILL) in the middle of a multipart upload: a new process continues
//! the same upload and sends only the missing parts (Garage's own counters say so).

use std::process::{Command, Stdio};
use std::time::Duration;

use objstore::garage::Garage;
use objstore::{S3_MIN_PART_SIZE, StorageConfig, Target, UploadId, layout, sha256_of};

use crate::common::{data, upload_parts};

/// This test's name: the child process runs it again with `OBJSTORE_CHILD_STATE` set.
const TEST: &str = "killed_upload::sigkill_mid_upload_then_only_the_missing_parts_are_sent";
const PART: usize = S3_MIN_PART_SIZE as usize;
/// The file: four full parts and a short tail.
const SIZE: usize = 4 * PART + 1234;

/// The child: begins the upload, records its id, sends parts 1 and 2, then waits to be
/// killed.
async fn child_uploads_until_killed(state: std::ffi::OsString) {
    let url = std::env::var("OBJSTORE_CHILD_URL").unwrap();
    let target = Target::open(&url, &StorageConfig::default()).await.unwrap();
    let staging = layout::staging_key("killed");
    let upload = target.begin(&staging).await.unwrap();
    let body = data(SIZE, 21);
    upload_parts(&target, &staging, &upload, &body, PART, &[1, 2]).await;
    std::fs::write(&state, upload.as_str()).unwrap();
    tokio::time::sleep(Duration::from_hours(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_upload_then_only_the_missing_parts_are_sent() {
    if let Some(state) = std::env::var_os("OBJSTORE_CHILD_STATE") {
        return child_uploads_until_killed(state).await;
    }
    let garage = Garage::start().await.unwrap();
    let creds = garage.config().credentials.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("upload-id");
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([TEST, "--exact", "--nocapture"]);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .env("HOME", dir.path())
        .env("AWS_ENDPOINT_URL", garage.endpoint())
        .env("AWS_REGION", objstore::garage::REGION)
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env("OBJSTORE_CHILD_URL", garage.url("k"))
        .env("OBJSTORE_CHILD_STATE", &state)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) for the child to have sent two parts, then kill it.
    let mut upload = None;
    for _ in 0..600 {
        if let Ok(id) = std::fs::read_to_string(&state)
            && !id.is_empty()
        {
            upload = Some(UploadId(id));
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let upload = upload.expect("the child never recorded its upload");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let sent_before = garage.requests("UploadPart").await.unwrap();
    let bytes_before = garage.received_bytes().await.unwrap();
    assert_eq!(sent_before, 2);

    let target = garage.target("k").await.unwrap();
    let staging = layout::staging_key("killed");
    let body = data(SIZE, 21);
    let have = target.list_parts(&staging, &upload).await.unwrap();
    assert_eq!(have.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2]);
    for part in &have {
        let start = (part.number as usize - 1) * PART;
        assert_eq!(part.sha256, sha256_of(&body[start..start + PART]));
    }
    upload_parts(&target, &staging, &upload, &body, PART, &[3, 4, 5]).await;
    assert_eq!(
        garage.requests("UploadPart").await.unwrap() - sent_before,
        3
    );
    assert_eq!(
        garage.received_bytes().await.unwrap() - bytes_before,
        (SIZE - 2 * PART) as u64,
        "only the missing bytes went up"
    );
    let parts = target.list_parts(&staging, &upload).await.unwrap();
    target.complete(&staging, &upload, &parts).await.unwrap();
    target
        .publish(&staging, "file.bin", sha256_of(&body))
        .await
        .unwrap();
    assert_eq!(target.read("file.bin").await.unwrap(), body);
}
