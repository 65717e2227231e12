//! The sender task over in-memory pipes with paused time: every deadline (ping, pong,
//! backoff) is reached by tokio's auto-advance, so these run in milliseconds and do not
//! depend on the machine's load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mtcrypto::AuthKey;
use mtproto::session::{
    ClientSession, Delivery, RpcError, SaltSchedule, ServerEvent, ServerSession,
};
use mtproto::transport::{DEFAULT_MAX_PACKET, TransportKind};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tl_types::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::config::SenderConfig;
use super::connection::{Connection, Dial, Opened};
use super::error::InvokeError;
use super::handle::SenderStatus;
use super::task::{Command, Task};
use crate::NetError;
use crate::clock::unix_time;
use crate::connect::{Carrier, Endpoint};
use crate::framed::{Framing, PacketReader, PacketWriter};

const SESSION_ID: i64 = 0x5e55_1011;
const INTERVAL: Duration = Duration::from_secs(15);
const PONG_TIMEOUT: Duration = Duration::from_secs(20);

/// The server's halves of a connection the sender opened.
type ServerSide = (PacketReader, PacketWriter);

/// Opens in-memory connections and hands their server side to the test.
struct Pipes {
    servers: mpsc::UnboundedSender<ServerSide>,
}

impl Dial for Pipes {
    fn dial<'a>(
        &'a self,
        _endpoints: &'a [Endpoint],
        preferred: usize,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Opened, NetError>> + Send + 'a>> {
        Box::pin(async move {
            let (client, server) = pipe();
            self.servers.send(server).map_err(|_| NetError::Closed)?;
            Ok((preferred, client.0, client.1))
        })
    }
}

fn pipe() -> ((PacketReader, PacketWriter), ServerSide) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let client = Framing::client(TransportKind::Intermediate, DEFAULT_MAX_PACKET).split(client);
    let server = Framing::server(TransportKind::Intermediate, DEFAULT_MAX_PACKET).split(server);
    (client, server)
}

/// The DC's side of the session, answering as the test tells it.
struct Dc {
    session: ServerSession,
    salts: SaltSchedule,
    rng: StdRng,
}

impl Dc {
    /// Reads one packet and returns what it asked for.
    async fn receive(&mut self, reader: &mut PacketReader) -> Vec<ServerEvent> {
        let mut packet = reader.recv_packet().await.unwrap();
        self.session
            .handle_packet(&mut packet, &self.salts, unix_time())
            .unwrap()
    }

    /// Sends everything the session has (pongs, answers, acknowledgments).
    async fn flush(&mut self, writer: &mut PacketWriter) {
        while let Some(packet) = self
            .session
            .poll_transmit(&self.salts, unix_time(), &mut self.rng)
        {
            writer.send(&packet).await.unwrap();
        }
    }
}

struct Rig {
    commands: mpsc::Sender<Command>,
    status: Arc<Mutex<SenderStatus>>,
    servers: mpsc::UnboundedReceiver<ServerSide>,
    dc: Dc,
}

impl Rig {
    /// A sender task on an in-memory connection to endpoint 0 of `endpoints`.
    fn start(endpoints: Vec<Endpoint>) -> Rig {
        let mut rng = StdRng::seed_from_u64(7);
        let key = AuthKey::from_bytes([0x42; 256]);
        let salts = SaltSchedule::new(&mut rng);
        let dc = Dc {
            session: ServerSession::new(key.clone(), SESSION_ID, &mut rng),
            salts,
            rng: StdRng::seed_from_u64(8),
        };
        let session =
            ClientSession::with_session_id(key, dc.salts.current(unix_time()), SESSION_ID);
        let mut config = SenderConfig::new(endpoints, 2, Vec::new());
        config.ping_interval = INTERVAL;
        config.pong_timeout = PONG_TIMEOUT;
        let (commands, command_rx) = mpsc::channel(16);
        let (updates, _) = mpsc::channel(16);
        let status = Arc::new(Mutex::new(SenderStatus::default()));
        let (servers_tx, servers) = mpsc::unbounded_channel();
        let pipes = Pipes {
            servers: servers_tx,
        };
        let (client, server) = pipe();
        pipes.servers.send(server).unwrap();
        let task = Task::new(
            config,
            session,
            command_rx,
            updates,
            Arc::clone(&status),
            StdRng::seed_from_u64(9),
            Box::new(pipes),
        );
        tokio::spawn(task.run(Connection::new(client.0, client.1, 0)));
        Rig {
            commands,
            status,
            servers,
            dc,
        }
    }

    async fn invoke(&self, body: Vec<u8>) -> oneshot::Receiver<Result<Vec<u8>, InvokeError>> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Invoke {
                body,
                delivery: Delivery::Idempotent,
                reply,
            })
            .await
            .unwrap();
        answer
    }

    fn status(&self) -> SenderStatus {
        self.status.lock().unwrap().clone()
    }
}

fn endpoint(port: u16) -> Endpoint {
    Endpoint::new(std::net::SocketAddr::from(([127, 0, 0, 1], port)), 2)
}

fn call() -> Vec<u8> {
    tl_types::api::functions::help::GetNearestDc {}.to_bytes()
}

/// Pings, each answered, arrive at once and then every interval; nothing else happens.
#[tokio::test(start_paused = true)]
async fn pings_go_every_interval_while_pongs_come() {
    let mut rig = Rig::start(vec![endpoint(1)]);
    let (mut reader, mut writer) = rig.servers.recv().await.unwrap();
    let started = Instant::now();
    let mut pings = Vec::new();
    // Halfway between the fourth ping and the fifth.
    let window = INTERVAL * 7 / 2;
    let _ = tokio::time::timeout(window, async {
        loop {
            for event in rig.dc.receive(&mut reader).await {
                if let ServerEvent::DisconnectAfter { delay } = event {
                    assert_eq!(delay, INTERVAL + PONG_TIMEOUT);
                    pings.push(Instant::now() - started);
                }
            }
            rig.dc.flush(&mut writer).await;
        }
    })
    .await;
    let expected: Vec<Duration> = (0..4).map(|n| INTERVAL * n).collect();
    assert_eq!(pings.len(), expected.len(), "{pings:?}");
    for (at, due) in pings.iter().zip(&expected) {
        // The timer wheel counts whole milliseconds.
        assert!(
            at.checked_sub(*due)
                .is_some_and(|late| late < Duration::from_millis(5)),
            "{pings:?}"
        );
    }
    assert!(rig.servers.try_recv().is_err(), "no reconnection");
}

/// A connection whose pings go unanswered is replaced when the pong deadline passes, through
/// the next endpoint; the call in flight goes again on the new connection and is answered.
#[tokio::test(start_paused = true)]
async fn a_missing_pong_is_a_stall_the_next_endpoint_takes_over_and_calls_go_again() {
    let mut rig = Rig::start(vec![
        endpoint(1),
        endpoint(2).with_carrier(Carrier::websocket()),
    ]);
    let (mut reader, _writer) = rig.servers.recv().await.unwrap();
    let answer = rig.invoke(call()).await;
    // The ping and the call arrive; the DC stays silent.
    let mut requests = 0;
    let mut pinged = None;
    while requests == 0 || pinged.is_none() {
        for event in rig.dc.receive(&mut reader).await {
            match event {
                ServerEvent::Request { .. } => requests += 1,
                ServerEvent::DisconnectAfter { .. } => pinged = Some(Instant::now()),
                _ => {}
            }
        }
    }
    let (mut reader, mut writer) = rig.servers.recv().await.unwrap();
    let silent = Instant::now() - pinged.unwrap();
    let backoff_max = SenderConfig::new(Vec::new(), 2, Vec::new()).backoff.max;
    assert!(
        silent >= PONG_TIMEOUT && silent <= PONG_TIMEOUT + backoff_max,
        "{silent:?}"
    );
    let status = rig.status();
    assert_eq!(status.endpoint, Some(1), "the next endpoint goes first");
    assert_eq!(status.connections, 1);
    // The call goes again on the new connection, with a new ping.
    let mut answered = false;
    let mut pinged = false;
    while !(answered && pinged) {
        for event in rig.dc.receive(&mut reader).await {
            match event {
                ServerEvent::Request { msg_id, body } => {
                    assert_eq!(body, call());
                    rig.dc
                        .session
                        .respond(msg_id, Ok(vec![1, 2, 3, 4]))
                        .unwrap();
                    answered = true;
                }
                ServerEvent::DisconnectAfter { .. } => pinged = true,
                _ => {}
            }
        }
        rig.dc.flush(&mut writer).await;
    }
    assert_eq!(answer.await.unwrap().unwrap(), vec![1, 2, 3, 4]);
}

/// Over an HTTP endpoint the server can only answer requests: a long poll goes at once and
/// rides along with every call.
#[tokio::test(start_paused = true)]
async fn over_http_a_long_poll_goes_at_once_and_with_every_call() {
    let mut rig = Rig::start(vec![endpoint(1).with_carrier(Carrier::http())]);
    let (mut reader, mut writer) = rig.servers.recv().await.unwrap();
    let is_poll = |event: &ServerEvent| matches!(event, ServerEvent::HttpWait { .. });
    let events = rig.dc.receive(&mut reader).await;
    assert!(events.iter().any(is_poll), "{events:?}");
    rig.dc.flush(&mut writer).await;
    let answer = rig.invoke(call()).await;
    let started = Instant::now();
    let (request, events) = loop {
        let events = rig.dc.receive(&mut reader).await;
        let request = events.iter().find_map(|event| match event {
            ServerEvent::Request { msg_id, .. } => Some(*msg_id),
            _ => None,
        });
        if let Some(request) = request {
            break (request, events);
        }
    };
    assert_eq!(Instant::now(), started, "the call went at once");
    assert!(
        events.iter().any(is_poll),
        "in the call's packet: {events:?}"
    );
    rig.dc.session.respond(request, Ok(vec![5; 4])).unwrap();
    rig.dc.flush(&mut writer).await;
    assert_eq!(answer.await.unwrap().unwrap(), vec![5; 4]);
}

/// A server that answers every `http_wait` at once with an error (as an independent server
/// did) while a call takes 2 s: the long polls back off, 25 ms doubling to 1 s, instead of
/// going again at network speed.
#[tokio::test(start_paused = true)]
async fn over_http_refused_long_polls_back_off() {
    let mut rig = Rig::start(vec![endpoint(1).with_carrier(Carrier::http())]);
    let (mut reader, mut writer) = rig.servers.recv().await.unwrap();
    let answer = rig.invoke(call()).await;
    let started = Instant::now();
    let mut request = None;
    let mut polls = Vec::new();
    while Instant::now() - started < Duration::from_secs(2) {
        for event in rig.dc.receive(&mut reader).await {
            match event {
                ServerEvent::HttpWait { msg_id, .. } => {
                    polls.push(Instant::now() - started);
                    let refusal = RpcError::new(400, "HTTP_WAIT_UNSUPPORTED");
                    rig.dc.session.respond(msg_id, Err(refusal)).unwrap();
                }
                ServerEvent::Request { msg_id, .. } => request = Some(msg_id),
                _ => {}
            }
        }
        rig.dc.flush(&mut writer).await;
        assert!(polls.len() < 100, "polling at network speed: {polls:?}");
    }
    // The connection's first long poll and the call's go at once; each refusal then
    // doubles the pause (the first two refusals made it 25, then 50 ms).
    let millis: Vec<u128> = polls
        .iter()
        .map(Duration::as_millis)
        .filter(|ms| *ms < 2000)
        .collect();
    assert_eq!(millis, [0, 0, 50, 150, 350, 750, 1550], "{polls:?}");
    rig.dc
        .session
        .respond(request.unwrap(), Ok(vec![9; 4]))
        .unwrap();
    rig.dc.flush(&mut writer).await;
    assert_eq!(answer.await.unwrap().unwrap(), vec![9; 4]);
}
