//! Cryptography for MTProto 2.0, for both the client and a server role.
//!
//! - [`ige`]: AES-256-IGE, the cipher of every MTProto message.
//! - [`ctr`]: AES-256-CTR for transport obfuscation and CDN files.
//! - [`kdf`]: `msg_key` and the per-message AES key/iv.
//! - [`auth_key`]: the 2048-bit authorization key and its id.
//! - [`rsa`]: key fingerprints, RSA_PAD (client) and its decryption (server).
//! - [`dh`]: DH parameter checks, key pairs, the shared auth key.
//! - [`handshake`]: nonce-derived values of the auth-key handshake.
//! - [`factor`]: `pq` factorization and generation.
//! - [`srp`]: the 2FA password check (SRP), client and server.
//! - [`hash`]: SHA-1, SHA-256 and CRC32 helpers.
//! - [`secret`]: containers that wipe secrets on drop.
//!
//! No I/O and no global RNG: functions that need randomness take an injected
//! [`rand_core::CryptoRngCore`], so tests are deterministic. Every input that
//! can come from the network is checked and rejected with an [`Error`],
//! never a panic.

pub mod auth_key;
mod bigint;
pub mod ctr;
pub mod dh;
mod error;
pub mod factor;
pub mod handshake;
pub mod hash;
pub mod ige;
pub mod kdf;
mod prime;
pub mod rsa;
pub mod secret;
pub mod srp;

pub use auth_key::AuthKey;
pub use ctr::AesCtr;
pub use dh::{DhKeyPair, DhParams, check_dh_params, check_g_a};
pub use error::Error;
pub use factor::{Pq, factorize_pq, generate_pq};
pub use ige::{AesIge, AesKeyIv, ige_decrypt, ige_encrypt};
pub use kdf::{Direction, derive_aes_key_iv, msg_key, msg_key_large, msg_key_large_prefix};
pub use rsa::{InnerDataPlain, RsaPrivateKey, RsaPublicKey};
pub use secret::{SecretArray, SecretBytes};
pub use srp::{SrpClientProof, SrpServerSession, srp_client_proof, srp_verifier};

/// Re-exported RNG traits used in this crate's signatures.
pub use rand_core::{CryptoRng, CryptoRngCore, RngCore};
/// Re-exported so callers can hold the wiped strings and buffers this crate
/// returns (e.g. a private key PEM) without a direct dependency.
pub use zeroize::Zeroizing;
