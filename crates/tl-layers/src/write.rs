//! Writing a [`Value`] tree read in one layer as the same value in another layer.
//!
//! Objects are matched by constructor name. A field the target lacks is dropped; a field the
//! target has and the source lacks is absent when conditional and its zero value otherwise;
//! flags words are recomputed from the fields written. A constructor the target lacks is
//! replaced by a stand-in ([`crate::standin`]) or dropped from its vector.

use crate::error::Error;
use crate::read::{BOOL_FALSE, BOOL_TRUE, MAX_DEPTH, Object, VECTOR_ID, Value};
use crate::standin::{self, Missing};
use crate::table::{Combinator, Schema, Ty};

/// Writes values in the target layer.
pub(crate) struct Writer {
    pub(crate) target: &'static Schema,
}

/// What writing one value gave: the bytes, or nothing (the value has no form in the
/// target layer, and its container must drop it).
type Written = Option<Vec<u8>>;

impl Writer {
    /// Writes `value` as type `ty` of the target layer into `out`; `Ok(false)` when the value
    /// cannot be written at all in the target layer (nothing is written then).
    pub(crate) fn value(
        &self,
        value: &Value,
        ty: Ty,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<bool, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        match self.convert(value, ty, depth)? {
            Some(bytes) => {
                out.extend_from_slice(&bytes);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn convert(&self, value: &Value, ty: Ty, depth: usize) -> Result<Written, Error> {
        let mut out = Vec::new();
        match (ty, value) {
            (Ty::Int | Ty::Flags, Value::Int(v)) => out.extend_from_slice(&v.to_le_bytes()),
            // A field widened or narrowed between layers (ids became `long` in layer 133).
            (Ty::Int | Ty::Flags, Value::Long(v)) => {
                out.extend_from_slice(&i32::try_from(*v).unwrap_or(0).to_le_bytes());
            }
            (Ty::Long, Value::Long(v)) => out.extend_from_slice(&v.to_le_bytes()),
            (Ty::Long, Value::Int(v)) => out.extend_from_slice(&i64::from(*v).to_le_bytes()),
            (Ty::Double, Value::Double(v)) => out.extend_from_slice(&v.to_le_bytes()),
            (Ty::Int128, Value::Int128(v)) => out.extend_from_slice(v),
            (Ty::Int256, Value::Int256(v)) => out.extend_from_slice(v),
            (Ty::Bytes, Value::Bytes(v)) => write_bytes(v, &mut out),
            (Ty::Bool, Value::Bool(v)) => {
                out.extend_from_slice(&if *v { BOOL_TRUE } else { BOOL_FALSE }.to_le_bytes());
            }
            (Ty::Bool, Value::True) => out.extend_from_slice(&BOOL_TRUE.to_le_bytes()),
            (Ty::True, Value::True | Value::Bool(true)) => {}
            (Ty::Vector { boxed, elem }, Value::Vector(items)) => {
                if boxed {
                    out.extend_from_slice(&VECTOR_ID.to_le_bytes());
                }
                let mut body = Vec::new();
                let mut count: u32 = 0;
                for item in items {
                    if self.value(item, *elem, &mut body, depth + 1)? {
                        count += 1;
                    }
                }
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&body);
            }
            (Ty::Boxed(type_name), Value::Object(object)) => {
                return self.boxed(object, Some(type_name), depth);
            }
            (Ty::AnyObject, Value::Object(object)) => return self.boxed(object, None, depth),
            (Ty::Bare(name), Value::Object(object)) => {
                let Some(target) = self
                    .target
                    .by_name(object.combinator.name)
                    .filter(|target| target.name == name || target.type_name() == Some(name))
                else {
                    return Ok(None);
                };
                if !self.fields(object, target, &mut out, depth)? {
                    return Ok(None);
                }
            }
            // A plain value that became an object between layers, and back.
            (Ty::Bool, Value::Object(object)) => match standin::as_bool(object.combinator.name) {
                Some(value) => return self.convert(&Value::Bool(value), ty, depth + 1),
                None => return Ok(None),
            },
            (_, Value::Object(object)) => {
                let inner = standin::unwrapped_field(object.combinator.name)
                    .and_then(|field| object.field(field));
                return match inner {
                    Some(inner) => self.convert(inner, ty, depth + 1),
                    None => Ok(None),
                };
            }
            (Ty::Boxed(type_name), Value::Bool(value)) => {
                let Some(target) = standin::from_bool(self.target, type_name, *value) else {
                    return Ok(None);
                };
                out.extend_from_slice(&target.id.to_le_bytes());
                self.zero_fields(target, &mut out, depth)?;
            }
            (Ty::Boxed(type_name), plain) => {
                let Some((target, field)) = standin::wrapper(self.target, type_name) else {
                    return Ok(None);
                };
                let wrapped = Object {
                    combinator: target,
                    fields: vec![(field, Some(plain.clone()))],
                };
                out.extend_from_slice(&target.id.to_le_bytes());
                if !self.fields(&wrapped, target, &mut out, depth)? {
                    return Ok(None);
                }
            }
            // The value changed type between layers in a way nothing carries over.
            _ => return Ok(None),
        }
        Ok(Some(out))
    }

    /// A boxed object, as a constructor of `type_name` (any type when `None`).
    fn boxed(
        &self,
        object: &Object,
        type_name: Option<&str>,
        depth: usize,
    ) -> Result<Written, Error> {
        let same = self
            .target
            .by_name(object.combinator.name)
            .filter(|target| type_name.is_none_or(|ty| target.type_name() == Some(ty)));
        let target = if let Some(target) = same {
            target
        } else {
            let ty = type_name
                .or(object.combinator.type_name())
                .unwrap_or_default();
            match standin::replacement(self.target, ty) {
                Missing::Replace(target) => target,
                Missing::Drop => return Ok(None),
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&target.id.to_le_bytes());
        if !self.fields(object, target, &mut out, depth)? {
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// The fields of `target` taken from `object` by name, flags recomputed; `false` when a
    /// required field has no form in the target layer (the object then has none either).
    fn fields(
        &self,
        object: &Object,
        target: &'static Combinator,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<bool, Error> {
        let mut written: Vec<Option<Vec<u8>>> = Vec::with_capacity(target.params.len());
        for param in target.params {
            if param.ty == Ty::Flags {
                written.push(None);
                continue;
            }
            let bytes = match object.field(param.name) {
                Some(value) => match self.convert(value, param.ty, depth + 1)? {
                    Some(bytes) => Some(bytes),
                    None if param.flag.is_some() => None,
                    None => return Ok(false),
                },
                None if param.flag.is_some() => None,
                None => Some(self.zero(param.ty, depth + 1)?),
            };
            written.push(bytes);
        }
        for (param, bytes) in target.params.iter().zip(&written) {
            if param.ty == Ty::Flags {
                out.extend_from_slice(&flags_word(target, &written, param.name).to_le_bytes());
            } else if let Some(bytes) = bytes {
                let set = param
                    .flag
                    .is_none_or(|(flags, bit)| bit_set(target, &written, flags, bit));
                if set {
                    out.extend_from_slice(bytes);
                }
            }
        }
        Ok(true)
    }

    /// The zero value of a required field the source does not have.
    pub(crate) fn zero(&self, ty: Ty, depth: usize) -> Result<Vec<u8>, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let mut out = Vec::new();
        match ty {
            // An int, a flags word and an empty string are all four zero bytes.
            Ty::Int | Ty::Flags | Ty::Bytes => out.extend_from_slice(&[0; 4]),
            Ty::Long | Ty::Double => out.extend_from_slice(&[0; 8]),
            Ty::Int128 => out.extend_from_slice(&[0; 16]),
            Ty::Int256 => out.extend_from_slice(&[0; 32]),
            Ty::Bool => out.extend_from_slice(&BOOL_FALSE.to_le_bytes()),
            Ty::True => {}
            Ty::Vector { boxed, .. } => {
                if boxed {
                    out.extend_from_slice(&VECTOR_ID.to_le_bytes());
                }
                out.extend_from_slice(&[0; 4]);
            }
            Ty::Boxed(name) => {
                let target =
                    standin::zero_constructor(self.target, name).ok_or(Error::NoZeroValue(name))?;
                out.extend_from_slice(&target.id.to_le_bytes());
                self.zero_fields(target, &mut out, depth)?;
            }
            Ty::Bare(name) => {
                let target = self.target.by_name(name).ok_or(Error::NoZeroValue(name))?;
                self.zero_fields(target, &mut out, depth)?;
            }
            Ty::AnyObject => return Err(Error::NoZeroValue("X")),
        }
        Ok(out)
    }

    fn zero_fields(
        &self,
        target: &'static Combinator,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), Error> {
        for param in target.params {
            if param.ty == Ty::Flags {
                out.extend_from_slice(&[0; 4]);
            } else if param.flag.is_none() {
                out.extend_from_slice(&self.zero(param.ty, depth + 1)?);
            }
        }
        Ok(())
    }
}

/// The flags word `flags` of `target` given which fields were written.
fn flags_word(target: &Combinator, written: &[Option<Vec<u8>>], flags: &str) -> u32 {
    (0..32)
        .filter(|&bit| bit_set(target, written, flags, bit))
        .fold(0, |word, bit| word | 1 << bit)
}

/// Whether a flags bit is set: some field on it is present, and every field on it that
/// carries data is (layer 229's `messageMediaPhoto` puts `live_photo` and `video` on one bit:
/// the `true` alone cannot set it).
fn bit_set(target: &Combinator, written: &[Option<Vec<u8>>], flags: &str, bit: u32) -> bool {
    let mut any = false;
    for (param, present) in target.params.iter().zip(written) {
        if param.flag != Some((flags, bit)) {
            continue;
        }
        match (present.is_some(), param.ty) {
            (true, _) => any = true,
            (false, Ty::True) => {}
            (false, _) => return false,
        }
    }
    any
}

pub(crate) fn write_bytes(data: &[u8], out: &mut Vec<u8>) {
    let header = if data.len() < 254 {
        out.push(data.len() as u8);
        1
    } else {
        out.push(254);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes()[..3]);
        4
    };
    out.extend_from_slice(data);
    let padding = (4 - (header + data.len()) % 4) % 4;
    out.extend(std::iter::repeat_n(0, padding));
}
