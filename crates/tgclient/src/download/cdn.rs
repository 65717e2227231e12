//! Files served through a CDN DC. The file's own DC answers `upload.fileCdnRedirect` with
//! a token, an AES-256-CTR key and IV, and the first SHA-256 hashes; parts then come from
//! the CDN DC encrypted, are decrypted (the IV's last 4 bytes are the offset / 16), and
//! every 128 KiB chunk is checked against the hashes the file's own DC vouches for — a CDN
//! is not trusted with content. A chunk that does not match is fetched again; a CDN that
//! lacks the file is told to fetch it (`upload.reuploadCdnFile`).

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use mtcrypto::{AesCtr, RsaPublicKey};
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize};
use tokio::sync::OnceCell;

use super::engine::{FileTask, Run};
use super::error::{DownloadError, FileFailure};
use super::fetch::{PART_SIZE, PartBytes, PartError, bump};
use super::verify::{RangeHash, first_mismatch};
use crate::client::dc_addresses;
use crate::error::ClientError;
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
        run: &Run,
        dc_id: i32,
    ) -> Result<(Vec<DcAddress>, RsaPublicKey), ClientError> {
        let keys = self
            .keys
            .get_or_try_init(|| async {
                let enums::CdnConfig::CdnConfig(config) =
                    run.client.invoke(&functions::help::GetCdnConfig {}).await?;
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
                let stored: Vec<DcAddress> = run
                    .client
                    .with_store(|s| s.dc_options())?
                    .into_iter()
                    .filter(|a| a.flags.cdn)
                    .collect();
                if !stored.is_empty() {
                    return Ok(stored);
                }
                let enums::Config::Config(config) =
                    run.client.invoke(&functions::help::GetConfig {}).await?;
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

/// Why a CDN fetch stopped: go back to the file's own DC, or fail.
pub(crate) enum CdnError {
    /// The redirect is no longer good (token expired, CDN refuses): ask the file's DC again.
    Redirect,
    Part(PartError),
}

impl From<PartError> for CdnError {
    fn from(error: PartError) -> Self {
        CdnError::Part(error)
    }
}

/// Fetches, decrypts and checks the part at `offset` from the CDN.
pub(crate) async fn fetch_cdn_part(
    run: &Run,
    file: &FileTask,
    cdn: &CdnFile,
    offset: u64,
) -> Result<PartBytes, CdnError> {
    let mut attempt = 0u32;
    let mut reuploads = 0u32;
    loop {
        run.gates.pass(cdn.dc_id).await;
        let connection = run.pools.get_cdn(run, cdn.dc_id).await.map_err(|e| {
            tracing::info!(dc = cdn.dc_id, error = %e, "CDN unreachable; asking the file's DC");
            CdnError::Redirect
        })?;
        let request = functions::upload::GetCdnFile {
            file_token: cdn.token.clone(),
            offset: offset as i64,
            limit: PART_SIZE as i32,
        };
        let answer = run.client.call(&connection, request.to_bytes()).await;
        let mut body = match answer {
            Ok(body) => body,
            Err(mtnet::InvokeError::Rpc(rpc)) => {
                if let crate::rpc_error::RpcAction::FloodWait(wait) =
                    crate::rpc_error::classify(&rpc)
                {
                    if wait > run.flood_limit {
                        return Err(PartError::File(FileFailure::FloodWait(wait)).into());
                    }
                    run.gates.close_for(cdn.dc_id, wait);
                    continue;
                }
                if rpc.code >= 500 || rpc.code < 0 {
                    attempt = bump(attempt, run, &rpc.to_string()).await?;
                    continue;
                }
                tracing::info!(error = %rpc, "CDN refused the part; asking the file's DC");
                return Err(CdnError::Redirect);
            }
            Err(mtnet::InvokeError::Stopped) => {
                run.pools.discard(&connection).await;
                attempt = bump(attempt, run, "CDN connection stopped").await?;
                continue;
            }
            Err(other) => {
                attempt = bump(attempt, run, &other.to_string()).await?;
                continue;
            }
        };
        match parse_cdn_file(&body) {
            Ok(CdnAnswer::Bytes(range)) => {
                let Some(bytes) = body.get_mut(range.clone()) else {
                    return Err(CdnError::Redirect);
                };
                let mut cipher = AesCtr::for_cdn_offset(&cdn.key, &cdn.iv, offset)
                    .map_err(|e| PartError::File(FileFailure::Refused(e.to_string())))?;
                cipher.apply(bytes);
                match check_chunks(run, file, cdn, offset, bytes).await? {
                    None => return Ok(PartBytes { body, bytes: range }),
                    Some(why) => {
                        tracing::warn!(
                            offset,
                            why,
                            "CDN part failed its hash check; fetching again"
                        );
                        attempt = bump(attempt, run, &why).await?;
                    }
                }
            }
            Ok(CdnAnswer::Reupload(request_token)) => {
                reuploads += 1;
                if reuploads > 3 {
                    return Err(CdnError::Redirect);
                }
                let request = functions::upload::ReuploadCdnFile {
                    file_token: cdn.token.clone(),
                    request_token,
                };
                match run.client.invoke_on_dc(file.dc(), &request).await {
                    Ok(hashes) => cdn.add_hashes(hashes),
                    Err(error) => {
                        tracing::info!(%error, "CDN reupload refused; asking the file's DC");
                        return Err(CdnError::Redirect);
                    }
                }
            }
            Err(error) => attempt = bump(attempt, run, &error.to_string()).await?,
        }
    }
}

/// Checks decrypted `bytes` (at `offset`) chunk by chunk; the reason if one fails.
async fn check_chunks(
    run: &Run,
    file: &FileTask,
    cdn: &CdnFile,
    offset: u64,
    bytes: &[u8],
) -> Result<Option<String>, PartError> {
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
                run.client
                    .invoke_on_dc(file.dc(), &request)
                    .await
                    .map_err(|e| match e {
                        ClientError::Rpc { error: rpc, .. } => {
                            PartError::File(FileFailure::Refused(format!("no CDN hashes: {rpc}")))
                        }
                        other => PartError::Fatal(DownloadError::Client(other)),
                    })?;
            cdn.add_hashes(hashes);
        }
        let Some(hash) = cdn.hash_at(at) else {
            return Err(PartError::File(FileFailure::Refused(format!(
                "the file's DC gives no hash for CDN bytes at {at}"
            ))));
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

/// The CDN state a file task carries.
pub(crate) type CdnSlot = Mutex<Option<Arc<CdnFile>>>;
