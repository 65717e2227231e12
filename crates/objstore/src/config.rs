//! Where to write (the output URL) and how to reach it (the storage configuration).

use std::fmt;

use serde::Deserialize;

use crate::error::ObjError;

/// How to reach an object store: the `[storage]` section of tgdl's config file.
///
/// Everything is optional: the usual AWS variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_PROFILE`) and the
/// profile files (`~/.aws/credentials`, `~/.aws/config`) fill in what is not set here.
/// Credentials given here are for programs and tests; people should keep them in the
/// environment or the profile files, out of config files and command lines.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The service's URL, e.g. `http://127.0.0.1:3900`; default: AWS for the region.
    pub endpoint: Option<String>,
    /// The signing region; default: `AWS_REGION`, `AWS_DEFAULT_REGION`, then `us-east-1`.
    pub region: Option<String>,
    /// Address the bucket in the path (`endpoint/bucket/key`) rather than in the host name
    /// (`bucket.endpoint/key`). Default: path style with an explicit endpoint (what
    /// self-hosted services such as Garage and MinIO expect), host style for AWS.
    pub path_style: Option<bool>,
    /// The profile of `~/.aws/credentials` to use; default: `AWS_PROFILE`, then `default`.
    pub profile: Option<String>,
    /// Credentials given explicitly (they take precedence over the environment).
    #[serde(skip)]
    pub credentials: Option<Credentials>,
    /// Read nothing from the environment or the profile files (hermetic tests).
    #[serde(skip)]
    pub ignore_environment: bool,
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("profile", &self.profile)
            .field("credentials", &self.credentials)
            .field("ignore_environment", &self.ignore_environment)
            .finish()
    }
}

/// An access key and its secret. `Debug` shows neither.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// A parsed output URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// `s3://bucket/prefix`
    S3 { bucket: String, prefix: String },
    /// `file:///absolute/path`
    File { root: String },
    /// `memory://` (tests: nothing leaves the process)
    Memory,
}

impl TargetUrl {
    /// Parses `s3://bucket[/prefix]`, `file:///path` or `memory://`.
    pub fn parse(url: &str) -> Result<Self, ObjError> {
        let bad = |why: &str| ObjError::BadUrl {
            url: url.to_owned(),
            why: why.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !valid_bucket_name(bucket) {
                return Err(bad(
                    "a bucket name is 3-63 characters of a-z, 0-9, '.' and '-'",
                ));
            }
            let prefix = normalize_prefix(prefix)
                .ok_or_else(|| bad("the prefix may not contain empty, '.' or '..' segments"))?;
            Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix,
            })
        } else if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file URL names an absolute path: file:///path"));
            }
            Ok(Self::File {
                root: path.to_owned(),
            })
        } else if url == "memory://" {
            Ok(Self::Memory)
        } else {
            Err(bad("unknown scheme"))
        }
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Self::File { root } => write!(f, "file://{root}"),
            Self::Memory => f.write_str("memory://"),
        }
    }
}

/// S3's rules for new bucket names (lower case, digits, dots and hyphens, 3-63 long, a
/// letter or digit at both ends).
fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// The prefix without leading or trailing slashes; `None` when a segment would make keys
/// ambiguous (`a//b`, `./`, `../`).
fn normalize_prefix(prefix: &str) -> Option<String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Some(String::new());
    }
    trimmed
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..")
        .then(|| trimmed.to_owned())
}

/// Where the configuration's values come from once the environment is read in.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub endpoint: String,
    pub region: String,
    pub path_style: bool,
}

impl StorageConfig {
    /// Endpoint, region and addressing style after the environment fills the gaps.
    pub(crate) fn resolve(&self) -> Result<Resolved, ObjError> {
        let env = |name: &str| {
            if self.ignore_environment {
                None
            } else {
                std::env::var(name).ok().filter(|v| !v.is_empty())
            }
        };
        let region = self
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let explicit = self
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let path_style = self.path_style.unwrap_or(explicit.is_some());
        let endpoint = explicit
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"))
            .trim_end_matches('/')
            .to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ObjError::Config(format!(
                "endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        Ok(Resolved {
            endpoint,
            region,
            path_style,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        assert_eq!(
            TargetUrl::parse("s3://archive/tg/chan/").ok(),
            Some(TargetUrl::S3 {
                bucket: "archive".into(),
                prefix: "tg/chan".into()
            })
        );
        assert_eq!(
            TargetUrl::parse("s3://archive").ok(),
            Some(TargetUrl::S3 {
                bucket: "archive".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            TargetUrl::parse("file:///srv/a").ok(),
            Some(TargetUrl::File {
                root: "/srv/a".into()
            })
        );
        assert_eq!(TargetUrl::parse("memory://").ok(), Some(TargetUrl::Memory));
    }

    #[test]
    fn refuses_bad_urls() {
        for url in [
            "s3://A_b/x",
            "s3://ab",
            "s3://-ab/x",
            "s3://bucket/a//b",
            "s3://bucket/../x",
            "file://rel/path",
            "gs://b/x",
        ] {
            assert!(
                matches!(TargetUrl::parse(url), Err(ObjError::BadUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = StorageConfig {
            credentials: Some(Credentials {
                access_key_id: "GKVISIBLEKEYID".into(),
                secret_access_key: "topsecretvalue".into(),
                session_token: Some("tokenvalue".into()),
            }),
            ..StorageConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("GKVISIBLEKEYID"));
        assert!(!shown.contains("topsecretvalue"));
        assert!(!shown.contains("tokenvalue"));
    }

    #[test]
    fn explicit_endpoint_means_path_style() {
        let config = StorageConfig {
            endpoint: Some("http://127.0.0.1:3900/".into()),
            region: Some("garage".into()),
            ignore_environment: true,
            ..StorageConfig::default()
        };
        let resolved = config.resolve().ok();
        assert_eq!(
            resolved.as_ref().map(|r| r.endpoint.as_str()),
            Some("http://127.0.0.1:3900")
        );
        assert_eq!(resolved.map(|r| r.path_style), Some(true));
        let aws = StorageConfig {
            region: Some("eu-west-1".into()),
            ignore_environment: true,
            ..StorageConfig::default()
        }
        .resolve()
        .ok();
        assert_eq!(
            aws.as_ref().map(|r| r.endpoint.as_str()),
            Some("https://s3.eu-west-1.amazonaws.com")
        );
        assert_eq!(aws.map(|r| r.path_style), Some(false));
    }
}
