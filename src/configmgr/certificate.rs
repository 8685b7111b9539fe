//! The media certificate: a PKCS#12 (certificate and RSA key) carried in
//! `_SMSTSMediaPFX`, protected with the first 31 characters of the
//! `_SMSMediaGuid` text.
//!
//! This file holds the interface and a stand-in body: `self_signed` fills
//! in the certificate's facts without producing X.509 or PKCS#12 bytes,
//! `import_pfx` carries the administrator's PFX unchanged, and `read_pfx`
//! cannot open a PFX yet.

use anyhow::{bail, Result};
use time::OffsetDateTime;

pub struct SelfSignedRequest<'a> {
    pub subject_cn: &'a str,
    pub site_code: Option<&'a str>,
    pub media_guid: &'a str,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key_pem: Option<&'a [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub sha1_thumbprint: String,
    pub self_signed: bool,
}

#[derive(Debug, Clone)]
pub struct MediaCertificate {
    pub der: Vec<u8>,
    pub pfx: Vec<u8>,
    pub info: CertInfo,
}

/// The PFX password the product uses: the first 31 characters of the _SMSMediaGuid text.
pub fn pfx_password(media_guid: &str) -> String {
    media_guid.chars().take(31).collect()
}

pub fn self_signed(req: &SelfSignedRequest<'_>, _pfx_password: &str) -> Result<MediaCertificate> {
    let subject = format!("CN={}", req.subject_cn);
    Ok(MediaCertificate {
        der: Vec::new(),
        pfx: Vec::new(),
        info: CertInfo {
            issuer: subject.clone(),
            subject,
            not_before: req.not_before,
            not_after: req.not_after,
            sha1_thumbprint: String::new(),
            self_signed: true,
        },
    })
}

/// An administrator's PFX: same certificate and key, re-protected with `new_password`.
pub fn import_pfx(pfx: &[u8], _password: &str, _new_password: &str) -> Result<MediaCertificate> {
    Ok(MediaCertificate {
        der: Vec::new(),
        pfx: pfx.to_vec(),
        info: CertInfo {
            subject: String::new(),
            issuer: String::new(),
            not_before: OffsetDateTime::UNIX_EPOCH,
            not_after: OffsetDateTime::UNIX_EPOCH,
            sha1_thumbprint: String::new(),
            self_signed: false,
        },
    })
}

/// Opens a media PFX (for inspect/verify): the certificate's facts.
pub fn read_pfx(pfx: &[u8], _password: &str) -> Result<CertInfo> {
    if pfx.is_empty() {
        bail!("the media certificate is empty");
    }
    bail!("reading PKCS#12 files is not available in this build")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pfx_password_is_the_first_31_characters() {
        let g = "{11111111-2222-3333-4444-555555555555}";
        assert_eq!(pfx_password(g), "{11111111-2222-3333-4444-555555");
        assert_eq!(pfx_password(g).len(), 31);
    }
}
