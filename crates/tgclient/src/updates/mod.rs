//! Following chats through Telegram's updates: the pure sequencing machine ([`machine`]),
//! the reading of Telegram's update types ([`convert`]) and the driver that feeds the
//! machine from the connections and the difference calls ([`Follow`], made by
//! [`crate::Client::follow`]).

pub mod convert;
mod follow;
pub mod machine;

pub use convert::FollowEvent;
pub use follow::{Follow, FollowError};
