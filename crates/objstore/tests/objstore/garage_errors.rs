//! What the user is told when the credentials, the bucket or the service are wrong.

use objstore::garage::Garage;
use objstore::{Credentials, ObjError, S3_MIN_PART_SIZE, StorageConfig, Target, sha256_of};

use crate::common::{data, upload_parts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_credentials_are_named_at_open() {
    let garage = Garage::start().await.unwrap();
    let mut config = garage.config();
    let right = config.credentials.clone().unwrap();
    config.credentials = Some(Credentials {
        secret_access_key: "0".repeat(64),
        ..right.clone()
    });
    let err = Target::open(&garage.url("x"), &config).await.unwrap_err();
    assert!(matches!(err, ObjError::CredentialsRefused { .. }), "{err}");
    assert!(!err.to_string().contains(&right.secret_access_key));
    config.credentials = Some(Credentials {
        access_key_id: "GK000000000000000000000000".into(),
        ..right
    });
    let err = Target::open(&garage.url("x"), &config).await.unwrap_err();
    assert!(matches!(err, ObjError::CredentialsRefused { .. }), "{err}");

    let none = StorageConfig {
        credentials: None,
        ..garage.config()
    };
    let err = Target::open(&garage.url("x"), &none).await.unwrap_err();
    assert!(matches!(err, ObjError::NoCredentials { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_of_a_target_shows_no_credentials() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("x").await.unwrap();
    // Sign something so the signer caches the credential.
    target.stat("k").await.unwrap();
    let creds = garage.config().credentials.unwrap();
    let shown = format!("{target:?} {:?}", garage.config());
    assert!(!shown.contains(&creds.secret_access_key), "{shown}");
    assert!(!shown.contains(&creds.access_key_id), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_named_at_open() {
    let garage = Garage::start().await.unwrap();
    let err = Target::open("s3://no-such-bucket/x", &garage.config())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ObjError::BucketMissing { bucket, .. } if bucket == "no-such-bucket"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bucket_refuses_and_keeps_what_was_done() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("q").await.unwrap();
    let kept = data(1000, 1);
    target
        .put_small("kept", kept.clone(), sha256_of(&kept))
        .await
        .unwrap();
    garage.set_quota(Some(2 * S3_MIN_PART_SIZE)).await.unwrap();

    let big = data(3 * S3_MIN_PART_SIZE as usize, 2);
    let err = target
        .put_small("big", big.clone(), sha256_of(&big))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("quota"), "{err}");

    // Garage checks the quota of a multipart upload at completion, and drops the upload
    // when it refuses.
    let upload = target.begin("mp").await.unwrap();
    let parts = upload_parts(
        &target,
        "mp",
        &upload,
        &big,
        S3_MIN_PART_SIZE as usize,
        &[1, 2, 3],
    )
    .await;
    let err = target.complete("mp", &upload, &parts).await.unwrap_err();
    assert!(matches!(err, ObjError::Refused { .. }), "{err}");
    assert_eq!(target.stat("mp").await.unwrap(), None);

    assert_eq!(
        target.read("kept").await.unwrap(),
        kept,
        "nothing done is lost"
    );
    garage.set_quota(None).await.unwrap();
    target
        .put_small("big", big.clone(), sha256_of(&big))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_service_is_a_network_error() {
    let mut garage = Garage::start().await.unwrap();
    let target = garage.target("").await.unwrap();
    garage.stop().await.unwrap();
    let err = target.stat("k").await.unwrap_err();
    assert!(matches!(err, ObjError::Network { .. }), "{err}");
    assert!(err.is_transient());
    let err = Target::open(&garage.url(""), &garage.config())
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::Network { .. }), "{err}");
}
