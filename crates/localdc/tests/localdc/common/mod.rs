//! A minimal MTProto client for the integration tests: mtnet's connector and handshake
//! driver, and mtproto's client session on top.
// The test files that declared this module allowed these at their root.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mtcrypto::{AuthKey, RsaPublicKey};
use mtnet::{Carrier, Endpoint, Incoming};
use mtproto::handshake::ClientHandshake;
use mtproto::session::{ClientEvent, ClientSession, RpcError, UnixTime};
use mtproto::transport::TransportKind;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tl_types::api::functions::{InitConnection, InvokeWithLayer};
use tl_types::{Blob, LAYER, Serialize};

/// Every test step is bounded by this.
pub const STEP: Duration = Duration::from_secs(20);

pub fn now() -> UnixTime {
    UnixTime::from_duration(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
}

/// What came in on a test connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Packet(Vec<u8>),
    TransportError(i32),
    QuickAck(u32),
    /// The server closed the connection.
    Closed,
}

/// One client connection: mtnet's packet stream, client role.
pub struct Conn {
    pub reader: mtnet::PacketReader,
    pub writer: mtnet::PacketWriter,
    pub rng: StdRng,
}

impl Conn {
    /// Connects over TCP with `kind`, obfuscated or not.
    pub async fn connect(addr: SocketAddr, kind: TransportKind, obfuscated: bool, dc: i16) -> Self {
        let endpoint = Endpoint::new(addr, dc)
            .with_transport(kind)
            .with_obfuscation(obfuscated);
        Self::open(&endpoint).await
    }

    /// Connects inside a WebSocket (always obfuscated).
    pub async fn connect_websocket(addr: SocketAddr, kind: TransportKind, dc: i16) -> Self {
        let endpoint = Endpoint::new(addr, dc)
            .with_transport(kind)
            .with_carrier(Carrier::websocket());
        Self::open(&endpoint).await
    }

    async fn open(endpoint: &Endpoint) -> Self {
        let (reader, writer) = tokio::time::timeout(STEP, mtnet::connect(endpoint))
            .await
            .expect("connect timed out")
            .expect("connect");
        Self {
            reader,
            writer,
            rng: StdRng::from_entropy(),
        }
    }

    pub async fn send(&mut self, payload: &[u8]) {
        self.writer.send(payload).await.unwrap();
    }

    /// The next frame, or `Closed`; panics after [`STEP`].
    pub async fn recv(&mut self) -> Received {
        let incoming = tokio::time::timeout(STEP, self.reader.recv())
            .await
            .expect("no answer from the server in time");
        match incoming {
            Ok(Incoming::Packet(packet) | Incoming::PacketWithQuickAck(packet)) => {
                Received::Packet(packet)
            }
            Ok(Incoming::TransportError(code)) => Received::TransportError(code),
            Ok(Incoming::QuickAck(token)) => Received::QuickAck(token),
            Err(_) => Received::Closed,
        }
    }

    /// Runs the auth-key handshake for DC `dc_id` against `key` (mtnet's driver).
    pub async fn handshake(&mut self, key: &RsaPublicKey, dc_id: i32) -> Keyed {
        self.try_handshake(key, dc_id).await.expect("handshake")
    }

    pub async fn try_handshake(
        &mut self,
        key: &RsaPublicKey,
        dc_id: i32,
    ) -> Result<Keyed, mtnet::NetError> {
        let handshake = ClientHandshake::new(vec![Box::new(key.clone())], dc_id, None);
        let outcome = mtnet::client_handshake(
            &mut self.reader,
            &mut self.writer,
            handshake,
            &mut self.rng,
            STEP,
        )
        .await?;
        Ok(Keyed {
            auth_key: outcome.auth_key.clone(),
            salt: outcome.server_salt,
            server_time: outcome.server_time,
        })
    }
}

/// What a handshake gave.
#[derive(Clone, Debug)]
pub struct Keyed {
    pub auth_key: AuthKey,
    pub salt: i64,
    pub server_time: i32,
}

/// A session over one connection.
pub struct Client {
    pub conn: Conn,
    pub session: ClientSession,
}

impl Client {
    pub fn new(mut conn: Conn, keyed: &Keyed) -> Self {
        let mut session = ClientSession::new(keyed.auth_key.clone(), keyed.salt, &mut conn.rng);
        session.sync_time(keyed.server_time, now());
        Self { conn, session }
    }

    /// Connects, makes a key and opens a session.
    pub async fn open(
        addr: SocketAddr,
        key: &RsaPublicKey,
        dc_id: i32,
        kind: TransportKind,
        obfuscated: bool,
    ) -> (Self, Keyed) {
        let mut conn = Conn::connect(addr, kind, obfuscated, dc_id as i16).await;
        let keyed = conn.handshake(key, dc_id).await;
        (Self::new(conn, &keyed), keyed)
    }

    /// Sends `body` and waits for its answer.
    pub async fn call(&mut self, body: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let id = self.session.push_request(body).unwrap();
        self.flush().await;
        loop {
            let packet = match self.conn.recv().await {
                Received::Packet(packet) => packet,
                Received::QuickAck(_) => continue,
                other => panic!("connection ended while waiting for an answer: {other:?}"),
            };
            let mut packet = packet;
            let events = self.session.handle_packet(&mut packet, now()).unwrap();
            self.flush().await;
            for event in events {
                if let ClientEvent::Response {
                    id: answered,
                    result,
                } = event
                    && answered == id
                {
                    return result;
                }
            }
        }
    }

    pub async fn flush(&mut self) {
        while let Some(transmit) = self.session.poll_transmit(now(), &mut self.conn.rng) {
            self.conn.send(&transmit.packet).await;
        }
    }
}

/// `invokeWithLayer(LAYER, initConnection(query))`, as clients send their first request.
pub fn with_init(query: Vec<u8>) -> Vec<u8> {
    InvokeWithLayer {
        layer: LAYER,
        query: InitConnection {
            api_id: 4,
            device_model: "test".into(),
            system_version: "linux".into(),
            app_version: "0.1".into(),
            system_lang_code: "en".into(),
            lang_pack: String::new(),
            lang_code: "en".into(),
            proxy: None,
            params: None,
            query: Blob(query),
        },
    }
    .to_bytes()
}

/// `auth.sendCode` for `phone` as the test clients send it (api_id 4, no code options).
pub fn send_code(phone: &str) -> tl_types::api::functions::auth::SendCode {
    use tl_types::api::{functions, types};
    functions::auth::SendCode {
        phone_number: phone.into(),
        api_id: 4,
        api_hash: "x".into(),
        settings: types::CodeSettings {
            allow_flashcall: false,
            current_number: false,
            allow_app_hash: false,
            allow_missed_call: false,
            allow_firebase: false,
            unknown_number: false,
            logout_tokens: None,
            token: None,
            app_sandbox: None,
        }
        .into(),
    }
}
