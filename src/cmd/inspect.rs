//! `tsmedia inspect`: what a medium is.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Global;
use crate::crypto::password::{self, PasswordSource};
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
    /// Whether the medium carries a tsmedia manifest (media the product
    /// made have none).
    tsmedia_manifest: bool,
    media_type: String,
    label: String,
    created: Option<String>,
    generator: Option<String>,
    profile_name: Option<String>,
    profile_sha256: Option<String>,
    media_guid: Option<String>,
    boot_entries: Vec<BootView>,
    site: Option<crate::manifest::SiteInfo>,
    validity_start: Option<String>,
    validity_expiry: Option<DateView>,
    certificate: Option<crate::manifest::CertificateInfo>,
    certificate_expiry: Option<DateView>,
    /// Password protection of the settings files (TsmBootstrap.ini).
    password_required: Option<bool>,
    unknown_computer_support: Option<bool>,
    task_sequence: Option<crate::read::settings::TaskSequenceView>,
    /// Everything read from the product's settings files.
    settings: crate::read::settings::SettingsView,
    encrypted: bool,
    encrypted_files: usize,
    files: usize,
    bytes: u64,
    security_note: Option<String>,
    warnings: Vec<String>,
    /// What every EFI loader of the medium is signed with.
    secure_boot: Option<crate::secureboot::report::SecureBootReport>,
}

/// The profile's name of a product media type code.
fn type_name(code: &str) -> String {
    match code {
        crate::configmgr::BOOT_MEDIA => "bootable",
        crate::configmgr::FULL_MEDIA => "standalone",
        crate::configmgr::OEM_MEDIA => "prestaged",
        crate::configmgr::CAPTURE_MEDIA => "capture",
        other => other,
    }
    .to_string()
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

pub fn run(
    _g: &Global,
    paths: &[PathBuf],
    pw: PasswordSource,
    json: bool,
    dbx: Option<&Path>,
) -> Result<i32> {
    let dbx = crate::secureboot::Dbx::load(dbx)?;
    let m = crate::read::open::open(paths)?;
    let man = crate::verify::read_manifest(m.as_ref()).ok();
    let password = if pw.is_given() {
        Some(password::get(&pw, false)?)
    } else {
        None
    };
    let settings = crate::read::settings::read(m.as_ref(), password.as_ref().map(|p| p.as_str()));
    if man.is_none() && settings.media_type.is_none() && settings.media_guid.is_none() {
        return Err(VerifyFailed(format!(
            "{} is neither a tsmedia medium (no {}) nor task sequence media (no readable {})",
            m.describe(),
            crate::manifest::MANIFEST_PATH,
            crate::configmgr::BOOTSTRAP_PATH
        ))
        .into());
    }
    let now = now();
    let mut warnings = Vec::new();
    let validity_start = man
        .as_ref()
        .and_then(|m| m.validity.as_ref())
        .and_then(|v| v.start.clone())
        .or_else(|| settings.validity_start.clone());
    let validity_expiry = man
        .as_ref()
        .and_then(|m| m.validity.as_ref())
        .and_then(|v| v.expiry.clone())
        .or_else(|| settings.validity_expiry.clone())
        .and_then(|e| days(&e, now));
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
    if let Some(s) = validity_start.as_deref().and_then(|s| days(s, now)) {
        if !s.expired {
            warnings.push(format!("the medium is not valid before {}", s.date));
        }
    }
    // The certificate: what the PFX itself says, else the manifest's record.
    let from_pfx = settings
        .certificate
        .as_ref()
        .filter(|c| c.subject.is_some());
    let certificate = match (from_pfx, man.as_ref().and_then(|m| m.certificate.clone())) {
        (Some(c), recorded) => Some(crate::manifest::CertificateInfo {
            kind: recorded.map(|r| r.kind).unwrap_or_else(|| {
                if c.self_signed == Some(true) {
                    "self-signed".into()
                } else {
                    "pfx".into()
                }
            }),
            subject: c.subject.clone(),
            start: c.not_before.clone(),
            expiry: c.not_after.clone(),
        }),
        (None, Some(r)) => Some(r),
        (None, None) => settings
            .certificate
            .as_ref()
            .map(|_| crate::manifest::CertificateInfo {
                kind: "pfx".into(),
                subject: None,
                start: None,
                expiry: None,
            }),
    };
    let certificate_expiry = certificate
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
    if settings.variables.starts_with("locked") && password.is_none() {
        warnings.push(
            "the settings are password protected: give --password-file or --password-env to see them"
                .into(),
        );
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
    let site = man.as_ref().and_then(|m| m.site.clone()).or_else(|| {
        settings
            .site_code
            .as_ref()
            .map(|code| crate::manifest::SiteInfo {
                code: code.clone(),
                management_points: settings.management_points.clone(),
                mode: settings.mode.clone().unwrap_or_default(),
            })
    });
    let security_note = (settings.variables == "opened with the default password").then(|| {
        "no media password: anyone holding the medium can read its variables (the default password is public)".to_string()
    });
    let all_files = m.files();
    let v = InspectView {
        medium: m.describe(),
        tsmedia_manifest: man.is_some(),
        media_type: man
            .as_ref()
            .map(|m| m.media_type.clone())
            .or_else(|| settings.media_type.as_deref().map(type_name))
            .or_else(|| settings.variables_media_type.as_deref().map(type_name))
            .unwrap_or_default(),
        label: man
            .as_ref()
            .map(|m| m.label.clone())
            .or_else(|| settings.media_label.clone())
            .or_else(|| m.label())
            .unwrap_or_default(),
        created: man.as_ref().map(|m| m.created.clone()),
        generator: man.as_ref().map(|m| m.generator.clone()),
        profile_name: man.as_ref().and_then(|m| m.profile.name.clone()),
        profile_sha256: man.as_ref().map(|m| m.profile.sha256.clone()),
        media_guid: man
            .as_ref()
            .map(|m| m.media_guid.clone())
            .or_else(|| settings.media_guid.clone()),
        boot_entries,
        site,
        validity_start,
        validity_expiry,
        certificate,
        certificate_expiry,
        password_required: settings.password_required,
        unknown_computer_support: settings.unknown_computer_support,
        task_sequence: settings.task_sequence.clone(),
        encrypted: man.as_ref().is_some_and(|m| m.encryption.is_some()),
        encrypted_files: man
            .as_ref()
            .map(|m| m.files.iter().filter(|f| f.encrypted.is_some()).count())
            .unwrap_or(0),
        files: man
            .as_ref()
            .map(|m| m.files.len() + 1)
            .unwrap_or(all_files.len()),
        bytes: man
            .as_ref()
            .map(|m| m.files.iter().map(|f| f.size).sum())
            .unwrap_or_else(|| all_files.iter().map(|f| f.size).sum()),
        security_note,
        warnings,
        secure_boot: Some(sb),
        settings,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("medium:       {}", v.medium);
    if !v.tsmedia_manifest {
        println!("made by:      not tsmedia (no tsmedia manifest): read from the product's settings files");
    }
    println!("media type:   {}", v.media_type);
    println!("label:        {}", v.label);
    if let (Some(c), Some(g)) = (&v.created, &v.generator) {
        println!("created:      {c} by {g}");
    }
    if let Some(sha) = &v.profile_sha256 {
        println!(
            "profile:      {} (sha256 {})",
            v.profile_name.as_deref().unwrap_or("(unnamed)"),
            sha
        );
    }
    println!(
        "media GUID:   {}",
        v.media_guid.as_deref().unwrap_or("(unknown)")
    );
    println!(
        "password:     {}",
        match v.password_required {
            Some(true) => "required (Variables.dat and Policy.xml are protected)",
            Some(false) => "none",
            None => "(unknown)",
        }
    );
    println!("variables:    {}", v.settings.variables);
    if let Some(p) = &v.settings.policy {
        println!("policy:       {p}");
    }
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
    if let Some(u) = v.unknown_computer_support {
        println!(
            "unknown computers: {}",
            if u { "supported" } else { "not supported" }
        );
    }
    if let Some(ts) = &v.task_sequence {
        println!(
            "task sequence: {} ({}), {} steps, {} packages",
            ts.name,
            ts.id,
            ts.steps
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            ts.packages.len()
        );
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
    if let Some(n) = &v.security_note {
        println!("security:     {n}");
    }
    for w in &v.warnings {
        println!("WARNING:      {w}");
    }
    Ok(0)
}
