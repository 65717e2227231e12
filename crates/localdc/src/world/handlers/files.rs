//! Downloads on the main DCs: `upload.getFile`, `upload.getFileHashes`, and the main-DC
//! side of CDN downloads (`upload.fileCdnRedirect`, `upload.reuploadCdnFile`,
//! `upload.getCdnFileHashes`), with Telegram's rules (core.telegram.org/api/files and
//! /cdn):
//!
//! - the key must be logged in (an imported authorization counts); CDN DCs refuse these
//!   methods with `400 CDN_METHOD_INVALID`;
//! - the location names a document (`thumb_size` "" for the file itself, else a
//!   thumbnail) or a photo size; a wrong id or access hash is `400 FILE_ID_INVALID`, an
//!   unknown size or unsupported location `400 LOCATION_INVALID`;
//! - a file stored elsewhere answers `303 FILE_MIGRATE_X`, X the file's DC;
//! - the file reference must be current (`FILE_REFERENCE_EXPIRED` / `_INVALID`);
//! - offset and limit follow [`media::check_range`] (`OFFSET_INVALID` / `LIMIT_INVALID`);
//!   reads past the end return what is left, nothing at or after the end.
//!
//! The answer is built by hand: the file's keystream is generated straight into the
//! serialized `upload.file`, so a 1 MiB part costs one allocation.

use std::sync::Arc;

use tl_types::api::enums::storage::FileType;
use tl_types::api::functions::upload::{GetCdnFileHashes, GetFile, GetFileHashes, ReuploadCdnFile};
use tl_types::api::{enums, types};
use tl_types::{Deserialize, Identifiable, RemoteCall, Serialize, wire};

use super::{Call, Need, error, guard};
use crate::RpcError;
use crate::quirks::{FileHashes, SLOW_FILE_HASHES};
use crate::rpc::{Registry, RequestContext, RpcResult, errors};
use crate::world::World;
use crate::world::live::{ServedRange, cdn_file_token, parse_cdn_file_token};
use crate::world::media::{self, ChunkHash, FileInfo, FileKey};

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    let shared = Arc::clone(world);
    registry.register_sync(
        GetFile::CONSTRUCTOR_ID,
        GetFile::TL_NAME,
        move |ctx, body| get_file(&shared, ctx, body),
    );
    main_dc(registry, world, get_file_hashes);
    slow_for_some_keys(registry, GetFileHashes::CONSTRUCTOR_ID);
    main_dc(registry, world, reupload_cdn_file);
    main_dc(registry, world, get_cdn_file_hashes);
}

/// A quirk: the method `id` answers after [`SLOW_FILE_HASHES`] for the keys the quirks
/// seed makes slow (the handler runs on its own task, so the connection goes on).
fn slow_for_some_keys(registry: &mut Registry, id: u32) {
    let Some((name, inner)) = registry.get(id) else {
        return;
    };
    registry.register_async(id, name, move |ctx: RequestContext, body| {
        let inner = Arc::clone(&inner);
        async move {
            if ctx.dc.quirks().file_hashes(ctx.key.id()) == FileHashes::Slow {
                tokio::time::sleep(SLOW_FILE_HASHES).await;
            }
            inner.call(ctx, body).await
        }
    });
}

/// Registers a quick method of the main DCs: refused on a CDN DC, then the guard (login).
fn main_dc<M, F>(registry: &mut Registry, world: &Arc<World>, handler: F)
where
    M: RemoteCall + Deserialize + Identifiable,
    M::Return: Serialize,
    F: Fn(&Call<'_>, M) -> Result<M::Return, RpcError> + Send + Sync + 'static,
{
    let world = Arc::clone(world);
    registry.register_typed(move |ctx: &RequestContext, request: M| {
        not_on_cdn(ctx)?;
        let user = guard(&world, ctx, M::TL_NAME, Need::Login)?;
        let store = world.store();
        let call = Call {
            world: &world,
            store: &store,
            ctx,
            key: (ctx.dc_id(), ctx.key.id()),
            user,
        };
        handler(&call, request)
    });
}

/// core.telegram.org/cdn: "CDNs support only the following methods: upload.getCdnFile,
/// initConnection, invokeWithLayer"; upload.getFile lists `CDN_METHOD_INVALID` for a call
/// made to a CDN DC.
fn not_on_cdn(ctx: &RequestContext) -> Result<(), RpcError> {
    if ctx.dc.is_cdn() {
        return Err(error(400, "CDN_METHOD_INVALID"));
    }
    Ok(())
}

/// A file a location names.
pub(super) struct Located {
    pub key: FileKey,
    pub info: FileInfo,
    pub photo: bool,
}

/// Resolves a location to a file of the world, checking its id and access hash, then
/// that it lives on this DC, then its file reference.
fn locate(
    world: &World,
    ctx: &RequestContext,
    location: &enums::InputFileLocation,
) -> Result<Located, RpcError> {
    use enums::InputFileLocation as L;
    let store = world.store();
    let (id, access_hash, reference, thumb, photo) = match location {
        L::InputDocumentFileLocation(l) => {
            (l.id, l.access_hash, &l.file_reference, &l.thumb_size, false)
        }
        L::InputPhotoFileLocation(l) => {
            (l.id, l.access_hash, &l.file_reference, &l.thumb_size, true)
        }
        // The world has no profile or chat photos.
        L::InputPeerPhotoFileLocation(_) => return Err(error(400, "FILE_ID_INVALID")),
        _ => return Err(error(400, "LOCATION_INVALID")),
    };
    let is_document = store.files.contains_key(&FileKey::document(id));
    let kind = if photo { "photo" } else { "document" };
    if is_document == photo || access_hash != store.derive(kind, id) {
        return Err(error(400, "FILE_ID_INVALID"));
    }
    if photo && thumb.is_empty() {
        return Err(error(400, "LOCATION_INVALID"));
    }
    let key = FileKey::sized(id, thumb);
    let info = store
        .files
        .get(&key)
        .copied()
        .ok_or_else(|| error(400, "LOCATION_INVALID"))?;
    if info.dc != ctx.dc_id() {
        return Err(error(303, &format!("FILE_MIGRATE_{}", info.dc)));
    }
    store
        .media
        .check_reference(store.seed, id, reference)
        .map_err(|e| error(400, e.message()))?;
    Ok(Located { key, info, photo })
}

fn range_error(e: media::RangeError) -> RpcError {
    error(400, e.message())
}

/// The first CDN DC of the server, if it has one.
fn cdn_dc(ctx: &RequestContext) -> Option<i32> {
    ctx.dc.directory().iter().find(|dc| dc.cdn).map(|dc| dc.id)
}

fn get_file(world: &World, ctx: &RequestContext, body: &[u8]) -> RpcResult {
    let request = GetFile::from_bytes(body).map_err(|_| errors::fetch_error())?;
    not_on_cdn(ctx)?;
    guard(world, ctx, GetFile::TL_NAME, Need::Login)?;
    let file = locate(world, ctx, &request.location)?;
    let (offset, limit) =
        media::check_range(request.offset, request.limit, request.precise).map_err(range_error)?;
    if request.cdn_supported
        && file.info.cdn
        && let Some(dc_id) = cdn_dc(ctx)
    {
        return Ok(redirect(world, &file, dc_id, offset).to_bytes());
    }
    let seed = world.seed();
    let len = media::available(file.info.size, offset, limit);
    // Telethon and TDLib read only `bytes`; photos say JPEG, documents "partial", which is
    // what a part of a file is.
    let file_type = if file.photo {
        FileType::FileJpeg
    } else {
        FileType::FilePartial
    };
    let mtime = mtime(world, file.key.media_id);
    let answer = with_bytes(
        |out| {
            wire::write_u32(out, types::upload::File::CONSTRUCTOR_ID);
            wire::write_u32(out, file_type.constructor_id());
            wire::write_i32(out, mtime);
        },
        len,
        |buf| media::fill(seed, &file.key, offset, buf),
    )?;
    world.media().record(ServedRange {
        key: file.key,
        offset,
        len,
        dc: ctx.dc_id(),
        cdn: false,
    });
    Ok(answer)
}

/// A serialized object ending in a `bytes` field of `len` bytes: `head` writes what comes
/// before it, `fill` the data in place. One allocation, of the answer's exact size.
pub(super) fn with_bytes(
    head: impl FnOnce(&mut Vec<u8>),
    len: u64,
    fill: impl FnOnce(&mut [u8]),
) -> Result<Vec<u8>, RpcError> {
    let len = usize::try_from(len).map_err(|_| errors::internal())?;
    let mut out = Vec::with_capacity(16 + wire::bytes_len(len));
    head(&mut out);
    let header = if len < 254 {
        out.push(u8::try_from(len).map_err(|_| errors::internal())?);
        1
    } else {
        let prefix = u32::try_from(len).map_err(|_| errors::internal())?;
        out.push(254);
        out.extend_from_slice(prefix.to_le_bytes().get(..3).unwrap_or_default());
        4
    };
    let start = out.len();
    out.resize(start + len, 0);
    if let Some(data) = out.get_mut(start..) {
        fill(data);
    }
    let padding = (header + len).next_multiple_of(4) - (header + len);
    out.resize(out.len() + padding, 0);
    Ok(out)
}

/// A plausible, deterministic modification time of a media item.
fn mtime(world: &World, media_id: i64) -> i32 {
    let spread = world
        .store()
        .derive("mtime", media_id)
        .rem_euclid(100_000_000);
    1_600_000_000 + i32::try_from(spread).unwrap_or(0)
}

/// `fileHash` objects from computed chunk hashes.
pub(super) fn file_hashes(hashes: Vec<ChunkHash>) -> Vec<enums::FileHash> {
    hashes
        .into_iter()
        .map(|h| {
            types::FileHash {
                offset: i64::try_from(h.offset).unwrap_or(i64::MAX),
                limit: i32::try_from(h.limit).unwrap_or(i32::MAX),
                hash: h.hash.to_vec(),
            }
            .into()
        })
        .collect()
}

/// The hashes of the chunks from `offset` of file `key` (see [`media::chunk_hashes`]).
pub(super) fn hashes_at(
    world: &World,
    key: &FileKey,
    size: u64,
    offset: u64,
) -> Vec<enums::FileHash> {
    file_hashes(media::chunk_hashes(world.seed(), key, size, offset))
}

/// `upload.fileCdnRedirect` for a CDN document: where to fetch it, the token, the AES-CTR
/// key and iv, and the hashes of the chunks the asked part covers.
fn redirect(
    world: &World,
    file: &Located,
    dc_id: i32,
    offset: u64,
) -> types::upload::FileCdnRedirect {
    let (encryption_key, encryption_iv) = media::cdn_secrets(world.seed(), &file.key);
    types::upload::FileCdnRedirect {
        dc_id,
        file_token: cdn_file_token(world.seed(), file.key.media_id),
        encryption_key: encryption_key.to_vec(),
        encryption_iv: encryption_iv.to_vec(),
        file_hashes: hashes_at(world, &file.key, file.info.size, offset),
    }
}

fn get_file_hashes(call: &Call<'_>, req: GetFileHashes) -> Result<Vec<enums::FileHash>, RpcError> {
    // A quirk: a server without the method (an independent server answered so).
    if call.ctx.dc.quirks().file_hashes(call.ctx.key.id()) == FileHashes::Unimplemented {
        return Err(error(500, "NOT_IMPLEMENTED"));
    }
    let file = locate(call.world, call.ctx, &req.location)?;
    let offset = u64::try_from(req.offset).map_err(|_| error(400, "OFFSET_INVALID"))?;
    Ok(hashes_at(call.world, &file.key, file.info.size, offset))
}

/// The CDN document a file token names: its key and info. A token that is not ours, or
/// names a file no longer served, is `400 FILE_TOKEN_INVALID` (core.telegram.org/cdn).
pub(super) fn cdn_file(world: &World, token: &[u8]) -> Result<(FileKey, FileInfo), RpcError> {
    let invalid = || error(400, "FILE_TOKEN_INVALID");
    let id = parse_cdn_file_token(world.seed(), token).ok_or_else(invalid)?;
    let key = FileKey::document(id);
    let info = world
        .file(&key)
        .filter(|info| info.cdn && !world.media().is_media_deleted(id))
        .ok_or_else(invalid)?;
    Ok((key, info))
}

/// core.telegram.org/cdn: sent to the DC holding the file after the CDN answered
/// `upload.cdnFileReuploadNeeded`; the CDN serves the file afterwards. Answers the hashes
/// of the part that was asked for.
fn reupload_cdn_file(
    call: &Call<'_>,
    req: ReuploadCdnFile,
) -> Result<Vec<enums::FileHash>, RpcError> {
    let (key, info) = cdn_file(call.world, &req.file_token)?;
    if info.dc != call.dc() {
        return Err(error(303, &format!("FILE_MIGRATE_{}", info.dc)));
    }
    let offset = call
        .store
        .media
        .cdn_reupload(key.media_id, &req.request_token)
        .ok_or_else(|| error(400, "REQUEST_TOKEN_INVALID"))?;
    Ok(hashes_at(call.world, &key, info.size, offset))
}

/// core.telegram.org/cdn lists `upload.getCdnFileHashes` among the main DC's methods.
fn get_cdn_file_hashes(
    call: &Call<'_>,
    req: GetCdnFileHashes,
) -> Result<Vec<enums::FileHash>, RpcError> {
    let (key, info) = cdn_file(call.world, &req.file_token)?;
    let offset = u64::try_from(req.offset).map_err(|_| error(400, "OFFSET_INVALID"))?;
    Ok(hashes_at(call.world, &key, info.size, offset))
}
