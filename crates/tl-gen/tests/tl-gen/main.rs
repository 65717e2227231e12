//! The integration tests of `tl-gen`, one binary: each module was a test file of
//! its own (one link instead of one per file).

mod pinned_schemas;
