//! The same operations on a local path (`file://`): multipart semantics on plain files,
//! conditional create, leases by conditional create.

use objstore::{ObjError, StorageConfig, Target, layout, sha256_of};

use crate::common::{data, upload_parts};
use crate::leases;

async fn open(dir: &tempfile::TempDir) -> Target {
    let url = format!("file://{}", dir.path().display());
    Target::open(&url, &StorageConfig::default()).await.unwrap()
}

#[tokio::test]
async fn multipart_on_a_local_path_resumes_and_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let body = data(10_000, 4);
    let staging = layout::staging_key("m1");
    let upload = {
        let target = open(&dir).await;
        let upload = target.begin(&staging).await.unwrap();
        upload_parts(&target, &staging, &upload, &body, 4096, &[1]).await;
        upload
    };
    let target = open(&dir).await;
    assert_eq!(target.min_part_size(), 1);
    let listed = target.list_parts(&staging, &upload).await.unwrap();
    assert_eq!(listed.len(), 1);
    upload_parts(&target, &staging, &upload, &body, 4096, &[2, 3]).await;
    let parts = target.list_parts(&staging, &upload).await.unwrap();
    target.complete(&staging, &upload, &parts).await.unwrap();
    assert!(matches!(
        target.list_parts(&staging, &upload).await,
        Err(ObjError::UploadGone { .. })
    ));
    target
        .publish(&staging, "a/b.bin", sha256_of(&body))
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.path().join("a/b.bin")).unwrap(), body);
    let info = target.stat("a/b.bin").await.unwrap().unwrap();
    assert_eq!(info.sha256, Some(sha256_of(&body)));
    assert_eq!(target.stat(&staging).await.unwrap(), None);

    let other = data(5, 1);
    let err = target
        .put_small("a/b.bin", other.clone(), sha256_of(&other))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::AlreadyExists { .. }), "{err}");
    target
        .put_small("a/b.bin", body.clone(), sha256_of(&body))
        .await
        .unwrap();
    let unknown = objstore::UploadId("nope".into());
    assert!(matches!(
        target.list_parts("k", &unknown).await,
        Err(ObjError::UploadGone { .. })
    ));
}

#[tokio::test]
async fn leases_on_a_local_path_use_conditional_create() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir).await;
    let b = open(&dir).await;
    assert!(a.supports_conditional_create().await.unwrap());
    leases::two_holders(&a, &b).await;
    leases::expiry_renewal_and_takeover(&a, &b).await;
    let mut targets = Vec::new();
    for _ in 0..4 {
        targets.push(open(&dir).await);
    }
    leases::a_race_has_one_winner(&targets).await;
}
