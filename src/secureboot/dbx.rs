//! Microsoft's published DBX data (`dbx_info_msft_latest.json` of
//! microsoft/secureboot_objects): revoked Authenticode hashes per
//! architecture, revoked CA certificates, and the minimum security versions
//! (SVN) of Windows boot components.
//!
//! The JSON has three sections:
//! - `images`: `{ "x64": [ { "authenticodeHash", "hashType", "filename",
//!   "dateOfAddition", ... } ], "ia32": [...], ... }`
//! - `certificates`: `[ { "thumbprint", "subjectName", "description",
//!   "dateOfAddition", ... } ]`
//! - `svns`: `[ { "value", "version", "filename", "guid", "description",
//!   "dateOfLastChange" } ]`, where `value` is the 32-byte DBX entry in hex:
//!   byte 0 = 1, bytes 1..17 the component GUID (as stored in memory),
//!   bytes 17..19 the minor and 19..21 the major version (little endian),
//!   the rest zero.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::error::UsageError;
use serde::{Deserialize, Serialize};

/// The copy shipped with tsmedia.
pub const BUILTIN_JSON: &[u8] = include_bytes!("../../data/secureboot/dbx_info_msft_latest.json");
/// When the shipped copy was taken (the commit date in data/secureboot/SOURCE).
pub const BUILTIN_TAKEN: &str = "2026-07-15";

/// GUID of the Windows boot manager's SVN entry (EFI_BOOTMGR_DBXSVN_GUID).
pub const BOOTMGR_SVN_GUID: &str = "9d132b61-59d5-4388-ab1c-185c3cb2eb92";

/// At most this many bytes of DBX JSON are read.
const MAX_JSON: u64 = 64 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct DbxImage {
    pub arch: String,
    pub filename: String,
    pub date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DbxCert {
    pub thumbprint: String,
    pub subject: String,
    pub description: String,
}

/// A minimum security version of one boot component.
#[derive(Debug, Clone, Serialize)]
pub struct DbxSvn {
    pub guid: String,
    pub filename: String,
    pub major: u16,
    pub minor: u16,
    pub description: String,
}

/// The DBX data in use.
#[derive(Debug, Clone)]
pub struct Dbx {
    /// Where it came from, for reports.
    pub source: String,
    /// Upper-case SHA-256 Authenticode hash -> the revoked image.
    pub images: HashMap<String, DbxImage>,
    pub certificates: Vec<DbxCert>,
    pub svns: Vec<DbxSvn>,
}

#[derive(Deserialize)]
struct Json {
    #[serde(default)]
    images: HashMap<String, Vec<JsonImage>>,
    #[serde(default)]
    certificates: Vec<JsonCert>,
    #[serde(default)]
    svns: Vec<JsonSvn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonImage {
    authenticode_hash: String,
    #[serde(default)]
    hash_type: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    date_of_addition: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonCert {
    thumbprint: String,
    #[serde(default)]
    subject_name: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSvn {
    value: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    description: String,
}

/// GUID text of 16 bytes in the in-memory (mixed-endian) layout.
fn guid_text(b: &[u8]) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{}-{}",
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    )
}

/// Decodes a 32-byte SVN DBX entry: (GUID, major, minor).
pub fn parse_svn_value(hex_value: &str) -> Option<(String, u16, u16)> {
    let b = hex::decode(hex_value.trim()).ok()?;
    if b.len() != 32 || b[0] != 1 || b[21..].iter().any(|&x| x != 0) {
        return None;
    }
    let minor = u16::from_le_bytes([b[17], b[18]]);
    let major = u16::from_le_bytes([b[19], b[20]]);
    Some((guid_text(&b[1..17]), major, minor))
}

impl Dbx {
    /// The copy shipped with tsmedia.
    pub fn builtin() -> Dbx {
        Dbx::parse(
            BUILTIN_JSON,
            &format!("built-in dbx_info_msft_latest.json of {BUILTIN_TAKEN}"),
        )
        .expect("the built-in DBX data parses")
    }

    /// `--dbx FILE`, or the built-in copy. A file that cannot be read or is
    /// not DBX data is a usage error (exit 2).
    pub fn load(file: Option<&Path>) -> Result<Dbx> {
        let Some(f) = file else {
            return Ok(Dbx::builtin());
        };
        let fix = format!(
            "give --dbx the dbx_info_msft_latest.json of microsoft/secureboot_objects \
             (PreSignedObjects/DBX/), or leave --dbx out to use the built-in copy of {BUILTIN_TAKEN}"
        );
        let usage = |msg: String| anyhow::Error::from(UsageError::new(msg, fix.clone()));
        let len = std::fs::metadata(f)
            .map_err(|e| usage(format!("cannot read {}: {e}", f.display())))?
            .len();
        if len > MAX_JSON {
            return Err(usage(format!(
                "{} is {len} bytes: not a dbx_info_msft_latest.json (at most {MAX_JSON})",
                f.display()
            )));
        }
        let bytes =
            std::fs::read(f).map_err(|e| usage(format!("cannot read {}: {e}", f.display())))?;
        Dbx::parse(&bytes, &f.display().to_string()).map_err(|e| {
            usage(format!(
                "{} is not DBX data like dbx_info_msft_latest.json: {e:#}",
                f.display()
            ))
        })
    }

    /// Parses DBX JSON (see the module documentation).
    pub fn parse(bytes: &[u8], source: &str) -> Result<Dbx> {
        let j: Json = serde_json::from_slice(bytes).context("reading the JSON")?;
        if j.images.is_empty() && j.certificates.is_empty() && j.svns.is_empty() {
            bail!("it has no `images`, `certificates` or `svns`");
        }
        let mut images = HashMap::new();
        let mut archs: Vec<_> = j.images.into_iter().collect();
        archs.sort_by(|a, b| a.0.cmp(&b.0));
        for (arch, list) in archs {
            for i in list {
                if !i.hash_type.is_empty() && !i.hash_type.eq_ignore_ascii_case("SHA256") {
                    continue;
                }
                let h = i.authenticode_hash.trim().to_ascii_uppercase();
                if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                    continue;
                }
                images.entry(h).or_insert(DbxImage {
                    arch: arch.clone(),
                    filename: i.filename,
                    date: i.date_of_addition,
                });
            }
        }
        let certificates = j
            .certificates
            .into_iter()
            .map(|c| DbxCert {
                thumbprint: c.thumbprint.trim().to_ascii_uppercase(),
                subject: c.subject_name,
                description: c.description,
            })
            .collect();
        let mut svns: Vec<DbxSvn> = Vec::new();
        for s in j.svns {
            if let Some((guid, major, minor)) = parse_svn_value(&s.value) {
                // Several entries may raise one component: keep the highest.
                match svns.iter_mut().find(|x| x.guid == guid) {
                    Some(x) if (x.major, x.minor) >= (major, minor) => {}
                    Some(x) => {
                        x.major = major;
                        x.minor = minor;
                        x.filename = s.filename;
                        x.description = s.description;
                    }
                    None => svns.push(DbxSvn {
                        guid,
                        filename: s.filename,
                        major,
                        minor,
                        description: s.description,
                    }),
                }
            }
        }
        Ok(Dbx {
            source: source.to_string(),
            images,
            certificates,
            svns,
        })
    }

    /// The revoked image with this SHA-256 Authenticode hash.
    pub fn image(&self, sha256_hex: &str) -> Option<&DbxImage> {
        self.images.get(&sha256_hex.to_ascii_uppercase())
    }

    /// The revoked certificate with this SHA-1 thumbprint.
    pub fn certificate(&self, thumbprint: &str) -> Option<&DbxCert> {
        self.certificates
            .iter()
            .find(|c| c.thumbprint.eq_ignore_ascii_case(thumbprint))
    }

    /// The boot manager's minimum SVN.
    pub fn bootmgr_svn(&self) -> Option<&DbxSvn> {
        self.svns.iter().find(|s| s.guid == BOOTMGR_SVN_GUID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_data_has_every_section() {
        let d = Dbx::builtin();
        assert!(d.images.len() > 400, "{}", d.images.len());
        assert!(d.certificate(super::super::PCA_2011.thumbprint).is_some());
        let s = d.bootmgr_svn().unwrap();
        assert_eq!((s.major, s.minor), (9, 0));
        assert_eq!(s.filename, "bootmgfw.efi");
    }

    #[test]
    fn svn_values_decode() {
        let (g, maj, min) =
            parse_svn_value("01612B139DD5598843AB1C185C3CB2EB92000009000000000000000000000000")
                .unwrap();
        assert_eq!(g, BOOTMGR_SVN_GUID);
        assert_eq!((maj, min), (9, 0));
        assert!(parse_svn_value("02").is_none());
        assert!(parse_svn_value(
            "01612B139DD5598843AB1C185C3CB2EB92000009000000000000000000000001"
        )
        .is_none());
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(Dbx::parse(b"{}", "x").is_err());
        assert!(Dbx::parse(b"[1]", "x").is_err());
        assert!(Dbx::parse(b"{\"svns\": [{\"value\": \"zz\"}]}", "x").is_ok());
    }
}
