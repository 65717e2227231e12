//! Base64 as Telegram's shareable secrets are written: MTProxy secrets in links and config
//! files, and other clients' session strings. Either alphabet (URL-safe or standard; links
//! use the first, configs often the second), `=` padding optional but complete when there,
//! and non-zero trailing bits ignored as the decoders of the apps that write them do.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        // As Python's decoder (Telethon, Pyrogram) and Qt's (Telegram Desktop's links) do.
        .with_decode_allow_trailing_bits(true),
);

/// The bytes `text` encodes, or `None` if it is not base64. Both the text's copy in the
/// URL-safe alphabet and the result are wiped when dropped: they are secrets.
pub fn decode_lenient(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let body = text.trim_end_matches('=');
    // Padding, when there is any, must complete the last group of four.
    if body.len() != text.len() && !text.len().is_multiple_of(4) {
        return None;
    }
    let url_safe: Zeroizing<String> = Zeroizing::new(
        body.chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect(),
    );
    LENIENT.decode(url_safe.as_bytes()).ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::decode_lenient;

    #[test]
    fn decodes_rfc_4648_vectors_in_either_alphabet_with_and_without_padding() {
        for (text, bytes) in [
            ("", &b""[..]),
            ("Zg==", b"f"),
            ("Zg", b"f"),
            ("Zm8=", b"fo"),
            ("Zm8", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg", b"foob"),
            ("Zm9vYmFy", b"foobar"),
            ("-_-_", &[0xfb, 0xff, 0xbf]),
            ("+/+/", &[0xfb, 0xff, 0xbf]),
        ] {
            assert_eq!(decode_lenient(text).unwrap().as_slice(), bytes, "{text}");
        }
    }

    #[test]
    fn ignores_trailing_bits_and_refuses_what_no_encoder_writes() {
        assert_eq!(decode_lenient("Zh==").unwrap().as_slice(), b"f");
        for text in ["Z", "Zg=", "Zg===", "Zm9v=", "Zm9v!", "Zm!v", "Z=g="] {
            assert!(decode_lenient(text).is_none(), "{text}");
        }
    }
}
