#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Packets replayed, addressed to another session, or damaged on the way: refused or
//! ignored, and the session carries on with the next good packet as if nothing happened.

use mtcrypto::AuthKey;
use mtproto::session::{
    ClientEvent, ClientSession, SaltSchedule, ServerEvent, ServerSession, SessionError, UnixTime,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

const API_CALL: u32 = 0x7e57_0001;

struct Pair {
    rng: ChaCha20Rng,
    salts: SaltSchedule,
    client: ClientSession,
    server: ServerSession,
    now: UnixTime,
    key: AuthKey,
}

impl Pair {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut bytes = [0; 256];
        rng.fill_bytes(&mut bytes);
        let key = AuthKey::from_bytes(bytes);
        let now = UnixTime::from_secs(1_700_000_000);
        let salts = SaltSchedule::new(&mut rng);
        let client = ClientSession::new(key.clone(), salts.current(now), &mut rng);
        let server = ServerSession::new(key.clone(), client.session_id(), &mut rng);
        Self {
            rng,
            salts,
            client,
            server,
            now,
            key,
        }
    }

    fn request(&mut self, n: u32) -> Vec<u8> {
        let mut body = API_CALL.to_le_bytes().to_vec();
        body.extend_from_slice(&n.to_le_bytes());
        self.client.push_request(body).unwrap();
        self.client
            .poll_transmit(self.now, &mut self.rng)
            .unwrap()
            .packet
    }

    fn serve(&mut self, packet: &[u8]) -> Result<Vec<ServerEvent>, SessionError> {
        let mut packet = packet.to_vec();
        self.server
            .handle_packet(&mut packet, &self.salts, self.now)
    }

    fn answer(&mut self, events: &[ServerEvent]) -> Vec<u8> {
        for event in events {
            if let ServerEvent::Request { msg_id, body } = event {
                self.server.respond(*msg_id, Ok(body.clone())).unwrap();
            }
        }
        self.server
            .poll_transmit(&self.salts, self.now, &mut self.rng)
            .unwrap()
    }

    fn deliver(&mut self, packet: &[u8]) -> Result<Vec<ClientEvent>, SessionError> {
        let mut packet = packet.to_vec();
        self.client.handle_packet(&mut packet, self.now)
    }
}

fn requests(events: &[ServerEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Request { .. }))
        .count()
}

fn responses(events: &[ClientEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Response { .. }))
        .count()
}

#[test]
fn replayed_packets_are_ignored() {
    let mut pair = Pair::new(1);
    let up = pair.request(1);
    let events = pair.serve(&up).unwrap();
    assert_eq!(requests(&events), 1);
    let down = pair.answer(&events);
    // The same client packet again: nothing for the application, nothing to send (the
    // answer is still unacknowledged, so it goes again under its own msg_id, which the
    // client recognizes).
    assert_eq!(pair.serve(&up).unwrap(), vec![]);
    let resent = pair
        .server
        .poll_transmit(&pair.salts, pair.now, &mut pair.rng);
    assert_eq!(responses(&pair.deliver(&down).unwrap()), 1);
    // The same server packet again is refused.
    assert!(matches!(
        pair.deliver(&down),
        Err(SessionError::Duplicate { .. })
    ));
    // The answer sent again is taken as a duplicate: acknowledged, not reported.
    if let Some(resent) = resent {
        assert_eq!(pair.deliver(&resent).unwrap(), vec![]);
    }
    // Still working both ways.
    let up = pair.request(2);
    let events = pair.serve(&up).unwrap();
    assert_eq!(requests(&events), 1);
    let down = pair.answer(&events);
    assert_eq!(responses(&pair.deliver(&down).unwrap()), 1);
}

#[test]
fn packets_of_another_session_are_refused() {
    let mut pair = Pair::new(2);
    let mut other = ClientSession::new(pair.key.clone(), pair.client.salt(), &mut pair.rng);
    other.push_request(API_CALL.to_le_bytes().to_vec()).unwrap();
    let mut foreign = other.poll_transmit(pair.now, &mut pair.rng).unwrap().packet;
    assert!(matches!(
        pair.server
            .handle_packet(&mut foreign, &pair.salts, pair.now),
        Err(SessionError::WrongSession { .. })
    ));
    // A server packet for our session, handed to the other client.
    let up = pair.request(1);
    let events = pair.serve(&up).unwrap();
    let mut down = pair.answer(&events);
    assert!(matches!(
        other.handle_packet(&mut down.clone(), pair.now),
        Err(SessionError::WrongSession { .. })
    ));
    assert_eq!(
        responses(&pair.client.handle_packet(&mut down, pair.now).unwrap()),
        1
    );
}

#[test]
fn damaged_packets_are_refused_and_the_session_survives() {
    let mut pair = Pair::new(3);
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let up = pair.request(1);
    for _ in 0..500 {
        let mut bad = up.clone();
        let at = rng.next_u32() as usize % bad.len();
        bad[at] ^= 1 << (rng.next_u32() % 8);
        assert!(pair.serve(&bad).is_err(), "flip at {at} accepted");
    }
    for len in [0, 7, 8, 40, 72, up.len() - 16] {
        assert!(pair.serve(&up[..len]).is_err(), "truncated to {len}");
    }
    let mut longer = up.clone();
    longer.extend_from_slice(&[0; 16]);
    assert!(pair.serve(&longer).is_err());
    let events = pair.serve(&up).unwrap();
    assert_eq!(requests(&events), 1, "the intact packet still counts, once");

    let down = pair.answer(&events);
    for _ in 0..500 {
        let mut bad = down.clone();
        let at = rng.next_u32() as usize % bad.len();
        bad[at] ^= 1 << (rng.next_u32() % 8);
        assert!(pair.deliver(&bad).is_err(), "flip at {at} accepted");
    }
    assert!(pair.deliver(&down[..down.len() - 16]).is_err());
    let events = pair.deliver(&down).unwrap();
    assert_eq!(responses(&events), 1);
    assert_eq!(pair.client.pending_requests(), 0);
}
