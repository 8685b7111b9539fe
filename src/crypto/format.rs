//! The key header: the media key wrapped under the password.
//!
//! ```text
//! offset size
//!      0    8  magic "TSMKEY01"
//!      8    1  version = 1
//!      9    1  kdf = 1 (Argon2id v0x13)
//!     10    2  reserved, zero
//!     12    4  m_cost (KiB, little-endian)
//!     16    4  t_cost
//!     20    4  p_cost
//!     24   16  salt
//!     40   12  nonce
//!     52   48  AES-256-GCM(kek, nonce, media key, aad = bytes 0..52) = 32 + 16 tag
//!    100   16  first 16 bytes of SHA-256(bytes 0..100): a checksum
//!    116       end
//! ```
//! The checksum tells a damaged header from a wrong password: a header whose
//! checksum holds but whose key does not unwrap was opened with the wrong
//! password.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::kdf::{self, KdfParams};
use super::{random, DecryptError, Key};

pub const KEY_MAGIC: &[u8; 8] = b"TSMKEY01";
pub const KEY_HEADER_LEN: usize = 116;

/// A parsed key header.
#[derive(Debug, Clone)]
pub struct KeyHeader {
    pub params: KdfParams,
    pub salt: [u8; 16],
    pub nonce: [u8; 12],
    pub wrapped: [u8; 48],
}

impl KeyHeader {
    fn body(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(KEY_HEADER_LEN);
        v.extend_from_slice(KEY_MAGIC);
        v.push(1);
        v.push(1);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.params.m_cost.to_le_bytes());
        v.extend_from_slice(&self.params.t_cost.to_le_bytes());
        v.extend_from_slice(&self.params.p_cost.to_le_bytes());
        v.extend_from_slice(&self.salt);
        v.extend_from_slice(&self.nonce);
        v
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.body();
        v.extend_from_slice(&self.wrapped);
        let sum = Sha256::digest(&v);
        v.extend_from_slice(&sum[..16]);
        v
    }

    pub fn parse(b: &[u8], name: &str) -> Result<KeyHeader, DecryptError> {
        let bad = |why: &str| DecryptError::HeaderCorrupt(name.to_string(), why.to_string());
        if b.len() != KEY_HEADER_LEN {
            return Err(bad(&format!(
                "it is {} bytes, not {KEY_HEADER_LEN}",
                b.len()
            )));
        }
        let sum = Sha256::digest(&b[..100]);
        if sum[..16] != b[100..116] {
            return Err(bad("its checksum does not match"));
        }
        if &b[..8] != KEY_MAGIC {
            return Err(bad("wrong magic"));
        }
        if b[8] != 1 || b[9] != 1 {
            return Err(bad(&format!("unsupported version {} / kdf {}", b[8], b[9])));
        }
        let u = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut h = KeyHeader {
            params: KdfParams {
                m_cost: u(12),
                t_cost: u(16),
                p_cost: u(20),
            },
            salt: [0; 16],
            nonce: [0; 12],
            wrapped: [0; 48],
        };
        h.salt.copy_from_slice(&b[24..40]);
        h.nonce.copy_from_slice(&b[40..52]);
        h.wrapped.copy_from_slice(&b[52..100]);
        Ok(h)
    }

    /// Wraps `media_key` under `password` with fresh salt and nonce.
    pub fn seal(
        password: &[u8],
        media_key: &Key,
        params: KdfParams,
    ) -> Result<KeyHeader, DecryptError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        random(&mut salt);
        random(&mut nonce);
        Self::seal_with(password, media_key, params, salt, nonce)
    }

    /// Deterministic sealing, for test vectors.
    pub fn seal_with(
        password: &[u8],
        media_key: &Key,
        params: KdfParams,
        salt: [u8; 16],
        nonce: [u8; 12],
    ) -> Result<KeyHeader, DecryptError> {
        let kek = kdf::derive(password, &salt, params)?;
        let mut h = KeyHeader {
            params,
            salt,
            nonce,
            wrapped: [0; 48],
        };
        let aad = h.body();
        let c = Aes256Gcm::new_from_slice(kek.as_ref()).expect("32-byte key");
        let ct = c
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: media_key.as_ref(),
                    aad: &aad,
                },
            )
            .expect("encryption of 32 bytes cannot fail");
        h.wrapped.copy_from_slice(&ct);
        Ok(h)
    }

    /// Unwraps the media key; a wrong password is [`DecryptError::WrongPassword`].
    pub fn open(&self, password: &[u8]) -> Result<Key, DecryptError> {
        let kek = kdf::derive(password, &self.salt, self.params)?;
        let c = Aes256Gcm::new_from_slice(kek.as_ref()).expect("32-byte key");
        let pt = Zeroizing::new(
            c.decrypt(
                &Nonce::from(self.nonce),
                Payload {
                    msg: &self.wrapped,
                    aad: &self.body(),
                },
            )
            .map_err(|_| DecryptError::WrongPassword)?,
        );
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&pt);
        Ok(k)
    }
}

/// A fresh random media key.
pub fn new_media_key() -> Key {
    let mut k = Zeroizing::new([0u8; 32]);
    random(k.as_mut());
    k
}
