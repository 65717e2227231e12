//! Telegram Desktop's JSON export (`result.json`), in and out, and tdl's `chat export`
//! read the same way. The format is documented in `docs/desktop-export.md`.
//!
//! - [`reader`]: a whole file parsed into an [`model::Export`] (errors name the line and
//!   column, or the JSON path), before anything is downloaded.
//! - [`source`]: `tgdl download --from-export`: chats resolved, listed messages fetched by id.
//! - [`message`], [`text`], [`media`], [`action`]: one message as Desktop writes it; `tgdl export`
//!   ([`crate::commands::export`]) puts them together.
//! - [`json`]: a JSON value that keeps key order; [`escapes`]: Desktop's `\xHH` escapes
//!   made valid JSON.

pub mod action;
pub mod escapes;
pub mod json;
pub mod media;
pub mod message;
pub mod model;
pub mod reader;
pub mod source;
pub mod stream;
pub mod text;
