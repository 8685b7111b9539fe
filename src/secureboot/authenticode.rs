//! Authenticode facts of a PE/COFF (EFI) executable: its Authenticode hash
//! (computed here, per the Authenticode specification), every signature
//! (each WIN_CERTIFICATE record and the signatures nested in their unsigned
//! attributes), the CA each signer names, and the boot manager's security
//! version (resource `BOOTMGRSECURITYVERSIONNUMBER`).
//!
//! The bytes are untrusted: every count and length is checked, nothing
//! panics, and nesting is capped.

use anyhow::{bail, Result};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::{ca_by_key_id, thumbprint, KnownCa, KNOWN_CAS};

/// EFI files larger than this are not read.
pub const MAX_PE: u64 = 64 << 20;
/// WIN_CERTIFICATE records read at most.
const MAX_RECORDS: usize = 16;
/// Signatures (primary and nested) read at most, and the nesting depth.
const MAX_SIGNATURES: usize = 32;
const MAX_DEPTH: usize = 4;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_SPC_INDIRECT_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.4");
/// szOID_NESTED_SIGNATURE: an unsigned attribute holding further signatures.
pub const OID_NESTED_SIGNATURE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.4.1");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// WIN_CERT_TYPE_PKCS_SIGNED_DATA.
const WIN_CERT_TYPE_PKCS: u16 = 0x0002;
/// RT_RCDATA resource type.
const RT_RCDATA: u16 = 10;
/// Name of the resource holding the boot manager's SVN.
pub const SVN_RESOURCE: &str = "BOOTMGRSECURITYVERSIONNUMBER";

/// DigestInfo of SpcIndirectDataContent.
#[derive(Debug, der::Sequence)]
struct DigestInfo {
    algorithm: x509_cert::spki::AlgorithmIdentifierOwned,
    digest: OctetString,
}

/// SpcIndirectDataContent: `data` (the PE image data description) is not needed.
#[derive(Debug, der::Sequence)]
struct SpcIndirectData {
    data: der::Any,
    message_digest: DigestInfo,
}

/// What a certificate says about itself.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// SHA-1 of the certificate, upper-case hex.
    pub thumbprint: String,
    /// Subject key identifier, upper-case hex.
    pub key_id: Option<String>,
    /// Key identifier of the authority key identifier extension.
    pub authority_key_id: Option<String>,
}

impl CertFacts {
    pub fn from_der(der: &[u8]) -> Result<CertFacts> {
        let c = Certificate::from_der(der)?;
        Ok(CertFacts::of(&c, der))
    }

    fn of(c: &Certificate, der: &[u8]) -> CertFacts {
        let mut key_id = None;
        let mut authority_key_id = None;
        for e in c.tbs_certificate.extensions.iter().flatten() {
            if e.extn_id == OID_SKI {
                if let Ok(k) = OctetString::from_der(e.extn_value.as_bytes()) {
                    key_id = Some(hex::encode_upper(k.as_bytes()));
                }
            } else if e.extn_id == OID_AKI {
                if let Ok(a) =
                    x509_cert::ext::pkix::AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes())
                {
                    authority_key_id = a.key_identifier.map(|k| hex::encode_upper(k.as_bytes()));
                }
            }
        }
        CertFacts {
            subject: c.tbs_certificate.subject.to_string(),
            issuer: c.tbs_certificate.issuer.to_string(),
            thumbprint: thumbprint(der),
            key_id,
            authority_key_id,
        }
    }
}

/// The CA a signer names, and how it was recognised.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CaName {
    /// Id of a known Microsoft CA (`windows-uefi-ca-2023`, ...), or none.
    pub id: Option<String>,
    /// The known CA's name, or the issuer's distinguished name.
    pub name: String,
    /// How: `key-id` (the signer's authority key identifier is the CA's
    /// subject key identifier), `certificate` (the CA's public certificate,
    /// by SHA-1 thumbprint, is in the signature's certificate set and the
    /// signer's issuer name is that certificate's subject), or `none`.
    pub matched_by: String,
    /// The signer's authority key identifier is the known CA's key id.
    pub key_matches: bool,
}

/// One signature of a file.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureFacts {
    /// 1-based WIN_CERTIFICATE record holding it.
    pub record: usize,
    /// 0 for a record's own signature, 1 and more for nested ones.
    pub nesting: usize,
    /// Digest algorithm of the Authenticode hash it signs.
    pub digest_algorithm: String,
    /// The signed Authenticode hash equals the file's.
    pub digest_matches: bool,
    pub signer: Option<CertFacts>,
    pub ca: CaName,
    /// Thumbprints of every certificate in the signature's certificate set.
    pub certificates: Vec<String>,
}

/// The boot manager's security version.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Svn {
    pub major: u16,
    pub minor: u16,
}

impl std::fmt::Display for Svn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Everything read from one EFI executable.
#[derive(Debug, Clone, Serialize)]
pub struct PeFacts {
    /// SHA-256 Authenticode hash, upper-case hex.
    pub authenticode_sha256: String,
    pub svn: Option<Svn>,
    pub signatures: Vec<SignatureFacts>,
    /// Things that are wrong with the file's structure or signatures.
    pub problems: Vec<String>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Where the hashed bytes and the certificate table are.
struct Layout {
    ranges: Vec<(usize, usize)>,
    /// (file offset, size) of the certificate table.
    certs: Option<(usize, usize)>,
}

fn layout(d: &[u8], problems: &mut Vec<String>) -> Result<Layout> {
    if d.get(0..2) != Some(b"MZ") {
        bail!("not a PE file (no MZ header)");
    }
    let pe = le32(d, 0x3c).unwrap_or(0) as usize;
    if d.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0") {
        bail!("not a PE file (no PE signature)");
    }
    let coff = pe + 4;
    let nsec = le16(d, coff + 2).unwrap_or(0) as usize;
    let opt_size = le16(d, coff + 16).unwrap_or(0) as usize;
    let opt = coff + 20;
    let magic = le16(d, opt).unwrap_or(0);
    let (nrva_at, dd_at) = match magic {
        0x10b => (opt + 92, opt + 96),
        0x20b => (opt + 108, opt + 112),
        m => bail!("not a PE file (optional header magic 0x{m:04X})"),
    };
    let checksum = opt + 64;
    let headers = le32(d, opt + 60).unwrap_or(0) as usize;
    let nrva = le32(d, nrva_at).unwrap_or(0) as usize;
    if headers > d.len() || headers < dd_at {
        bail!("a PE file with a broken header size ({headers} bytes)");
    }
    let mut ranges = vec![(0, checksum)];
    let mut certs = None;
    if nrva > 4 && dd_at + 5 * 8 <= opt + opt_size {
        let cd = dd_at + 4 * 8;
        ranges.push((checksum + 4, cd));
        ranges.push((cd + 8, headers));
        let off = le32(d, cd).unwrap_or(0) as usize;
        let len = le32(d, cd + 4).unwrap_or(0) as usize;
        if off != 0 && len != 0 {
            if off.checked_add(len).is_some_and(|e| e <= d.len()) && off >= headers {
                certs = Some((off, len));
            } else {
                problems.push(format!(
                    "the certificate table ({len} bytes at {off}) lies outside the file"
                ));
            }
        }
    } else {
        ranges.push((checksum + 4, headers));
    }
    // Sections in file order.
    let table = opt + opt_size;
    let mut secs = Vec::new();
    for i in 0..nsec.min(96) {
        let s = table + i * 40;
        let (Some(size), Some(ptr)) = (le32(d, s + 16), le32(d, s + 20)) else {
            problems.push("the section table is cut short".into());
            break;
        };
        if size == 0 {
            continue;
        }
        let (ptr, size) = (ptr as usize, size as usize);
        let end = ptr.saturating_add(size);
        if end > d.len() {
            problems.push(format!("section {} ends past the end of the file", i + 1));
            continue;
        }
        secs.push((ptr, end));
    }
    secs.sort();
    let mut hashed_end = headers;
    for (s, e) in secs {
        ranges.push((s, e));
        hashed_end = hashed_end.max(e);
    }
    // Data after the sections, up to the certificate table.
    let stop = certs.map(|c| c.0).unwrap_or(d.len());
    if stop > hashed_end {
        ranges.push((hashed_end, stop));
    }
    if let Some((off, len)) = certs {
        if off + len < d.len() {
            problems.push(format!(
                "{} bytes follow the certificate table (it should end the file)",
                d.len() - off - len
            ));
        }
    }
    Ok(Layout { ranges, certs })
}

fn digest<D: Digest>(d: &[u8], l: &Layout) -> Vec<u8> {
    let mut h = D::new();
    for &(s, e) in &l.ranges {
        if s < e && e <= d.len() {
            h.update(&d[s..e]);
        }
    }
    h.finalize().to_vec()
}

/// The SHA-256 Authenticode hash of a PE file (the value DBX lists).
pub fn authenticode_sha256(d: &[u8]) -> Result<String> {
    let l = layout(d, &mut Vec::new())?;
    Ok(hex::encode_upper(digest::<Sha256>(d, &l)))
}

/// Reads everything tsmedia reports about an EFI executable. An error means
/// the bytes are not a PE file at all.
pub fn examine(d: &[u8]) -> Result<PeFacts> {
    let mut problems = Vec::new();
    let l = layout(d, &mut problems)?;
    let sha256 = digest::<Sha256>(d, &l);
    let mut sha1 = None;
    let mut signatures = Vec::new();
    if let Some((off, len)) = l.certs {
        let table = &d[off..off + len];
        let mut pos = 0usize;
        let mut record = 0usize;
        while pos + 8 <= table.len() {
            record += 1;
            if record > MAX_RECORDS {
                problems.push(format!("more than {MAX_RECORDS} certificate records"));
                break;
            }
            let rlen = le32(table, pos).unwrap_or(0) as usize;
            let kind = le16(table, pos + 6).unwrap_or(0);
            if rlen < 8 || pos + rlen > table.len() {
                problems.push(format!(
                    "certificate record {record} has a bad length ({rlen} bytes)"
                ));
                break;
            }
            if kind == WIN_CERT_TYPE_PKCS {
                let body = &table[pos + 8..pos + rlen];
                let mut ctx = Ctx {
                    d,
                    l: &l,
                    sha256: &sha256,
                    sha1: &mut sha1,
                    out: &mut signatures,
                    problems: &mut problems,
                };
                ctx.signed_data(body, record, 0);
            } else {
                problems.push(format!(
                    "certificate record {record} is of type 0x{kind:04X}, not PKCS#7 signed data"
                ));
            }
            pos += rlen.div_ceil(8) * 8;
        }
    }
    Ok(PeFacts {
        authenticode_sha256: hex::encode_upper(&sha256),
        svn: svn(d),
        signatures,
        problems,
    })
}

struct Ctx<'a> {
    d: &'a [u8],
    l: &'a Layout,
    sha256: &'a [u8],
    sha1: &'a mut Option<Vec<u8>>,
    out: &'a mut Vec<SignatureFacts>,
    problems: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn signed_data(&mut self, der_bytes: &[u8], record: usize, nesting: usize) {
        if self.out.len() >= MAX_SIGNATURES {
            self.problems
                .push(format!("more than {MAX_SIGNATURES} signatures"));
            return;
        }
        let what = if nesting == 0 {
            format!("the signature of certificate record {record}")
        } else {
            format!("a nested signature in certificate record {record}")
        };
        // Records are padded to 8 bytes: read only the DER value.
        let ci = match trim_der(der_bytes)
            .ok_or(der::Error::from(der::ErrorKind::Failed))
            .and_then(ContentInfo::from_der)
        {
            Ok(c) => c,
            Err(e) => {
                self.problems
                    .push(format!("{what} is not PKCS#7 signed data: {e}"));
                return;
            }
        };
        if ci.content_type != OID_SIGNED_DATA {
            self.problems
                .push(format!("{what} is of content type {}", ci.content_type));
            return;
        }
        let sd = match ci.content.decode_as::<SignedData>() {
            Ok(s) => s,
            Err(e) => {
                self.problems
                    .push(format!("{what} is not PKCS#7 signed data: {e}"));
                return;
            }
        };
        // The Authenticode hash it signs.
        let mut alg = String::from("unknown");
        let mut signed = None;
        if sd.encap_content_info.econtent_type != OID_SPC_INDIRECT_DATA {
            self.problems
                .push(format!("{what} does not sign Authenticode data"));
        } else if let Some(c) = &sd.encap_content_info.econtent {
            match c.decode_as::<SpcIndirectData>() {
                Ok(s) => {
                    let oid = s.message_digest.algorithm.oid;
                    alg = if oid == OID_SHA256 {
                        "sha256".into()
                    } else if oid == OID_SHA1 {
                        "sha1".into()
                    } else {
                        oid.to_string()
                    };
                    signed = Some((oid, s.message_digest.digest.as_bytes().to_vec()));
                }
                Err(e) => self
                    .problems
                    .push(format!("{what} has unreadable Authenticode data: {e}")),
            }
        }
        let digest_matches = match &signed {
            Some((oid, v)) if *oid == OID_SHA256 => v.as_slice() == self.sha256,
            Some((oid, v)) if *oid == OID_SHA1 => {
                let h = self
                    .sha1
                    .get_or_insert_with(|| digest::<Sha1>(self.d, self.l));
                v.as_slice() == h.as_slice()
            }
            _ => false,
        };
        if signed.is_some() && !digest_matches {
            self.problems.push(format!(
                "{what} signs another Authenticode hash than the file's: the file was changed after signing"
            ));
        }
        // The certificate set.
        let mut certs: Vec<(Certificate, CertFacts)> = Vec::new();
        for cc in sd.certificates.iter().flat_map(|s| s.0.iter()) {
            if let CertificateChoices::Certificate(c) = cc {
                if let Ok(der) = c.to_der() {
                    let f = CertFacts::of(c, &der);
                    certs.push((c.clone(), f));
                }
            }
        }
        let thumbprints: Vec<String> = certs.iter().map(|c| c.1.thumbprint.clone()).collect();
        let signer_infos: Vec<_> = sd.signer_infos.0.iter().collect();
        if signer_infos.is_empty() {
            self.problems.push(format!("{what} has no signer"));
        }
        for si in signer_infos {
            let signer = certs.iter().find(|(c, f)| match &si.sid {
                SignerIdentifier::IssuerAndSerialNumber(i) => {
                    c.tbs_certificate.issuer == i.issuer
                        && c.tbs_certificate.serial_number == i.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(k) => {
                    f.key_id.as_deref() == Some(&hex::encode_upper(k.0.as_bytes()))
                }
            });
            let (issuer_name, signer_facts) = match (signer, &si.sid) {
                (Some((c, f)), _) => (c.tbs_certificate.issuer.clone(), Some(f.clone())),
                (None, SignerIdentifier::IssuerAndSerialNumber(i)) => (i.issuer.clone(), None),
                (None, _) => (Default::default(), None),
            };
            if signer_facts.is_none() {
                self.problems.push(format!(
                    "{what}: the signer's certificate is not in the signature"
                ));
            }
            let ca = name_ca(
                &issuer_name.to_string(),
                signer_facts
                    .as_ref()
                    .and_then(|f| f.authority_key_id.as_deref()),
                &certs,
            );
            self.out.push(SignatureFacts {
                record,
                nesting,
                digest_algorithm: alg.clone(),
                digest_matches,
                signer: signer_facts,
                ca,
                certificates: thumbprints.clone(),
            });
            // Nested signatures.
            for attr in si.unsigned_attrs.iter().flat_map(|a| a.iter()) {
                if attr.oid != OID_NESTED_SIGNATURE {
                    continue;
                }
                if nesting + 1 > MAX_DEPTH {
                    self.problems
                        .push(format!("signatures nested deeper than {MAX_DEPTH}"));
                    continue;
                }
                for v in attr.values.iter() {
                    match v.to_der() {
                        Ok(b) => self.signed_data(&b, record, nesting + 1),
                        Err(e) => self
                            .problems
                            .push(format!("{what} has an unreadable nested signature: {e}")),
                    }
                }
            }
        }
    }
}

/// The DER value at the start of `b` without trailing padding.
fn trim_der(b: &[u8]) -> Option<&[u8]> {
    let mut r = der::SliceReader::new(b).ok()?;
    let h = der::Header::decode(&mut r).ok()?;
    let hl = usize::try_from(u32::from(h.encoded_len().ok()?)).ok()?;
    let vl = usize::try_from(u32::from(h.length)).ok()?;
    b.get(..hl.checked_add(vl)?)
}

/// Names the CA that issued a signer (see [`CaName::matched_by`]).
fn name_ca(issuer: &str, aki: Option<&str>, certs: &[(Certificate, CertFacts)]) -> CaName {
    let known = |ca: &KnownCa, by: &str, key: bool| CaName {
        id: Some(ca.id.to_string()),
        name: ca.name.to_string(),
        matched_by: by.to_string(),
        key_matches: key,
    };
    if let Some(ca) = aki.and_then(ca_by_key_id) {
        return known(ca, "key-id", true);
    }
    for ca in KNOWN_CAS.iter() {
        let in_set = certs
            .iter()
            .any(|(_, f)| f.thumbprint.eq_ignore_ascii_case(ca.thumbprint));
        if !in_set {
            continue;
        }
        let subject = certs
            .iter()
            .find(|(_, f)| f.thumbprint.eq_ignore_ascii_case(ca.thumbprint))
            .map(|(_, f)| f.subject.as_str())
            .unwrap_or_default();
        if !issuer.is_empty() && issuer == subject {
            return known(ca, "certificate", false);
        }
    }
    CaName {
        id: None,
        name: if issuer.is_empty() {
            "an unnamed issuer".into()
        } else {
            issuer.to_string()
        },
        matched_by: "none".into(),
        key_matches: false,
    }
}

/// The boot manager's SVN: the RT_RCDATA resource named
/// `BOOTMGRSECURITYVERSIONNUMBER`, four bytes: minor, then major (u16 LE).
pub fn svn(d: &[u8]) -> Option<Svn> {
    use object::read::pe::{PeFile32, PeFile64};
    match object::read::pe::optional_header_magic(d).ok()? {
        object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => {
            let f = PeFile64::parse(d).ok()?;
            svn_in(d, &f.section_table(), f.data_directories())
        }
        object::pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => {
            let f = PeFile32::parse(d).ok()?;
            svn_in(d, &f.section_table(), f.data_directories())
        }
        _ => None,
    }
}

fn svn_in(
    d: &[u8],
    sections: &object::read::pe::SectionTable<'_>,
    dirs: object::read::pe::DataDirectories<'_>,
) -> Option<Svn> {
    use object::read::pe::ResourceDirectoryEntryData;
    use object::LittleEndian as LE;
    let dir = dirs.resource_directory(d, sections).ok()??;
    let root = dir.root().ok()?;
    let rcdata = root
        .entries
        .iter()
        .find(|e| e.name_or_id().id() == Some(RT_RCDATA))?;
    let table = rcdata.data(dir).ok()?.table()?;
    for e in table.entries.iter() {
        let Some(n) = e.name_or_id().name() else {
            continue;
        };
        if !n
            .to_string_lossy(dir)
            .ok()?
            .eq_ignore_ascii_case(SVN_RESOURCE)
        {
            continue;
        }
        let leaf = match e.data(dir).ok()? {
            ResourceDirectoryEntryData::Data(x) => x,
            ResourceDirectoryEntryData::Table(t) => {
                let first = t.entries.first()?;
                first.data(dir).ok()?.data()?
            }
        };
        let rva = leaf.offset_to_data.get(LE);
        let size = leaf.size.get(LE) as usize;
        let bytes = sections.pe_data_at(d, rva)?;
        if size < 4 || bytes.len() < 4 {
            return None;
        }
        return Some(Svn {
            minor: u16::from_le_bytes([bytes[0], bytes[1]]),
            major: u16::from_le_bytes([bytes[2], bytes[3]]),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ image: headers, one section holding a resource tree
    /// with RCDATA/BOOTMGRSECURITYVERSIONNUMBER/1033 = (minor, major).
    pub(crate) fn tiny_pe(svn: Option<(u16, u16)>) -> Vec<u8> {
        let mut d = vec![0u8; 0x400];
        d[0..2].copy_from_slice(b"MZ");
        d[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        d[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        d[coff..coff + 2].copy_from_slice(&0x8664u16.to_le_bytes());
        d[coff + 2..coff + 4].copy_from_slice(&1u16.to_le_bytes());
        d[coff + 16..coff + 18].copy_from_slice(&240u16.to_le_bytes());
        let opt = coff + 20;
        d[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        d[opt + 32..opt + 36].copy_from_slice(&0x1000u32.to_le_bytes()); // section alignment
        d[opt + 36..opt + 40].copy_from_slice(&0x200u32.to_le_bytes()); // file alignment
        d[opt + 56..opt + 60].copy_from_slice(&0x2000u32.to_le_bytes()); // size of image
        d[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes()); // size of headers
        d[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        let dd = opt + 112;
        // Section .rsrc at RVA 0x1000, file 0x200, 0x200 bytes.
        let s = opt + 240;
        d[s..s + 5].copy_from_slice(b".rsrc");
        d[s + 8..s + 12].copy_from_slice(&0x200u32.to_le_bytes());
        d[s + 12..s + 16].copy_from_slice(&0x1000u32.to_le_bytes());
        d[s + 16..s + 20].copy_from_slice(&0x200u32.to_le_bytes());
        d[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
        if let Some((minor, major)) = svn {
            d[dd + 16..dd + 20].copy_from_slice(&0x1000u32.to_le_bytes());
            d[dd + 20..dd + 24].copy_from_slice(&0x200u32.to_le_bytes());
            let r = 0x200;
            let w16 = |d: &mut Vec<u8>, at: usize, v: u16| {
                d[at..at + 2].copy_from_slice(&v.to_le_bytes())
            };
            let w32 = |d: &mut Vec<u8>, at: usize, v: u32| {
                d[at..at + 4].copy_from_slice(&v.to_le_bytes())
            };
            // Root: one id entry (10) -> table at 0x18.
            w16(&mut d, r + 14, 1);
            w32(&mut d, r + 16, 10);
            w32(&mut d, r + 20, 0x8000_0018);
            // Type table at 0x18: one named entry -> table at 0x30.
            w16(&mut d, r + 0x18 + 12, 1);
            w32(&mut d, r + 0x18 + 16, 0x8000_0080);
            w32(&mut d, r + 0x18 + 20, 0x8000_0030);
            // Name table at 0x30: one id entry (1033) -> data entry at 0x48.
            w16(&mut d, r + 0x30 + 14, 1);
            w32(&mut d, r + 0x30 + 16, 1033);
            w32(&mut d, r + 0x30 + 20, 0x48);
            // Data entry at 0x48: RVA 0x1000+0x60, 4 bytes.
            w32(&mut d, r + 0x48, 0x1060);
            w32(&mut d, r + 0x4c, 4);
            w16(&mut d, r + 0x60, minor);
            w16(&mut d, r + 0x62, major);
            // Name at 0x80: length, UTF-16.
            let name: Vec<u16> = SVN_RESOURCE.encode_utf16().collect();
            w16(&mut d, r + 0x80, name.len() as u16);
            for (i, c) in name.iter().enumerate() {
                w16(&mut d, r + 0x82 + 2 * i, *c);
            }
        }
        d
    }

    #[test]
    fn svn_resource_is_read() {
        assert_eq!(
            svn(&tiny_pe(Some((0, 9)))),
            Some(Svn { major: 9, minor: 0 })
        );
        assert_eq!(
            svn(&tiny_pe(Some((3, 7)))),
            Some(Svn { major: 7, minor: 3 })
        );
        assert_eq!(svn(&tiny_pe(None)), None);
    }

    #[test]
    fn unsigned_pe_has_a_hash_and_no_signatures() {
        let f = examine(&tiny_pe(None)).unwrap();
        assert!(f.signatures.is_empty());
        assert_eq!(f.authenticode_sha256.len(), 64);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        // The checksum does not change the hash.
        let mut p = tiny_pe(None);
        p[0x84 + 20 + 64] = 0x55;
        assert_eq!(authenticode_sha256(&p).unwrap(), f.authenticode_sha256);
        p[0x300] = 1;
        assert_ne!(authenticode_sha256(&p).unwrap(), f.authenticode_sha256);
    }

    #[test]
    fn garbage_is_not_a_pe() {
        assert!(examine(b"").is_err());
        assert!(examine(b"MZ").is_err());
        assert!(examine(&[0u8; 4096]).is_err());
    }
}
