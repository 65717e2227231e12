//! The transport kinds and the two roles a codec can play.

/// The framing a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// One length byte (in 4-byte words) for short packets; tag `ef`.
    Abridged,
    /// A 4-byte length before each packet; tag `ee ee ee ee`.
    Intermediate,
    /// Intermediate with random bytes appended to each packet (up to 15; see
    /// [`PaddingStyle`](super::PaddingStyle)); tag `dd dd dd dd`.
    PaddedIntermediate,
    /// Length, sequence number and CRC32 around each packet; no tag, cannot be obfuscated.
    Full,
}

impl TransportKind {
    /// Every kind, for iteration.
    pub const ALL: [TransportKind; 4] = [
        TransportKind::Abridged,
        TransportKind::Intermediate,
        TransportKind::PaddedIntermediate,
        TransportKind::Full,
    ];

    /// The bytes a client sends once, before its first packet, on a plain (not obfuscated)
    /// stream. Empty for [`TransportKind::Full`].
    pub fn init_tag(self) -> &'static [u8] {
        match self {
            TransportKind::Abridged => &[0xef],
            TransportKind::Intermediate => &[0xee; 4],
            TransportKind::PaddedIntermediate => &[0xdd; 4],
            TransportKind::Full => &[],
        }
    }

    /// The tag an obfuscated header carries at bytes 56..60, or `None` for
    /// [`TransportKind::Full`], which has no obfuscated form.
    pub fn obfuscation_tag(self) -> Option<[u8; 4]> {
        match self {
            TransportKind::Abridged => Some([0xef; 4]),
            TransportKind::Intermediate => Some([0xee; 4]),
            TransportKind::PaddedIntermediate => Some([0xdd; 4]),
            TransportKind::Full => None,
        }
    }

    /// The kind named by an obfuscation tag, if it is one of the three known tags.
    pub fn from_obfuscation_tag(tag: [u8; 4]) -> Option<Self> {
        match tag {
            [0xef, 0xef, 0xef, 0xef] => Some(TransportKind::Abridged),
            [0xee, 0xee, 0xee, 0xee] => Some(TransportKind::Intermediate),
            [0xdd, 0xdd, 0xdd, 0xdd] => Some(TransportKind::PaddedIntermediate),
            _ => None,
        }
    }
}

/// Which end of a connection a codec serves.
///
/// The roles are not symmetric: the client sends the init tag and may request quick acks; the
/// server sends quick-ack tokens and transport errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that opened the connection.
    Client,
    /// The end that accepted it.
    Server,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscation_tags_round_trip() {
        for kind in TransportKind::ALL {
            match kind.obfuscation_tag() {
                Some(tag) => assert_eq!(TransportKind::from_obfuscation_tag(tag), Some(kind)),
                None => assert_eq!(kind, TransportKind::Full),
            }
        }
        assert_eq!(
            TransportKind::from_obfuscation_tag([0xef, 0xef, 0xef, 0xee]),
            None
        );
    }

    #[test]
    fn init_tags() {
        assert_eq!(TransportKind::Abridged.init_tag(), [0xef]);
        assert_eq!(TransportKind::Intermediate.init_tag(), [0xee; 4]);
        assert_eq!(TransportKind::PaddedIntermediate.init_tag(), [0xdd; 4]);
        assert!(TransportKind::Full.init_tag().is_empty());
    }
}
