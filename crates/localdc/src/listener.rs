//! A DC's accept loop, with the "refuse connections" fault: the listening socket is closed
//! while it is set (connecting is refused) and bound again on the same port after.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::conn;
use crate::dc::DcState;
use crate::transport;

/// Transport error for a DC at its connection limit.
const TOO_MANY_CONNECTIONS: i32 = -429;
/// Backlog of pending connections per listener.
const BACKLOG: u32 = 1024;
/// Over-limit connections being told -429 at once; beyond, they are just closed.
const MAX_REFUSALS: usize = 64;

/// Binds `addr` with SO_REUSEADDR, so that a port closed by the refuse fault can be bound
/// again while old connections linger in TIME_WAIT.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accepts connections for `dc` until `shutdown` turns true.
pub(crate) async fn run(
    dc: Arc<DcState>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut refuse = dc.faults.watch_refuse();
    let mut listener = Some(listener);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    loop {
        if *shutdown.borrow() {
            break;
        }
        let refusing = *refuse.borrow_and_update();
        if refusing {
            if listener.take().is_some() {
                tracing::info!(dc = dc.id, "refusing connections (fault): port closed");
            }
            tokio::select! {
                _ = refuse.changed() => continue,
                _ = shutdown.changed() => continue,
            }
        }
        let Some(active) = &listener else {
            match bind(dc.addr) {
                Ok(bound) => {
                    tracing::info!(dc = dc.id, addr = %dc.addr, "accepting connections again");
                    listener = Some(bound);
                }
                Err(error) => {
                    tracing::warn!(dc = dc.id, %error, "cannot bind again; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
            continue;
        };
        tokio::select! {
            accepted = active.accept() => match accepted {
                Ok((stream, peer)) => admit(&dc, &refusals, stream, peer),
                Err(error) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!(dc = dc.id, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = refuse.changed() => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::debug!(dc = dc.id, "listener stopped");
}

/// Serves a new connection if the DC has a slot for it, else answers -429 (or, when too
/// many are being refused already, just closes it).
fn admit(dc: &Arc<DcState>, refusals: &Arc<Semaphore>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let Ok(permit) = Arc::clone(&dc.connections).try_acquire_owned() else {
        tracing::warn!(dc = dc.id, %peer, "connection limit reached: -429");
        let Ok(refusal) = Arc::clone(refusals).try_acquire_owned() else {
            return;
        };
        let limits = dc.limits.clone();
        let mtproxy = Arc::clone(&dc.mtproxy);
        tokio::spawn(async move {
            let accepted = transport::accept(
                stream,
                limits.max_packet,
                limits.handshake_timeout.min(Duration::from_secs(5)),
                mtproxy.secrets(),
                mtproxy.padding(),
            )
            .await;
            if let Ok((_, _, mut writer)) = accepted {
                let _ = writer.send_transport_error(TOO_MANY_CONNECTIONS).await;
            }
            drop(refusal);
        });
        return;
    };
    tokio::spawn(conn::serve(Arc::clone(dc), stream, peer, permit));
}
