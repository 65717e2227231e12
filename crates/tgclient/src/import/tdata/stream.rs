//! A reader of the Qt `QDataStream` values Desktop stores (version `Qt_5_1`): big-endian
//! integers and `QByteArray`s (a big-endian `u32` length, `0xFFFFFFFF` for a null array).
//! Reads only borrow from the buffer, so no length read from a file ever sizes an
//! allocation.

/// The stream ended before the value being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Short;

/// A cursor over a decoded buffer.
pub(super) struct Stream<'a> {
    rest: &'a [u8],
}

impl<'a> Stream<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf }
    }

    pub(super) fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `n` bytes as they are.
    pub(super) fn raw(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if n > self.rest.len() {
            return Err(Short);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.raw(N)?);
        Ok(out)
    }

    pub(super) fn u32(&mut self) -> Result<u32, Short> {
        self.array().map(u32::from_be_bytes)
    }

    pub(super) fn i32(&mut self) -> Result<i32, Short> {
        self.array().map(i32::from_be_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64, Short> {
        self.array().map(u64::from_be_bytes)
    }

    /// A `QByteArray`; a null one reads as empty, as Desktop treats it.
    pub(super) fn byte_array(&mut self) -> Result<&'a [u8], Short> {
        match self.u32()? {
            u32::MAX => Ok(&[]),
            len => self.raw(usize::try_from(len).map_err(|_| Short)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_values_and_byte_arrays() {
        let buf = [
            0, 0, 0, 2, b'h', b'i', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 1, 2, 3, 4, 5,
            6, 7, 8,
        ];
        let mut s = Stream::new(&buf);
        assert_eq!(s.byte_array(), Ok(&b"hi"[..]));
        assert_eq!(s.byte_array(), Ok(&[][..]));
        assert_eq!(s.i32(), Ok(-2));
        assert_eq!(s.u64(), Ok(0x0102_0304_0506_0708));
        assert!(s.at_end());
        assert_eq!(s.u32(), Err(Short));
    }

    #[test]
    fn a_length_past_the_end_is_short_not_an_allocation() {
        let mut s = Stream::new(&[0x7F, 0xFF, 0xFF, 0xFF, 1]);
        assert_eq!(s.byte_array(), Err(Short));
    }
}
