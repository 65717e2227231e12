//! Files served through a CDN DC. The file's own DC answers `upload.fileCdnRedirect` with
//! a token, an AES-256-CTR key and IV, and the first SHA-256 hashes; parts then come from
//! the CDN DC encrypted, are decrypted (the IV's last 4 bytes are the offset / 16), and
//! every 128 KiB chunk is checked against the hashes the file's own DC vouches for — a CDN
//! is not trusted with content. A part with a chunk that does not match is fetched again; a CDN that
//! lacks the file is told to fetch it (`upload.reuploadCdnFile`).

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use mtcrypto::{AesCtr, RsaPublicKey};
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize};
use tokio::sync::OnceCell;

use super::error::{DownloadError, FileFailure};
use super::executor::Executor;
use super::fetch::{Failure, PartBytes};
use super::machine::{PART_SIZE, Trouble};
use super::verify::{RangeHash, first_mismatch};
use crate::client::dc_addresses;
use crate::error::ClientError;
use crate::policy::ErrorKind;
use crate::store::DcAddress;

/// A file's CDN redirect.
#[derive(Debug)]
pub(crate) struct CdnFile {
    pub(crate) dc_id: i32,
    token: Vec<u8>,
    key: [u8; 32],
    iv: [u8; 16],
    /// Expected SHA-256 of each chunk, by offset.
    hashes: Mutex<BTreeMap<u64, RangeHash>>,
}

impl CdnFile {
    /// The redirect in `body` (an `upload.fileCdnRedirect`).
    pub(crate) fn from_redirect(body: &[u8]) -> Result<Self, FileFailure> {
        let enums::upload::File::CdnRedirect(redirect) = enums::upload::File::from_bytes(body)
            .map_err(|e| FileFailure::Refused(format!("malformed CDN redirect: {e}")))?
        else {
            return Err(FileFailure::Refused("expected a CDN redirect".into()));
        };
        let key: [u8; 32] = redirect
            .encryption_key
            .as_slice()
            .try_into()
            .map_err(|_| FileFailure::Refused("CDN key is not 32 bytes".into()))?;
        let iv: [u8; 16] = redirect
            .encryption_iv
            .as_slice()
            .try_into()
            .map_err(|_| FileFailure::Refused("CDN IV is not 16 bytes".into()))?;
        let file = Self {
            dc_id: redirect.dc_id,
            token: redirect.file_token.clone(),
            key,
            iv,
            hashes: Mutex::default(),
        };
        file.add_hashes(redirect.file_hashes);
        Ok(file)
    }

    fn add_hashes(&self, hashes: Vec<enums::FileHash>) {
        let mut known = self.hashes.lock().unwrap_or_else(PoisonError::into_inner);
        for hash in RangeHash::from_answer(hashes) {
            known.insert(hash.offset, hash);
        }
    }

    fn hash_at(&self, offset: u64) -> Option<RangeHash> {
        self.hashes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&offset)
            .cloned()
    }
}

/// The CDN DCs' addresses and keys, learned once per run.
#[derive(Debug, Default)]
pub(crate) struct CdnDirectory {
    keys: OnceCell<HashMap<i32, RsaPublicKey>>,
    addresses: OnceCell<Vec<DcAddress>>,
}

impl CdnDirectory {
    /// Where CDN DC `dc_id` is and which RSA key it signs with.
    pub(crate) async fn lookup(
        &self,
        exec: &Executor,
        dc_id: i32,
    ) -> Result<(Vec<DcAddress>, RsaPublicKey), ClientError> {
        let keys = self
            .keys
            .get_or_try_init(|| async {
                let enums::CdnConfig::CdnConfig(config) = exec
                    .client
                    .invoke(&functions::help::GetCdnConfig {})
                    .await?;
                Ok::<_, ClientError>(
                    config
                        .public_keys
                        .iter()
                        .filter_map(|enums::CdnPublicKey::CdnPublicKey(k)| {
                            Some((k.dc_id, RsaPublicKey::from_pem(&k.public_key).ok()?))
                        })
                        .collect(),
                )
            })
            .await?;
        let addresses = self
            .addresses
            .get_or_try_init(|| async {
                let stored: Vec<DcAddress> = exec
                    .client
                    .with_store(|s| s.dc_options())?
                    .into_iter()
                    .filter(|a| a.flags.cdn)
                    .collect();
                if !stored.is_empty() {
                    return Ok(stored);
                }
                let enums::Config::Config(config) =
                    exec.client.invoke(&functions::help::GetConfig {}).await?;
                Ok::<_, ClientError>(
                    dc_addresses(&config.dc_options)
                        .into_iter()
                        .filter(|a| a.flags.cdn)
                        .collect(),
                )
            })
            .await?;
        let key = keys
            .get(&dc_id)
            .cloned()
            .ok_or(ClientError::UnknownDc(dc_id))?;
        let mut here: Vec<DcAddress> = addresses
            .iter()
            .filter(|a| a.dc_id == dc_id)
            .cloned()
            .collect();
        if here.is_empty() {
            return Err(ClientError::UnknownDc(dc_id));
        }
        here.sort_by_key(|a| a.ip.is_ipv6());
        Ok((here, key))
    }
}

/// What one `upload.getCdnFile` brought.
#[derive(Debug)]
pub(crate) enum CdnFetched {
    /// The part, decrypted and checked against the hashes the file's DC gives.
    Bytes(PartBytes),
    /// The CDN lacks the file: the file's DC is to be asked to send it there.
    ReuploadNeeded(Vec<u8>),
    /// The redirect is no longer good (token expired, CDN refuses or is unreachable).
    Stale,
}

/// Asks the CDN once for the part at `offset`, decrypts and checks it; `file_dc` (the
/// file's own DC) vouches for the chunk hashes.
pub(crate) async fn fetch_cdn_part(
    exec: &Executor,
    file_dc: i32,
    cdn: &CdnFile,
    offset: u64,
) -> Result<CdnFetched, Failure> {
    exec.gates.pass(cdn.dc_id).await;
    let connection = match exec.pools.get_cdn(exec, cdn.dc_id).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::info!(dc = cdn.dc_id, %error, "CDN unreachable; asking the file's DC");
            return Ok(CdnFetched::Stale);
        }
    };
    let request = functions::upload::GetCdnFile {
        file_token: cdn.token.clone(),
        offset: offset as i64,
        limit: PART_SIZE as i32,
    };
    let mut body = match exec.client.call(&connection, request.to_bytes()).await {
        Ok(body) => body,
        Err(error) => {
            let kind = ErrorKind::of_invoke(&error);
            if kind == ErrorKind::ConnectionLost {
                exec.pools.discard(&connection).await;
            }
            if passing(kind) {
                return Err(Failure::Trouble(Trouble::Error {
                    kind,
                    context: exec.cdn_context(),
                    why: error.to_string(),
                }));
            }
            tracing::info!(%error, "CDN refused the part; asking the file's DC");
            return Ok(CdnFetched::Stale);
        }
    };
    match parse_cdn_file(&body) {
        Ok(CdnAnswer::Bytes(range)) => {
            let Some(bytes) = body.get_mut(range.clone()) else {
                return Ok(CdnFetched::Stale);
            };
            let mut cipher = AesCtr::for_cdn_offset(&cdn.key, &cdn.iv, offset)
                .map_err(|e| FileFailure::Refused(e.to_string()))?;
            cipher.apply(bytes);
            match check_chunks(exec, file_dc, cdn, offset, bytes).await? {
                None => Ok(CdnFetched::Bytes(PartBytes { body, bytes: range })),
                Some(why) => {
                    tracing::warn!(
                        offset,
                        why,
                        "CDN part failed its hash check; fetching again"
                    );
                    Err(malformed(exec, why))
                }
            }
        }
        Ok(CdnAnswer::Reupload(request_token)) => Ok(CdnFetched::ReuploadNeeded(request_token)),
        Err(error) => Err(malformed(exec, error.to_string())),
    }
}

/// Whether a CDN failure passes (asked again there); any other sends the part back to the
/// file's DC for a new redirect.
fn passing(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::FloodWait(_)
            | ErrorKind::PremiumFloodWait(_)
            | ErrorKind::Transient
            | ErrorKind::TimedOut
            | ErrorKind::ConnectionLost
            | ErrorKind::RefusedBySession
            | ErrorKind::Malformed
    )
}

/// CDN bytes that cannot be used: asked again, as the policy retries a malformed answer.
fn malformed(exec: &Executor, why: String) -> Failure {
    Failure::Trouble(Trouble::Error {
        kind: ErrorKind::Malformed,
        context: exec.cdn_context(),
        why,
    })
}

/// Asks the file's DC `dc` to have the CDN fetch the file again; whether it did.
pub(crate) async fn reupload(
    exec: &Executor,
    dc: i32,
    cdn: &CdnFile,
    request_token: Vec<u8>,
) -> bool {
    let request = functions::upload::ReuploadCdnFile {
        file_token: cdn.token.clone(),
        request_token,
    };
    match exec.client.invoke_on_dc(dc, &request).await {
        Ok(hashes) => {
            cdn.add_hashes(hashes);
            true
        }
        Err(error) => {
            tracing::info!(%error, "CDN reupload refused; asking the file's DC");
            false
        }
    }
}

/// Checks decrypted `bytes` (at `offset`) chunk by chunk; the reason if one fails.
async fn check_chunks(
    exec: &Executor,
    file_dc: i32,
    cdn: &CdnFile,
    offset: u64,
    bytes: &[u8],
) -> Result<Option<String>, Failure> {
    let end = offset + bytes.len() as u64;
    let mut needed = Vec::new();
    let mut at = offset;
    while at < end {
        if cdn.hash_at(at).is_none() {
            let request = functions::upload::GetCdnFileHashes {
                file_token: cdn.token.clone(),
                offset: at as i64,
            };
            let hashes =
                exec.client
                    .invoke_on_dc(file_dc, &request)
                    .await
                    .map_err(|e| match e {
                        ClientError::Rpc { error: rpc, .. } => {
                            FileFailure::Refused(format!("no CDN hashes: {rpc}")).into()
                        }
                        other => Failure::Fatal(DownloadError::Client(other)),
                    })?;
            cdn.add_hashes(hashes);
        }
        let Some(hash) = cdn.hash_at(at) else {
            return Err(FileFailure::Refused(format!(
                "the file's DC gives no hash for CDN bytes at {at}"
            ))
            .into());
        };
        at += hash.limit;
        needed.push(hash);
    }
    Ok(first_mismatch(offset, bytes, &needed))
}

enum CdnAnswer {
    Bytes(Range<usize>),
    Reupload(Vec<u8>),
}

/// Finds the bytes in an `upload.CdnFile` answer without copying them.
fn parse_cdn_file(body: &[u8]) -> Result<CdnAnswer, tl_types::Error> {
    let mut reader = Reader::new(body);
    match reader.read_u32()? {
        types::upload::CdnFile::CONSTRUCTOR_ID => {
            let bytes = reader.read_bytes()?;
            let start = bytes.as_ptr().addr() - body.as_ptr().addr();
            Ok(CdnAnswer::Bytes(start..start + bytes.len()))
        }
        types::upload::CdnFileReuploadNeeded::CONSTRUCTOR_ID => {
            Ok(CdnAnswer::Reupload(reader.read_bytes()?.to_vec()))
        }
        id => Err(tl_types::Error::UnknownConstructor {
            id,
            expected: "upload.CdnFile",
        }),
    }
}
