//! Loopback figures for the client stack against localdc: auth-key handshake latency, and
//! small RPCs per second over one connection (many in flight, as the sender multiplexes).
//!
//! `cargo bench -p localdc --bench loopback [-- --handshakes N --seconds S --in-flight K]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use localdc::{Config, Server};
use mtcrypto::RsaPublicKey;
use mtnet::{Endpoint, Sender, SenderConfig};
use mtproto::transport::TransportKind;
use tl_types::api::functions;

struct Options {
    handshakes: usize,
    seconds: u64,
    in_flight: usize,
}

fn options() -> Options {
    let mut options = Options {
        handshakes: 30,
        seconds: 5,
        in_flight: 64,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--handshakes" => options.handshakes = value(),
            "--seconds" => options.seconds = value() as u64,
            "--in-flight" => options.in_flight = value(),
            _ => {}
        }
    }
    options
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = options();
    let server = Server::start(Config::default()).await.unwrap();
    let key = RsaPublicKey::from_pem(server.public_key_pem()).unwrap();
    let endpoint =
        Endpoint::new(server.addr(2).unwrap(), 2).with_transport(TransportKind::Abridged);
    let config = SenderConfig::new(vec![endpoint], 2, vec![key]);

    // Handshake latency: connect + req_pq .. dh_gen_ok, a new key each time.
    let mut latencies = Vec::with_capacity(options.handshakes);
    for _ in 0..options.handshakes {
        let started = Instant::now();
        let (sender, _updates) = Sender::start(config.clone(), None).await.unwrap();
        latencies.push(started.elapsed());
        sender.shutdown().await;
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p90 = latencies[latencies.len() * 9 / 10];
    println!(
        "handshake over loopback: median {:.2} ms, p90 {:.2} ms ({} runs)",
        median.as_secs_f64() * 1e3,
        p90.as_secs_f64() * 1e3,
        latencies.len()
    );

    // Small RPCs over one connection.
    let (sender, _updates) = Sender::start(config, None).await.unwrap();
    sender
        .invoke(&functions::help::GetNearestDc {})
        .await
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..options.in_flight)
        .map(|_| {
            let sender = sender.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    sender
                        .invoke(&functions::help::GetNearestDc {})
                        .await
                        .unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let calls = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "help.getNearestDc over one connection, {} in flight: {:.0} calls/s ({calls} in {elapsed:.1} s; client and server share the 2 cores)",
        options.in_flight,
        calls as f64 / elapsed
    );
    assert_eq!(sender.status().connections, 1);
    sender.shutdown().await;
    server.shutdown().await;
}
