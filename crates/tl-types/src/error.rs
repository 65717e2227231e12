use thiserror::Error;

/// Why bytes could not be read as a TL value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd { needed: usize, remaining: usize },
    #[error("unknown constructor {id:#010x} for {expected}")]
    UnknownConstructor { id: u32, expected: &'static str },
    #[error("bad length: {what} of {length} with {remaining} bytes left")]
    BadLength {
        what: &'static str,
        length: usize,
        remaining: usize,
    },
    #[error("values nested deeper than {limit} levels")]
    TooDeep { limit: u32 },
    #[error("{count} bytes left over after the value")]
    TrailingBytes { count: usize },
}
