//! The few S3 XML documents the multipart module reads and writes.
//!
//! Answers are parsed with quick-xml's serde reader (OpenDAL already pulls it in) into
//! structs that keep only the fields used; bodies are bounded by the caller.

use std::fmt::Write as _;

use serde::Deserialize;

use crate::types::PartReceipt;

/// `<Error><Code>..</Code><Message>..</Message></Error>`
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ErrorDoc {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// The answer to CreateMultipartUpload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InitiateResult {
    pub upload_id: String,
}

/// The answer to ListParts (one page).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListPartsResult {
    #[serde(default)]
    pub part: Vec<PartDoc>,
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default)]
    pub next_part_number_marker: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PartDoc {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "ChecksumSHA256", default)]
    pub checksum_sha256: Option<String>,
}

/// The body of CompleteMultipartUpload: the parts in order with their ETags and checksums.
pub(crate) fn complete_body(parts: &[PartReceipt]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    );
    for part in parts {
        // Writing to a String cannot fail.
        let _ = write!(
            body,
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag><ChecksumSHA256>{}</ChecksumSHA256></Part>",
            part.number,
            escape(&part.etag),
            crate::s3::b64(&part.sha256),
        );
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

/// Whether a 200 answer is in fact an error: CompleteMultipartUpload and CopyObject may
/// fail after the status line was sent, with an `<Error>` document as the body.
pub(crate) fn error_in_body(body: &str) -> Option<ErrorDoc> {
    let start = body.trim_start();
    let start = match start.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, r)| r).trim_start(),
        None => start,
    };
    if start.starts_with("<Error>") || start.starts_with("<Error ") {
        Some(quick_xml::de::from_str(body).unwrap_or_default())
    } else {
        None
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_list_parts_with_checksums() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key>
<UploadId>abc</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>
<MaxParts>1000</MaxParts><IsTruncated>true</IsTruncated>
<Part><PartNumber>1</PartNumber><LastModified>2026-12-06T02:00:00.000Z</LastModified><ETag>"e1"</ETag><Size>5242880</Size><ChecksumSHA256>AAAA</ChecksumSHA256></Part>
<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag><Size>7</Size></Part>
</ListPartsResult>"#;
        let parsed: ListPartsResult = quick_xml::de::from_str(doc).unwrap();
        assert!(parsed.is_truncated);
        assert_eq!(parsed.next_part_number_marker, Some(2));
        assert_eq!(parsed.part.len(), 2);
        assert_eq!(parsed.part[0].etag, "\"e1\"");
        assert_eq!(parsed.part[0].size, 5_242_880);
        assert_eq!(parsed.part[0].checksum_sha256.as_deref(), Some("AAAA"));
        assert_eq!(parsed.part[1].etag, "\"e2\"");
        assert_eq!(parsed.part[1].checksum_sha256, None);
    }

    #[test]
    fn reads_an_empty_list_and_an_upload_id() {
        let parsed: ListPartsResult = quick_xml::de::from_str(
            "<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>",
        )
        .unwrap();
        assert!(parsed.part.is_empty());
        let init: InitiateResult = quick_xml::de::from_str(
            "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>0f1e</UploadId></InitiateMultipartUploadResult>",
        )
        .unwrap();
        assert_eq!(init.upload_id, "0f1e");
    }

    #[test]
    fn finds_an_error_behind_a_200() {
        let err = error_in_body(
            "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>later</Message></Error>",
        )
        .unwrap();
        assert_eq!(err.code, "InternalError");
        assert_eq!(err.message, "later");
        assert!(error_in_body("<CompleteMultipartUploadResult/>").is_none());
    }

    #[test]
    fn complete_body_lists_parts_in_order() {
        let parts = [
            PartReceipt {
                number: 1,
                etag: "\"a&b\"".into(),
                sha256: [0; 32],
                size: 5,
            },
            PartReceipt {
                number: 2,
                etag: "\"c\"".into(),
                sha256: [255; 32],
                size: 1,
            },
        ];
        let body = complete_body(&parts);
        assert!(body.contains("<Part><PartNumber>1</PartNumber><ETag>\"a&amp;b\"</ETag>"));
        assert!(body.find("<PartNumber>1<").unwrap() < body.find("<PartNumber>2<").unwrap());
        assert!(body.contains(&crate::s3::b64(&[255; 32])));
    }
}
