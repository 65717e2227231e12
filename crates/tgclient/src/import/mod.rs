//! Reading logins that other Telegram clients keep on disk.
//!
//! - [`tdata`]: Telegram Desktop's `tdata` folder (accounts, user ids, main DCs, auth keys).

pub mod tdata;
