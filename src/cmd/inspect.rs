//! `tsmedia inspect`: what a medium is.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Global;
use crate::error::VerifyFailed;
use crate::read::PLATFORM_EFI;

#[derive(Debug, Serialize)]
struct BootView {
    firmware: &'static str,
    emulation: String,
    path: Option<String>,
}

#[derive(Debug, Serialize)]
struct DateView {
    date: String,
    days_left: i64,
    expired: bool,
}

#[derive(Debug, Serialize)]
struct InspectView {
    medium: String,
    media_type: String,
    label: String,
    created: String,
    generator: String,
    profile_name: Option<String>,
    profile_sha256: String,
    media_guid: String,
    boot_entries: Vec<BootView>,
    site: Option<crate::manifest::SiteInfo>,
    validity_start: Option<String>,
    validity_expiry: Option<DateView>,
    certificate: Option<crate::manifest::CertificateInfo>,
    certificate_expiry: Option<DateView>,
    encrypted: bool,
    encrypted_files: usize,
    files: usize,
    bytes: u64,
    warnings: Vec<String>,
    /// What every EFI loader of the medium is signed with.
    secure_boot: Option<crate::secureboot::report::SecureBootReport>,
}

fn days(s: &str, now: OffsetDateTime) -> Option<DateView> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let d = (t - now).whole_days();
    Some(DateView {
        date: s.to_string(),
        days_left: d,
        expired: t <= now,
    })
}

/// The time `inspect` compares dates with (`TSMEDIA_NOW`, RFC 3339, for tests).
fn now() -> OffsetDateTime {
    std::env::var("TSMEDIA_NOW")
        .ok()
        .and_then(|v| OffsetDateTime::parse(&v, &Rfc3339).ok())
        .unwrap_or_else(OffsetDateTime::now_utc)
}

pub fn run(_g: &Global, paths: &[PathBuf], json: bool, dbx: Option<&Path>) -> Result<i32> {
    let dbx = crate::secureboot::Dbx::load(dbx)?;
    let m = crate::read::open::open(paths)?;
    let man = crate::verify::read_manifest(m.as_ref()).map_err(|f| VerifyFailed(f.to_string()))?;
    let now = now();
    let mut warnings = Vec::new();
    let validity_expiry = man
        .validity
        .as_ref()
        .and_then(|v| v.expiry.as_deref())
        .and_then(|e| days(e, now));
    if let Some(d) = &validity_expiry {
        if d.expired {
            warnings.push(format!(
                "the medium expired on {} and will not start a deployment",
                d.date
            ));
        } else if d.days_left < 30 {
            warnings.push(format!(
                "the medium expires in {} days ({})",
                d.days_left, d.date
            ));
        }
    }
    if let Some(s) = man
        .validity
        .as_ref()
        .and_then(|v| v.start.as_deref())
        .and_then(|s| days(s, now))
    {
        if !s.expired {
            warnings.push(format!("the medium is not valid before {}", s.date));
        }
    }
    let certificate_expiry = man
        .certificate
        .as_ref()
        .and_then(|c| c.expiry.as_deref())
        .and_then(|e| days(e, now));
    if let Some(d) = &certificate_expiry {
        if d.expired {
            warnings.push(format!("the media certificate expired on {}", d.date));
        } else if d.days_left < 30 {
            warnings.push(format!(
                "the media certificate expires in {} days ({})",
                d.days_left, d.date
            ));
        }
    }
    let boot_entries = m
        .boot_entries()
        .into_iter()
        .map(|b| BootView {
            firmware: if b.platform == PLATFORM_EFI {
                "UEFI"
            } else if b.platform == 0 {
                "BIOS"
            } else {
                "other"
            },
            emulation: format!("{:?}", b.emulation),
            path: b.path,
        })
        .collect();
    let sb = crate::secureboot::report::from_medium(m.as_ref(), &dbx);
    warnings.extend(sb.warnings.iter().cloned());
    let v = InspectView {
        medium: m.describe(),
        media_type: man.media_type.clone(),
        label: man.label.clone(),
        created: man.created.clone(),
        generator: man.generator.clone(),
        profile_name: man.profile.name.clone(),
        profile_sha256: man.profile.sha256.clone(),
        media_guid: man.media_guid.clone(),
        boot_entries,
        site: man.site.clone(),
        validity_start: man.validity.as_ref().and_then(|v| v.start.clone()),
        validity_expiry,
        certificate: man.certificate.clone(),
        certificate_expiry,
        encrypted: man.encryption.is_some(),
        encrypted_files: man.files.iter().filter(|f| f.encrypted.is_some()).count(),
        files: man.files.len() + 1,
        bytes: man.files.iter().map(|f| f.size).sum(),
        warnings,
        secure_boot: Some(sb),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("medium:       {}", v.medium);
    println!("media type:   {}", v.media_type);
    println!("label:        {}", v.label);
    println!("created:      {} by {}", v.created, v.generator);
    println!(
        "profile:      {} (sha256 {})",
        v.profile_name.as_deref().unwrap_or("(unnamed)"),
        v.profile_sha256
    );
    println!("media GUID:   {}", v.media_guid);
    if v.boot_entries.is_empty() {
        println!("boot:         no boot entries (this format boots from its files)");
    }
    for b in &v.boot_entries {
        println!(
            "boot:         {} {} -> {}",
            b.firmware,
            b.emulation,
            b.path.as_deref().unwrap_or("(no file)")
        );
    }
    if let Some(s) = &v.site {
        println!(
            "site:         {} ({}), management points: {}",
            s.code,
            s.mode,
            s.management_points.join(", ")
        );
    }
    match (&v.validity_start, &v.validity_expiry) {
        (None, None) => println!("validity:     no window"),
        (s, e) => println!(
            "validity:     from {} until {}",
            s.as_deref().unwrap_or("any time"),
            e.as_ref()
                .map(|d| format!(
                    "{} ({})",
                    d.date,
                    if d.expired {
                        "EXPIRED".to_string()
                    } else {
                        format!("{} days left", d.days_left)
                    }
                ))
                .unwrap_or_else(|| "no expiry".into())
        ),
    }
    if let Some(c) = &v.certificate {
        println!(
            "certificate:  {} {}{}",
            c.kind,
            c.subject.as_deref().unwrap_or("(subject inside the PFX)"),
            v.certificate_expiry
                .as_ref()
                .map(|d| format!(
                    ", expires {} ({})",
                    d.date,
                    if d.expired {
                        "EXPIRED".to_string()
                    } else {
                        format!("{} days left", d.days_left)
                    }
                ))
                .unwrap_or_default()
        );
    }
    println!(
        "encrypted:    {}",
        if v.encrypted {
            format!("yes, {} files", v.encrypted_files)
        } else {
            "no".into()
        }
    );
    println!("files:        {} files, {} bytes", v.files, v.bytes);
    for l in v.secure_boot.iter().flat_map(|s| s.text_lines()) {
        println!("{l}");
    }
    for w in &v.warnings {
        println!("WARNING:      {w}");
    }
    Ok(0)
}
