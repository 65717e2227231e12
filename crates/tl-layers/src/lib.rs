//! Every TL layer a real client may speak (pinned schemas, `schema/SOURCES.md`), as compact
//! tables generated at build time, and a schema-driven transcoder between the newest layer
//! (the one `tl-types` speaks) and an older one:
//!
//! - [`downgrade_answer`] / [`downgrade_object`]: what the server wrote in the newest layer,
//!   as the client's layer has it (new fields dropped, missing fields zeroed, unknown
//!   constructors replaced as Telegram does: see [`standin`]);
//! - [`upgrade_request`]: a request written with the client's layer's constructors, in the
//!   newest layer.
//!
//! Input is hostile: nesting, sizes and `gzip_packed` are bounded and every failure is an
//! [`Error`].

mod error;
mod read;
pub mod standin;
pub mod table;
mod write;

pub use error::Error;
pub use read::{MAX_DEPTH, MAX_UNPACKED, Object, Value};
pub use table::{Combinator, Param, Schema, Ty, layers, newest, schema, serving};

use read::Reader;
use write::Writer;

/// The schema of the layer serving a client that declared `layer`.
fn served(layer: i32) -> Result<&'static Schema, Error> {
    let serving = serving(layer);
    schema(serving).ok_or(Error::UnknownLayer(serving))
}

fn newest_schema() -> Result<&'static Schema, Error> {
    schema(newest()).ok_or(Error::UnknownLayer(newest()))
}

/// Reads one value of type `ty` that must take all of `data`.
fn read_all(schema: &'static Schema, ty: Ty, data: &[u8]) -> Result<Value, Error> {
    let mut reader = Reader::new(schema, data);
    let value = reader.value(ty, 0)?;
    match reader.remaining() {
        0 => Ok(value),
        left => Err(Error::Trailing(left)),
    }
}

/// Reads `data` (a value of type `ty` in the layer `schema`).
pub fn read(schema: &'static Schema, ty: Ty, data: &[u8]) -> Result<Value, Error> {
    read_all(schema, ty, data)
}

/// The answer to the newest layer's method `method_id` (`answer`, the serialized result),
/// as a client of `layer` expects it. An answer the layer cannot express at all becomes the
/// zero value of the result type (`updatesTooLong` for `Updates`).
pub fn downgrade_answer(method_id: u32, answer: &[u8], layer: i32) -> Result<Vec<u8>, Error> {
    let source = newest_schema()?;
    let target = served(layer)?;
    if target.layer() == source.layer() {
        return Ok(answer.to_vec());
    }
    let method = source
        .by_id(method_id)
        .ok_or(Error::UnknownConstructor(method_id))?;
    let value = read_all(source, method.ty, answer)?;
    // The old layer's method may return another type (a result type renamed or narrowed).
    let result_ty = target.by_name(method.name).map_or(method.ty, |old| old.ty);
    let writer = Writer { target };
    let mut out = Vec::new();
    if writer.value(&value, result_ty, &mut out, 0)? {
        Ok(out)
    } else {
        writer.zero(result_ty, 0)
    }
}

/// A boxed object of the newest layer (a pushed `Updates`...) as a client of `layer` has
/// it; `None` when the layer cannot express it at all and nothing should be sent.
pub fn downgrade_object(object: &[u8], layer: i32) -> Result<Option<Vec<u8>>, Error> {
    let source = newest_schema()?;
    let target = served(layer)?;
    if target.layer() == source.layer() {
        return Ok(Some(object.to_vec()));
    }
    let value = read_all(source, Ty::AnyObject, object)?;
    let ty = match &value {
        Value::Object(object) => object
            .combinator
            .type_name()
            .map_or(Ty::AnyObject, Ty::Boxed),
        _ => Ty::AnyObject,
    };
    let mut out = Vec::new();
    if (Writer { target }).value(&value, ty, &mut out, 0)? {
        Ok(Some(out))
    } else {
        Ok(None)
    }
}

/// A request (a boxed function call) written by a client of `layer`, in the newest layer.
/// A call whose constructor the client's layer does not have but the newest does is
/// passed through (clients mix in newer methods).
pub fn upgrade_request(request: &[u8], layer: i32) -> Result<Vec<u8>, Error> {
    let source = served(layer)?;
    let target = newest_schema()?;
    if target.layer() == source.layer() {
        return Ok(request.to_vec());
    }
    let id = request
        .first_chunk::<4>()
        .map(|id| u32::from_le_bytes(*id))
        .ok_or(Error::Truncated)?;
    if source.by_id(id).is_none() && target.by_id(id).is_some() {
        return Ok(request.to_vec());
    }
    let value = read_all(source, Ty::AnyObject, request)?;
    let mut out = Vec::new();
    if (Writer { target }).value(&value, Ty::AnyObject, &mut out, 0)? {
        Ok(out)
    } else {
        Err(Error::Unrepresentable(target.layer()))
    }
}

/// Writes `value` (read in any pinned layer) as type `ty` of `layer`; `None` when it has no
/// form there.
pub fn write(value: &Value, ty: Ty, layer: i32) -> Result<Option<Vec<u8>>, Error> {
    let target = schema(layer).ok_or(Error::UnknownLayer(layer))?;
    let mut out = Vec::new();
    Ok((Writer { target })
        .value(value, ty, &mut out, 0)?
        .then_some(out))
}
