//! Which messages `tgdl download` takes: media kind, date range, size range, message id
//! range and text.

use anyhow::{Result, bail};
use tgclient::media::{MediaFile, MediaKind};
use tl_types::api::enums;

/// The filters of one run; a message passes when it matches all of them.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Allowed kinds; empty allows every kind.
    pub kinds: Vec<MediaKind>,
    /// Unix seconds, inclusive.
    pub min_date: Option<i64>,
    pub max_date: Option<i64>,
    /// Bytes, inclusive.
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Message ids, inclusive.
    pub min_id: Option<i32>,
    pub max_id: Option<i32>,
    /// Case-insensitive text the message (or its file name) must contain.
    pub text: Option<String>,
}

impl Filters {
    /// Whether `message` (carrying `media`) is wanted.
    pub fn accepts(&self, message: &enums::Message, media: &MediaFile) -> bool {
        let enums::Message::Message(m) = message else {
            return false;
        };
        let date = i64::from(m.date);
        (self.kinds.is_empty() || self.kinds.contains(&media.kind))
            && self.min_date.is_none_or(|d| date >= d)
            && self.max_date.is_none_or(|d| date <= d)
            && self.min_size.is_none_or(|s| media.size >= s)
            && self.max_size.is_none_or(|s| media.size <= s)
            && self.min_id.is_none_or(|id| m.id >= id)
            && self.max_id.is_none_or(|id| m.id <= id)
            && self.text.as_deref().is_none_or(|needle| {
                let needle = needle.to_lowercase();
                m.message.to_lowercase().contains(&needle)
                    || media
                        .file_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(&needle))
            })
    }
}

impl Filters {
    /// A stable digest of what decides which messages are wanted, keying a chat's listing
    /// mark: a rerun with the same filters lists only what is newer than its mark; other
    /// filters want other messages and have a mark of their own. Canonical (kinds sorted
    /// and deduplicated, the match text lowercased as it is compared) and versioned, so
    /// the same filters always give the same digest, across runs and releases.
    ///
    /// In it: the kinds, dates, sizes, ids and match text, each of which changes the set
    /// of messages planned. Not in it: the template and the output directory (they only
    /// say where a file goes: a renamed template or a moved archive does not make old
    /// messages new; `--full` re-lists when that is wanted), nor `--limit`, which cuts a
    /// listing short and so never advances a mark.
    pub fn digest(&self) -> String {
        let mut kinds: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        let size = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let id = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
        // The match text is user input: length-prefixed so that no text can pose as
        // another field.
        let text = self
            .text
            .as_deref()
            .map(|t| {
                let t = t.to_lowercase();
                format!("{}:{t}", t.len())
            })
            .unwrap_or_default();
        let canonical = format!(
            "filters-v1;types={};from={};to={};min_size={};max_size={};min_id={};max_id={};match={text}",
            kinds.join(","),
            number(self.min_date),
            number(self.max_date),
            size(self.min_size),
            size(self.max_size),
            id(self.min_id),
            id(self.max_id),
        );
        let hash = mtcrypto::hash::sha256(canonical.as_bytes());
        format!(
            "v1:{}",
            crate::manifest::hex(hash.get(..16).unwrap_or_default())
        )
    }
}

/// One media kind of `--type` (clap splits the list at commas), as a clap
/// `value_parser`: an unknown kind fails while parsing the command line.
pub fn kind_arg(text: &str) -> Result<MediaKind, String> {
    let name = text.trim();
    MediaKind::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = MediaKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown media type {name:?}; known: {}", known.join(", "))
    })
}

/// [`parse_size`] as a clap `value_parser`.
pub fn size_arg(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|error| error.to_string())
}

/// Parses a size like `1500`, `10KB`, `1.5MiB`, `2G` (K/M/G/T, decimal with `B` after
/// `KB`..`TB`, binary otherwise — `10M` and `10MiB` are 10 x 2^20).
pub fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<f64>() else {
        bail!("invalid size {text:?}: use a number with an optional unit (500K, 10MB, 1.5GiB)");
    };
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        "t" | "tib" => 1024.0_f64.powi(4),
        "tb" => 1e12,
        other => bail!("unknown size unit {other:?} in {text:?}"),
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        bail!("size {text:?} is out of range");
    }
    Ok(bytes.round() as u64)
}

/// Splits a trailing message id range off a target: `t.me/name/100-200` or
/// `@name/100-200` gives (`t.me/name`, 100, 200).
pub fn split_id_range(target: &str) -> Option<(&str, i32, i32)> {
    let (base, last) = target.rsplit_once('/')?;
    let (low, high) = last.split_once('-')?;
    let (low, high) = (low.parse::<i32>().ok()?, high.parse::<i32>().ok()?);
    (low > 0 && low <= high && !base.is_empty()).then_some((base, low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1500").unwrap(), 1500);
        assert_eq!(parse_size("10K").unwrap(), 10 * 1024);
        assert_eq!(parse_size("10KB").unwrap(), 10_000);
        assert_eq!(parse_size("1.5MiB").unwrap(), 1_572_864);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn the_digest_is_canonical_and_tells_filter_sets_apart() {
        let base = Filters::default();
        let photos = Filters {
            kinds: vec![MediaKind::Video, MediaKind::Photo, MediaKind::Video],
            ..Filters::default()
        };
        let same_photos = Filters {
            kinds: vec![MediaKind::Photo, MediaKind::Video],
            ..Filters::default()
        };
        assert_eq!(photos.digest(), same_photos.digest());
        assert_eq!(base.digest(), Filters::default().digest());
        // Pinned: a release that changed it would make every archive re-list in full.
        assert_eq!(base.digest(), "v1:d75d3a76397c9b858f07d2766133c6da");
        let text = |t: &str| Filters {
            text: Some(t.into()),
            ..Filters::default()
        };
        assert_eq!(text("Report").digest(), text("rEPORT").digest());
        let variants = [
            base.digest(),
            photos.digest(),
            text("report").digest(),
            // A match text that looks like another field is still a match text.
            text(";min_id=5").digest(),
            Filters {
                min_id: Some(5),
                ..Filters::default()
            }
            .digest(),
            Filters {
                max_id: Some(5),
                ..Filters::default()
            }
            .digest(),
            Filters {
                min_date: Some(5),
                ..Filters::default()
            }
            .digest(),
            Filters {
                max_date: Some(5),
                ..Filters::default()
            }
            .digest(),
            Filters {
                min_size: Some(5),
                ..Filters::default()
            }
            .digest(),
            Filters {
                max_size: Some(5),
                ..Filters::default()
            }
            .digest(),
        ];
        let distinct: std::collections::HashSet<&String> = variants.iter().collect();
        assert_eq!(distinct.len(), variants.len(), "{variants:?}");
    }

    #[test]
    fn id_ranges_and_kinds() {
        assert_eq!(
            split_id_range("https://t.me/news/10-20"),
            Some(("https://t.me/news", 10, 20))
        );
        assert_eq!(split_id_range("https://t.me/news/20"), None);
        assert_eq!(split_id_range("@news/20-10"), None);
        assert_eq!(kind_arg(" video"), Ok(MediaKind::Video));
        assert!(kind_arg("hologram").is_err_and(|e| e.contains("known: photo")));
    }
}
