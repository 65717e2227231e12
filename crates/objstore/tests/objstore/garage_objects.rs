//! Single objects on Garage: sizes, checksums, metadata, never overwriting.

use bytes::Bytes;
use objstore::garage::Garage;
use objstore::{ObjError, sha256_of};

use crate::common::data;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_objects_carry_their_sha256() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("chan").await.unwrap();
    for (name, len) in [("empty", 0usize), ("one", 1), ("some", 1000)] {
        let body = data(len, len as u64);
        let sha = sha256_of(&body);
        target.put_small(name, body.clone(), sha).await.unwrap();
        let info = target.stat(name).await.unwrap().unwrap();
        assert_eq!(info.size, len as u64, "{name}");
        assert_eq!(info.sha256, Some(sha), "{name}");
        assert!(
            info.checksum_by_service,
            "{name}: Garage keeps x-amz-checksum-sha256"
        );
        assert_eq!(target.read(name).await.unwrap(), body, "{name}");
    }
    // Names as Telegram gives them: spaces, non-ASCII, reserved characters.
    let odd = "photos/Ünïcode name (1) & 100%+more=yes.jpg";
    let body = data(3000, 99);
    target
        .put_small(odd, body.clone(), sha256_of(&body))
        .await
        .unwrap();
    assert_eq!(
        target.stat(odd).await.unwrap().unwrap().sha256,
        Some(sha256_of(&body))
    );
    assert_eq!(target.read(odd).await.unwrap(), body);
    let staging = objstore::layout::staging_key("odd ünï");
    let upload = target.begin(&staging).await.unwrap();
    let part = target
        .put_part(&staging, &upload, 1, body.clone(), sha256_of(&body))
        .await
        .unwrap();
    assert_eq!(
        target.list_parts(&staging, &upload).await.unwrap(),
        std::slice::from_ref(&part)
    );
    target.complete(&staging, &upload, &[part]).await.unwrap();
    target
        .publish(&staging, "photos/copy of ünï.jpg", sha256_of(&body))
        .await
        .unwrap();
    assert_eq!(target.read("photos/copy of ünï.jpg").await.unwrap(), body);
    target.delete(odd).await.unwrap();
    target.delete("photos/copy of ünï.jpg").await.unwrap();
    assert_eq!(target.stat("missing").await.unwrap(), None);
    // The keys live under the prefix.
    let root = garage.target("").await.unwrap();
    assert_eq!(
        root.list("chan/").await.unwrap(),
        ["chan/empty", "chan/one", "chan/some"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_checksum_is_refused_and_nothing_appears() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("x").await.unwrap();
    let body = data(100, 1);
    let wrong = sha256_of(b"something else");
    let err = target.put_small("f", body, wrong).await.unwrap_err();
    assert!(matches!(err, ObjError::ChecksumMismatch { .. }), "{err}");
    assert_eq!(target.stat("f").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_small_never_replaces_other_content() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("x").await.unwrap();
    let first = data(10, 1);
    target
        .put_small("f", first.clone(), sha256_of(&first))
        .await
        .unwrap();
    // The same content again (a rerun after a crash) is fine.
    target
        .put_small("f", first.clone(), sha256_of(&first))
        .await
        .unwrap();
    let other = data(10, 2);
    let err = target
        .put_small("f", other.clone(), sha256_of(&other))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjError::AlreadyExists { .. }), "{err}");
    assert_eq!(target.read("f").await.unwrap(), first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_ignores_if_none_match_so_the_target_knows() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("x").await.unwrap();
    // Garage 2.5 accepts `If-None-Match: *` on PUT and overwrites: the probe finds out.
    assert!(!target.supports_conditional_create().await.unwrap());
    target
        .put_text(".tgdl/manifests/run1.jsonl", "{\"a\":1}\n")
        .await
        .unwrap();
    target
        .put_text(".tgdl/manifests/run1.jsonl", "{\"a\":1}\n{\"b\":2}\n")
        .await
        .unwrap();
    assert_eq!(
        target.read(".tgdl/manifests/run1.jsonl").await.unwrap(),
        Bytes::from_static(b"{\"a\":1}\n{\"b\":2}\n")
    );
    target.delete(".tgdl/manifests/run1.jsonl").await.unwrap();
    target.delete(".tgdl/manifests/run1.jsonl").await.unwrap();
    assert!(target.list("").await.unwrap().is_empty());
}
