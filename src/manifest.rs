//! The manifest written on every medium: each file's path, size and SHA-256,
//! and the identity of the profile it was built from. It is written last, so
//! a medium without a complete manifest was not finished.
//!
//! Its size is known before any hash is: every hash is 64 hex digits, so a
//! writer that must lay out the medium up front (an ISO) can reserve it.

use serde::{Deserialize, Serialize};

/// Where the manifest sits on the medium.
pub const MANIFEST_PATH: &str = "SMS/data/tsmedia-manifest.json";
/// Format tag; readers refuse other values.
pub const FORMAT: &str = "tsmedia-manifest/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub generator: String,
    pub media_type: String,
    pub label: String,
    pub media_guid: String,
    pub created: String,
    pub profile: ProfileIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileIdentity {
    pub name: Option<String>,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    pub start: Option<String>,
    pub expiry: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Volume of an ISO volume set holding the file (only in volume sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u32>,
}

/// A placeholder hash of the right length, used to size the manifest.
pub const UNKNOWN_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Manifest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serializes");
        v.push(b'\n');
        v
    }

    pub fn from_bytes(b: &[u8]) -> serde_json::Result<Manifest> {
        serde_json::from_slice(b)
    }
}
