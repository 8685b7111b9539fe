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

/// A manifest as read: every file record in memory.
pub type Manifest = ManifestOf<Vec<FileRecord>>;

/// The manifest's fields; `F` is the file list (a vector when read, a
/// streaming view of the plan when written, so writing a manifest of many
/// files copies no path).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestOf<F> {
    pub format: String,
    /// SHA-256 of the manifest as written with this field all zeros: a
    /// damaged manifest is told apart from a damaged file.
    pub checksum: String,
    pub generator: String,
    pub media_type: String,
    pub label: String,
    pub media_guid: String,
    pub created: String,
    pub profile: ProfileIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    /// How a booted machine reaches its site (bootable, prestaged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<SiteInfo>,
    /// The media certificate, when the profile names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateInfo>,
    /// Present when files are encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    pub files: F,
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
pub struct SiteInfo {
    pub code: String,
    pub management_points: Vec<String>,
    pub mode: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CertificateInfo {
    /// `self-signed` or `pfx`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub path: String,
    /// Size on the medium (ciphertext for encrypted files).
    pub size: u64,
    /// SHA-256 of the bytes on the medium (ciphertext for encrypted files).
    pub sha256: String,
    /// For encrypted files: the plaintext's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<EncryptedRecord>,
    /// Volume of an ISO volume set holding the file (only in volume sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EncryptedRecord {
    /// Size of the plaintext. Its integrity needs no hash of its own: the
    /// ciphertext's SHA-256 above and the authentication of every chunk
    /// vouch for it.
    pub plain_size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// Path of the key header on the medium.
    pub key_header: String,
    pub scheme: String,
}

/// A placeholder hash of the right length, used to size the manifest.
pub const UNKNOWN_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One file as the writer renders it: borrowed from the plan.
#[derive(Debug, Serialize)]
pub struct FileRecordOut<'a> {
    pub path: &'a str,
    pub size: u64,
    pub sha256: HexDigest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<EncryptedRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<u32>,
}

/// A SHA-256 written as 64 hex digits (zeros while unknown).
#[derive(Debug, Clone, Copy)]
pub struct HexDigest(pub Option<[u8; 32]>);

impl Serialize for HexDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [b'0'; 64];
        if let Some(h) = &self.0 {
            hex::encode_to_slice(h, &mut buf).expect("64 digits");
        }
        s.serialize_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl<F: Serialize> ManifestOf<F> {
    /// Writes the manifest as rendered before its checksum is known (the
    /// checksum field as given).
    pub fn write_raw<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    }

    /// The manifest's bytes, with its checksum filled in: rendered once with
    /// a zero checksum, hashed, and the checksum written in place (it has
    /// a fixed length).
    pub fn render(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_raw(&mut v).expect("writing to memory");
        fill_checksum(&mut v);
        v
    }

    /// The rendered size, without keeping the bytes.
    pub fn rendered_len(&self) -> u64 {
        let mut c = crate::io::CountingSink::default();
        self.write_raw(&mut c).expect("counting");
        c.0
    }
}

/// Writes the SHA-256 of `v` (rendered with a zero checksum) into its
/// top-level checksum field.
fn fill_checksum(v: &mut [u8]) {
    use sha2::{Digest, Sha256};
    const KEY: &[u8] = b"\"checksum\": \"";
    let Some(at) = v.windows(KEY.len()).position(|w| w == KEY) else {
        return;
    };
    let start = at + KEY.len();
    if v.len() < start + 64 || &v[start..start + 64] != UNKNOWN_SHA256.as_bytes() {
        return;
    }
    let sum = Sha256::digest(&*v);
    hex::encode_to_slice(sum, &mut v[start..start + 64]).expect("64 digits");
}

impl Manifest {
    fn raw_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_raw(&mut v).expect("writing to memory");
        v
    }

    /// The manifest's bytes, with its checksum filled in.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = self.clone();
        m.checksum = UNKNOWN_SHA256.to_string();
        m.render()
    }

    pub fn from_bytes(b: &[u8]) -> serde_json::Result<Manifest> {
        serde_json::from_slice(b)
    }

    /// Whether the checksum matches the manifest's content.
    pub fn checksum_ok(&self) -> bool {
        use sha2::{Digest, Sha256};
        let mut m = self.clone();
        m.checksum = UNKNOWN_SHA256.to_string();
        hex::encode(Sha256::digest(m.raw_bytes())) == self.checksum
    }
}
