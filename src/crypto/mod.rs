//! Password protection of media content.
//!
//! One random media key per medium, wrapped by a key derived from the
//! password with Argon2id ([`kdf`], [`format::KeyHeader`]); every protected
//! file is encrypted with its own key, HKDF-SHA256 of the media key and a
//! random per-file salt, in 64 KiB chunks of AES-256-GCM in the STREAM
//! construction ([`stream`]), with the file's path on the medium as
//! associated data. `docs/encryption.md` specifies the format.

pub mod format;
pub mod kdf;
pub mod password;
pub mod stream;

use zeroize::Zeroizing;

/// A 256-bit key that is wiped when dropped.
pub type Key = Zeroizing<[u8; 32]>;

/// Why decryption failed. Callers branch on it (wrong password vs corrupt
/// data); every variant maps to exit code 3.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("wrong password: it does not open this medium's key")]
    WrongPassword,
    #[error("the key header {0} is damaged: {1}")]
    HeaderCorrupt(String, String),
    #[error("{path}: not an encrypted tsmedia file ({why})")]
    NotEncrypted { path: String, why: String },
    #[error("{path}: chunk {chunk} failed authentication: the file is corrupted, truncated, reordered, or was moved from another path")]
    Auth { path: String, chunk: u64 },
    #[error("{path}: the encrypted file is truncated ({size} bytes cannot hold a complete file)")]
    Truncated { path: String, size: u64 },
    #[error("the key derivation parameters are absurd ({0}); refusing to spend that much work")]
    ExcessiveWork(String),
}

/// Fills `buf` with random bytes from the operating system.
pub fn random(buf: &mut [u8]) {
    getrandom::getrandom(buf).expect("the operating system's random number generator failed");
}
