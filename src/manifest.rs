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

/// A manifest rendered piece by piece as it is read: the fields, then one
/// file record at a time, so a manifest of a million files never sits in
/// memory. The bytes are exactly those of [`ManifestOf::render`].
pub struct ManifestStream<I> {
    /// Everything up to and including the `[` of the file list.
    head: Vec<u8>,
    /// From the `]` of the file list to the end.
    tail: Vec<u8>,
    items: I,
    buf: Vec<u8>,
    pos: usize,
    stage: Stage,
    first: bool,
    scratch: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Head,
    Items,
    Tail,
    Done,
}

impl<'a, I: Iterator<Item = FileRecordOut<'a>>> ManifestStream<I> {
    /// A stream of `m`'s fields (its `files` ignored) and `items`.
    pub fn new<F>(m: &ManifestOf<F>, items: I) -> ManifestStream<I> {
        let shell = ManifestOf {
            format: m.format.clone(),
            checksum: m.checksum.clone(),
            generator: m.generator.clone(),
            media_type: m.media_type.clone(),
            label: m.label.clone(),
            media_guid: m.media_guid.clone(),
            created: m.created.clone(),
            profile: m.profile.clone(),
            validity: m.validity.clone(),
            site: m.site.clone(),
            certificate: m.certificate.clone(),
            encryption: m.encryption.clone(),
            files: [(); 0],
        };
        let mut all = Vec::new();
        shell.write_raw(&mut all).expect("writing to memory");
        // The empty list renders as `[]`: split there.
        const EMPTY: &[u8] = b"\"files\": []";
        let at = all
            .windows(EMPTY.len())
            .rposition(|w| w == EMPTY)
            .expect("the file list is rendered")
            + EMPTY.len()
            - 1;
        let tail = all.split_off(at);
        ManifestStream {
            head: all,
            tail,
            items,
            buf: Vec::new(),
            pos: 0,
            stage: Stage::Head,
            first: true,
            scratch: Vec::new(),
        }
    }

    /// Fills `buf` with the next piece; false at the end.
    fn refill(&mut self) -> bool {
        self.buf.clear();
        self.pos = 0;
        loop {
            match self.stage {
                Stage::Head => {
                    std::mem::swap(&mut self.buf, &mut self.head);
                    self.stage = Stage::Items;
                    return true;
                }
                Stage::Items => {
                    // A batch of records, indented to their depth (4 spaces).
                    for item in self.items.by_ref() {
                        self.buf
                            .extend_from_slice(if self.first { b"\n" } else { b",\n" });
                        self.first = false;
                        self.scratch.clear();
                        serde_json::to_writer_pretty(&mut self.scratch, &item)
                            .expect("a file record serializes");
                        for (i, line) in self.scratch.split(|&b| b == b'\n').enumerate() {
                            if i > 0 {
                                self.buf.push(b'\n');
                            }
                            self.buf.extend_from_slice(b"    ");
                            self.buf.extend_from_slice(line);
                        }
                        if self.buf.len() >= 64 * 1024 {
                            return true;
                        }
                    }
                    if !self.first {
                        self.buf.extend_from_slice(b"\n  ");
                    }
                    self.stage = Stage::Tail;
                    if !self.buf.is_empty() {
                        return true;
                    }
                }
                Stage::Tail => {
                    std::mem::swap(&mut self.buf, &mut self.tail);
                    self.stage = Stage::Done;
                    return true;
                }
                Stage::Done => return false,
            }
        }
    }
}

impl<'a, I: Iterator<Item = FileRecordOut<'a>>> std::io::Read for ManifestStream<I> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            if !self.refill() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;
    use std::io::Read;

    fn sample(files: Vec<FileRecord>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            checksum: UNKNOWN_SHA256.into(),
            generator: "tsmedia test".into(),
            media_type: "standalone".into(),
            label: "L\u{e9}bel \"q\"".into(),
            media_guid: "{G}".into(),
            created: "2026-01-01T00:00:00Z".into(),
            profile: ProfileIdentity {
                name: None,
                sha256: "ab".repeat(32),
            },
            validity: Some(Validity {
                start: None,
                expiry: Some("2030-01-01T00:00:00Z".into()),
            }),
            site: None,
            certificate: None,
            encryption: None,
            files,
        }
    }

    fn streamed(m: &Manifest) -> Vec<u8> {
        let items = m.files.iter().map(|f| FileRecordOut {
            path: &f.path,
            size: f.size,
            sha256: HexDigest(Some(hex::decode(&f.sha256).unwrap().try_into().unwrap())),
            encrypted: f.encrypted.clone(),
            volume: f.volume,
        });
        let mut out = Vec::new();
        ManifestStream::new(m, items).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn streamed_manifest_is_byte_identical_to_the_serialized_one() {
        let files = (0..3000)
            .map(|i| FileRecord {
                path: format!("SMS/PKG/A/d{}/\u{fc}ber \"{i}\".bin", i % 7),
                size: i,
                sha256: hex::encode([i as u8; 32]),
                encrypted: (i % 3 == 0).then_some(EncryptedRecord { plain_size: i / 2 }),
                volume: (i % 5 == 0).then_some(2),
            })
            .collect();
        for m in [sample(files), sample(Vec::new())] {
            let whole = m.to_bytes();
            let mut with_sum = m.clone();
            with_sum.checksum = Manifest::from_bytes(&whole).unwrap().checksum;
            assert_eq!(streamed(&with_sum), whole);
            assert!(Manifest::from_bytes(&whole).unwrap().checksum_ok());
        }
    }
}
