//! Entry points for fuzzing every parser of untrusted bytes. The fuzz
//! targets in `fuzz/` and the corpus-replay tests call these, so a crash a
//! fuzzer finds becomes an ordinary test case. Each must never panic.

use std::io::Cursor;
use std::path::Path;

use zeroize::Zeroizing;

/// A profile as JSON text: parsing and the checks that need no files.
pub fn profile(data: &[u8]) {
    if let Ok((p, _, lines)) = crate::profile::parse(data.to_vec(), Path::new("fuzz.json")) {
        let _ = lines.line_of("packages[0].source");
        for x in &p.extra_files {
            let _ = crate::profile::validate::normalize_target(&x.target);
        }
        if let Some(s) = &p.media.start {
            let _ = crate::profile::validate::parse_date(s);
        }
    }
}

/// An encrypted file: the first 2 bytes pick the declared size offset, the
/// rest is the ciphertext, decrypted with a fixed media key.
pub fn decrypt(data: &[u8]) {
    let key = Zeroizing::new([0x42u8; 32]);
    let _ = crate::crypto::stream::decrypt(
        Cursor::new(data),
        std::io::sink(),
        &key,
        "SMS/PKG/FUZZ/file.bin",
        data.len() as u64,
    );
}

/// A key header, opened with a fixed password (parameters are checked
/// before any work, so a hostile header cannot make this slow).
pub fn key_header(data: &[u8]) {
    if let Ok(h) = crate::crypto::format::KeyHeader::parse(data, "fuzz") {
        if h.params.check().is_ok() && h.params.m_cost <= 1024 && h.params.t_cost <= 2 {
            let _ = h.open(b"fuzz password");
        }
    }
}

/// A manifest.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = crate::manifest::Manifest::from_bytes(data) {
        let _ = m.checksum_ok();
    }
}

/// Reads everything a medium offers, with a cap on the bytes read.
fn exercise(m: &dyn crate::read::Medium) {
    use std::io::Read;
    let _ = m.describe();
    let _ = m.check();
    let _ = m.boot_entries();
    let _ = m.label();
    let mut budget: u64 = 64 << 20;
    let mut buf = vec![0u8; 64 * 1024];
    for f in m.files().into_iter().take(10_000) {
        if let Ok(mut r) = m.open(&f.path) {
            while budget > 0 {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => budget = budget.saturating_sub(n as u64),
                }
            }
        }
    }
}

/// An ISO image.
pub fn iso(data: &[u8]) {
    if let Ok(m) = crate::read::iso::IsoImage::from_bytes("fuzz.iso", data.to_vec()) {
        exercise(&m);
    }
}

/// A USB disk image (partition table and FAT32), read from a temporary file.
pub fn disk(data: &[u8]) {
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    if let Ok(m) = crate::read::disk::DiskMedium::open(f.path()) {
        exercise(&m);
    }
}

/// A task sequence document: steps, groups and the content they reference.
pub fn task_sequence(data: &[u8]) {
    if let Ok(ts) = crate::configmgr::task_sequence::parse(data) {
        for s in &ts.steps {
            let _ = s.unsupported.as_ref().map(|u| u.to_string());
        }
    }
}

/// A content library INI file, read as each of the library's INI kinds.
pub fn content_library_ini(data: &[u8]) {
    use crate::configmgr::content_library::{FileIni, PackageIni};
    if let Ok(f) = FileIni::parse(data) {
        let _ = f.filelib_path();
    }
    if let Ok(p) = PackageIni::parse("FUZ00001", data) {
        let _ = p.choose("FUZ00001", None);
        let _ = p.choose("FUZ00001", Some("FUZ00001.1"));
    }
}

/// The DBX data the Secure Boot targets compare with (parsed once).
fn builtin_dbx() -> &'static crate::secureboot::Dbx {
    static DBX: std::sync::OnceLock<crate::secureboot::Dbx> = std::sync::OnceLock::new();
    DBX.get_or_init(crate::secureboot::Dbx::builtin)
}

/// An EFI executable: PE layout, Authenticode hash, every signature
/// (WIN_CERTIFICATE records, CMS, X.509, nested signatures), the SVN
/// resource, and the report built from them.
pub fn authenticode(data: &[u8]) {
    let _ = crate::secureboot::authenticode::examine(data);
    let _ = crate::secureboot::authenticode::svn(data);
    let f =
        crate::secureboot::report::file_facts("efi/boot/bootx64.efi", "fuzz", data, builtin_dbx());
    let _ = crate::secureboot::report::finish(vec![f], builtin_dbx());
}

/// A FAT12/16/32 image held in memory (the El Torito UEFI image).
pub fn fat(data: &[u8]) {
    if let Ok(img) = crate::read::fat::FatImage::open(data) {
        if let Ok(files) = img.files() {
            for f in files.iter().take(1000) {
                let _ = img.read(f, 1 << 20);
            }
        }
        let _ = img.find("EFI/BOOT/BOOTX64.EFI");
    }
    let _ = crate::secureboot::report::efisys_facts("efisys.bin", data, builtin_dbx());
}

/// A media certificate PFX, opened with a fixed password and a low bound on
/// key-derivation work (so that a hostile iteration count cannot make this slow).
pub fn media_pfx(data: &[u8]) {
    use crate::configmgr::certificate::read_pfx_limited;
    let _ = read_pfx_limited(data, "fuzz", 2048, true);
    // Past the MAC, so that mutations reach the safes, bags and keys.
    let _ = read_pfx_limited(data, "fuzz", 2048, false);
}

/// The product's settings files: an encrypted envelope (opened with the
/// default password, then its text read as media variables and as a
/// policy), the same readers on the bytes as plain UTF-8 and UTF-16 text,
/// and `TsmBootstrap.ini` / `MediaLabel.txt`.
pub fn settings(data: &[u8]) {
    use crate::configmgr::{envelope, files, media_vars::MediaVars, policy::TaskSequencePolicy};
    let read_text = |text: &str| {
        let _ = MediaVars::parse(text);
        if let Ok(p) = TaskSequencePolicy::parse(text) {
            let _ = p.step_count();
        }
        let _ = crate::configmgr::policy::extract_sequence(text);
    };
    let _ = envelope::alg_of(data);
    if let Ok((_, plain)) = envelope::open(data, envelope::DEFAULT_PASSWORD) {
        if let Some(t) = envelope::decode_text(&plain) {
            read_text(&t);
        }
    }
    if let Ok(t) = std::str::from_utf8(data) {
        read_text(t);
    }
    if let Some(t) = envelope::decode_text(data) {
        read_text(&t);
    }
    let _ = files::BootstrapIni::parse(data);
    let _ = files::parse_media_label(data);
}
