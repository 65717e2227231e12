//! Where `-o` sends files: a local directory (a plain path, or `file:///path`) or a prefix
//! in an S3-compatible bucket (`s3://bucket/prefix`). Parsed as a flag's value, so a
//! malformed URL fails before any session is opened or request made.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use objstore::{Target, TargetUrl, layout};
use tgclient::download::object::Output;
use thiserror::Error;

use crate::config::ProcessEnv;
use crate::manifest::ManifestPlace;

/// The value of `-o`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory on this machine.
    Local(PathBuf),
    /// A prefix in a bucket (`objstore` checks the bucket name and the prefix).
    Object(TargetUrl),
}

/// Why `-o` was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DestinationError {
    /// A scheme tgdl does not write to.
    #[error(
        "{scheme}:// is not an output tgdl writes to: give a directory, file:///path or s3://bucket/prefix"
    )]
    Scheme { scheme: String },
    /// An `s3://` URL `objstore` refuses (bucket name, prefix).
    #[error("{0}")]
    Object(String),
    /// `file://` with a host or a relative path.
    #[error("{url}: a file URL is file:///absolute/path")]
    FileUrl { url: String },
}

impl Destination {
    /// Parses `-o`'s value: `s3://bucket[/prefix]`, `file:///path`, or else a path.
    ///
    /// # Errors
    /// An unknown scheme, an invalid bucket name or prefix, a `file://` URL with a host.
    pub fn parse(text: &str) -> Result<Self, DestinationError> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Self::Local(PathBuf::from(text)));
        };
        // A directory named "a://b" stays reachable as ./a://b; a bare "x://" reads as a URL.
        if !is_scheme(scheme) {
            return Ok(Self::Local(PathBuf::from(text)));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => TargetUrl::parse(&format!("s3://{rest}"))
                .map(Self::Object)
                .map_err(|error| DestinationError::Object(error.to_string())),
            "file" => match rest.strip_prefix('/') {
                Some(path) => Ok(Self::Local(Path::new("/").join(path))),
                None => Err(DestinationError::FileUrl { url: text.into() }),
            },
            _ => Err(DestinationError::Scheme {
                scheme: scheme.into(),
            }),
        }
    }
}

/// An output ready for files: the local directory made and checked writable, or the
/// bucket reached with the credentials (before any Telegram request).
#[derive(Debug, Clone)]
pub enum Opened {
    /// The directory's canonical path.
    Local(PathBuf),
    /// The bucket and prefix.
    Object(Target),
}

impl Destination {
    /// Makes the directory, or opens the bucket (see [`crate::storage::open`]).
    ///
    /// # Errors
    /// The directory cannot be made or written; the bucket cannot be reached or written.
    pub async fn open(&self) -> Result<Opened> {
        match self {
            Self::Local(dir) => crate::commands::download::prepare_output(dir).map(Opened::Local),
            Self::Object(url) => crate::storage::open(url, &ProcessEnv)
                .await
                .map(Opened::Object),
        }
    }
}

impl Opened {
    /// What planned paths are relative to: the directory, or nothing (a key under the
    /// prefix is the relative path itself).
    pub fn root(&self) -> PathBuf {
        match self {
            Self::Local(dir) => dir.clone(),
            Self::Object(_) => PathBuf::new(),
        }
    }

    /// The bucket, when the output is one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Self::Local(_) => None,
            Self::Object(target) => Some(target),
        }
    }

    /// The engine's output.
    pub fn engine_output(&self) -> Output {
        match self {
            Self::Local(_) => Output::Directory,
            Self::Object(target) => Output::Objects(crate::storage::engine_output(target)),
        }
    }

    /// Where the manifest of the run named `run` goes: `explicit` (`--manifest`), else
    /// `tgdl-manifest-<run>.jsonl` in the directory; in a bucket always
    /// `.tgdl/manifests/<run>.jsonl` under the prefix (with a local copy at `explicit`).
    pub fn manifest(&self, explicit: Option<&Path>, run: &str) -> ManifestPlace {
        match self {
            Self::Local(dir) => ManifestPlace::File(explicit.map_or_else(
                || dir.join(format!("tgdl-manifest-{run}.jsonl")),
                Path::to_path_buf,
            )),
            Self::Object(target) => ManifestPlace::Object {
                target: target.clone(),
                key: layout::manifest_key(run),
                copy: explicit.map(Path::to_path_buf),
            },
        }
    }
}

impl Default for Destination {
    fn default() -> Self {
        Self::Local(PathBuf::from("."))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "{}", dir.display()),
            Self::Object(url) => write!(f, "{url}"),
        }
    }
}

/// clap's value parser for `-o`.
///
/// # Errors
/// As [`Destination::parse`].
pub fn destination_arg(text: &str) -> Result<Destination, DestinationError> {
    Destination::parse(text)
}

/// RFC 3986's scheme: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn paths_stay_local_directories() {
        for (text, path) in [
            ("archive", "archive"),
            ("./a/b", "./a/b"),
            ("/abs/dir", "/abs/dir"),
            ("file:///srv/archive", "/srv/archive"),
            ("1://x", "1://x"),
        ] {
            assert_eq!(
                Destination::parse(text).unwrap(),
                Destination::Local(PathBuf::from(path)),
                "{text}"
            );
        }
    }

    #[test]
    fn s3_urls_give_bucket_and_prefix() {
        assert_eq!(
            Destination::parse("S3://my-bucket/archives/chan/").unwrap(),
            Destination::Object(TargetUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "archives/chan".into()
            })
        );
        assert_eq!(
            Destination::parse("s3://bkt").unwrap().to_string(),
            "s3://bkt"
        );
    }

    #[test]
    fn malformed_urls_are_refused_with_what_is_wrong() {
        let refused = |text: &str| Destination::parse(text).unwrap_err();
        for url in [
            "s3://",
            "s3:///x",
            "s3://Upper/p",
            "s3://bucket/a//b",
            "s3://bucket/../x",
        ] {
            assert!(matches!(refused(url), DestinationError::Object(_)), "{url}");
        }
        assert!(matches!(
            refused("gs://b/p"),
            DestinationError::Scheme { .. }
        ));
        assert!(matches!(
            refused("file://host/p"),
            DestinationError::FileUrl { .. }
        ));
        let shown = refused("ftp://h/p").to_string();
        assert!(shown.contains("s3://bucket/prefix"), "{shown}");
    }
}
