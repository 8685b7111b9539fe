//! The settings files tsmedia writes under `SMS/data`: `TsmBootstrap.ini`,
//! `Variables.dat` (media variables, XML) and `Policy.xml` (the task
//! sequence and the content it references). All output is deterministic.

use std::fmt::Write as _;

use base64::Engine as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::profile::{MediaCertificate, MediaType, SiteMode, ValidProfile};

/// Escapes text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The product's name for each media type.
pub fn media_type_code(t: MediaType) -> &'static str {
    match t {
        MediaType::Capture => "CaptureMedia",
        MediaType::Bootable => "BootMedia",
        MediaType::Prestaged => "OEMMedia",
        MediaType::Standalone => "FullMedia",
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Where things live on the medium, as the settings files refer to them.
pub struct Paths<'a> {
    pub os_image: Option<&'a str>,
    pub packages: &'a [super::packages::PackageOnMedium],
    pub prestart: Option<&'a str>,
}

pub fn bootstrap_ini(vp: &ValidProfile, media_guid: &str) -> Vec<u8> {
    let p = vp.profile();
    let mut s = String::new();
    s.push_str("[MediaInfo]\r\n");
    let _ = write!(s, "MediaType={}\r\n", media_type_code(p.media_type));
    let _ = write!(s, "MediaGuid={media_guid}\r\n");
    let _ = write!(s, "MediaLabel={}\r\n", p.label);
    let _ = write!(s, "IsPasswordRequired={}\r\n", p.media.password_protected);
    let _ = write!(s, "Unattended={}\r\n", p.media.unattended);
    let _ = write!(s, "Generator=tsmedia {}\r\n", env!("CARGO_PKG_VERSION"));
    if let Some(info) = &p.prestaged {
        s.push_str("[PrestagedMedia]\r\n");
        for (k, v) in [
            ("Name", &info.name),
            ("Description", &info.description),
            ("CreatedBy", &info.created_by),
            ("Version", &info.version),
            ("Comment", &info.comment),
        ] {
            if let Some(v) = v {
                let v = v.replace(['\r', '\n'], " ");
                let _ = write!(s, "{k}={v}\r\n");
            }
        }
    }
    s.into_bytes()
}

fn var(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "  <var name=\"{}\">{}</var>",
        xml_escape(name),
        xml_escape(value)
    );
}

/// Media variables. Built-in names start with `_`; the profile's own
/// variables follow in name order.
pub fn variables_dat(
    vp: &ValidProfile,
    media_guid: &str,
    paths: &Paths<'_>,
) -> std::io::Result<Vec<u8>> {
    let p = vp.profile();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<MediaVariables version=\"1\">\n");
    var(&mut s, "_SMSMediaGuid", media_guid);
    var(&mut s, "_SMSTSMediaType", media_type_code(p.media_type));
    var(&mut s, "_SMSTSMediaLabel", &p.label);
    var(&mut s, "_SMSTSUnattended", &p.media.unattended.to_string());
    var(
        &mut s,
        "_SMSTSMediaPasswordRequired",
        &p.media.password_protected.to_string(),
    );
    if let Some(t) = vp.dates.media_start {
        var(&mut s, "_SMSTSMediaStart", &rfc3339(t));
    }
    if let Some(t) = vp.dates.media_expiry {
        var(&mut s, "_SMSTSMediaExpiry", &rfc3339(t));
    }
    if let Some(site) = &p.site {
        var(&mut s, "_SMSTSSiteCode", &site.code);
        var(&mut s, "_SMSTSMP", &site.management_points.join("*"));
        var(
            &mut s,
            "_SMSTSMediaMode",
            match site.mode {
                SiteMode::Dynamic => "dynamic",
                SiteMode::SiteBased => "site-based",
            },
        );
        let mut certs = Vec::new();
        for c in &site.root_certificates {
            certs.push(b64.encode(std::fs::read(vp.resolve(c))?));
        }
        if !certs.is_empty() {
            var(&mut s, "_SMSTSRootCACerts", &certs.join("|"));
        }
        match &site.media_certificate {
            Some(MediaCertificate::Pfx(pfx)) => {
                var(
                    &mut s,
                    "_SMSTSMediaPFX",
                    &b64.encode(std::fs::read(vp.resolve(&pfx.pfx))?),
                );
                let pw = std::env::var(&pfx.password_env).unwrap_or_default();
                var(&mut s, "_SMSTSMediaPFXPassword", &pw);
            }
            Some(MediaCertificate::SelfSigned(_)) => {
                var(&mut s, "_SMSTSMediaCertSelfSigned", "true");
                var(
                    &mut s,
                    "_SMSTSMediaCertSubject",
                    &format!("CN=tsmedia {} {}", p.label, media_guid),
                );
                if let Some(t) = vp.dates.cert_start {
                    var(&mut s, "_SMSTSMediaCertStart", &rfc3339(t));
                }
                if let Some(t) = vp.dates.cert_expiry {
                    var(&mut s, "_SMSTSMediaCertExpiry", &rfc3339(t));
                }
            }
            None => {}
        }
    }
    if let Some(u) = p.media.unknown_computer_support {
        var(&mut s, "_SMSTSUnknownComputerSupport", &u.to_string());
    }
    if let Some(a) = p.media.user_device_affinity {
        var(&mut s, "_SMSTSUserDeviceAffinity", a.as_str());
    }
    if let Some(ps) = &p.prestart {
        var(&mut s, "_SMSTSPreStartCommandLine", &ps.command);
        if let Some(dir) = paths.prestart {
            var(&mut s, "_SMSTSPreStartContent", &format!("/{dir}"));
        }
    }
    if let Some(c) = &p.capture {
        var(&mut s, "_SMSTSCaptureDestination", &c.destination);
        var(&mut s, "_SMSTSCaptureImageName", &c.image_name);
        if let Some(d) = &c.image_description {
            var(&mut s, "_SMSTSCaptureImageDescription", d);
        }
        if let Some(v) = &c.username_variable {
            var(&mut s, "_SMSTSCaptureUserVariable", v);
        }
        if let Some(v) = &c.password_variable {
            var(&mut s, "_SMSTSCapturePasswordVariable", v);
        }
    }
    for (k, v) in &p.variables {
        var(&mut s, k, v);
    }
    s.push_str("</MediaVariables>\n");
    Ok(s.into_bytes())
}

/// The task sequence policy of standalone (and prestaged) media.
pub fn policy_xml(
    vp: &ValidProfile,
    media_guid: &str,
    paths: &Paths<'_>,
) -> std::io::Result<Option<Vec<u8>>> {
    let p = vp.profile();
    let Some(ts) = &p.task_sequence else {
        return Ok(None);
    };
    let body = std::fs::read_to_string(vp.resolve(&ts.path))?;
    let body = body.trim_start_matches('\u{feff}');
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let _ = writeln!(
        s,
        "<Policy type=\"{}\" mediaGuid=\"{}\">",
        media_type_code(p.media_type),
        media_guid
    );
    let _ = writeln!(
        s,
        "  <TaskSequence id=\"{}\" name=\"{}\">{}</TaskSequence>",
        xml_escape(&ts.id),
        xml_escape(&ts.name),
        xml_escape(body)
    );
    if let (Some(os), Some(path)) = (&p.os_image, paths.os_image) {
        let _ = writeln!(
            s,
            "  <OperatingSystemImage id=\"{}\" index=\"{}\" path=\"/{}\"/>",
            xml_escape(&os.id),
            os.index,
            xml_escape(path)
        );
    }
    s.push_str("  <Packages>\n");
    for pkg in paths.packages {
        let _ = writeln!(
            s,
            "    <Package id=\"{}\" name=\"{}\" kind=\"{}\" path=\"/{}\"/>",
            xml_escape(&pkg.id),
            xml_escape(&pkg.name),
            pkg.kind.as_str(),
            xml_escape(&pkg.path)
        );
    }
    s.push_str("  </Packages>\n");
    if vp.dates.media_start.is_some() || vp.dates.media_expiry.is_some() {
        let _ = writeln!(
            s,
            "  <Validity start=\"{}\" expiry=\"{}\"/>",
            vp.dates.media_start.map(rfc3339).unwrap_or_default(),
            vp.dates.media_expiry.map(rfc3339).unwrap_or_default()
        );
    }
    s.push_str("</Policy>\n");
    Ok(Some(s.into_bytes()))
}
