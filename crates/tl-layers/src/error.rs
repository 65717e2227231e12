//! Why a value could not be transcoded.

/// A transcoding failure: the input does not follow its layer's schema, or it cannot be
/// expressed in the target layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("input ends inside a value")]
    Truncated,
    #[error("constructor {0:#010x} is not in the source layer")]
    UnknownConstructor(u32),
    #[error("no combinator `{0}` in the source layer")]
    UnknownName(&'static str),
    #[error("nested deeper than the transcoder allows")]
    TooDeep,
    #[error("gzip_packed that does not unpack (or unpacks too large)")]
    BadGzip,
    #[error("{0} bytes left after the value")]
    Trailing(usize),
    #[error("no zero value for the type `{0}`")]
    NoZeroValue(&'static str),
    #[error("layer {0} is not pinned")]
    UnknownLayer(i32),
    #[error("the value has no form in layer {0}")]
    Unrepresentable(i32),
}
