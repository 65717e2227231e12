//! TL schema tooling: a parser for the TL schema language (as used by Telegram's `api.tl` and
//! `mtproto.tl`), constructor-id computation, and the Rust code generator behind `tl-types`.

pub mod ast;
pub mod codegen;
mod error;
pub mod id;
pub mod layer_tables;
pub mod names;
mod parser;
pub mod samples;

pub use ast::{Category, Definition, Flag, Parameter, ParameterType, Schema, TypeRef};
pub use error::ParseError;
pub use parser::parse;
