//! A bounded reader over untrusted bytes.

use crate::error::Error;
use crate::wire::{BOOL_FALSE_ID, BOOL_TRUE_ID, VECTOR_ID};

/// How deeply boxed values may nest before the reader gives up (real data nests a few
/// levels; this only stops hostile input from exhausting the stack).
pub const MAX_DEPTH: u32 = 64;

/// Reads TL values from a byte slice. Every length is checked against what is left before
/// anything is allocated.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    depth: u32,
    max_depth: u32,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            depth: 0,
            max_depth: MAX_DEPTH,
        }
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Takes `len` bytes.
    pub fn read_slice(&mut self, len: usize) -> Result<&'a [u8], Error> {
        if len > self.rest.len() {
            return Err(Error::UnexpectedEnd {
                needed: len,
                remaining: self.rest.len(),
            });
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    /// Takes everything that is left.
    pub fn read_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(Error::UnexpectedEnd {
                needed: N,
                remaining: self.rest.len(),
            })?;
        self.rest = rest;
        Ok(*head)
    }

    #[inline]
    pub fn read_u32(&mut self) -> Result<u32, Error> {
        self.read_array().map(u32::from_le_bytes)
    }

    #[inline]
    pub fn read_i32(&mut self) -> Result<i32, Error> {
        self.read_array().map(i32::from_le_bytes)
    }

    #[inline]
    pub fn read_i64(&mut self) -> Result<i64, Error> {
        self.read_array().map(i64::from_le_bytes)
    }

    #[inline]
    pub fn read_f64(&mut self) -> Result<f64, Error> {
        self.read_array().map(f64::from_le_bytes)
    }

    pub fn read_bool(&mut self) -> Result<bool, Error> {
        match self.read_u32()? {
            BOOL_TRUE_ID => Ok(true),
            BOOL_FALSE_ID => Ok(false),
            id => Err(Error::UnknownConstructor {
                id,
                expected: "Bool",
            }),
        }
    }

    /// TL `bytes`: the data of a length-prefixed, padded byte string, borrowed.
    pub fn read_bytes(&mut self) -> Result<&'a [u8], Error> {
        let first = self.read_array::<1>()?[0];
        let (len, header) = match first {
            255 => {
                return Err(Error::BadLength {
                    what: "bytes prefix",
                    length: 255,
                    remaining: self.rest.len(),
                });
            }
            254 => {
                let [a, b, c] = self.read_array::<3>()?;
                (u32::from_le_bytes([a, b, c, 0]) as usize, 4)
            }
            short => (usize::from(short), 1),
        };
        let padded = (header + len).next_multiple_of(4) - header;
        if padded > self.rest.len() {
            return Err(Error::BadLength {
                what: "bytes",
                length: len,
                remaining: self.rest.len(),
            });
        }
        let data = self.read_slice(padded)?;
        Ok(data.get(..len).unwrap_or(data))
    }

    /// TL `string`: UTF-8 text; invalid sequences are replaced rather than rejected, as
    /// servers have been seen to cut strings inside a character.
    pub fn read_string(&mut self) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(self.read_bytes()?).into_owned())
    }

    /// The element count of a vector (after its constructor id when boxed), refused when the
    /// input left could not hold that many elements of at least 4 bytes each.
    pub fn read_vector_len(&mut self, boxed: bool) -> Result<usize, Error> {
        if boxed {
            self.expect_constructor(VECTOR_ID, "Vector")?;
        }
        let count = self.read_u32()? as usize;
        if count > self.rest.len() / 4 {
            return Err(Error::BadLength {
                what: "vector",
                length: count,
                remaining: self.rest.len(),
            });
        }
        Ok(count)
    }

    /// Reads a constructor id and checks it is `id`.
    pub fn expect_constructor(&mut self, id: u32, expected: &'static str) -> Result<(), Error> {
        let found = self.read_u32()?;
        if found == id {
            Ok(())
        } else {
            Err(Error::UnknownConstructor {
                id: found,
                expected,
            })
        }
    }

    /// Runs `read` one nesting level deeper, failing once [`MAX_DEPTH`] is passed.
    pub fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if self.depth >= self.max_depth {
            return Err(Error::TooDeep {
                limit: self.max_depth,
            });
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }
}
