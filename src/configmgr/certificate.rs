//! The media certificate: the client-authentication certificate and RSA key
//! that bootable and prestaged media carry, as a PKCS #12 file, in the media
//! variable `_SMSTSMediaPFX`, protected with the first 31 characters of the
//! `_SMSMediaGuid` text. See docs/media-certificate.md for the format, the
//! choices made here and how an administrator registers the certificate.
//!
//! Two ways to get one:
//! - [`self_signed`]: a new self-signed certificate, RSA 2048 with a SHA-256
//!   signature, valid exactly between the requested dates. Its key comes from
//!   the operating system's random source, or from a PEM file for
//!   reproducible builds; with a PEM key the certificate and PFX are
//!   byte-identical on every run.
//! - [`import_pfx`]: an administrator's PKI certificate and key, taken as they
//!   are and re-protected with the media's password.
//!
//! [`read_pfx`] opens a media PFX for `inspect` and `verify`. The PFX bytes are
//! untrusted input: sizes, nesting and work factors are bounded before any
//! work is done.
//!
//! The PKCS #12 files written here use what OpenSSL 3 writes by default and
//! Windows 10 1709 and later read: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC)
//! for the certificate bag and the shrouded key bag, and an HMAC-SHA256 MAC
//! keyed by the PKCS #12 key derivation.

use anyhow::{anyhow, bail, Context, Result};
use der_08::asn1::{Any, BmpString, ContextSpecific, ObjectIdentifier, OctetString, SetOfVec};
use der_08::{Decode, Encode, Tag};
use hmac::{Hmac, KeyInit, Mac};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::{Digest, Sha256, Sha384, Sha512};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use sha1_011::Sha1;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::OffsetDateTime;
use x509_cert_03::attr::{Attribute, AttributeTypeAndValue};
use x509_cert_03::builder::{Builder, CertificateBuilder};
use x509_cert_03::ext::Extension;
use x509_cert_03::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert_03::serial_number::SerialNumber;
use x509_cert_03::time::{Time, Validity};
use x509_cert_03::{Certificate, TbsCertificate};
use zeroize::Zeroizing;

/// What a self-signed media certificate is made of.
pub struct SelfSignedRequest<'a> {
    /// The subject's common name (CN).
    pub subject_cn: &'a str,
    /// The site code, named in the subject as `OU=Site <code>` when given.
    pub site_code: Option<&'a str>,
    /// The `_SMSMediaGuid` text, named in the subject as `OU=Media <guid>`.
    pub media_guid: &'a str,
    /// Start of validity (whole seconds; any offset, written as UTC).
    pub not_before: OffsetDateTime,
    /// End of validity (whole seconds; any offset, written as UTC).
    pub not_after: OffsetDateTime,
    /// A PKCS #1 or PKCS #8 PEM RSA 2048 private key for reproducible builds;
    /// `None` makes a new key from the operating system's random source.
    pub key_pem: Option<&'a [u8]>,
}

/// The facts of a media certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject as an RFC 4514 string (most specific attribute first).
    pub subject: String,
    /// Issuer as an RFC 4514 string.
    pub issuer: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-1 of the certificate's DER, upper-case hex: what Windows and the
    /// product's console call the thumbprint.
    pub sha1_thumbprint: String,
    /// Issuer equals subject and the certificate's own key verifies its signature.
    pub self_signed: bool,
}

/// A media certificate ready for the media variables.
pub struct MediaCertificate {
    /// The certificate (DER), for `<output>.media.cer`.
    pub der: Vec<u8>,
    /// The PKCS #12 holding the certificate and its private key.
    pub pfx: Vec<u8>,
    pub info: CertInfo,
}

/// The PFX password the product uses: the first 31 characters of the _SMSMediaGuid text.
pub fn pfx_password(media_guid: &str) -> String {
    media_guid.chars().take(31).collect()
}

/// Key size of self-signed media certificates: the product's documented
/// maximum for boot-image client certificates.
pub const KEY_BITS: usize = 2048;
/// PBKDF2 and MAC iteration counts written (OpenSSL 3's defaults).
pub const ITERATIONS: u32 = 2048;
/// The largest PFX accepted.
pub const MAX_PFX_LEN: usize = 1 << 20;
/// The largest iteration count accepted from a PFX (bounds the work a
/// hostile file can ask for; common tools write 2000 to 10 000).
pub const MAX_ITERATIONS: u32 = 1_000_000;
const MAX_NESTING: usize = 4;
const MAX_BAGS: usize = 64;

mod oid {
    use der_08::asn1::ObjectIdentifier as O;
    pub const CN: O = O::new_unwrap("2.5.4.3");
    pub const OU: O = O::new_unwrap("2.5.4.11");
    pub const DATA: O = O::new_unwrap("1.2.840.113549.1.7.1");
    pub const ENCRYPTED_DATA: O = O::new_unwrap("1.2.840.113549.1.7.6");
    pub const KEY_BAG: O = O::new_unwrap("1.2.840.113549.1.12.10.1.1");
    pub const SHROUDED_KEY_BAG: O = O::new_unwrap("1.2.840.113549.1.12.10.1.2");
    pub const CERT_BAG: O = O::new_unwrap("1.2.840.113549.1.12.10.1.3");
    pub const SAFE_CONTENTS_BAG: O = O::new_unwrap("1.2.840.113549.1.12.10.1.6");
    pub const X509_CERT: O = O::new_unwrap("1.2.840.113549.1.9.22.1");
    pub const LOCAL_KEY_ID: O = O::new_unwrap("1.2.840.113549.1.9.21");
    /// Microsoft's "CSP name" bag attribute (szOID_LOCAL_MACHINE_KEYSET's
    /// sibling, 1.3.6.1.4.1.311.17.1): the provider Windows imports the key into.
    pub const MS_CSP_NAME: O = O::new_unwrap("1.3.6.1.4.1.311.17.1");
    pub const PBES2: O = O::new_unwrap("1.2.840.113549.1.5.13");
    pub const PBMAC1: O = O::new_unwrap("1.2.840.113549.1.5.14");
    pub const PBE_SHA1_RC4_128: O = O::new_unwrap("1.2.840.113549.1.12.1.1");
    pub const PBE_SHA1_RC4_40: O = O::new_unwrap("1.2.840.113549.1.12.1.2");
    pub const PBE_SHA1_3DES: O = O::new_unwrap("1.2.840.113549.1.12.1.3");
    pub const PBE_SHA1_2DES: O = O::new_unwrap("1.2.840.113549.1.12.1.4");
    pub const PBE_SHA1_RC2_128: O = O::new_unwrap("1.2.840.113549.1.12.1.5");
    pub const PBE_SHA1_RC2_40: O = O::new_unwrap("1.2.840.113549.1.12.1.6");
    pub const SHA1: O = O::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: O = O::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: O = O::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const RSA_ENCRYPTION: O = O::new_unwrap("1.2.840.113549.1.1.1");
    pub const SHA1_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.5");
    pub const SHA256_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.13");
    pub const BASIC_CONSTRAINTS: O = O::new_unwrap("2.5.29.19");
    pub const KEY_USAGE: O = O::new_unwrap("2.5.29.15");
    pub const EXT_KEY_USAGE: O = O::new_unwrap("2.5.29.37");
    pub const SUBJECT_KEY_ID: O = O::new_unwrap("2.5.29.14");
    pub const AUTHORITY_KEY_ID: O = O::new_unwrap("2.5.29.35");
    /// id-kp-clientAuth: the product requires it on boot-media certificates.
    pub const CLIENT_AUTH: O = O::new_unwrap("1.3.6.1.5.5.7.3.2");
}

/// The provider named in the key bag, so that Windows imports the key into
/// the legacy provider that signs with SHA-256 (the same attribute Windows
/// writes when it exports such a key, and `openssl pkcs12 -export -CSP` writes).
pub const CSP_NAME: &str = "Microsoft Enhanced RSA and AES Cryptographic Provider";

/// Makes a self-signed media certificate and its PFX protected with `pfx_password`.
pub fn self_signed(req: &SelfSignedRequest<'_>, pfx_password: &str) -> Result<MediaCertificate> {
    check_text("subject_cn", req.subject_cn, 64)?;
    check_text("media_guid", req.media_guid, 58)?;
    if let Some(site) = req.site_code {
        check_text("site_code", site, 59)?;
    }
    check_password(pfx_password)?;
    let not_before = x509_time("not_before", req.not_before)?;
    let not_after = x509_time("not_after", req.not_after)?;
    if req.not_after <= req.not_before {
        bail!(
            "the media certificate's expiry ({}) must be after its start ({})",
            req.not_after,
            req.not_before
        );
    }

    let (key, salts) = match req.key_pem {
        Some(pem) => {
            let key = key_from_pem(pem)?;
            let seed = derivation_seed(&key, req, pfx_password)?;
            (key, Salts::Derived(seed))
        }
        None => {
            let mut rng = crypto_common::getrandom::SysRng;
            let key = PrivateKey::new(&mut rng, KEY_BITS)
                .map_err(|e| anyhow!("generating the RSA key: {e}"))?;
            (key, Salts::Random)
        }
    };

    let mut serial = [0u8; 16];
    salts.fill("serial", &mut serial)?;
    // Positive, 16 octets, never a leading zero.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let serial = SerialNumber::new(&serial).map_err(|e| anyhow!("serial number: {e}"))?;

    let subject = subject_name(req)?;
    let public = key.to_public_key();
    let spki = SubjectPublicKeyInfoOwned::from_key(&public)
        .map_err(|e| anyhow!("encoding the public key: {e}"))?;
    let profile = MediaProfile { subject };
    let validity = Validity::new(not_before, not_after);
    let builder = CertificateBuilder::new(profile, serial, validity, spki)
        .map_err(|e| anyhow!("preparing the certificate: {e}"))?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    let cert: Certificate = builder
        .build::<_, Signature>(&signer)
        .map_err(|e| anyhow!("signing the certificate: {e}"))?;
    let der = cert
        .to_der()
        .map_err(|e| anyhow!("encoding the certificate: {e}"))?;
    let key_pkcs8 = pkcs8_der(&key)?;
    let pfx = write_pfx(std::slice::from_ref(&der), &key_pkcs8, pfx_password, &salts)?;
    let info = cert_info(&cert, &der)?;
    Ok(MediaCertificate { der, pfx, info })
}

/// An administrator's PFX: same certificate and key, re-protected with `new_password`.
pub fn import_pfx(pfx: &[u8], password: &str, new_password: &str) -> Result<MediaCertificate> {
    check_password(new_password)?;
    let opened = open_pfx(pfx, password, MAX_ITERATIONS)?;
    let seed = {
        let mut h = Sha256::new();
        h.update(b"tsmedia media certificate import v1\0");
        h.update(&opened.key_pkcs8[..]);
        for c in &opened.certs {
            h.update((c.len() as u64).to_le_bytes());
            h.update(c);
        }
        h.update(new_password.as_bytes());
        Zeroizing::new(<[u8; 32]>::from(h.finalize()))
    };
    let salts = Salts::Derived(seed);
    let out = write_pfx(&opened.certs, &opened.key_pkcs8, new_password, &salts)?;
    let der = opened.certs[0].clone();
    let cert = Certificate::from_der(&der).map_err(|e| anyhow!("certificate: {e}"))?;
    let info = cert_info(&cert, &der)?;
    Ok(MediaCertificate {
        der,
        pfx: out,
        info,
    })
}

/// Opens a media PFX (for inspect/verify): the certificate's facts.
pub fn read_pfx(pfx: &[u8], password: &str) -> Result<CertInfo> {
    read_pfx_limited(pfx, password, MAX_ITERATIONS, true)
}

/// [`read_pfx`] with a lower bound on work, for fuzzing; `check_mac: false`
/// lets a fuzzer's mutations reach the safes behind the MAC.
pub(crate) fn read_pfx_limited(
    pfx: &[u8],
    password: &str,
    max_iterations: u32,
    check_mac: bool,
) -> Result<CertInfo> {
    let opened = open_pfx_inner(pfx, password, max_iterations, check_mac)?;
    let cert = Certificate::from_der(&opened.certs[0]).map_err(|e| anyhow!("certificate: {e}"))?;
    cert_info(&cert, &opened.certs[0])
}

// ---------------------------------------------------------------------------
// Inputs

fn check_text(what: &str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() {
        bail!("the media certificate's {what} is empty");
    }
    if s.len() > max {
        bail!(
            "the media certificate's {what} is {} characters long; at most {max} fit in a certificate name",
            s.len()
        );
    }
    // The product accepts only single-byte characters in certificate names.
    if let Some(c) = s.chars().find(|c| !(' '..='~').contains(c)) {
        bail!(
            "the media certificate's {what} {s:?} contains {c:?}: only printable ASCII is allowed in the product's certificate names"
        );
    }
    Ok(())
}

fn check_password(pw: &str) -> Result<()> {
    if pw.is_empty() {
        bail!("the PFX password is empty");
    }
    // PKCS #12 passwords are BMPStrings for the MAC: UCS-2 only.
    BmpString::from_utf8(pw)
        .map_err(|_| anyhow!("the PFX password has characters outside UCS-2"))?;
    Ok(())
}

fn x509_time(what: &str, t: OffsetDateTime) -> Result<Time> {
    if t.nanosecond() != 0 {
        bail!("the media certificate's {what} ({t}) has a fraction of a second: certificates hold whole seconds");
    }
    let secs = t.unix_timestamp();
    if secs < 0 || t.year() > 9999 {
        bail!("the media certificate's {what} ({t}) must lie between 1970 and 9999");
    }
    let dt = der_08::DateTime::from_unix_duration(std::time::Duration::from_secs(secs as u64))
        .map_err(|e| anyhow!("{what} ({t}): {e}"))?;
    // UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5).
    Ok(Time::from(dt))
}

fn key_from_pem(pem: &[u8]) -> Result<PrivateKey> {
    use pkcs1::DecodeRsaPrivateKey;
    use pkcs8::DecodePrivateKey;
    let text = std::str::from_utf8(pem).context("the key file is not PEM text")?;
    let key = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        PrivateKey::from_pkcs1_pem(text).map_err(|e| anyhow!("reading the PKCS #1 RSA key: {e}"))?
    } else if text.contains("-----BEGIN PRIVATE KEY-----") {
        PrivateKey::from_pkcs8_pem(text).map_err(|e| {
            anyhow!("reading the PKCS #8 key: {e} (the key must be RSA: `openssl genrsa 2048`)")
        })?
    } else if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        bail!("the key file is encrypted; write it unencrypted with `openssl pkey -in KEY -out PLAIN.pem`")
    } else {
        bail!("the key file holds no `RSA PRIVATE KEY` or `PRIVATE KEY` PEM block (make one with `openssl genrsa -out key.pem 2048`)")
    };
    let bits = key.n().bit_width() as usize;
    if bits != KEY_BITS {
        bail!("the media certificate key has {bits} bits; the product's boot media take RSA {KEY_BITS} (make one with `openssl genrsa -out key.pem 2048`)");
    }
    Ok(key)
}

fn pkcs8_der(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>> {
    use pkcs8::EncodePrivateKey;
    let doc = key
        .to_pkcs8_der()
        .map_err(|e| anyhow!("encoding the private key: {e}"))?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// The seed every derived value of a reproducible build comes from: it
/// depends on the key (secret) and on every input, so the serial number,
/// salts and IVs differ between keys and requests, and nobody without the
/// key can predict them.
fn derivation_seed(
    key: &PrivateKey,
    req: &SelfSignedRequest<'_>,
    pw: &str,
) -> Result<Zeroizing<[u8; 32]>> {
    let key_der = pkcs8_der(key)?;
    let mut h = Sha256::new();
    h.update(b"tsmedia media certificate v1\0");
    for part in [
        &key_der[..],
        req.subject_cn.as_bytes(),
        req.site_code.unwrap_or("").as_bytes(),
        &[req.site_code.is_some() as u8],
        req.media_guid.as_bytes(),
        &req.not_before.unix_timestamp().to_le_bytes(),
        &req.not_after.unix_timestamp().to_le_bytes(),
        pw.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    Ok(Zeroizing::new(<[u8; 32]>::from(h.finalize())))
}

/// Where salts, IVs and the serial number come from.
enum Salts {
    /// The operating system's random source.
    Random,
    /// HMAC-SHA256(seed, label || counter): reproducible.
    Derived(Zeroizing<[u8; 32]>),
}

impl Salts {
    fn fill(&self, label: &str, out: &mut [u8]) -> Result<()> {
        match self {
            Salts::Random => {
                getrandom::getrandom(out).map_err(|e| anyhow!("the random source failed: {e}"))
            }
            Salts::Derived(seed) => {
                for (i, chunk) in out.chunks_mut(32).enumerate() {
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&seed[..])
                        .map_err(|_| anyhow!("HMAC key"))?;
                    mac.update(label.as_bytes());
                    mac.update(&(i as u32).to_be_bytes());
                    let block = mac.finalize().into_bytes();
                    chunk.copy_from_slice(&block[..chunk.len()]);
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The certificate

fn utf8_atv(oid: ObjectIdentifier, value: &str) -> Result<RelativeDistinguishedName> {
    let atv = AttributeTypeAndValue {
        oid,
        value: Any::new(Tag::Utf8String, value.as_bytes()).map_err(|e| anyhow!("{e}"))?,
    };
    RelativeDistinguishedName::try_from(vec![atv]).map_err(|e| anyhow!("{e}"))
}

/// `OU=Site <code>, OU=Media <guid>, CN=<subject_cn>` (DER order, most
/// general first), each a UTF8String of printable ASCII.
fn subject_name(req: &SelfSignedRequest<'_>) -> Result<Name> {
    let mut rdns = RdnSequence::default();
    if let Some(site) = req.site_code {
        rdns.push(utf8_atv(oid::OU, &format!("Site {site}"))?);
    }
    rdns.push(utf8_atv(oid::OU, &format!("Media {}", req.media_guid))?);
    rdns.push(utf8_atv(oid::CN, req.subject_cn)?);
    let der = rdns.to_der().map_err(|e| anyhow!("{e}"))?;
    Name::from_der(&der).map_err(|e| anyhow!("subject name: {e}"))
}

/// A self-signed client-authentication end-entity certificate.
struct MediaProfile {
    subject: Name,
}

fn extension<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> x509_cert_03::builder::Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

impl x509_cert_03::builder::profile::BuilderProfile for MediaProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert_03::builder::Result<Vec<Extension>> {
        use x509_cert_03::ext::pkix::{
            AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
            SubjectKeyIdentifier,
        };
        // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
        let key_id = Sha1::digest(spk.subject_public_key.raw_bytes());
        let key_id = OctetString::new(key_id.to_vec())?;
        Ok(vec![
            extension(
                oid::BASIC_CONSTRAINTS,
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            extension(
                oid::KEY_USAGE,
                true,
                &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment),
            )?,
            extension(
                oid::EXT_KEY_USAGE,
                false,
                &ExtendedKeyUsage(vec![oid::CLIENT_AUTH]),
            )?,
            extension(
                oid::SUBJECT_KEY_ID,
                false,
                &SubjectKeyIdentifier(key_id.clone()),
            )?,
            extension(
                oid::AUTHORITY_KEY_ID,
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(key_id),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )?,
        ])
    }
}

fn to_offset(t: &Time) -> Result<OffsetDateTime> {
    let secs = t.to_unix_duration().as_secs();
    OffsetDateTime::from_unix_timestamp(secs as i64).map_err(|e| anyhow!("certificate time: {e}"))
}

fn cert_info(cert: &Certificate, der: &[u8]) -> Result<CertInfo> {
    let tbs = cert.tbs_certificate();
    let subject = tbs.subject().to_string();
    let issuer = tbs.issuer().to_string();
    let self_signed = tbs.subject() == tbs.issuer() && verifies_itself(cert);
    Ok(CertInfo {
        subject,
        issuer,
        not_before: to_offset(&tbs.validity().not_before)?,
        not_after: to_offset(&tbs.validity().not_after)?,
        sha1_thumbprint: hex::encode_upper(Sha1::digest(der)),
        self_signed,
    })
}

/// Whether the certificate's own RSA key verifies its signature.
fn verifies_itself(cert: &Certificate) -> bool {
    let Ok(spki_der) = cert.tbs_certificate().subject_public_key_info().to_der() else {
        return false;
    };
    let Ok(spki) = spki::SubjectPublicKeyInfoRef::from_der(&spki_der) else {
        return false;
    };
    let Ok(public) = PublicKey::try_from(spki) else {
        return false;
    };
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Some(sig) = cert.signature().as_bytes() else {
        return false;
    };
    let Ok(sig) = Signature::try_from(sig) else {
        return false;
    };
    let alg = cert.signature_algorithm().oid;
    if alg == oid::SHA256_WITH_RSA {
        VerifyingKey::<Sha256>::new(public)
            .verify(&tbs, &sig)
            .is_ok()
    } else if alg == oid::SHA384_WITH_RSA {
        VerifyingKey::<Sha384>::new(public)
            .verify(&tbs, &sig)
            .is_ok()
    } else if alg == oid::SHA512_WITH_RSA {
        VerifyingKey::<Sha512>::new(public)
            .verify(&tbs, &sig)
            .is_ok()
    } else if alg == oid::SHA1_WITH_RSA {
        VerifyingKey::<Sha1>::new(public).verify(&tbs, &sig).is_ok()
    } else {
        false
    }
}

/// HMAC over `data` keyed by the PKCS #12 KDF (RFC 7292 B.2, ID 3), with
/// the digest named by an identifier.
macro_rules! pkcs12_mac {
    ($d:ty, $pw:expr, $salt:expr, $iterations:expr, $data:expr) => {{
        let key_len = <$d as Digest>::output_size();
        let key = Zeroizing::new(
            pkcs12::kdf::derive_key_utf8::<$d>(
                $pw,
                $salt,
                pkcs12::kdf::Pkcs12KeyType::Mac,
                $iterations,
                key_len,
            )
            .map_err(|e| anyhow!("the PFX password: {e}"))?,
        );
        let mut mac =
            <Hmac<$d> as KeyInit>::new_from_slice(&key).map_err(|_| anyhow!("HMAC key"))?;
        mac.update($data);
        mac.finalize().into_bytes().to_vec()
    }};
}

// ---------------------------------------------------------------------------
// Writing PKCS #12

fn pbes2_params(salts: &Salts, label: &str) -> Result<pkcs5::pbes2::Parameters> {
    let mut salt = [0u8; 8];
    let mut iv = [0u8; 16];
    salts.fill(&format!("{label} salt"), &mut salt)?;
    salts.fill(&format!("{label} iv"), &mut iv)?;
    pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(ITERATIONS, &salt, iv)
        .map_err(|e| anyhow!("PBES2 parameters: {e}"))
}

fn pbes2_encrypt(
    params: pkcs5::pbes2::Parameters,
    pw: &str,
    plain: &[u8],
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>)> {
    let scheme = pkcs5::EncryptionScheme::Pbes2(params);
    let ct = scheme
        .encrypt(pw.as_bytes(), plain)
        .map_err(|e| anyhow!("encrypting the PFX: {e}"))?;
    let alg = AlgorithmIdentifierOwned::from_der(&scheme.to_der().map_err(|e| anyhow!("{e}"))?)
        .map_err(|e| anyhow!("{e}"))?;
    Ok((alg, ct))
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(|e| anyhow!("{e}"))?;
    Ok(Attribute { oid, values })
}

fn bag(id: ObjectIdentifier, value: Vec<u8>, attrs: Vec<Attribute>) -> Result<pkcs12::SafeBag> {
    let bag_attributes = if attrs.is_empty() {
        None
    } else {
        let mut set = SetOfVec::new();
        for a in attrs {
            set.insert(a).map_err(|e| anyhow!("{e}"))?;
        }
        Some(set)
    };
    // On encoding, the crate wraps `bag_value` in the [0] EXPLICIT tag itself.
    Ok(pkcs12::SafeBag {
        bag_id: id,
        bag_value: value,
        bag_attributes,
    })
}

fn der_err(e: der_08::Error) -> anyhow::Error {
    anyhow!("encoding the PFX: {e}")
}

/// A PKCS #12: the certificates (leaf first) in a PBES2-encrypted safe, the
/// key in a PBES2 shrouded key bag, an HMAC-SHA256 MAC over both.
fn write_pfx(certs: &[Vec<u8>], key_pkcs8: &[u8], pw: &str, salts: &Salts) -> Result<Vec<u8>> {
    use cms_03::content_info::{CmsVersion, ContentInfo};
    use cms_03::encrypted_data::EncryptedData;
    use cms_03::enveloped_data::EncryptedContentInfo;

    let leaf = certs.first().ok_or_else(|| anyhow!("no certificate"))?;
    let local_key_id = Any::new(Tag::OctetString, Sha1::digest(leaf).to_vec()).map_err(der_err)?;

    let mut cert_bags = Vec::new();
    for (i, c) in certs.iter().enumerate() {
        let value = pkcs12::CertBag {
            cert_id: oid::X509_CERT,
            cert_value: OctetString::new(c.clone()).map_err(der_err)?,
        }
        .to_der()
        .map_err(der_err)?;
        let attrs = if i == 0 {
            vec![attribute(oid::LOCAL_KEY_ID, local_key_id.clone())?]
        } else {
            Vec::new()
        };
        cert_bags.push(bag(oid::CERT_BAG, value, attrs)?);
    }
    let cert_safe = cert_bags.to_der().map_err(der_err)?;
    let (alg, ct) = pbes2_encrypt(pbes2_params(salts, "certificates")?, pw, &cert_safe)?;
    let encrypted = EncryptedData {
        version: CmsVersion::V0,
        enc_content_info: EncryptedContentInfo {
            content_type: oid::DATA,
            content_enc_alg: alg,
            encrypted_content: Some(OctetString::new(ct).map_err(der_err)?),
        },
        unprotected_attrs: None,
    };
    let certs_ci = ContentInfo {
        content_type: oid::ENCRYPTED_DATA,
        content: Any::encode_from(&encrypted).map_err(der_err)?,
    };

    let (alg, ct) = pbes2_encrypt(pbes2_params(salts, "key")?, pw, key_pkcs8)?;
    let shrouded = pkcs12::pbe_params::EncryptedPrivateKeyInfo {
        encryption_algorithm: alg,
        encrypted_data: OctetString::new(ct).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)?;
    let csp = Any::new(
        Tag::BmpString,
        BmpString::from_utf8(CSP_NAME).map_err(der_err)?.as_bytes(),
    )
    .map_err(der_err)?;
    let key_bag = bag(
        oid::SHROUDED_KEY_BAG,
        shrouded,
        vec![
            attribute(oid::LOCAL_KEY_ID, local_key_id)?,
            attribute(oid::MS_CSP_NAME, csp)?,
        ],
    )?;
    let key_safe = vec![key_bag].to_der().map_err(der_err)?;
    let key_ci = ContentInfo {
        content_type: oid::DATA,
        content: Any::encode_from(&OctetString::new(key_safe).map_err(der_err)?)
            .map_err(der_err)?,
    };

    let auth_safe = vec![certs_ci, key_ci].to_der().map_err(der_err)?;

    let mut mac_salt = [0u8; 8];
    salts.fill("mac salt", &mut mac_salt)?;
    let mac = pkcs12_mac!(Sha256, pw, &mac_salt, ITERATIONS as i32, &auth_safe);
    let pfx = pkcs12::Pfx {
        version: pkcs12::pfx::Version::V3,
        auth_safe: ContentInfo {
            content_type: oid::DATA,
            content: Any::encode_from(&OctetString::new(auth_safe).map_err(der_err)?)
                .map_err(der_err)?,
        },
        mac_data: Some(pkcs12::MacData {
            mac: pkcs12::DigestInfo {
                algorithm: AlgorithmIdentifierOwned {
                    oid: oid::SHA256,
                    parameters: Some(Any::null()),
                },
                digest: OctetString::new(mac).map_err(der_err)?,
            },
            mac_salt: OctetString::new(mac_salt.to_vec()).map_err(der_err)?,
            iterations: ITERATIONS as i32,
        }),
    };
    pfx.to_der().map_err(der_err)
}

// ---------------------------------------------------------------------------
// Reading PKCS #12

struct Opened {
    /// Leaf (the key's certificate) first, then the others in file order.
    certs: Vec<Vec<u8>>,
    key_pkcs8: Zeroizing<Vec<u8>>,
}

#[derive(Default)]
struct Found {
    certs: Vec<Vec<u8>>,
    keys: Vec<Zeroizing<Vec<u8>>>,
    bags: usize,
}

fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("the PFX is damaged or not a PKCS #12 file: {e}")
}

fn open_pfx(pfx: &[u8], password: &str, max_iterations: u32) -> Result<Opened> {
    open_pfx_inner(pfx, password, max_iterations, true)
}

fn open_pfx_inner(
    pfx: &[u8],
    password: &str,
    max_iterations: u32,
    verify_mac: bool,
) -> Result<Opened> {
    if pfx.len() > MAX_PFX_LEN {
        bail!(
            "the PFX is {} bytes; at most {MAX_PFX_LEN} are accepted",
            pfx.len()
        );
    }
    let parsed = pkcs12::Pfx::from_der(pfx).map_err(|e| {
        anyhow!("the file is not a DER-encoded PKCS #12 (PFX): {e} (BER-encoded files: re-export with `openssl pkcs12`)")
    })?;
    if parsed.auth_safe.content_type != oid::DATA {
        bail!(
            "the PFX uses public-key integrity (content type {}); only password integrity is supported",
            parsed.auth_safe.content_type
        );
    }
    let auth_safe = parsed
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(bad)?;
    let auth_safe = auth_safe.as_bytes();

    let mac = parsed.mac_data.as_ref().ok_or_else(|| {
        anyhow!("the PFX has no password MAC: its integrity and password cannot be checked")
    })?;
    if verify_mac {
        check_mac(mac, password, auth_safe, max_iterations)?;
    }

    let infos: Vec<cms_03::content_info::ContentInfo> = Vec::from_der(auth_safe).map_err(bad)?;
    let mut found = Found::default();
    for ci in &infos {
        if ci.content_type == oid::DATA {
            let os = ci.content.decode_as::<OctetString>().map_err(bad)?;
            read_safe_contents(os.as_bytes(), password, max_iterations, 0, &mut found)?;
        } else if ci.content_type == oid::ENCRYPTED_DATA {
            let ed = ci
                .content
                .decode_as::<cms_03::encrypted_data::EncryptedData>()
                .map_err(bad)?;
            let eci = &ed.enc_content_info;
            let ct = eci
                .encrypted_content
                .as_ref()
                .ok_or_else(|| bad("an encrypted safe without content"))?;
            let plain = decrypt(
                &eci.content_enc_alg,
                password,
                ct.as_bytes(),
                max_iterations,
            )?;
            read_safe_contents(&plain, password, max_iterations, 0, &mut found)?;
        } else {
            bail!(
                "the PFX has a safe of content type {} (public-key privacy mode is not supported; export with a password)",
                ci.content_type
            );
        }
    }

    let key_pkcs8 = match found.keys.len() {
        0 => bail!("the PFX holds no private key: export the certificate with its private key"),
        1 => found.keys.pop().unwrap_or_default(),
        n => bail!("the PFX holds {n} private keys; export only the media certificate and its key"),
    };
    let key = rsa_key(&key_pkcs8)?;
    let public = key.to_public_key();
    let mut leaf = None;
    for (i, c) in found.certs.iter().enumerate() {
        let cert = Certificate::from_der(c).map_err(bad)?;
        let spki_der = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(bad)?;
        if let Ok(spki) = spki::SubjectPublicKeyInfoRef::from_der(&spki_der) {
            if PublicKey::try_from(spki).ok().as_ref() == Some(&public) && leaf.is_none() {
                leaf = Some(i);
            }
        }
    }
    let Some(leaf) = leaf else {
        bail!(
            "no certificate in the PFX matches its private key ({} certificate(s) found)",
            found.certs.len()
        );
    };
    let mut certs = vec![found.certs.remove(leaf)];
    certs.append(&mut found.certs);
    Ok(Opened { certs, key_pkcs8 })
}

fn check_iterations(n: i64, max: u32) -> Result<i32> {
    if n < 1 || n > max as i64 {
        bail!("the PFX asks for {n} key-derivation iterations; 1 to {max} are accepted");
    }
    Ok(n as i32)
}

fn check_mac(mac: &pkcs12::MacData, pw: &str, data: &[u8], max_iterations: u32) -> Result<()> {
    let iterations = check_iterations(mac.iterations as i64, max_iterations)?;
    let salt = mac.mac_salt.as_bytes();
    let alg = mac.mac.algorithm.oid;
    let computed = if alg == oid::SHA256 {
        pkcs12_mac!(Sha256, pw, salt, iterations, data)
    } else if alg == oid::SHA1 {
        pkcs12_mac!(Sha1, pw, salt, iterations, data)
    } else if alg == oid::SHA384 {
        pkcs12_mac!(Sha384, pw, salt, iterations, data)
    } else if alg == oid::SHA512 {
        pkcs12_mac!(Sha512, pw, salt, iterations, data)
    } else if alg == oid::PBMAC1 {
        bail!("the PFX uses a PBMAC1 integrity check (RFC 9579), which is not supported; export it without `-pbmac1_pbkdf2`")
    } else {
        bail!("the PFX's MAC uses digest {alg}; SHA-1, SHA-256, SHA-384 and SHA-512 are supported")
    };
    let expected = mac.mac.digest.as_bytes();
    // Constant-time comparison.
    let same = computed.len() == expected.len()
        && computed
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        bail!("wrong password for the PFX (its integrity check does not match)");
    }
    Ok(())
}

fn read_safe_contents(
    der: &[u8],
    pw: &str,
    max_iterations: u32,
    depth: usize,
    found: &mut Found,
) -> Result<()> {
    if depth > MAX_NESTING {
        bail!("the PFX nests safe contents more than {MAX_NESTING} deep");
    }
    let bags: Vec<pkcs12::SafeBag> = Vec::from_der(der).map_err(bad)?;
    for b in &bags {
        found.bags += 1;
        if found.bags > MAX_BAGS {
            bail!("the PFX holds more than {MAX_BAGS} bags");
        }
        // Decoding keeps the [0] EXPLICIT wrapper in `bag_value`.
        if b.bag_id == oid::CERT_BAG {
            let cs: ContextSpecific<pkcs12::CertBag> =
                ContextSpecific::from_der(&b.bag_value).map_err(bad)?;
            if cs.value.cert_id == oid::X509_CERT {
                let der = cs.value.cert_value.as_bytes().to_vec();
                Certificate::from_der(&der).map_err(bad)?;
                found.certs.push(der);
            }
        } else if b.bag_id == oid::KEY_BAG {
            let cs: ContextSpecific<Any> = ContextSpecific::from_der(&b.bag_value).map_err(bad)?;
            found
                .keys
                .push(Zeroizing::new(cs.value.to_der().map_err(bad)?));
        } else if b.bag_id == oid::SHROUDED_KEY_BAG {
            let cs: ContextSpecific<pkcs12::pbe_params::EncryptedPrivateKeyInfo> =
                ContextSpecific::from_der(&b.bag_value).map_err(bad)?;
            let plain = decrypt(
                &cs.value.encryption_algorithm,
                pw,
                cs.value.encrypted_data.as_bytes(),
                max_iterations,
            )?;
            found.keys.push(plain);
        } else if b.bag_id == oid::SAFE_CONTENTS_BAG {
            let cs: ContextSpecific<Any> = ContextSpecific::from_der(&b.bag_value).map_err(bad)?;
            let inner = cs.value.to_der().map_err(bad)?;
            read_safe_contents(&inner, pw, max_iterations, depth + 1, found)?;
        }
        // CRL and secret bags are not needed and are left out.
    }
    Ok(())
}

fn rsa_key(pkcs8: &[u8]) -> Result<PrivateKey> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(pkcs8).map_err(bad)?;
    if info.algorithm.oid != oid::RSA_ENCRYPTION {
        bail!(
            "the PFX's private key is not RSA (algorithm {}); the product's clients use RSA certificates only",
            info.algorithm.oid
        );
    }
    PrivateKey::try_from(info).map_err(|e| anyhow!("the PFX's RSA private key: {e}"))
}

/// Decrypts a PBES2 or PKCS #12 PBE ciphertext.
fn decrypt(
    alg: &AlgorithmIdentifierOwned,
    pw: &str,
    data: &[u8],
    max_iterations: u32,
) -> Result<Zeroizing<Vec<u8>>> {
    let fail = || anyhow!("decrypting the PFX failed: wrong password or damaged file");
    if alg.oid == oid::PBES2 {
        let scheme = pkcs5::EncryptionScheme::from_der(&alg.to_der().map_err(bad)?)
            .map_err(|e| anyhow!("the PFX uses a PBES2 variant that is not supported: {e}"))?;
        let params = scheme
            .pbes2()
            .ok_or_else(|| bad("PBES2 without parameters"))?;
        match params.kdf.pbkdf2() {
            Some(p) => {
                check_iterations(p.iteration_count as i64, max_iterations)?;
            }
            None => {
                bail!("the PFX derives its keys with scrypt, which is not supported; use PBKDF2")
            }
        }
        return scheme
            .decrypt(pw.as_bytes(), data)
            .map(Zeroizing::new)
            .map_err(|_| fail());
    }
    let legacy = [
        (oid::PBE_SHA1_3DES, 24usize),
        (oid::PBE_SHA1_2DES, 16),
        (oid::PBE_SHA1_RC2_128, 16),
        (oid::PBE_SHA1_RC2_40, 5),
    ];
    let Some(&(_, key_len)) = legacy.iter().find(|(o, _)| *o == alg.oid) else {
        if alg.oid == oid::PBE_SHA1_RC4_128 || alg.oid == oid::PBE_SHA1_RC4_40 {
            bail!("the PFX is encrypted with RC4 (pbeWithSHAAnd*BitRC4), which is not supported; re-export it with `openssl pkcs12 -export` (OpenSSL 3 defaults)");
        }
        bail!(
            "the PFX is encrypted with algorithm {}, which is not supported (supported: PBES2 with PBKDF2 and AES-CBC or 3DES, and pbeWithSHAAnd3-KeyTripleDES-CBC, 2-key 3DES, 128- and 40-bit RC2)",
            alg.oid
        );
    };
    let params = alg
        .parameters
        .as_ref()
        .ok_or_else(|| bad("PKCS #12 PBE without parameters"))?
        .decode_as::<pkcs12::pbe_params::Pkcs12PbeParams>()
        .map_err(bad)?;
    let iterations = check_iterations(params.iterations as i64, max_iterations)?;
    let salt = params.salt.as_bytes();
    let derive = |kind, len| {
        pkcs12::kdf::derive_key_utf8::<Sha1>(pw, salt, kind, iterations, len)
            .map(Zeroizing::new)
            .map_err(|e| anyhow!("the PFX password: {e}"))
    };
    let key = derive(pkcs12::kdf::Pkcs12KeyType::EncryptionKey, key_len)?;
    let iv = derive(pkcs12::kdf::Pkcs12KeyType::Iv, 8)?;
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{BlockModeDecrypt, InnerIvInit, KeyIvInit};
    let mut buf = Zeroizing::new(data.to_vec());
    let n = if alg.oid == oid::PBE_SHA1_3DES {
        cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|_| fail())?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(|p| p.len())
    } else if alg.oid == oid::PBE_SHA1_2DES {
        cbc::Decryptor::<des::TdesEde2>::new_from_slices(&key, &iv)
            .map_err(|_| fail())?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(|p| p.len())
    } else {
        let rc2 = rc2::Rc2::new_with_eff_key_len(&key, key_len * 8);
        cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(rc2, &iv)
            .map_err(|_| fail())?
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map(|p| p.len())
    }
    .map_err(|_| fail())?;
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_the_first_31_characters_of_the_guid() {
        let guid = "{8D2C7DC2-2A47-4A4C-9D6A-0B7E1F3C5A11}";
        assert_eq!(pfx_password(guid), "{8D2C7DC2-2A47-4A4C-9D6A-0B7E1F");
        assert_eq!(pfx_password(guid).len(), 31);
        assert_eq!(pfx_password("short"), "short");
    }

    #[test]
    fn derived_salts_are_stable_and_label_dependent() {
        let s = Salts::Derived(Zeroizing::new([7u8; 32]));
        let (mut a, mut b, mut c) = ([0u8; 40], [0u8; 40], [0u8; 40]);
        s.fill("x", &mut a).unwrap();
        s.fill("x", &mut b).unwrap();
        s.fill("y", &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn rejects_bad_names_and_dates() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut req = SelfSignedRequest {
            subject_cn: "Médïa",
            site_code: None,
            media_guid: "{G}",
            not_before: t,
            not_after: t + time::Duration::days(1),
            key_pem: None,
        };
        let e = self_signed(&req, "pw").err().unwrap().to_string();
        assert!(e.contains("printable ASCII"), "{e}");
        req.subject_cn = "ok";
        req.not_after = t;
        let e = self_signed(&req, "pw").err().unwrap().to_string();
        assert!(e.contains("must be after"), "{e}");
        req.not_after = t + time::Duration::milliseconds(1500);
        let e = self_signed(&req, "pw").err().unwrap().to_string();
        assert!(e.contains("fraction"), "{e}");
    }

    #[test]
    fn garbage_is_not_a_pfx() {
        for data in [&b""[..], b"\x30\x03\x02\x01\x03", b"not a pfx at all"] {
            assert!(read_pfx(data, "pw").is_err());
        }
    }
}
