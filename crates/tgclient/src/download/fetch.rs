//! One request for one part on the file's own DC (`upload.getFile`), and an error on a
//! file request as the file's machine takes it: the recovery policy's reading of it. The
//! machine decides what comes next.

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
use crate::policy::ErrorKind;

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
        Err(error) => return Err(pool_failure(exec, dc, error)),
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

/// `error`, answered by DC `dc` to a file request on `connection`, as the file's machine
/// takes it (what it means is the recovery policy's reading). A connection that ended is
/// taken out of its pool whatever comes next.
async fn on_error(
    exec: &Executor,
    dc: i32,
    connection: &std::sync::Arc<DcConnection>,
    error: InvokeError,
) -> Failure {
    let kind = ErrorKind::of_invoke(&error);
    if kind == ErrorKind::ConnectionLost {
        exec.pools.discard(connection).await;
    }
    Failure::Trouble(Trouble::Error {
        kind,
        context: exec.part_context(dc),
        why: error.to_string(),
    })
}

/// A client error met while getting a connection to DC `dc`: the file's or everyone's.
pub(crate) fn pool_failure(exec: &Executor, dc: i32, error: ClientError) -> Failure {
    match error.kind() {
        Some(kind) => Failure::Trouble(Trouble::Error {
            kind,
            context: exec.part_context(dc),
            why: error.to_string(),
        }),
        None => Failure::Fatal(DownloadError::Client(error)),
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
