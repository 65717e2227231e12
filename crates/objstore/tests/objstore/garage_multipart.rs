//! Multipart uploads on Garage: continued by a new process, gone when the service aborts
//! them, across a restart, published under the final key only when verified.

use objstore::garage::Garage;
use objstore::{ObjError, S3_MIN_PART_SIZE, layout, sha256_of};

use crate::common::{data, upload_parts};

const PART: usize = S3_MIN_PART_SIZE as usize;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_continues_the_upload_and_sends_only_the_missing_parts() {
    let garage = Garage::start().await.unwrap();
    let body = data(3 * PART + 12_345, 7);
    let staging = layout::staging_key("doc-42");
    let (upload, first) = {
        let target = garage.target("chan").await.unwrap();
        let upload = target.begin(&staging).await.unwrap();
        let first = upload_parts(&target, &staging, &upload, &body, PART, &[1, 2]).await;
        (upload, first)
        // The target is dropped here: the process "dies" with the upload half done.
    };
    let parts_before = garage.requests("UploadPart").await.unwrap();
    let bytes_before = garage.received_bytes().await.unwrap();
    assert_eq!(parts_before, 2);

    let target = garage.target("chan").await.unwrap();
    let listed = target.list_parts(&staging, &upload).await.unwrap();
    assert_eq!(
        listed, first,
        "the service lists what was sent, with the checksums"
    );
    let rest = upload_parts(&target, &staging, &upload, &body, PART, &[3, 4]).await;
    assert_eq!(
        garage.requests("UploadPart").await.unwrap() - parts_before,
        2
    );
    let sent = garage.received_bytes().await.unwrap() - bytes_before;
    assert_eq!(
        sent,
        (PART + 12_345) as u64,
        "only parts 3 and 4 were stored"
    );

    let all = target.list_parts(&staging, &upload).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[2..], rest[..]);
    target.complete(&staging, &upload, &all).await.unwrap();
    // Not visible under its final key until published.
    assert_eq!(target.stat("photos/42.jpg").await.unwrap(), None);
    let sha = sha256_of(&body);
    target
        .publish(&staging, "photos/42.jpg", sha)
        .await
        .unwrap();
    let info = target.stat("photos/42.jpg").await.unwrap().unwrap();
    assert_eq!(info.size, body.len() as u64);
    assert_eq!(info.sha256, Some(sha));
    assert!(
        info.checksum_by_service,
        "the copy carries a full-object SHA-256 Garage computed"
    );
    assert_eq!(target.read("photos/42.jpg").await.unwrap(), body);
    assert_eq!(
        target.stat(&staging).await.unwrap(),
        None,
        "staging object removed"
    );
    assert!(matches!(
        target.list_parts(&staging, &upload).await,
        Err(ObjError::UploadGone { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_service_aborted_is_gone() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("").await.unwrap();
    let body = data(PART + 1, 3);
    let upload = target.begin("k").await.unwrap();
    let done = upload_parts(&target, "k", &upload, &body, PART, &[1]).await;
    garage.abort_incomplete_uploads().await.unwrap();
    let err = target.list_parts("k", &upload).await.unwrap_err();
    assert!(
        matches!(&err, ObjError::UploadGone { upload_id, .. } if *upload_id == upload.0),
        "{err}"
    );
    let piece = body.slice(PART..);
    let err = target
        .put_part("k", &upload, 2, piece.clone(), sha256_of(&piece))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::UploadGone { .. }), "{err}");
    let err = target.complete("k", &upload, &done).await.unwrap_err();
    assert!(matches!(err, ObjError::UploadGone { .. }), "{err}");
    // Aborting what is gone is not an error; a fresh upload works.
    target.abort("k", &upload).await.unwrap();
    let again = target.begin("k").await.unwrap();
    assert_ne!(again, upload);
    let parts = upload_parts(&target, "k", &again, &body, PART, &[1, 2]).await;
    target.complete("k", &again, &parts).await.unwrap();
    assert_eq!(target.read("k").await.unwrap(), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_restarted_between_parts() {
    let mut garage = Garage::start().await.unwrap();
    let target = garage.target("r").await.unwrap();
    let body = data(2 * PART, 11);
    let upload = target.begin("big").await.unwrap();
    upload_parts(&target, "big", &upload, &body, PART, &[1]).await;

    garage.stop().await.unwrap();
    let piece = body.slice(PART..);
    let err = target
        .put_part("big", &upload, 2, piece.clone(), sha256_of(&piece))
        .await
        .unwrap_err();
    assert!(
        err.is_transient(),
        "a stopped service is worth retrying: {err}"
    );

    garage.restart().await.unwrap();
    // The same Target (its connection pool saw the old process die) carries on.
    upload_parts(&target, "big", &upload, &body, PART, &[2]).await;
    let parts = target.list_parts("big", &upload).await.unwrap();
    assert_eq!(parts.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2]);
    target.complete("big", &upload, &parts).await.unwrap();
    target
        .publish("big", "final", sha256_of(&body))
        .await
        .unwrap();
    assert_eq!(target.read("final").await.unwrap(), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boundary_sizes_round_trip_with_their_hashes() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("sizes").await.unwrap();
    // Below one part: a single PUT.
    let below = data(PART - 1, 1);
    target
        .put_small("below", below.clone(), sha256_of(&below))
        .await
        .unwrap();
    // Exactly one part, and several 8 MiB parts with a short tail: multipart.
    for (name, len, part) in [
        ("exact", PART, PART),
        ("multi", 5 * (8 << 20) + 777, 8 << 20),
    ] {
        let body = data(len, len as u64);
        let staging = layout::staging_key(name);
        let upload = target.begin(&staging).await.unwrap();
        let count = len.div_ceil(part) as u32;
        let parts = upload_parts(
            &target,
            &staging,
            &upload,
            &body,
            part,
            &(1..=count).collect::<Vec<_>>(),
        )
        .await;
        target.complete(&staging, &upload, &parts).await.unwrap();
        target
            .publish(&staging, name, sha256_of(&body))
            .await
            .unwrap();
        assert_eq!(target.read(name).await.unwrap(), body, "{name}");
    }
    for name in ["below", "exact", "multi"] {
        let bytes = target.read(name).await.unwrap();
        let info = target.stat(name).await.unwrap().unwrap();
        assert_eq!(info.sha256, Some(sha256_of(&bytes)), "{name}");
        assert!(info.checksum_by_service, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_part_is_refused_and_publish_never_overwrites() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("").await.unwrap();
    let body = data(PART, 5);
    let upload = target.begin("s").await.unwrap();
    let err = target
        .put_part("s", &upload, 1, body.clone(), sha256_of(b"not these bytes"))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::ChecksumMismatch { .. }), "{err}");
    assert!(target.list_parts("s", &upload).await.unwrap().is_empty());

    let parts = upload_parts(&target, "s", &upload, &body, PART, &[1]).await;
    target.complete("s", &upload, &parts).await.unwrap();
    let other = data(3, 9);
    target
        .put_small("taken", other.clone(), sha256_of(&other))
        .await
        .unwrap();
    let err = target
        .publish("s", "taken", sha256_of(&body))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::AlreadyExists { .. }), "{err}");
    assert_eq!(target.read("taken").await.unwrap(), other);
    // A wrong expected hash: the copy is checked and removed.
    let err = target
        .publish("s", "fresh", sha256_of(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::ChecksumMismatch { .. }), "{err}");
    assert_eq!(target.stat("fresh").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_mib_file_in_8_mib_parts() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("big").await.unwrap();
    let body = data(300 << 20, 300);
    let part = 8 << 20;
    let staging = layout::staging_key("300");
    let upload = target.begin(&staging).await.unwrap();
    let count = body.len().div_ceil(part) as u32;
    let parts = upload_parts(
        &target,
        &staging,
        &upload,
        &body,
        part,
        &(1..=count).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(parts.len(), 38);
    target.complete(&staging, &upload, &parts).await.unwrap();
    let sha = sha256_of(&body);
    target.publish(&staging, "300.bin", sha).await.unwrap();
    let info = target.stat("300.bin").await.unwrap().unwrap();
    assert_eq!((info.size, info.sha256), (body.len() as u64, Some(sha)));
    assert!(info.checksum_by_service);
    assert_eq!(sha256_of(&target.read("300.bin").await.unwrap()), sha);
}
