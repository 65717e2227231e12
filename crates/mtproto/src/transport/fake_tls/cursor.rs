//! A reader over a byte slice whose every step is checked, for parsing handshake messages.

use super::FakeTlsError;

/// Reads big-endian fields from a slice; running out of input is an error, never a panic.
#[derive(Debug, Clone)]
pub(super) struct Cursor<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `input`, naming `what` in its errors.
    pub(super) fn new(input: &'a [u8], what: &'static str) -> Self {
        Self { rest: input, what }
    }

    /// The error for this message.
    pub(super) fn malformed(&self, reason: &'static str) -> FakeTlsError {
        FakeTlsError::Malformed {
            what: self.what,
            reason,
        }
    }

    /// The next `n` bytes.
    pub(super) fn take(
        &mut self,
        n: usize,
        reason: &'static str,
    ) -> Result<&'a [u8], FakeTlsError> {
        let Some((taken, rest)) = self.rest.split_at_checked(n) else {
            return Err(self.malformed(reason));
        };
        self.rest = rest;
        Ok(taken)
    }

    /// The next byte.
    pub(super) fn u8(&mut self, reason: &'static str) -> Result<u8, FakeTlsError> {
        let [byte] = self.array::<1>(reason)?;
        Ok(byte)
    }

    /// The next big-endian `u16`.
    pub(super) fn u16(&mut self, reason: &'static str) -> Result<u16, FakeTlsError> {
        Ok(u16::from_be_bytes(self.array(reason)?))
    }

    /// The next big-endian 24-bit integer.
    pub(super) fn u24(&mut self, reason: &'static str) -> Result<usize, FakeTlsError> {
        let [a, b, c] = self.array(reason)?;
        Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    /// The next `N` bytes as an array.
    pub(super) fn array<const N: usize>(
        &mut self,
        reason: &'static str,
    ) -> Result<[u8; N], FakeTlsError> {
        let Some((taken, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.malformed(reason));
        };
        self.rest = rest;
        Ok(*taken)
    }

    /// The bytes of the next `u8`-length-prefixed block.
    pub(super) fn bytes8(&mut self, reason: &'static str) -> Result<&'a [u8], FakeTlsError> {
        let len = usize::from(self.u8(reason)?);
        self.take(len, reason)
    }

    /// The bytes of the next `u16`-length-prefixed block.
    pub(super) fn bytes16(&mut self, reason: &'static str) -> Result<&'a [u8], FakeTlsError> {
        let len = usize::from(self.u16(reason)?);
        self.take(len, reason)
    }

    /// A sub-cursor over the next `u16`-length-prefixed block.
    pub(super) fn block16(&mut self, reason: &'static str) -> Result<Cursor<'a>, FakeTlsError> {
        Ok(Cursor::new(self.bytes16(reason)?, self.what))
    }

    /// Whether everything was read.
    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}
