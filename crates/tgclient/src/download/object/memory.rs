//! An object store in memory, with faults on demand: what the engine's tests write to
//! when the point is the engine, not the service. Counts the part bytes it receives, as a
//! test of resume counts them on a real service.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::target::{
    ObjectError, ObjectErrorKind, ObjectFuture, ObjectInfo, ObjectTarget, PartReceipt,
};

/// An in-memory object store.
#[derive(Debug)]
pub struct MemoryTarget {
    min_part: u64,
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    objects: BTreeMap<String, Stored>,
    uploads: HashMap<String, Upload>,
    next_upload: u64,
    part_bytes: u64,
    calls: HashMap<&'static str, u64>,
    /// Failures to give instead of doing the call (or after doing it: the answer lost),
    /// by operation, next first.
    faults: HashMap<&'static str, Vec<Fault>>,
    /// Operations refused for good once a number of calls succeeded, by operation.
    refusing: HashMap<&'static str, usize>,
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    kind: ObjectErrorKind,
    after: bool,
}

#[derive(Debug, Clone)]
struct Stored {
    bytes: Vec<u8>,
    sha256: Option<[u8; 32]>,
}

#[derive(Debug)]
struct Upload {
    key: String,
    parts: BTreeMap<u32, (Vec<u8>, PartReceipt)>,
}

impl MemoryTarget {
    /// A store whose multipart parts are at least `min_part` bytes (but the last).
    pub fn new(min_part: u64) -> Self {
        Self {
            min_part,
            inner: Mutex::default(),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The object at `key`, if any.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.memory().objects.get(key).map(|s| s.bytes.clone())
    }

    /// The SHA-256 the object at `key` carries.
    pub fn object_sha256(&self, key: &str) -> Option<[u8; 32]> {
        self.memory().objects.get(key).and_then(|s| s.sha256)
    }

    /// Every object key, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.memory().objects.keys().cloned().collect()
    }

    /// Stores `bytes` at `key` as another writer would.
    pub fn insert(&self, key: &str, bytes: Vec<u8>) {
        let stored = Stored {
            sha256: Some(Sha256::digest(&bytes).into()),
            bytes,
        };
        self.memory().objects.insert(key.to_owned(), stored);
    }

    /// Bytes received in multipart parts so far.
    pub fn part_bytes_received(&self) -> u64 {
        self.memory().part_bytes
    }

    /// Multipart uploads not completed or aborted.
    pub fn open_uploads(&self) -> usize {
        self.memory().uploads.len()
    }

    /// Calls of `operation` (`put_small`, `begin`, `put_part`, `list_parts`, `complete`,
    /// `abort`, `publish`, `stat`) so far.
    pub fn calls(&self, operation: &str) -> u64 {
        self.memory().calls.get(operation).copied().unwrap_or(0)
    }

    /// The next `times` calls of `operation` fail with `kind` (and do nothing).
    pub fn fail(&self, operation: &'static str, kind: ObjectErrorKind, times: usize) {
        self.add_fault(operation, Fault { kind, after: false }, times);
    }

    /// The next `times` calls of `operation` are carried out, but answer `kind` (the
    /// answer lost on the way back).
    pub fn fail_after(&self, operation: &'static str, kind: ObjectErrorKind, times: usize) {
        self.add_fault(operation, Fault { kind, after: true }, times);
    }

    /// After `calls` more calls of `operation` succeed, every further one is refused
    /// (a full quota, revoked credentials) until [`heal`](Self::heal).
    pub fn refuse_after(&self, operation: &'static str, calls: usize) {
        self.memory().refusing.insert(operation, calls);
    }

    /// Ends every refusal.
    pub fn heal(&self) {
        self.memory().refusing.clear();
    }

    fn add_fault(&self, operation: &'static str, fault: Fault, times: usize) {
        self.memory()
            .faults
            .entry(operation)
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Forgets every multipart upload (a lifecycle rule expiring them, a wiped service).
    pub fn forget_uploads(&self) {
        self.memory().uploads.clear();
    }

    /// Counts the call, and carries it out (`body`) unless a fault says otherwise.
    fn call<T>(
        &self,
        operation: &'static str,
        body: impl FnOnce(&mut Memory) -> Result<T, ObjectError>,
    ) -> Result<T, ObjectError> {
        let mut memory = self.memory();
        *memory.calls.entry(operation).or_default() += 1;
        if let Some(left) = memory.refusing.get_mut(operation) {
            if *left == 0 {
                let why = format!("{operation} refused: the quota is full");
                return Err(ObjectError::new(ObjectErrorKind::Refused, why));
            }
            *left -= 1;
        }
        let fault = memory
            .faults
            .get_mut(operation)
            .filter(|f| !f.is_empty())
            .map(|f| f.remove(0));
        let injected = |kind| ObjectError::new(kind, format!("injected {kind:?} on {operation}"));
        match fault {
            Some(Fault { kind, after: false }) => Err(injected(kind)),
            Some(Fault { kind, after: true }) => body(&mut memory).and(Err(injected(kind))),
            None => body(&mut memory),
        }
    }
}

fn gone(key: &str, upload: &str) -> ObjectError {
    ObjectError::new(
        ObjectErrorKind::UploadGone,
        format!("upload {upload} of {key} is gone"),
    )
}

impl Memory {
    fn place(&mut self, key: &str, stored: Stored) -> Result<(), ObjectError> {
        match self.objects.get(key) {
            Some(existing) if existing.bytes != stored.bytes => Err(ObjectError::new(
                ObjectErrorKind::Exists,
                format!("{key} already exists with other content"),
            )),
            _ => {
                self.objects.insert(key.to_owned(), stored);
                Ok(())
            }
        }
    }
}

impl ObjectTarget for MemoryTarget {
    fn min_part_size(&self) -> u64 {
        self.min_part
    }

    fn put_small<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.call("put_small", |memory| {
                if <[u8; 32]>::from(Sha256::digest(&bytes)) != sha256 {
                    return Err(ObjectError::new(ObjectErrorKind::Mismatch, "bad checksum"));
                }
                let stored = Stored {
                    bytes: bytes.to_vec(),
                    sha256: Some(sha256),
                };
                memory.place(key, stored)
            })
        })
    }

    fn begin<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, String> {
        Box::pin(async move {
            self.call("begin", |memory| {
                memory.next_upload += 1;
                let id = format!("upload-{}", memory.next_upload);
                let upload = Upload {
                    key: key.to_owned(),
                    parts: BTreeMap::new(),
                };
                memory.uploads.insert(id.clone(), upload);
                Ok(id)
            })
        })
    }

    fn put_part<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        number: u32,
        bytes: Bytes,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, PartReceipt> {
        Box::pin(async move {
            self.call("put_part", |memory| {
                memory.part_bytes += bytes.len() as u64;
                if <[u8; 32]>::from(Sha256::digest(&bytes)) != sha256 {
                    return Err(ObjectError::new(ObjectErrorKind::Mismatch, "bad checksum"));
                }
                let Some(open) = memory.uploads.get_mut(upload).filter(|u| u.key == key) else {
                    return Err(gone(key, upload));
                };
                let receipt = PartReceipt {
                    number,
                    etag: format!("\"{}\"", hex::encode(sha256)),
                    sha256,
                    size: bytes.len() as u64,
                };
                open.parts.insert(number, (bytes.to_vec(), receipt.clone()));
                Ok(receipt)
            })
        })
    }

    fn list_parts<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
    ) -> ObjectFuture<'a, Vec<PartReceipt>> {
        Box::pin(async move {
            self.call("list_parts", |memory| {
                let open = memory
                    .uploads
                    .get(upload)
                    .filter(|u| u.key == key)
                    .ok_or_else(|| gone(key, upload))?;
                Ok(open.parts.values().map(|(_, r)| r.clone()).collect())
            })
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload: &'a str,
        parts: &'a [PartReceipt],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.call("complete", |memory| {
                let open = memory
                    .uploads
                    .remove(upload)
                    .filter(|u| u.key == key)
                    .ok_or_else(|| gone(key, upload))?;
                let mut bytes = Vec::new();
                for (index, part) in parts.iter().enumerate() {
                    let Some((data, receipt)) = open.parts.get(&part.number) else {
                        return Err(ObjectError::new(ObjectErrorKind::Mismatch, "invalid part"));
                    };
                    let last = index + 1 == parts.len();
                    if receipt != part || (!last && (data.len() as u64) < self.min_part) {
                        return Err(ObjectError::new(ObjectErrorKind::Mismatch, "invalid part"));
                    }
                    bytes.extend_from_slice(data);
                }
                memory.objects.insert(
                    key.to_owned(),
                    Stored {
                        bytes,
                        sha256: None,
                    },
                );
                Ok(())
            })
        })
    }

    fn abort<'a>(&'a self, _key: &'a str, upload: &'a str) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.call("abort", |memory| {
                memory.uploads.remove(upload);
                Ok(())
            })
        })
    }

    fn publish<'a>(
        &'a self,
        staging: &'a str,
        final_key: &'a str,
        sha256: [u8; 32],
    ) -> ObjectFuture<'a, ()> {
        Box::pin(async move {
            self.call("publish", |memory| {
                let Some(object) = memory.objects.get(staging).cloned() else {
                    return Err(ObjectError::new(
                        ObjectErrorKind::Refused,
                        format!("{staging} not found"),
                    ));
                };
                if <[u8; 32]>::from(Sha256::digest(&object.bytes)) != sha256 {
                    return Err(ObjectError::new(ObjectErrorKind::Mismatch, "checksum"));
                }
                let stored = Stored {
                    bytes: object.bytes,
                    sha256: Some(sha256),
                };
                memory.place(final_key, stored)?;
                memory.objects.remove(staging);
                Ok(())
            })
        })
    }

    fn stat<'a>(&'a self, key: &'a str) -> ObjectFuture<'a, Option<ObjectInfo>> {
        Box::pin(async move {
            self.call("stat", |memory| {
                Ok(memory.objects.get(key).map(|s| ObjectInfo {
                    size: s.bytes.len() as u64,
                    sha256: s.sha256,
                    checksum_by_service: s.sha256.is_some(),
                }))
            })
        })
    }
}
