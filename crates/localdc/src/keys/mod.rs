//! The auth keys one DC knows, as Telegram keeps them: per DC (a key made on DC 2 is
//! unknown on DC 4), each with its salts, the layer and client its owner announced, and
//! the sessions opened under it.

mod detached;
mod entry;
mod executed;
mod salts;
mod saved;
mod sessions;
mod store;
#[cfg(test)]
mod testing;

use std::sync::Arc;

pub use entry::{ClientInfo, KeyEntry, KeyState};
pub(crate) use saved::SavedKey;
pub use sessions::{SessionBounds, SharedSession};
pub use store::{KeyStore, NewKey};

/// Something about the keys changed that a state dir keeps.
pub(crate) type ChangeHook = Arc<dyn Fn() + Send + Sync>;
/// Keys were forgotten: their ids.
pub(crate) type ForgetHook = Arc<dyn Fn(&[u64]) + Send + Sync>;
