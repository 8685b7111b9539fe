//! Password-based key derivation: Argon2id (version 0x13).

use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::{DecryptError, Key};

/// Argon2id cost parameters, stored in the key header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What new media use: 256 MiB, 3 passes, 1 lane (about 0.3-0.5 s on a current core).
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost: 256 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Refuses parameters no medium of ours carries (a hostile header must
    /// not make `decrypt` spend minutes or gigabytes).
    pub fn check(&self) -> Result<(), DecryptError> {
        if self.m_cost > 2 * 1024 * 1024 || self.t_cost > 64 || self.p_cost > 16 || self.p_cost == 0
        {
            return Err(DecryptError::ExcessiveWork(format!(
                "m_cost={} KiB, t_cost={}, p_cost={}",
                self.m_cost, self.t_cost, self.p_cost
            )));
        }
        Ok(())
    }
}

/// Derives the key-encryption key from a password.
pub fn derive(password: &[u8], salt: &[u8; 16], p: KdfParams) -> Result<Key, DecryptError> {
    p.check()?;
    let params = Params::new(p.m_cost, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| DecryptError::HeaderCorrupt("parameters".into(), e.to_string()))?;
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(password, salt, out.as_mut())
        .map_err(|e| DecryptError::HeaderCorrupt("parameters".into(), e.to_string()))?;
    Ok(out)
}
