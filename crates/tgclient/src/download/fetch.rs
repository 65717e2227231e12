//! One request for one part on the file's own DC (`upload.getFile`), and what an error on
//! a file request means for the file's machine. The machine decides what comes next; this
//! only carries out what an error takes on the connection side (a closed flood gate, a new
//! key or login, a dropped connection).

use std::ops::Range;

use mtnet::InvokeError;
use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize};

use super::cdn::CdnFile;
use super::error::{DownloadError, FileFailure};
use super::executor::Executor;
use super::machine::{PART_SIZE, Trouble};
use crate::client::DcConnection;
use crate::error::ClientError;
use crate::rpc_error::{MigrateKind, RpcAction, classify, is_lost_login};

/// One part as received: the answer's body and where the file bytes are in it (so they
/// are written without another copy).
#[derive(Debug)]
pub(crate) struct PartBytes {
    pub(crate) body: Vec<u8>,
    pub(crate) bytes: Range<usize>,
}

impl PartBytes {
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// Why a request did not bring what it asked for.
#[derive(Debug)]
pub(crate) enum Failure {
    /// For the file's machine to decide on.
    Trouble(Trouble),
    /// Nothing can go on (disk, login, session store).
    Fatal(DownloadError),
}

impl From<FileFailure> for Failure {
    fn from(failure: FileFailure) -> Self {
        Failure::Trouble(Trouble::Failed(failure))
    }
}

/// What `upload.getFile` brought.
#[derive(Debug)]
pub(crate) enum Fetched {
    Bytes(PartBytes),
    /// The file is served through a CDN.
    Redirect(CdnFile),
}

/// Asks DC `dc` once for the part at `offset` of `location`.
pub(crate) async fn fetch_from_dc(
    exec: &Executor,
    dc: i32,
    location: enums::InputFileLocation,
    offset: u64,
) -> Result<Fetched, Failure> {
    exec.gates.pass(dc).await;
    let request = functions::upload::GetFile {
        precise: false,
        cdn_supported: exec.options.cdn,
        location,
        offset: offset as i64,
        limit: PART_SIZE as i32,
    };
    let connection = match exec.pools.get(dc).await {
        Ok(connection) => connection,
        // A DC out of reach for a moment (refused, restarting): worth another try.
        Err(error @ (ClientError::Connect { .. } | ClientError::Invoke { .. })) => {
            return Err(Failure::Trouble(Trouble::Transient(error.to_string())));
        }
        Err(error) => return Err(fatal_or_file(error)),
    };
    let error = match exec.client.call(&connection, request.to_bytes()).await {
        Ok(body) => match parse_file(&body) {
            Ok(FileAnswer::Bytes(bytes)) => return Ok(Fetched::Bytes(PartBytes { body, bytes })),
            Ok(FileAnswer::CdnRedirect) => {
                let cdn = CdnFile::from_redirect(&body)?;
                tracing::debug!(dc, cdn = cdn.dc_id, "file served through a CDN");
                return Ok(Fetched::Redirect(cdn));
            }
            Err(error) => InvokeError::Decode(error),
        },
        Err(error) => error,
    };
    Err(on_error(exec, dc, &connection, error).await)
}

/// What `error`, answered by DC `dc` to a file request on `connection`, means.
async fn on_error(
    exec: &Executor,
    dc: i32,
    connection: &std::sync::Arc<DcConnection>,
    error: InvokeError,
) -> Failure {
    let transient = |why: String| Failure::Trouble(Trouble::Transient(why));
    let store_failed =
        |e: crate::store::StoreError| Failure::Fatal(DownloadError::Client(ClientError::from(e)));
    match error {
        InvokeError::Rpc(rpc) => match classify(&rpc) {
            RpcAction::Migrate {
                kind: MigrateKind::File,
                dc: target,
            } => {
                tracing::debug!(from = dc, to = target, "file lives on another DC");
                Failure::Trouble(Trouble::Migrate(target))
            }
            RpcAction::FloodWait(wait) => {
                if wait <= exec.limits.flood_limit {
                    tracing::info!(dc, ?wait, "flood wait on file requests");
                    exec.gates.close_for(dc, wait);
                }
                Failure::Trouble(Trouble::FloodWait(wait))
            }
            _ => match rpc.message.as_str() {
                "FILE_REFERENCE_EXPIRED" | "FILE_REFERENCE_INVALID" => {
                    Failure::Trouble(Trouble::ReferenceExpired)
                }
                _ if is_lost_login(&rpc) && dc != exec.client.home_dc() => {
                    // The DC dropped our imported login: import it again.
                    tracing::info!(dc, "login on the file DC lost; importing it again");
                    if let Err(error) = exec.client.with_store(|s| s.set_dc_authorized(dc, false)) {
                        return store_failed(error);
                    }
                    exec.pools.reset(dc).await;
                    transient(rpc.message)
                }
                "AUTH_KEY_UNREGISTERED" | "SESSION_REVOKED" | "USER_DEACTIVATED" => {
                    Failure::Fatal(DownloadError::Client(ClientError::NotLoggedIn))
                }
                "FILE_ID_INVALID" | "LOCATION_INVALID" | "MEDIA_EMPTY" => {
                    FileFailure::Gone(rpc.message).into()
                }
                "CHANNEL_PRIVATE"
                | "CHAT_FORBIDDEN"
                | "CHANNEL_INVALID"
                | "PEER_ID_INVALID"
                | "CHAT_ADMIN_REQUIRED" => FileFailure::NoAccess(rpc.message).into(),
                _ if rpc.code >= 500 || rpc.code < 0 || rpc.message.contains("TIMEOUT") => {
                    transient(rpc.to_string())
                }
                _ => FileFailure::Refused(rpc.to_string()).into(),
            },
        },
        InvokeError::AuthKeyUnknown => {
            tracing::info!(dc, "the DC forgot our key; making a new one");
            if let Err(error) = exec.client.with_store(|s| s.remove_dc_auth(dc)) {
                return store_failed(error);
            }
            exec.client.drop_connection(dc).await;
            exec.pools.reset(dc).await;
            transient("auth key unknown".into())
        }
        InvokeError::Stopped => {
            exec.pools.discard(connection).await;
            transient("connection stopped".into())
        }
        other => transient(other.to_string()),
    }
}

/// A client error met while getting a connection: the file's or everyone's.
pub(crate) fn fatal_or_file(error: ClientError) -> Failure {
    match error {
        ClientError::Rpc { error: rpc, .. } => FileFailure::Refused(rpc.to_string()).into(),
        ClientError::FloodWait { wait, .. } => Failure::Trouble(Trouble::FloodWait(wait)),
        other => Failure::Fatal(DownloadError::Client(other)),
    }
}

/// What `upload.getFile` answered.
enum FileAnswer {
    Bytes(Range<usize>),
    CdnRedirect,
}

/// Finds the file bytes in an `upload.File` answer without copying them.
fn parse_file(body: &[u8]) -> Result<FileAnswer, tl_types::Error> {
    let mut reader = Reader::new(body);
    match reader.read_u32()? {
        types::upload::File::CONSTRUCTOR_ID => {
            enums::storage::FileType::deserialize(&mut reader)?;
            reader.read_i32()?; // mtime
            let bytes = reader.read_bytes()?;
            let start = bytes.as_ptr().addr() - body.as_ptr().addr();
            Ok(FileAnswer::Bytes(start..start + bytes.len()))
        }
        types::upload::FileCdnRedirect::CONSTRUCTOR_ID => Ok(FileAnswer::CdnRedirect),
        id => Err(tl_types::Error::UnknownConstructor {
            id,
            expected: "upload.File",
        }),
    }
}
