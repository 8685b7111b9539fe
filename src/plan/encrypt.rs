//! Content encryption of a plan (`media.encrypt_content`): content under
//! `SMS/PKG` becomes encrypted entries; the wrapped media key is added as
//! `SMS/data/tsmedia-key.bin`. Boot files stay in the clear (firmware must
//! read them), and so do the settings files, which carry the product's own
//! encryption; names on the medium are unchanged.

use std::sync::Arc;

use anyhow::Result;

use zeroize::Zeroizing;

use super::{sort_key, Deferred, EncryptedFile, Entry, Group, Plan, Source};
use crate::crypto::format::{new_media_key, KeyHeader, KEY_HEADER_LEN};
use crate::crypto::kdf::KdfParams;
use crate::crypto::stream::{encrypted_size, FileParams};

/// Where the key header sits on the medium.
pub const KEY_PATH: &str = "SMS/data/tsmedia-key.bin";

/// Whether a medium path is encrypted on protected media.
pub fn is_protected(path: &str) -> bool {
    path.to_ascii_uppercase().starts_with("SMS/PKG/")
}

/// Encrypts the protected entries of `plan` under `password`.
pub fn apply(mut plan: Plan, password: &str, params: KdfParams) -> Result<Plan> {
    let media_key = Arc::new(new_media_key());
    // The key derivation takes a while; it runs while content is written.
    let header = {
        let (password, key) = (Zeroizing::new(password.to_string()), media_key.clone());
        Deferred::spawn(move || {
            KeyHeader::seal(password.as_bytes(), &key, params)
                .map(|h| h.to_bytes())
                .map_err(|e| format!("wrapping the media key: {e}"))
        })
    };
    for e in &mut plan.entries {
        if !is_protected(&e.path) {
            continue;
        }
        let inner = std::mem::replace(&mut e.source, Source::Manifest);
        e.source = Source::Encrypted(Arc::new(EncryptedFile {
            inner,
            plain_size: e.size,
            params: FileParams::random(),
            media_key: media_key.clone(),
        }));
        e.size = encrypted_size(e.size);
    }
    plan.entries.push(Entry {
        path: KEY_PATH.into(),
        size: KEY_HEADER_LEN as u64,
        source: Source::Deferred(Arc::new(header)),
        note: super::note("generated (media key wrapped under the password)"),
        group: Group::Data,
        volume: 1,
        sha256: None,
    });
    plan.entries
        .sort_by(|a, b| sort_key(&a.path).cmp(&sort_key(&b.path)));
    plan.size_manifest();
    Ok(plan)
}
