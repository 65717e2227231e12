//! The CDN DC: `upload.getCdnFile` (core.telegram.org/cdn).
//!
//! CDN DCs do not know users: no login is needed (TDLib sends getCdnFile with its auth
//! flag off, and the CDN only supports getCdnFile, initConnection and invokeWithLayer).
//! Parts follow the same offset/limit rules as `upload.getFile` (the page's "Restrictions
//! on upload.getFile and upload.getCdnFile parameters"; there is no `precise` here) and are
//! AES-256-CTR encrypted with the redirect's key and iv, the iv's last 4 bytes replaced by
//! `offset / 16` big-endian. A file the CDN lacks answers `upload.cdnFileReuploadNeeded`
//! until `upload.reuploadCdnFile` on the file's DC.

use std::sync::Arc;

use tl_types::api::functions::upload::GetCdnFile;
use tl_types::api::types;
use tl_types::{Deserialize, Identifiable, Serialize, wire};

use super::files::{cdn_file, with_bytes};
use super::{Need, error, guard, random_bytes};
use crate::rpc::{Registry, RequestContext, RpcResult, errors};
use crate::world::World;
use crate::world::live::ServedRange;
use crate::world::media;

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    let shared = Arc::clone(world);
    registry.register_sync(
        GetCdnFile::CONSTRUCTOR_ID,
        GetCdnFile::TL_NAME,
        move |ctx, body| get_cdn_file(&shared, ctx, body),
    );
}

fn get_cdn_file(world: &World, ctx: &RequestContext, body: &[u8]) -> RpcResult {
    let request = GetCdnFile::from_bytes(body).map_err(|_| errors::fetch_error())?;
    // A main DC holds no CDN copies: the token means nothing there, and
    // FILE_TOKEN_INVALID sends the client back to upload.getFile.
    if !ctx.dc.is_cdn() {
        return Err(error(400, "FILE_TOKEN_INVALID"));
    }
    guard(world, ctx, GetCdnFile::TL_NAME, Need::Nothing)?;
    let (key, info) = cdn_file(world, &request.file_token)?;
    let (offset, limit) = media::check_range(request.offset, request.limit, false)
        .map_err(|e| error(400, e.message()))?;
    let live = &world.media();
    if !live.cdn_has(key.media_id) {
        let request_token = random_bytes();
        live.cdn_request_reupload(key.media_id, offset, request_token.clone());
        return Ok(types::upload::CdnFileReuploadNeeded { request_token }.to_bytes());
    }
    let seed = world.seed();
    let len = media::available(info.size, offset, limit);
    let (aes_key, iv) = media::cdn_secrets(seed, &key);
    let corrupt = live.take_cdn_corruption(key.media_id, offset, len);
    let answer = with_bytes(
        |out| wire::write_u32(out, types::upload::CdnFile::CONSTRUCTOR_ID),
        len,
        |buf| {
            media::fill(seed, &key, offset, buf);
            media::cdn_encrypt(&aes_key, &iv, offset, buf);
            for at in corrupt {
                if let Some(byte) = usize::try_from(at).ok().and_then(|at| buf.get_mut(at)) {
                    *byte ^= 0x5a;
                }
            }
        },
    )?;
    live.record(ServedRange {
        key,
        offset,
        len,
        dc: ctx.dc_id(),
        cdn: true,
    });
    Ok(answer)
}
