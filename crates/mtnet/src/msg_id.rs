//! msg_ids for plain (handshake) messages, from the system clock.

use mtproto::session::msg_id_from_time;

use crate::clock::unix_time;

/// Hands out strictly increasing msg_ids close to `unix_time * 2^32`.
///
/// A client's ids are divisible by 4; a server's answers are 1 mod 4, as the protocol
/// requires of each side.
#[derive(Debug, Clone)]
pub struct PlainMsgIds {
    last: i64,
    low_bits: i64,
}

impl PlainMsgIds {
    /// Ids for messages a client sends.
    pub fn client() -> Self {
        Self {
            last: 0,
            low_bits: 0,
        }
    }

    /// Ids for a server's answers to a client's messages.
    pub fn server() -> Self {
        Self {
            last: 0,
            low_bits: 1,
        }
    }

    /// The next id: from the clock, or 4 above the previous one if the clock has not moved
    /// on (or went back).
    pub fn next_id(&mut self) -> i64 {
        let from_clock = msg_id_from_time(unix_time());
        let mut id = (from_clock & !3) | self.low_bits;
        if id <= self.last {
            id = self.last.wrapping_add(4);
        }
        self.last = id;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn ids_increase_with_the_right_low_bits() {
        let mut client = PlainMsgIds::client();
        let mut server = PlainMsgIds::server();
        let mut last = 0;
        for _ in 0..1000 {
            let id = client.next_id();
            assert!(id > last);
            assert_eq!(id % 4, 0);
            last = id;
            assert_eq!(server.next_id() % 4, 1);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(((last >> 32) - now).abs() <= 1);
    }
}
