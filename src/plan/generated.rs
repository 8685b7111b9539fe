//! The settings files tsmedia writes, in the product's own formats
//! ([`crate::configmgr`]): `SMS/data/TsmBootstrap.ini`, `Variables.dat`
//! (media variables, encrypted), `Policy.xml` (the task sequence policy,
//! encrypted), `MediaLabel.txt`, `autorun.inf`, and the media certificate.
//! All output is deterministic except a generated certificate key.

use anyhow::{Context, Result};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::configmgr::certificate::{self, MediaCertificate, SelfSignedRequest};
use crate::configmgr::envelope::{self, Alg, DEFAULT_PASSWORD};
use crate::configmgr::files::BootstrapIni;
use crate::configmgr::media_vars::MediaVars;
use crate::configmgr::policy::{extract_sequence, PackageOnMedium, TaskSequencePolicy};
use crate::profile::{MediaCertificate as CertChoice, SettingsCipher, SiteMode, ValidProfile};

pub use crate::configmgr::xml_escape;

/// The product's name for each media type (`_SMSTSMediaType`, `MediaType`).
pub fn media_type_code(t: crate::profile::MediaType) -> &'static str {
    use crate::configmgr::{BOOT_MEDIA, CAPTURE_MEDIA, FULL_MEDIA, OEM_MEDIA};
    use crate::profile::MediaType;
    match t {
        MediaType::Capture => CAPTURE_MEDIA,
        MediaType::Bootable => BOOT_MEDIA,
        MediaType::Prestaged => OEM_MEDIA,
        MediaType::Standalone => FULL_MEDIA,
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// What the settings files need besides the profile.
pub struct SettingsInput<'a> {
    pub media_guid: &'a str,
    /// The media password; None writes the product's defaults.
    pub password: Option<&'a str>,
    /// Content the policy lists (OS image, packages), in order.
    pub packages: &'a [PackageOnMedium],
    /// Medium folder of the prestart files.
    pub prestart: Option<&'a str>,
    pub certificate: Option<&'a MediaCertificate>,
}

pub fn alg(c: SettingsCipher) -> Alg {
    match c {
        SettingsCipher::Aes128 => Alg::Aes128,
        SettingsCipher::Aes256 => Alg::Aes256,
    }
}

pub fn bootstrap_ini(vp: &ValidProfile) -> Vec<u8> {
    let p = vp.profile();
    let mut prestaged = Vec::new();
    if let Some(info) = &p.prestaged {
        for (k, v) in [
            ("Name", &info.name),
            ("Description", &info.description),
            ("CreatedBy", &info.created_by),
            ("Version", &info.version),
            ("Comment", &info.comment),
        ] {
            if let Some(v) = v {
                prestaged.push((k.to_string(), v.clone()));
            }
        }
    }
    BootstrapIni {
        media_type: media_type_code(p.media_type).into(),
        password_required: p.media.password_protected,
        unattended: p.media.unattended,
        prestaged,
    }
    .to_bytes()
}

/// The management point variable: `SMSTSMP` (site-based, one URL) or
/// `SMSTSLocationMPs` (dynamic, URLs joined by `*`).
pub fn mp_variable(mode: SiteMode, mps: &[String]) -> (&'static str, String) {
    match mode {
        SiteMode::SiteBased => ("SMSTSMP", mps.first().cloned().unwrap_or_default()),
        SiteMode::Dynamic => ("SMSTSLocationMPs", mps.join("*")),
    }
}

/// The port a management point URL names, or the scheme's default.
fn url_port(url: &str, https: bool) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let host = rest.split('/').next().unwrap_or(rest);
    match host.rsplit_once(':') {
        Some((_, p)) if !host.ends_with(']') => p.parse().ok(),
        _ => Some(if https { 443 } else { 80 }),
    }
}

/// Media variables. The product's names first, then the profile's own
/// variables in name order.
pub fn media_variables(vp: &ValidProfile, inp: &SettingsInput<'_>) -> Result<MediaVars> {
    let p = vp.profile();
    let mut v = MediaVars::new();
    v.set("_SMSMediaGuid", inp.media_guid);
    v.set("_SMSTSMediaType", media_type_code(p.media_type));
    if p.media_type == crate::profile::MediaType::Standalone {
        v.set("_SMSTSStandAloneMedia", "true");
    }
    v.set("_SMSTSUnattended", p.media.unattended.to_string());
    if let Some(t) = vp.dates.media_start {
        v.set("_SMSTSMediaStart", rfc3339(t));
    }
    if let Some(t) = vp.dates.media_expiry {
        v.set("_SMSTSMediaExpiry", rfc3339(t));
    }
    if let Some(site) = &p.site {
        v.set("_SMSTSSiteCode", &site.code);
        let (name, value) = mp_variable(site.mode, &site.management_points);
        v.set(name, value);
        let mps = &site.management_points;
        if let Some(port) = mps
            .iter()
            .find(|u| u.starts_with("http://"))
            .and_then(|u| url_port(u, false))
        {
            v.set("_SMSTSHTTPPort", port.to_string());
        }
        if let Some(port) = mps
            .iter()
            .find(|u| u.starts_with("https://"))
            .and_then(|u| url_port(u, true))
        {
            v.set("_SMSTSHTTPSPort", port.to_string());
        }
        let mut certs = Vec::new();
        for c in &site.root_certificates {
            let path = vp.resolve(c);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            certs.push(hex::encode_upper(der_of(&bytes)));
        }
        if !certs.is_empty() {
            v.set("_SMSTSRootCACerts", certs.join("|"));
        }
        if let Some(c) = inp.certificate {
            v.set("_SMSTSMediaPFX", hex::encode_upper(&c.pfx));
        }
    }
    if let Some(u) = p.media.unknown_computer_support {
        v.set("_SMSTSUnknownComputerSupport", u.to_string());
    }
    if let Some(g) = p
        .site
        .as_ref()
        .and_then(|s| s.unknown_computer_guids.as_ref())
    {
        for (name, guid) in [
            ("_SMSTSx64UnknownMachineGUID", &g.x64),
            ("_SMSTSx86UnknownMachineGUID", &g.x86),
        ] {
            if let Some(guid) = guid {
                v.set(name, guid.trim());
            }
        }
    }
    if let Some(a) = p.media.user_device_affinity {
        v.set("_SMSTSUserDeviceAffinity", a.as_str());
    }
    if let Some(ps) = &p.prestart {
        v.set("_SMSTSPreStartCommandLine", &ps.command);
        if let Some(dir) = inp.prestart {
            v.set("_SMSTSPreStartContent", format!("/{dir}"));
        }
    }
    if let Some(c) = &p.capture {
        v.set("_SMSTSCaptureDestination", &c.destination);
        v.set("_SMSTSCaptureImageName", &c.image_name);
        if let Some(d) = &c.image_description {
            v.set("_SMSTSCaptureImageDescription", d);
        }
        if let Some(x) = &c.username_variable {
            v.set("_SMSTSCaptureUserVariable", x);
        }
        if let Some(x) = &c.password_variable {
            v.set("_SMSTSCapturePasswordVariable", x);
        }
    }
    for (k, val) in &p.variables {
        v.set(k, val);
    }
    Ok(v)
}

/// A certificate file's DER bytes: PEM is decoded, anything else is taken as DER.
fn der_of(bytes: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(bytes);
    if let (Some(a), Some(b)) = (
        text.find("-----BEGIN CERTIFICATE-----"),
        text.find("-----END CERTIFICATE-----"),
    ) {
        let body: String = text[a + 27..b]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(d) = base64::engine::general_purpose::STANDARD.decode(body) {
            return d;
        }
    }
    bytes.to_vec()
}

/// `Variables.dat`: the media variables sealed with the media password,
/// or the product's default password.
pub fn variables_dat(vp: &ValidProfile, inp: &SettingsInput<'_>) -> Result<Vec<u8>> {
    let vars = media_variables(vp, inp)?;
    Ok(envelope::seal(
        &vars.to_plaintext(),
        inp.password.unwrap_or(DEFAULT_PASSWORD),
        alg(vp.profile().media.cipher),
    ))
}

/// The task sequence policy (media with a task sequence).
pub fn policy(vp: &ValidProfile, inp: &SettingsInput<'_>) -> Result<Option<TaskSequencePolicy>> {
    let p = vp.profile();
    let Some(ts) = &p.task_sequence else {
        return Ok(None);
    };
    let path = vp.resolve(&ts.path);
    let body =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let sequence = extract_sequence(&body).with_context(|| {
        format!(
            "{} holds no <sequence> element (export the task sequence as XML)",
            path.display()
        )
    })?;
    Ok(Some(TaskSequencePolicy {
        package_id: ts.id.clone(),
        name: ts.name.clone(),
        advertisement_id: TaskSequencePolicy::media_advertisement_id(&ts.id),
        sequence: sequence.to_string(),
        packages: inp.packages.to_vec(),
    }))
}

/// `Policy.xml`: the policy sealed with the media password, or the text of
/// `_SMSMediaGuid`.
pub fn policy_xml(vp: &ValidProfile, inp: &SettingsInput<'_>) -> Result<Option<Vec<u8>>> {
    Ok(policy(vp, inp)?.map(|pol| {
        envelope::seal(
            &pol.to_plaintext(),
            inp.password.unwrap_or(inp.media_guid),
            alg(vp.profile().media.cipher),
        )
    }))
}

/// The media certificate the profile asks for, made or imported.
pub fn media_certificate(vp: &ValidProfile, media_guid: &str) -> Result<Option<MediaCertificate>> {
    let p = vp.profile();
    let Some(site) = &p.site else {
        return Ok(None);
    };
    let pfx_pw = certificate::pfx_password(media_guid);
    match &site.media_certificate {
        None => Ok(None),
        Some(CertChoice::Pfx(x)) => {
            let path = vp.resolve(&x.pfx);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let pw = std::env::var(&x.password_env).unwrap_or_default();
            certificate::import_pfx(&bytes, &pw, &pfx_pw)
                .with_context(|| format!("importing the media certificate {}", path.display()))
                .map(Some)
        }
        Some(CertChoice::SelfSigned(s)) => {
            let key = match &s.self_signed.key {
                Some(k) => {
                    let path = vp.resolve(k);
                    Some(
                        std::fs::read(&path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    )
                }
                None => None,
            };
            let (Some(start), Some(expiry)) = (vp.dates.cert_start, vp.dates.cert_expiry) else {
                anyhow::bail!("the self-signed certificate has no validity window");
            };
            let cn = subject_cn(&site.code, media_guid);
            let req = SelfSignedRequest {
                subject_cn: &cn,
                site_code: Some(&site.code),
                media_guid,
                not_before: start,
                not_after: expiry,
                key_pem: key.as_deref(),
            };
            certificate::self_signed(&req, &pfx_pw)
                .context("making the self-signed media certificate")
                .map(Some)
        }
    }
}

/// Subject common name of a self-signed media certificate: site and media GUID.
pub fn subject_cn(site_code: &str, media_guid: &str) -> String {
    format!("SMS Media {site_code} {media_guid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_urls() {
        assert_eq!(url_port("http://mp.example", false), Some(80));
        assert_eq!(url_port("https://mp.example/x", true), Some(443));
        assert_eq!(url_port("https://mp.example:8443", true), Some(8443));
    }

    #[test]
    fn pem_certificates_are_decoded() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(der_of(pem), vec![0, 1, 2]);
        assert_eq!(der_of(&[0x30, 0x82]), vec![0x30, 0x82]);
    }
}
