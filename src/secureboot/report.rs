//! What a medium boots with: the Secure Boot facts of every EFI executable
//! that can start it, and the warnings `plan`, `inspect` and `verify` print.

use std::collections::BTreeSet;

use serde::Serialize;

use super::authenticode::{self, SignatureFacts, Svn};
use super::{Dbx, PCA_2011, WINDOWS_UEFI_CA_2023};
use crate::read::fat::FatImage;

/// Paths on a medium of the files that start it.
pub const REMOVABLE_LOADER: &str = "efi/boot/bootx64.efi";
pub const BOOTMGR_EFI: &str = "bootmgr.efi";
pub const EFISYS: &str = "efi/microsoft/boot/efisys.bin";
/// The loader inside the El Torito UEFI image.
pub const EFISYS_LOADER: &str = "EFI/BOOT/BOOTX64.EFI";

/// Warning texts (the wording is the contract of `--json` users).
pub const WARN_PCA_2011: &str =
    "revoked on devices with the KB5025885 mitigations; rebuild with --boot-manager 2023";
pub const WARN_2023: &str = "needs firmware whose DB holds Windows UEFI CA 2023";
pub const WARN_DVD_USB: &str = "boots differently from DVD and from USB";

/// What the DBX data says about a file.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DbxFacts {
    /// The file's Authenticode hash is a revoked image.
    pub hash_revoked: bool,
    /// The boot manager's minimum SVN, when the file carries an SVN.
    pub svn_minimum: Option<Svn>,
    /// The file's SVN is below the minimum.
    pub svn_revoked: bool,
    /// Signing CAs whose certificates the DBX lists.
    pub revoked_cas: Vec<String>,
}

/// The facts of one EFI executable.
#[derive(Debug, Clone, Serialize)]
pub struct BootFileFacts {
    /// Path on the medium; a file inside efisys.bin is `efisys.bin path:inner path`.
    pub path: String,
    /// How firmware reaches it.
    pub role: String,
    pub size: u64,
    pub authenticode_sha256: Option<String>,
    pub signed: bool,
    /// The CAs that issued its signers (known names first), or `unsigned`.
    pub boots_with: Vec<String>,
    pub signatures: Vec<SignatureFacts>,
    pub svn: Option<Svn>,
    pub dbx: DbxFacts,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The Secure Boot section of `plan`, `inspect` and `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct SecureBootReport {
    /// The DBX data compared with.
    pub dbx: String,
    pub files: Vec<BootFileFacts>,
    /// Every warning, each naming its file.
    pub warnings: Vec<String>,
}

/// Facts of one file's bytes.
pub fn file_facts(path: &str, role: &str, bytes: &[u8], dbx: &Dbx) -> BootFileFacts {
    let mut f = BootFileFacts {
        path: path.to_string(),
        role: role.to_string(),
        size: bytes.len() as u64,
        authenticode_sha256: None,
        signed: false,
        boots_with: Vec::new(),
        signatures: Vec::new(),
        svn: None,
        dbx: DbxFacts::default(),
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let pe = match authenticode::examine(bytes) {
        Ok(p) => p,
        Err(e) => {
            f.problems.push(format!("{e:#}"));
            f.boots_with.push("unsigned".into());
            f.warnings
                .push(format!("/{path}: not an EFI executable ({e:#})"));
            return f;
        }
    };
    f.authenticode_sha256 = Some(pe.authenticode_sha256.clone());
    f.signed = !pe.signatures.is_empty();
    f.svn = pe.svn;
    f.problems = pe.problems;
    let mut names: Vec<String> = Vec::new();
    for s in &pe.signatures {
        if !names.contains(&s.ca.name) {
            names.push(s.ca.name.clone());
        }
    }
    f.signatures = pe.signatures;
    if names.is_empty() {
        names.push("unsigned".into());
    }
    f.boots_with = names;

    // DBX.
    if let Some(img) = dbx.image(&pe.authenticode_sha256) {
        f.dbx.hash_revoked = true;
        f.warnings.push(format!(
            "/{path}: revoked: its Authenticode hash is in the DBX ({} {}, added {})",
            img.arch, img.filename, img.date
        ));
    }
    if let Some(svn) = f.svn {
        if let Some(min) = dbx.bootmgr_svn() {
            let min = Svn {
                major: min.major,
                minor: min.minor,
            };
            f.dbx.svn_minimum = Some(min);
            if svn < min {
                f.dbx.svn_revoked = true;
                f.warnings.push(format!(
                    "/{path}: revoked: its boot manager SVN {svn} is below the DBX minimum {min}"
                ));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for s in &f.signatures {
        if !seen.insert(s.ca.name.clone()) {
            continue;
        }
        let ca_thumb = s.ca.id.as_deref().and_then(|id| {
            super::KNOWN_CAS
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.thumbprint)
        });
        if let Some(c) = ca_thumb.and_then(|t| dbx.certificate(t)) {
            f.dbx.revoked_cas.push(s.ca.name.clone());
            if s.ca.id.as_deref() != Some(PCA_2011.id) {
                f.warnings.push(format!(
                    "/{path}: revoked: signed under {}, which the DBX lists ({})",
                    s.ca.name, c.description
                ));
            }
        }
        match s.ca.id.as_deref() {
            Some(id) if id == PCA_2011.id => f.warnings.push(format!(
                "/{path}: signed under {}: {WARN_PCA_2011}",
                PCA_2011.name
            )),
            Some(id) if id == WINDOWS_UEFI_CA_2023.id => f.warnings.push(format!(
                "/{path}: signed under {}: {WARN_2023}",
                WINDOWS_UEFI_CA_2023.name
            )),
            Some(_) => {}
            None => f.warnings.push(format!(
                "/{path}: signed under {}, not a Microsoft UEFI CA: starts only where firmware trusts that CA",
                s.ca.name
            )),
        }
    }
    if !f.signed {
        f.warnings.push(format!(
            "/{path}: unsigned: starts only with Secure Boot off"
        ));
    }
    for p in &f.problems {
        f.warnings.push(format!("/{path}: {p}"));
    }
    f
}

/// Facts of the loader inside an El Torito UEFI image.
pub fn efisys_facts(path: &str, image: &[u8], dbx: &Dbx) -> BootFileFacts {
    let inner = format!("{path}:{EFISYS_LOADER}");
    let role = "UEFI loader inside the El Torito image (DVD boot)";
    let fail = |msg: String| BootFileFacts {
        path: inner.clone(),
        role: role.into(),
        size: 0,
        authenticode_sha256: None,
        signed: false,
        boots_with: vec!["unsigned".into()],
        signatures: Vec::new(),
        svn: None,
        dbx: DbxFacts::default(),
        problems: vec![msg.clone()],
        warnings: vec![format!("/{path}: {msg}")],
    };
    let fat = match FatImage::open(image) {
        Ok(f) => f,
        Err(e) => return fail(format!("not a FAT image: {e:#}")),
    };
    let file = match fat.find(EFISYS_LOADER) {
        Ok(Some(f)) => f,
        Ok(None) => return fail(format!("has no {EFISYS_LOADER}")),
        Err(e) => return fail(format!("unreadable FAT image: {e:#}")),
    };
    match fat.read(&file, authenticode::MAX_PE) {
        Ok(b) => file_facts(&inner, role, &b, dbx),
        Err(e) => fail(format!("cannot read {EFISYS_LOADER}: {e:#}")),
    }
}

/// The files that start a medium, read through `open` (medium path ->
/// bytes, `None` when the medium has no such file); `efisys` is the El
/// Torito UEFI image ([`EFISYS`] on tsmedia's media).
pub fn gather(
    open: &mut dyn FnMut(&str) -> Option<std::io::Result<Vec<u8>>>,
    efisys: &str,
    dbx: &Dbx,
) -> SecureBootReport {
    let mut files = Vec::new();
    let mut read = |path: &str, files: &mut Vec<BootFileFacts>| -> Option<Vec<u8>> {
        match open(path)? {
            Ok(b) => Some(b),
            Err(e) => {
                files.push(BootFileFacts {
                    path: path.into(),
                    role: "unreadable".into(),
                    size: 0,
                    authenticode_sha256: None,
                    signed: false,
                    boots_with: vec!["unsigned".into()],
                    signatures: Vec::new(),
                    svn: None,
                    dbx: DbxFacts::default(),
                    problems: vec![format!("cannot read it: {e}")],
                    warnings: vec![format!("/{path}: cannot read it: {e}")],
                });
                None
            }
        }
    };
    if let Some(b) = read(REMOVABLE_LOADER, &mut files) {
        files.push(file_facts(
            REMOVABLE_LOADER,
            "UEFI removable-media loader (USB and disk boot)",
            &b,
            dbx,
        ));
    }
    if let Some(b) = read(BOOTMGR_EFI, &mut files) {
        files.push(file_facts(BOOTMGR_EFI, "boot manager", &b, dbx));
    }
    if let Some(b) = read(efisys, &mut files) {
        files.push(efisys_facts(efisys, &b, dbx));
    }
    finish(files, dbx)
}

/// Adds the warnings that compare files.
pub fn finish(files: Vec<BootFileFacts>, dbx: &Dbx) -> SecureBootReport {
    let mut warnings: Vec<String> = files.iter().flat_map(|f| f.warnings.clone()).collect();
    let usb = files.iter().find(|f| f.path == REMOVABLE_LOADER);
    let dvd = files
        .iter()
        .find(|f| f.path.ends_with(&format!(":{EFISYS_LOADER}")));
    if let (Some(u), Some(d)) = (usb, dvd) {
        let a: BTreeSet<_> = u.boots_with.iter().collect();
        let b: BTreeSet<_> = d.boots_with.iter().collect();
        if a != b {
            warnings.push(format!(
                "/{} is signed under {} but the loader in /{} under {}: the medium {WARN_DVD_USB}",
                u.path,
                u.boots_with.join(" + "),
                d.path.split(':').next().unwrap_or_default(),
                d.boots_with.join(" + "),
            ));
        }
    }
    SecureBootReport {
        dbx: dbx.source.clone(),
        files,
        warnings,
    }
}

impl SecureBootReport {
    /// Lines for the text output of `plan`, `inspect` and `verify`.
    pub fn text_lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.files.is_empty() {
            v.push("secure boot: no EFI loader on the medium".into());
        }
        for f in &self.files {
            let mut line = format!("secure boot: /{} -> {}", f.path, f.boots_with.join(" + "));
            if f.signatures.len() > 1 {
                line.push_str(&format!(" ({} signatures)", f.signatures.len()));
            }
            if let Some(s) = f.svn {
                line.push_str(&format!(", SVN {s}"));
                if let Some(m) = f.dbx.svn_minimum {
                    line.push_str(&format!(" (DBX minimum {m})"));
                }
            }
            if f.dbx.hash_revoked {
                line.push_str(", hash in the DBX");
            }
            v.push(line);
        }
        v.push(format!("secure boot: compared with {}", self.dbx));
        v
    }
}

/// Reads at most `cap` bytes of a stream; more is an error.
fn read_capped(mut r: impl std::io::Read, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    (&mut r).take(cap + 1).read_to_end(&mut v)?;
    if v.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "larger than {cap} bytes: not a boot file"
        )));
    }
    Ok(v)
}

fn cap_for(path: &str) -> u64 {
    if !path.to_ascii_lowercase().ends_with(".efi") {
        crate::read::fat::MAX_IMAGE
    } else {
        authenticode::MAX_PE
    }
}

/// The facts of a plan's boot files (as `plan` shows them).
pub fn from_plan(plan: &crate::plan::Plan, dbx: &Dbx) -> SecureBootReport {
    use crate::plan::Source;
    let mut open = |path: &str| -> Option<std::io::Result<Vec<u8>>> {
        let e = plan
            .entries
            .iter()
            .find(|e| e.path.eq_ignore_ascii_case(path))?;
        match &e.source {
            Source::File(f) => {
                Some(std::fs::File::open(f).and_then(|f| read_capped(f, cap_for(path))))
            }
            Source::Bytes(b) => Some(Ok(b.to_vec())),
            _ => None,
        }
    };
    let efisys = plan.boot.uefi.clone().unwrap_or_else(|| EFISYS.into());
    gather(&mut open, &efisys, dbx)
}

/// The facts of a finished medium's boot files (as `inspect` and `verify`
/// show them).
pub fn from_medium(m: &dyn crate::read::Medium, dbx: &Dbx) -> SecureBootReport {
    use crate::read::path_key;
    let files = m.files();
    // An ISO's El Torito UEFI entry names its image; other media use efisys.bin.
    let efisys = m
        .boot_entries()
        .into_iter()
        .find(|b| b.platform == crate::read::PLATFORM_EFI)
        .and_then(|b| b.path)
        .map(|p| p.trim_start_matches('/').to_string())
        .unwrap_or_else(|| EFISYS.into());
    let mut open = |path: &str| -> Option<std::io::Result<Vec<u8>>> {
        let f = files.iter().find(|f| path_key(&f.path) == path_key(path))?;
        let cap = cap_for(path);
        if f.size > cap {
            return Some(Err(std::io::Error::other(format!(
                "{} bytes, larger than {cap}: not a boot file",
                f.size
            ))));
        }
        Some(m.open(&f.path).and_then(|r| read_capped(r, cap)))
    };
    gather(&mut open, &efisys, dbx)
}
