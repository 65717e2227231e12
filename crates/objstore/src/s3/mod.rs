//! S3 requests OpenDAL does not offer publicly: multipart uploads that a later process
//! continues by upload id, single PUTs and copies that carry a SHA-256 checksum, HEAD with
//! checksums, and conditional create.
//!
//! Requests are signed with reqsign (AWS SigV4, the signer OpenDAL's S3 service uses, fed
//! the same credential chain) and sent through OpenDAL's HTTP transport, so there is one
//! HTTP client and one TLS stack. Payloads are signed: `x-amz-content-sha256` is the
//! body's SHA-256, which the engine already has for every part.

pub(crate) mod xml;

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use opendal::{Buffer, HttpTransporter};
use reqsign_aws_v4::{Credential, RequestSigner};
use reqsign_core::{ProvideCredential, Signer};
use sha2::{Digest, Sha256};

use crate::config::{Resolved, StorageConfig};
use crate::credentials;
use crate::error::ObjError;
use crate::types::{PartReceipt, UploadId};

/// How long one request may take before it counts as a network failure. A part is at most
/// a few tens of MiB, so this is generous even on a slow uplink.
const REQUEST_TIMEOUT: Duration = Duration::from_mins(5);

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A bucket (and the prefix in it) reached with signed requests.
#[derive(Debug)]
pub(crate) struct S3Client {
    http: HttpTransporter,
    signer: Signer<Credential>,
    endpoint: String,
    path_style: bool,
    bucket: String,
    prefix: String,
    /// What errors call this target: `s3://bucket/prefix at endpoint`.
    target: String,
}

/// A request body with its SHA-256 (signed as `x-amz-content-sha256`). Parts and small
/// files come with the hash the engine already computed, so it is not computed twice.
struct Payload {
    bytes: Bytes,
    sha256: [u8; 32],
}

impl Payload {
    fn empty() -> Self {
        Self::hashing(Bytes::new())
    }

    fn hashing(bytes: Bytes) -> Self {
        let sha256 = Sha256::digest(&bytes).into();
        Self { bytes, sha256 }
    }

    fn known(bytes: Bytes, sha256: &[u8; 32]) -> Self {
        Self {
            bytes,
            sha256: *sha256,
        }
    }
}

/// Why a request did not get a 2xx answer.
#[derive(Debug)]
enum Failure {
    /// Not sent: the request could not be built or signed.
    Local(ObjError),
    /// No answer (connection refused or broken, timeout).
    Network(String),
    /// The service's answer: status and S3 error code.
    Status {
        status: u16,
        code: String,
        message: String,
    },
}

/// What HEAD tells about an object.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub size: u64,
    pub meta_sha256: Option<[u8; 32]>,
    /// The service's full-object SHA-256 checksum, when it keeps one.
    pub checksum_sha256: Option<[u8; 32]>,
}

/// The outcome of a PUT with `If-None-Match: *`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Created {
    Yes,
    AlreadyThere,
}

impl S3Client {
    pub(crate) async fn new(
        http: HttpTransporter,
        bucket: &str,
        prefix: &str,
        resolved: &Resolved,
        config: &StorageConfig,
        target: String,
    ) -> Result<Self, ObjError> {
        let ctx = credentials::context(config).with_http_send(http.clone());
        let chain = credentials::chain(config);
        match chain.provide_credential(&ctx).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(ObjError::NoCredentials { target }),
            Err(e) => {
                return Err(ObjError::Config(format!(
                    "loading credentials for {target}: {e}"
                )));
            }
        }
        let signer = Signer::new(ctx, chain, RequestSigner::new("s3", &resolved.region));
        Ok(Self {
            http,
            signer,
            endpoint: resolved.endpoint.clone(),
            path_style: resolved.path_style,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            target,
        })
    }

    /// The object's key in the bucket.
    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn bucket_url(&self) -> String {
        if self.path_style {
            format!("{}/{}", self.endpoint, self.bucket)
        } else {
            match self.endpoint.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{}.{host}", self.bucket),
                None => format!("{}/{}", self.endpoint, self.bucket),
            }
        }
    }

    fn url(&self, key: &str, query: &str) -> String {
        let mut url = format!("{}/{}", self.bucket_url(), encode_key(&self.full_key(key)));
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// Signs and sends one request; `Ok` only for a 2xx answer.
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: String,
        headers: &[(&str, String)],
        body: Payload,
        key: &str,
    ) -> Result<http::Response<Bytes>, ObjError> {
        self.send_raw(operation, method, url, headers, body)
            .await
            .map_err(|failure| self.classify(failure, key))
    }

    /// `send` with the failure as the service gave it, for callers that expect some.
    async fn send_raw(
        &self,
        operation: &'static str,
        method: Method,
        url: String,
        headers: &[(&str, String)],
        body: Payload,
    ) -> Result<http::Response<Bytes>, Failure> {
        let Payload {
            bytes: body,
            sha256,
        } = body;
        let payload_sha = hex::encode(sha256);
        let mut builder = Request::builder()
            .method(method)
            .uri(url)
            .header("x-amz-content-sha256", payload_sha)
            .header(http::header::CONTENT_LENGTH, body.len());
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let request = builder.body(Buffer::from(body)).map_err(|e| {
            Failure::Local(self.protocol(operation, format!("building the request: {e}")))
        })?;
        let (mut parts, body) = request.into_parts();
        self.signer.sign(&mut parts, None).await.map_err(|e| {
            Failure::Local(ObjError::Config(format!(
                "signing a request to {}: {e}",
                self.target
            )))
        })?;
        // The HTTP client writes Host itself (as OpenDAL's S3 service does).
        parts.headers.remove(http::header::HOST);
        let sent = tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.http.send(Request::from_parts(parts, body)),
        )
        .await;
        let response = match sent {
            Err(_) => return Err(Failure::Network(format!("{operation} timed out"))),
            Ok(Err(e)) => return Err(Failure::Network(format!("{operation}: {e}"))),
            Ok(Ok(response)) => response,
        };
        let (head, body) = response.into_parts();
        let body = body.to_bytes();
        if head.status.is_success() {
            return Ok(http::Response::from_parts(head, body));
        }
        let doc: xml::ErrorDoc = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| quick_xml::de::from_str(text).ok())
            .unwrap_or_default();
        Err(Failure::Status {
            status: head.status.as_u16(),
            code: doc.code,
            message: doc.message,
        })
    }

    /// One table from (status, S3 error code) to what it means for tgdl.
    fn classify(&self, failure: Failure, key: &str) -> ObjError {
        let target = self.target.clone();
        let (status, code, message) = match failure {
            Failure::Local(e) => return e,
            Failure::Network(message) => return ObjError::Network { target, message },
            Failure::Status {
                status,
                code,
                message,
            } => (status, code, message),
        };
        let code = if code.is_empty() {
            StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_owned()
        } else {
            code
        };
        // Garage answers a full quota with 403 AccessDenied "... quota is reached ...".
        let quota = message.to_ascii_lowercase().contains("quota");
        match (status, code.as_str()) {
            (_, "NoSuchBucket") => ObjError::BucketMissing {
                bucket: self.bucket.clone(),
                endpoint: self.endpoint.clone(),
            },
            (_, "NoSuchKey") => ObjError::NotFound {
                key: key.to_owned(),
            },
            // The body does not match the checksum or signed payload hash sent with it.
            (_, "BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch") => {
                ObjError::ChecksumMismatch {
                    key: key.to_owned(),
                    expected: "the checksum sent".to_owned(),
                    actual: format!("refused by the service ({code}: {message})"),
                }
            }
            (_, "QuotaExceeded" | "XMinioStorageFull" | "StorageFull") | (507, _) => {
                ObjError::Refused {
                    target,
                    code,
                    message,
                }
            }
            (403, _) if quota => ObjError::Refused {
                target,
                code,
                message,
            },
            (401 | 403, _)
            | (
                _,
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AuthorizationHeaderMalformed",
            ) => ObjError::CredentialsRefused { target, code },
            (404, "NoSuchUpload") => ObjError::UploadGone {
                key: key.to_owned(),
                upload_id: String::new(),
            },
            (500..=599, _) => ObjError::Unavailable {
                target,
                status,
                code,
                message,
            },
            _ => ObjError::Other {
                target,
                operation: "request",
                message: format!("{status} {code}: {message}"),
            },
        }
    }

    fn protocol(&self, operation: &'static str, message: String) -> ObjError {
        ObjError::Protocol {
            target: self.target.clone(),
            operation,
            message,
        }
    }

    /// Lists at most one key: proves the bucket exists and the credentials are accepted.
    pub(crate) async fn check_bucket(&self) -> Result<(), ObjError> {
        let mut query = String::from("list-type=2&max-keys=1");
        if !self.prefix.is_empty() {
            query.push_str("&prefix=");
            query.push_str(&encode_query(&format!("{}/", self.prefix)));
        }
        let url = format!("{}/?{query}", self.bucket_url());
        self.send("ListObjectsV2", Method::GET, url, &[], Payload::empty(), "")
            .await
            .map(drop)
    }

    /// A single PUT carrying the body's SHA-256 as checksum (the service refuses the body
    /// if it does not match) and as `sha256` metadata.
    pub(crate) async fn put_object(
        &self,
        key: &str,
        body: Bytes,
        sha256: &[u8; 32],
        if_none_match: bool,
    ) -> Result<Created, ObjError> {
        let mut headers = vec![
            ("x-amz-checksum-sha256", b64(sha256)),
            ("x-amz-meta-sha256", hex::encode(sha256)),
        ];
        if if_none_match {
            headers.push(("if-none-match", "*".to_owned()));
        }
        let url = self.url(key, "");
        match self
            .send_raw(
                "PutObject",
                Method::PUT,
                url,
                &headers,
                Payload::known(body, sha256),
            )
            .await
        {
            Ok(_) => Ok(Created::Yes),
            // 412: the key exists; 409: another conditional write to it is under way.
            Err(Failure::Status {
                status: 412 | 409, ..
            }) if if_none_match => Ok(Created::AlreadyThere),
            Err(failure) => Err(self.classify(failure, key)),
        }
    }

    pub(crate) async fn head(&self, key: &str) -> Result<Option<Head>, ObjError> {
        let url = self.url(key, "");
        let headers = [("x-amz-checksum-mode", "ENABLED".to_owned())];
        match self
            .send_raw("HeadObject", Method::HEAD, url, &headers, Payload::empty())
            .await
        {
            Ok(response) => Ok(Some(parse_head(response.headers()))),
            // HEAD has no body, so a missing key and a missing bucket look alike; the
            // bucket was checked when the target was opened.
            Err(Failure::Status { status: 404, .. }) => Ok(None),
            Err(failure) => Err(self.classify(failure, key)),
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), ObjError> {
        let url = self.url(key, "");
        match self
            .send(
                "DeleteObject",
                Method::DELETE,
                url,
                &[],
                Payload::empty(),
                key,
            )
            .await
        {
            Ok(_) | Err(ObjError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// CreateMultipartUpload with SHA-256 part checksums: the service checks every part
    /// against the checksum sent with it, and the list of them at completion.
    pub(crate) async fn create_multipart(&self, key: &str) -> Result<UploadId, ObjError> {
        let url = self.url(key, "uploads");
        let headers = [("x-amz-checksum-algorithm", "SHA256".to_owned())];
        let response = self
            .send(
                "CreateMultipartUpload",
                Method::POST,
                url,
                &headers,
                Payload::empty(),
                key,
            )
            .await?;
        let text = std::str::from_utf8(response.body())
            .map_err(|e| self.protocol("CreateMultipartUpload", e.to_string()))?;
        let doc: xml::InitiateResult = quick_xml::de::from_str(text)
            .map_err(|e| self.protocol("CreateMultipartUpload", e.to_string()))?;
        if doc.upload_id.is_empty() {
            return Err(self.protocol("CreateMultipartUpload", "empty UploadId".to_owned()));
        }
        Ok(UploadId(doc.upload_id))
    }

    fn upload_query(upload: &UploadId) -> String {
        format!("uploadId={}", encode_query(upload.as_str()))
    }

    /// Names the upload in an `UploadGone` (any 404 about an upload means it is gone).
    fn gone(e: ObjError, key: &str, upload: &UploadId) -> ObjError {
        match e {
            ObjError::NotFound { .. } | ObjError::UploadGone { .. } => ObjError::UploadGone {
                key: key.to_owned(),
                upload_id: upload.0.clone(),
            },
            e => e,
        }
    }

    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload: &UploadId,
        number: u32,
        body: Bytes,
        sha256: &[u8; 32],
    ) -> Result<PartReceipt, ObjError> {
        let size = body.len() as u64;
        let url = self.url(
            key,
            &format!("partNumber={number}&{}", Self::upload_query(upload)),
        );
        let headers = [("x-amz-checksum-sha256", b64(sha256))];
        let response = self
            .send(
                "UploadPart",
                Method::PUT,
                url,
                &headers,
                Payload::known(body, sha256),
                key,
            )
            .await
            .map_err(|e| Self::gone(e, key, upload))?;
        let etag = response
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol("UploadPart", "no ETag in the answer".to_owned()))?
            .to_owned();
        Ok(PartReceipt {
            number,
            etag,
            sha256: *sha256,
            size,
        })
    }

    /// Every part the service has for this upload, in order, across pages.
    pub(crate) async fn list_parts(
        &self,
        key: &str,
        upload: &UploadId,
    ) -> Result<Vec<PartReceipt>, ObjError> {
        let mut parts = Vec::new();
        let mut marker = 0u32;
        loop {
            let url = self.url(
                key,
                &format!(
                    "max-parts=1000&part-number-marker={marker}&{}",
                    Self::upload_query(upload)
                ),
            );
            let response = self
                .send("ListParts", Method::GET, url, &[], Payload::empty(), key)
                .await
                .map_err(|e| Self::gone(e, key, upload))?;
            let text = std::str::from_utf8(response.body())
                .map_err(|e| self.protocol("ListParts", e.to_string()))?;
            let page: xml::ListPartsResult = quick_xml::de::from_str(text)
                .map_err(|e| self.protocol("ListParts", e.to_string()))?;
            for part in page.part {
                let sha256 = part
                    .checksum_sha256
                    .as_deref()
                    .and_then(decode_sha256)
                    .ok_or_else(|| {
                        self.protocol(
                            "ListParts",
                            format!("part {} has no SHA-256 checksum", part.part_number),
                        )
                    })?;
                parts.push(PartReceipt {
                    number: part.part_number,
                    etag: part.etag,
                    sha256,
                    size: part.size,
                });
            }
            match page.next_part_number_marker {
                Some(next) if page.is_truncated && next > marker => marker = next,
                _ => break,
            }
            if parts.len() > crate::types::S3_MAX_PARTS as usize {
                return Err(self.protocol("ListParts", "more parts than S3 allows".to_owned()));
            }
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    pub(crate) async fn complete(
        &self,
        key: &str,
        upload: &UploadId,
        parts: &[PartReceipt],
    ) -> Result<(), ObjError> {
        let url = self.url(key, &Self::upload_query(upload));
        let body = Payload::hashing(Bytes::from(xml::complete_body(parts)));
        let response = self
            .send(
                "CompleteMultipartUpload",
                Method::POST,
                url,
                &[("content-type", "application/xml".to_owned())],
                body,
                key,
            )
            .await
            .map_err(|e| Self::gone(e, key, upload))?;
        self.check_200_body(response.body(), key)
    }

    /// A 200 whose body is an `<Error>` (CompleteMultipartUpload, CopyObject) is a failure.
    fn check_200_body(&self, body: &[u8], key: &str) -> Result<(), ObjError> {
        match std::str::from_utf8(body).ok().and_then(xml::error_in_body) {
            Some(doc) => Err(self.classify(
                Failure::Status {
                    status: 500,
                    code: doc.code,
                    message: doc.message,
                },
                key,
            )),
            None => Ok(()),
        }
    }

    pub(crate) async fn abort(&self, key: &str, upload: &UploadId) -> Result<(), ObjError> {
        let url = self.url(key, &Self::upload_query(upload));
        match self
            .send(
                "AbortMultipartUpload",
                Method::DELETE,
                url,
                &[],
                Payload::empty(),
                key,
            )
            .await
            .map_err(|e| Self::gone(e, key, upload))
        {
            Ok(_) | Err(ObjError::UploadGone { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// CopyObject with new metadata (`sha256`) and a full-object SHA-256 checksum the
    /// service computes while copying.
    pub(crate) async fn copy(
        &self,
        from: &str,
        to: &str,
        sha256: &[u8; 32],
    ) -> Result<(), ObjError> {
        let source = format!("/{}/{}", self.bucket, encode_key(&self.full_key(from)));
        let headers = [
            ("x-amz-copy-source", source),
            ("x-amz-metadata-directive", "REPLACE".to_owned()),
            ("x-amz-meta-sha256", hex::encode(sha256)),
            ("x-amz-checksum-algorithm", "SHA256".to_owned()),
        ];
        let url = self.url(to, "");
        let response = self
            .send(
                "CopyObject",
                Method::PUT,
                url,
                &headers,
                Payload::empty(),
                from,
            )
            .await?;
        self.check_200_body(response.body(), to)
    }
}

fn parse_head(headers: &HeaderMap) -> Head {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let size = text("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let meta_sha256 = text("x-amz-meta-sha256").and_then(|v| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(v, &mut out).ok().map(|()| out)
    });
    // A composite checksum (of the parts' checksums) is not the file's hash.
    let composite =
        text("x-amz-checksum-type").is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE"));
    let checksum_sha256 = if composite {
        None
    } else {
        text("x-amz-checksum-sha256").and_then(decode_sha256)
    };
    Head {
        size,
        meta_sha256,
        checksum_sha256,
    }
}

/// A base64 SHA-256 as S3 sends it; `None` for a composite value (`...-N`) or garbage.
pub(crate) fn decode_sha256(value: &str) -> Option<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    bytes.try_into().ok()
}

/// Percent-encodes a key for the path: everything but RFC 3986's unreserved characters and
/// the slash (S3 signs the path encoded once).
pub(crate) fn encode_key(key: &str) -> String {
    encode(key, true)
}

fn encode_query(value: &str) -> String {
    encode(value, false)
}

fn encode(value: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_once_with_slashes_kept() {
        assert_eq!(encode_key("a b/ü+x.jpg"), "a%20b/%C3%BC%2Bx.jpg");
        assert_eq!(encode_query("a/b=c"), "a%2Fb%3Dc");
    }

    #[test]
    fn head_tells_full_object_from_composite_checksums() {
        let sha = [7u8; 32];
        let mut headers = HeaderMap::new();
        headers.insert("content-length", "12".parse().unwrap());
        headers.insert("x-amz-meta-sha256", hex::encode(sha).parse().unwrap());
        headers.insert("x-amz-checksum-sha256", b64(&sha).parse().unwrap());
        headers.insert("x-amz-checksum-type", "FULL_OBJECT".parse().unwrap());
        let head = parse_head(&headers);
        assert_eq!(head.size, 12);
        assert_eq!(head.meta_sha256, Some(sha));
        assert_eq!(head.checksum_sha256, Some(sha));
        headers.insert("x-amz-checksum-type", "COMPOSITE".parse().unwrap());
        assert_eq!(parse_head(&headers).checksum_sha256, None);
        assert_eq!(decode_sha256(&format!("{}-3", b64(&sha))), None);
    }
}
