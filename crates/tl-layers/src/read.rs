//! Reading serialized TL into a [`Value`] tree, driven by one layer's table.

use std::io::Read as _;

use crate::error::Error;
use crate::table::{Combinator, Schema, Ty};

/// The deepest nesting of objects and vectors read (real objects nest about a dozen deep).
pub const MAX_DEPTH: usize = 64;
/// The most bytes a `gzip_packed` may expand to (as a real client bounds it).
pub const MAX_UNPACKED: usize = 16 << 20;

pub(crate) const VECTOR_ID: u32 = 0x1cb5_c415;
pub(crate) const BOOL_TRUE: u32 = 0x9972_75b5;
pub(crate) const BOOL_FALSE: u32 = 0xbc79_9737;
pub(crate) const GZIP_PACKED: u32 = 0x3072_cfa1;

/// One value read off the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i32),
    Long(i64),
    /// A `double`, kept as its bits.
    Double(u64),
    Int128([u8; 16]),
    Int256([u8; 32]),
    Bytes(Vec<u8>),
    Bool(bool),
    /// A `flags.N?true` that is set.
    True,
    Vector(Vec<Value>),
    Object(Object),
}

/// An object: its combinator (in the layer it was read in) and its fields in order;
/// `None` is a conditional field that is absent. Flags words are not kept: writing
/// computes them from the fields present.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub combinator: &'static Combinator,
    pub fields: Vec<(&'static str, Option<Value>)>,
}

impl Object {
    /// The value of a field present in the object.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .and_then(|(_, value)| value.as_ref())
    }

    /// Whether the object has a field of this name at all (present or not).
    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|(field, _)| *field == name)
    }
}

/// A cursor over input bytes that reads values by a layer's table.
pub(crate) struct Reader<'a> {
    schema: &'static Schema,
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(schema: &'static Schema, data: &'a [u8]) -> Self {
        Self { schema, data }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.data.len() < n {
            return Err(Error::Truncated);
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| Error::Truncated)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        let first = *self.take(1)?.first().ok_or(Error::Truncated)?;
        let (len, header) = if first == 254 {
            let [a, b, c] = self.array::<3>()?;
            (u32::from_le_bytes([a, b, c, 0]) as usize, 4)
        } else {
            (usize::from(first), 1)
        };
        let data = self.take(len)?.to_vec();
        let padding = (4 - (header + len) % 4) % 4;
        self.take(padding)?;
        Ok(data)
    }

    /// Reads a value of type `ty`.
    pub(crate) fn value(&mut self, ty: Ty, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        Ok(match ty {
            Ty::Int | Ty::Flags => Value::Int(i32::from_le_bytes(self.array()?)),
            Ty::Long => Value::Long(i64::from_le_bytes(self.array()?)),
            Ty::Double => Value::Double(u64::from_le_bytes(self.array()?)),
            Ty::Int128 => Value::Int128(self.array()?),
            Ty::Int256 => Value::Int256(self.array()?),
            Ty::Bytes => Value::Bytes(self.bytes()?),
            Ty::True => Value::True,
            Ty::Bool => match self.u32()? {
                BOOL_TRUE => Value::Bool(true),
                BOOL_FALSE => Value::Bool(false),
                id => return Err(Error::UnknownConstructor(id)),
            },
            Ty::Vector { boxed, elem } => {
                if boxed {
                    let id = self.u32()?;
                    if id == GZIP_PACKED {
                        return self.packed(ty, depth);
                    }
                    if id != VECTOR_ID {
                        return Err(Error::UnknownConstructor(id));
                    }
                }
                let count = self.u32()? as usize;
                // Every element takes at least 4 bytes except `true`s, which no schema
                // puts in a vector: a count beyond that is a lie.
                if count > self.data.len() / 4 {
                    return Err(Error::Truncated);
                }
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.value(*elem, depth + 1)?);
                }
                Value::Vector(items)
            }
            Ty::Boxed(_) | Ty::AnyObject => {
                let id = self.u32()?;
                if id == GZIP_PACKED {
                    return self.packed(ty, depth);
                }
                let combinator = self.schema.by_id(id).ok_or(Error::UnknownConstructor(id))?;
                Value::Object(self.fields(combinator, depth)?)
            }
            Ty::Bare(name) => {
                let combinator = self
                    .schema
                    .by_name(name)
                    .or_else(|| bare_constructor_of(self.schema, name))
                    .ok_or(Error::UnknownName(name))?;
                Value::Object(self.fields(combinator, depth)?)
            }
        })
    }

    /// Reads the fields of `combinator` (its id already read).
    pub(crate) fn fields(
        &mut self,
        combinator: &'static Combinator,
        depth: usize,
    ) -> Result<Object, Error> {
        let mut flags: Vec<(&'static str, u32)> = Vec::new();
        let mut fields = Vec::with_capacity(combinator.params.len());
        for param in combinator.params {
            if param.ty == Ty::Flags {
                let word = self.u32()?;
                flags.push((param.name, word));
                continue;
            }
            if let Some((flag_name, bit)) = param.flag {
                let word = flags
                    .iter()
                    .find(|(name, _)| *name == flag_name)
                    .map_or(0, |(_, word)| *word);
                if bit >= 32 || word & (1 << bit) == 0 {
                    fields.push((param.name, None));
                    continue;
                }
            }
            let value = self.value(param.ty, depth + 1)?;
            fields.push((param.name, Some(value)));
        }
        Ok(Object { combinator, fields })
    }

    /// `gzip_packed` in place of a value of type `ty`: the value is read from the
    /// unpacked bytes (and written back unpacked; the session packs what it sends).
    fn packed(&mut self, ty: Ty, depth: usize) -> Result<Value, Error> {
        let packed = self.bytes()?;
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(packed.as_slice())
            .take(MAX_UNPACKED as u64 + 1)
            .read_to_end(&mut unpacked)
            .map_err(|_| Error::BadGzip)?;
        if unpacked.len() > MAX_UNPACKED {
            return Err(Error::BadGzip);
        }
        let mut inner = Reader::new(self.schema, &unpacked);
        inner.value(ty, depth + 1)
    }
}

/// A bare type named by its type (`%Message`'s lowercase twin): its only constructor.
fn bare_constructor_of(schema: &'static Schema, name: &str) -> Option<&'static Combinator> {
    let name = name.strip_prefix('%').unwrap_or(name);
    match schema.constructors_of(name) {
        [only] => Some(only),
        _ => None,
    }
}
