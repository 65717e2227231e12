//! Following chats through Telegram's updates: the pure sequencing machine ([`machine`])
//! and the driver that feeds it from the connection and the difference calls
//! ([`Follow`]).

pub mod machine;
