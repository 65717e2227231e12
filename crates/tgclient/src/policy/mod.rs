//! One recovery policy for every request: what a failure means ([`ErrorKind`], from one
//! table) and what to do next ([`decide`], a pure function of the kind, the attempts so far
//! and a small [`Context`]). The routing loop (`Client::invoke_bytes`) and the download
//! engine's part fetcher both carry out its [`Step`]s and keep no error names of their own.

mod decide;
mod kind;
#[cfg(test)]
mod tests;

pub use decide::{Attempts, Context, Failure, PolicyConfig, Step, decide};
pub use kind::{ErrorKind, MigrateKind, is, split_value};
