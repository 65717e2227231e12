//! Fault injection knobs, per DC, adjustable while the server runs.
//!
//! Connections read the knobs live (a change applies to the next packet), except the byte
//! and message budgets, which count from the start of each connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::wan::{Wan, WanSettings};

/// A snapshot of the fault knobs of one DC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSettings {
    /// Close each connection once it has sent this many bytes to the client: the packet
    /// that would cross the budget is cut at the budget, then the connection closes, so
    /// the client sees a truncated frame.
    pub drop_after_bytes: Option<u64>,
    /// Close each connection after it has sent this many encrypted packets.
    pub drop_after_messages: Option<u64>,
    /// Stop accepting: the listening socket is closed, so connecting is refused, until
    /// this is cleared (the same port is bound again).
    pub refuse_connections: bool,
    /// Hold every RPC answer this long before sending it (service messages are not held).
    pub response_delay: Duration,
    /// WAN emulation: added RTT, bandwidth per connection and per account, random drops
    /// (see [`crate::wan`]). The default is the `lan` profile: nothing applied.
    pub wan: WanSettings,
}

/// `u64::MAX` stands for "no limit" in the atomics.
const NONE: u64 = u64::MAX;

/// The live knobs of one DC. Shared by its listener and connections; changed through
/// [`DcHandle::faults`](crate::DcHandle::faults).
#[derive(Debug)]
pub struct Faults {
    drop_after_bytes: AtomicU64,
    drop_after_messages: AtomicU64,
    delay_micros: AtomicU64,
    refuse: watch::Sender<bool>,
    /// Bumped to close every open connection of the DC at once.
    kill: watch::Sender<u64>,
    /// WAN emulation knobs.
    wan: Wan,
}

impl Faults {
    /// Knobs starting at `settings`.
    pub fn new(settings: &FaultSettings) -> Self {
        let faults = Self {
            drop_after_bytes: AtomicU64::new(NONE),
            drop_after_messages: AtomicU64::new(NONE),
            delay_micros: AtomicU64::new(0),
            refuse: watch::Sender::new(false),
            kill: watch::Sender::new(0),
            wan: Wan::new(&settings.wan),
        };
        faults.apply(settings);
        faults
    }

    /// Sets every knob at once.
    pub fn apply(&self, settings: &FaultSettings) {
        self.set_drop_after_bytes(settings.drop_after_bytes);
        self.set_drop_after_messages(settings.drop_after_messages);
        self.set_response_delay(settings.response_delay);
        self.set_refuse_connections(settings.refuse_connections);
        self.wan.set(&settings.wan);
    }

    /// The knobs as they are now.
    pub fn settings(&self) -> FaultSettings {
        FaultSettings {
            drop_after_bytes: self.drop_after_bytes(),
            drop_after_messages: self.drop_after_messages(),
            refuse_connections: *self.refuse.borrow(),
            response_delay: self.response_delay(),
            wan: self.wan.settings(),
        }
    }

    /// See [`FaultSettings::drop_after_bytes`].
    pub fn set_drop_after_bytes(&self, bytes: Option<u64>) {
        store(&self.drop_after_bytes, bytes);
    }

    /// See [`FaultSettings::drop_after_messages`].
    pub fn set_drop_after_messages(&self, messages: Option<u64>) {
        store(&self.drop_after_messages, messages);
    }

    /// See [`FaultSettings::response_delay`].
    pub fn set_response_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(NONE - 1);
        self.delay_micros.store(micros, Ordering::Relaxed);
    }

    /// See [`FaultSettings::refuse_connections`].
    pub fn set_refuse_connections(&self, refuse: bool) {
        self.refuse.send_replace(refuse);
    }

    /// The WAN emulation knobs (RTT, bandwidth, random drops), live.
    pub fn wan(&self) -> &Wan {
        &self.wan
    }

    /// Closes every connection open on the DC now (new ones are accepted as usual).
    pub fn disconnect_all(&self) {
        self.kill
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    pub(crate) fn drop_after_bytes(&self) -> Option<u64> {
        load(&self.drop_after_bytes)
    }

    pub(crate) fn drop_after_messages(&self) -> Option<u64> {
        load(&self.drop_after_messages)
    }

    pub(crate) fn response_delay(&self) -> Duration {
        Duration::from_micros(self.delay_micros.load(Ordering::Relaxed))
    }

    pub(crate) fn watch_refuse(&self) -> watch::Receiver<bool> {
        self.refuse.subscribe()
    }

    pub(crate) fn watch_kill(&self) -> watch::Receiver<u64> {
        self.kill.subscribe()
    }
}

fn store(slot: &AtomicU64, value: Option<u64>) {
    slot.store(value.unwrap_or(NONE), Ordering::Relaxed);
}

fn load(slot: &AtomicU64) -> Option<u64> {
    match slot.load(Ordering::Relaxed) {
        NONE => None,
        value => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        let settings = FaultSettings {
            drop_after_bytes: Some(100),
            drop_after_messages: Some(3),
            refuse_connections: true,
            response_delay: Duration::from_millis(250),
            wan: crate::wan::WanProfile::Mobile.settings(),
        };
        let faults = Faults::new(&settings);
        assert_eq!(faults.settings(), settings);
        faults.apply(&FaultSettings::default());
        assert_eq!(faults.settings(), FaultSettings::default());
    }

    #[test]
    fn kill_and_refuse_are_observable() {
        let faults = Faults::new(&FaultSettings::default());
        let mut kill = faults.watch_kill();
        let refuse = faults.watch_refuse();
        faults.disconnect_all();
        assert!(kill.has_changed().unwrap());
        assert_eq!(*kill.borrow_and_update(), 1);
        faults.set_refuse_connections(true);
        assert!(*refuse.borrow());
    }
}
