//! The traits every generated type implements, and their implementations for the TL
//! primitives that appear as function results.

use crate::error::Error;
use crate::reader::Reader;
use crate::wire;

/// A TL combinator with a fixed constructor id.
pub trait Identifiable {
    const CONSTRUCTOR_ID: u32;
    /// The name in the schema, namespace included (`upload.getFile`).
    const TL_NAME: &'static str;
}

/// Writes the boxed form: constructor id, then fields.
pub trait Serialize {
    fn serialize(&self, out: &mut Vec<u8>);

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.serialize(&mut out);
        out
    }
}

/// Writes the bare form: fields only.
pub trait BareSerialize {
    fn serialize_bare(&self, out: &mut Vec<u8>);
}

/// Reads the boxed form, checking the constructor id.
pub trait Deserialize: Sized {
    fn deserialize(reader: &mut Reader<'_>) -> Result<Self, Error>;

    /// Reads a value that must span all of `bytes`.
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut reader = Reader::new(bytes);
        let value = Self::deserialize(&mut reader)?;
        match reader.remaining().len() {
            0 => Ok(value),
            count => Err(Error::TrailingBytes { count }),
        }
    }
}

/// Reads the bare form: fields only.
pub trait BareDeserialize: Sized {
    fn deserialize_bare(reader: &mut Reader<'_>) -> Result<Self, Error>;
}

/// An RPC function: what it is sent as, and what the server answers.
pub trait RemoteCall: Serialize + Identifiable {
    type Return: Deserialize;
}

/// Reads a bare constructor into a box. Kept out of line so that the large `match` of an
/// enum's deserializer does not reserve stack for every variant's fields, which matters
/// when values nest.
#[inline(never)]
pub fn deserialize_boxed<T: BareDeserialize>(reader: &mut Reader<'_>) -> Result<Box<T>, Error> {
    T::deserialize_bare(reader).map(Box::new)
}

/// A vector for `count` elements. `count` was checked against the input, but elements can be
/// far larger in memory than on the wire, so only a bounded amount is reserved up front.
pub fn vec_for<T>(count: usize) -> Vec<T> {
    const PREALLOCATE_BYTES: usize = 64 * 1024;
    Vec::with_capacity(count.min(PREALLOCATE_BYTES / size_of::<T>().max(1)))
}

/// Bytes that are already serialized: written as they are, and when read, everything that
/// is left. It stands for a query not known at compile time, as in
/// `InvokeWithLayer<Blob>` on the server side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Deserialize for Blob {
    fn deserialize(reader: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Self(reader.read_rest().to_vec()))
    }
}

macro_rules! primitive {
    ($ty:ty, $write:ident, $read:ident) => {
        impl Serialize for $ty {
            fn serialize(&self, out: &mut Vec<u8>) {
                wire::$write(out, *self);
            }
        }
        impl Deserialize for $ty {
            fn deserialize(reader: &mut Reader<'_>) -> Result<Self, Error> {
                reader.$read()
            }
        }
    };
}

primitive!(i32, write_i32, read_i32);
primitive!(i64, write_i64, read_i64);
primitive!(f64, write_f64, read_f64);
primitive!(bool, write_bool, read_bool);

/// `Vector<T>`, boxed.
impl<T: Serialize> Serialize for Vec<T> {
    fn serialize(&self, out: &mut Vec<u8>) {
        wire::write_vector_header(out, self.len(), true);
        for item in self {
            item.serialize(out);
        }
    }
}

impl<T: Deserialize> Deserialize for Vec<T> {
    fn deserialize(reader: &mut Reader<'_>) -> Result<Self, Error> {
        let count = reader.read_vector_len(true)?;
        let mut items = vec_for(count);
        for _ in 0..count {
            items.push(T::deserialize(reader)?);
        }
        Ok(items)
    }
}
