//! The fake-TLS branch of detection: an MTProxy `ee` client's ClientHello checked and
//! answered, then the obfuscated stream opened from inside the TLS records.

use mtproto::transport::fake_tls::{
    MAX_HELLO_PAYLOAD, Progress, RECORD_HEADER_LEN, check_client_hello, client_hello_len,
    server_hello,
};
use mtproto::transport::{HEADER_LEN, Obfuscation, ProxySecret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{AcceptConfig, Accepted, CarrierKind, StreamInfo, sniff};
use crate::framed::Framing;
use crate::mtproxy::{FakeTlsStream, unix_now};
use crate::rng::secure_rng;
use crate::{DetectError, NetError};

/// Serves a connection whose first bytes (`received`) start a TLS ClientHello.
///
/// The hello must carry the digest of one of the configured `ee` secrets, name that
/// secret's domain, and be stamped within [`AcceptConfig::fake_tls_window`] of the server's
/// clock; otherwise the connection is refused without an answer. Then the server's answer
/// goes out, and the 64-byte obfuscation header read from the first records must open with
/// the same secret, for padded intermediate (the only framing MTProxy accepts inside).
pub(super) async fn open(
    mut tcp: TcpStream,
    mut received: Vec<u8>,
    config: &AcceptConfig,
) -> Result<Accepted, NetError> {
    let served = config
        .secrets
        .iter()
        .any(|secret| matches!(secret, ProxySecret::FakeTls { .. }));
    if !served {
        return Err(DetectError::FakeTlsUnsupported.into());
    }
    // A hello may be as long as a TLS record, past the usual detection limit.
    let limit = config.max_head.max(RECORD_HEADER_LEN + MAX_HELLO_PAYLOAD);
    let len = loop {
        match client_hello_len(&received)? {
            Progress::Complete { len } => break len,
            Progress::NeedMore { .. } => {
                sniff::read_more(&mut tcp, &mut received, limit).await?;
            }
        }
    };
    let after = received.split_off(len.min(received.len()));
    let window = u32::try_from(config.fake_tls_window.as_secs()).unwrap_or(u32::MAX);
    let hello = check_client_hello(&received, &config.secrets, unix_now(), window)?;
    let Some(ProxySecret::FakeTls { key, .. }) = config.secrets.get(hello.secret_index) else {
        return Err(NetError::Internal("fake-TLS secret index out of range"));
    };
    let answer = server_hello(key, &hello, &mut secure_rng()?)?;
    tcp.write_all(&answer).await?;
    tcp.flush().await?;

    let mut stream = FakeTlsStream::server(tcp, after);
    let mut header = [0u8; HEADER_LEN];
    if let Err(error) = stream.read_exact(&mut header).await {
        return Err(if error.kind() == std::io::ErrorKind::UnexpectedEof {
            DetectError::ClosedEarly { received: len }.into()
        } else {
            error.into()
        });
    }
    let accepted = Obfuscation::server(&header, &[*key])?;
    // As the official MTProxy serving a domain: padded intermediate only inside TLS.
    if let Some(required) = config
        .secrets
        .get(hello.secret_index)
        .and_then(ProxySecret::required_transport)
        && required != accepted.kind
    {
        return Err(DetectError::PaddingRequired {
            kind: accepted.kind,
        }
        .into());
    }
    let info = StreamInfo {
        kind: accepted.kind,
        obfuscated: true,
        carrier: CarrierKind::FakeTls,
        dc_id: Some(accepted.dc_id),
        secret_index: Some(hello.secret_index),
    };
    let framing = Framing::new(
        config.codec(accepted.kind, false),
        Some(accepted.obfuscation),
    );
    let (reader, writer) = framing.split(stream);
    Ok(Accepted::Packets {
        reader,
        writer,
        info,
    })
}
