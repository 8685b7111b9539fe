//! The plan of `tsmedia write`: the files of an ISO image (or of every
//! volume of a tsmedia volume set), read with tsmedia's own ISO reader, to
//! be laid out on a USB medium exactly as `create --format usb-*` lays out
//! a profile's medium.
//!
//! Files stay in the image: each entry streams its pieces of the image
//! file ([`Source::ImageFile`]). Only a WIM or ESD over FAT32's limit is
//! copied out (to the plan's scratch folder) so it can be split into
//! `.swm` parts. When the image carries a tsmedia manifest, every file is
//! checked against it: small settings files and extracted WIMs as they are
//! read, the rest by the USB writer before it writes the last file.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{sort_key, BootFiles, Entry, Group, ImageFile, Plan, Source, EFI_LOADER};
use crate::error::{UsageError, VerifyFailed};
use crate::io::Progress;
use crate::manifest::{FileRecord, Manifest, MANIFEST_PATH};
use crate::profile::{MediaSize, MediaType};
use crate::read::iso::{FileData, IsoImage, IsoVolumeSet};
use crate::read::{path_key, Medium};
use crate::usb::fat32::MAX_FILE_SIZE;

/// The largest manifest read from an image.
const MAX_MANIFEST: u64 = 256 << 20;
/// Settings files that name other files on a tsmedia medium, read into
/// memory so split WIMs can be renamed in them.
const SETTINGS: &[&str] = &["SMS/data/Policy.xml"];

/// An opened source: one image or a volume set.
enum Source2 {
    One(Box<IsoImage>),
    Set(IsoVolumeSet),
}

impl Source2 {
    fn medium(&self) -> &dyn Medium {
        match self {
            Source2::One(i) => &**i,
            Source2::Set(s) => s,
        }
    }

    fn file_data(&self, path: &str) -> Option<Result<FileData, String>> {
        match self {
            Source2::One(i) => i.file_data(path),
            Source2::Set(s) => s.file_data(path),
        }
    }
}

/// What `write` copies, and what it learnt about the source.
pub struct ImagePlan {
    pub plan: Plan,
    /// The image carries a tsmedia manifest (checked while copying).
    pub has_manifest: bool,
    /// How the reader describes the source.
    pub description: String,
}

/// Opens the ISO image(s) at `paths` and plans their files. `quiet` hides
/// the progress of extracting large WIMs.
pub fn from_iso(paths: &[PathBuf], quiet: bool) -> Result<ImagePlan> {
    from_iso_with_limits(paths, quiet, MAX_FILE_SIZE, super::limits::SWM_PART_SIZE)
}

/// [`from_iso`] with another largest file and `.swm` part size (tests).
pub fn from_iso_with_limits(
    paths: &[PathBuf],
    quiet: bool,
    max_file: u64,
    part_size: u64,
) -> Result<ImagePlan> {
    for p in paths {
        if crate::read::open::detect(p)? != crate::read::open::Kind::Iso {
            return Err(UsageError::new(
                format!("{} is not an ISO image", p.display()),
                "give the ISO (every volume of a volume set), or use `tsmedia create` for a profile",
            )
            .into());
        }
    }
    let paths = crate::read::open::expand_volume_set(paths);
    let src = if paths.len() == 1 {
        Source2::One(Box::new(
            IsoImage::open(&paths[0]).with_context(|| format!("reading {}", paths[0].display()))?,
        ))
    } else {
        Source2::Set(
            IsoVolumeSet::open(&paths)
                .with_context(|| format!("reading the volume set {}", paths[0].display()))?,
        )
    };
    let medium = src.medium();
    let first = &paths[0];
    let files = medium.files();

    // The manifest, when there is one: checked before anything else.
    let manifest = match files
        .iter()
        .find(|f| path_key(&f.path) == path_key(MANIFEST_PATH))
    {
        Some(f) => {
            if f.size > MAX_MANIFEST {
                bail!("/{} is {} bytes, too large for a manifest", f.path, f.size);
            }
            let mut bytes = Vec::new();
            medium
                .open(&f.path)?
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading /{}", f.path))?;
            let m = Manifest::from_bytes(&bytes)
                .map_err(|e| VerifyFailed(format!("/{}: not a tsmedia manifest: {e}", f.path)))?;
            if !m.checksum_ok() {
                return Err(VerifyFailed(format!(
                    "/{}: its checksum does not match its content: the manifest is damaged",
                    f.path
                ))
                .into());
            }
            Some(m)
        }
        None => None,
    };
    let records: HashMap<String, &FileRecord> = manifest
        .iter()
        .flat_map(|m| &m.files)
        .map(|r| (path_key(&r.path), r))
        .collect();
    let on_image: HashMap<String, u64> =
        files.iter().map(|f| (path_key(&f.path), f.size)).collect();
    for r in records.values() {
        match on_image.get(&path_key(&r.path)) {
            None => {
                return Err(VerifyFailed(format!(
                    "/{}: listed in the manifest, but missing from {}",
                    r.path,
                    first.display()
                ))
                .into())
            }
            Some(&size) if size != r.size => {
                return Err(VerifyFailed(format!(
                    "/{}: the manifest says {} bytes, the image holds {size}",
                    r.path, r.size
                ))
                .into())
            }
            _ => {}
        }
    }
    let want = |path: &str| -> Option<[u8; 32]> {
        let r = records.get(&path_key(path))?;
        let mut h = [0u8; 32];
        hex::decode_to_slice(&r.sha256, &mut h).ok()?;
        Some(h)
    };

    let scratch = Arc::new(
        tempfile::Builder::new()
            .prefix("tsmedia-write-")
            .tempdir()
            .context("creating a scratch folder")?,
    );
    let mut entries = Vec::with_capacity(files.len());
    let mut changed_hash: HashMap<String, [u8; 32]> = HashMap::new();
    for f in &files {
        let data = match src.file_data(&f.path) {
            Some(Ok(d)) => d,
            Some(Err(why)) => bail!("{}: {why}", first.display()),
            None => bail!("/{}: listed, but not found again in the image", f.path),
        };
        let wanted = want(&f.path);
        let name = f.path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        let is_wim = name.ends_with(".wim") || name.ends_with(".esd");
        let image_file = Source::ImageFile(Arc::new(ImageFile {
            image: data.image.clone(),
            image_len: data.image_len,
            pieces: data.pieces.clone(),
            size: data.size,
        }));
        let mut entry = Entry {
            path: f.path.clone(),
            size: f.size,
            source: image_file,
            note: None,
            group: Group::Extra,
            volume: 1,
            sha256: None,
        };
        if f.size > max_file && is_wim {
            // Copied out so wimlib can split it; checked on the way.
            let out = scratch
                .path()
                .join(format!("wim-{}-{}", entries.len(), name));
            let got = extract(&entry, &out, quiet)?;
            check(&entry, wanted, got)?;
            entry.source = Source::File(out);
        } else if manifest.is_some() && SETTINGS.iter().any(|s| path_key(s) == path_key(&f.path)) {
            let mut bytes = Vec::new();
            crate::write::open_source(&entry)?
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", entry.origin()))?;
            let got: [u8; 32] = Sha256::digest(&bytes).into();
            check(&entry, wanted, got)?;
            changed_hash.insert(entry.path.clone(), got);
            entry.source = Source::Bytes(bytes.into());
        } else if let Some(h) = wanted {
            // Checked by the writer as it copies (the source's own manifest).
            entry.sha256 = Some(h);
        }
        entries.push(entry);
    }
    entries.sort_by(|a, b| sort_key(&a.path).cmp(&sort_key(&b.path)));
    for w in entries.windows(2) {
        if w[0].path.eq_ignore_ascii_case(&w[1].path) {
            return Err(UsageError::new(
                format!(
                    "/{} and /{} differ only in case, which FAT32 cannot tell apart",
                    w[0].path, w[1].path
                ),
                "rebuild the ISO without one of them",
            )
            .into());
        }
    }

    let label = manifest
        .as_ref()
        .map(|m| m.label.clone())
        .or_else(|| medium.label())
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "USB".into());
    let media_guid = match &manifest {
        Some(m) => m.media_guid.clone(),
        None => content_guid(&label, &entries),
    };
    let created = match manifest.as_ref().and_then(|m| {
        OffsetDateTime::parse(&m.created, &time::format_description::well_known::Rfc3339).ok()
    }) {
        Some(t) => t,
        None => super::creation_time(first)?,
    };
    let has = |p: &str| entries.iter().any(|e| e.path.eq_ignore_ascii_case(p));
    let boot = BootFiles {
        bios: has("bootmgr").then(|| "bootmgr".to_string()),
        uefi: None,
        efi_loader: has(EFI_LOADER).then(|| EFI_LOADER.to_string()),
        ..Default::default()
    };
    let media_type = manifest
        .as_ref()
        .and_then(|m| media_type(&m.media_type))
        .unwrap_or(MediaType::Bootable);
    let plan = Plan {
        profile_file: first.clone(),
        media_type,
        label,
        profile_name: manifest.as_ref().and_then(|m| m.profile.name.clone()),
        profile_sha256: manifest
            .as_ref()
            .map(|m| m.profile.sha256.clone())
            .unwrap_or_default(),
        media_guid,
        created,
        validity: manifest.as_ref().and_then(|m| m.validity.clone()),
        site: manifest.as_ref().and_then(|m| m.site.clone()),
        certificate: manifest.as_ref().and_then(|m| m.certificate.clone()),
        image_info: None,
        media_size: MediaSize::Unlimited,
        entries,
        empty_dirs: Vec::new(),
        boot,
        scratch: Some(scratch),
        packages: Vec::new(),
        media_certificate_der: None,
    };
    let had_manifest = manifest.is_some();
    let plan = super::limits::fat32_for_copy(plan, max_file, part_size)?;
    let plan = match manifest {
        Some(m) => restate_manifest(plan, m, &changed_hash)?,
        None => plan,
    };
    Ok(ImagePlan {
        plan,
        has_manifest: had_manifest,
        description: medium.describe(),
    })
}

fn media_type(s: &str) -> Option<MediaType> {
    Some(match s {
        "capture" => MediaType::Capture,
        "bootable" => MediaType::Bootable,
        "prestaged" => MediaType::Prestaged,
        "standalone" => MediaType::Standalone,
        _ => return None,
    })
}

fn check(e: &Entry, want: Option<[u8; 32]>, got: [u8; 32]) -> Result<()> {
    match want {
        Some(w) if w != got => Err(VerifyFailed(format!(
            "/{} ({}) has SHA-256 {}, but the manifest of its source says {}: the source is damaged",
            e.path,
            e.origin(),
            hex::encode(got),
            hex::encode(w)
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Copies an entry out of the image to `out` (runs of zeros become holes),
/// returning its SHA-256.
fn extract(e: &Entry, out: &Path, quiet: bool) -> Result<[u8; 32]> {
    let mut r = crate::write::open_source(e)?;
    let mut f =
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let progress = Progress::bytes(e.size, &format!("extracting /{}", e.path), quiet);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        crate::io::cancel::check()?;
        let n = crate::io::read_full(&mut *r, &mut buf)
            .with_context(|| format!("reading {}", e.origin()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if buf[..n].iter().all(|&b| b == 0) {
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Current(n as i64))?;
        } else {
            f.write_all(&buf[..n])
                .with_context(|| format!("writing {}", out.display()))?;
        }
        done += n as u64;
        progress.inc(n as u64);
    }
    f.set_len(done)?;
    progress.finish();
    if done != e.size {
        bail!("{}: read {done} bytes, expected {}", e.origin(), e.size);
    }
    Ok(h.finalize().into())
}

/// A GUID for a medium without a manifest, from its label and file list,
/// so the same ISO always gives the same disk signature and serial.
fn content_guid(label: &str, entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    h.update(b"tsmedia-write/");
    h.update(label.as_bytes());
    for e in entries {
        h.update(b"\0");
        h.update(e.path.as_bytes());
        h.update(e.size.to_le_bytes());
    }
    let d = h.finalize();
    let x = hex::encode_upper(&d[..16]);
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// After WIMs were split (and settings naming them renamed), the copied
/// manifest would name files that are no longer there: it is restated with
/// the parts and the renamed settings, everything else as it was.
fn restate_manifest(
    mut plan: Plan,
    mut m: Manifest,
    settings: &HashMap<String, [u8; 32]>,
) -> Result<Plan> {
    let listed: HashMap<String, FileRecord> = m
        .files
        .iter()
        .map(|r| (path_key(&r.path), r.clone()))
        .collect();
    let unchanged = plan.entries.iter().all(|e| {
        e.path == MANIFEST_PATH
            || listed.contains_key(&path_key(&e.path))
                && match &e.source {
                    Source::Bytes(b) => settings.get(&e.path) == Some(&Sha256::digest(b).into()),
                    _ => true,
                }
    });
    if unchanged {
        return Ok(plan);
    }
    let mut files = Vec::new();
    for e in &plan.entries {
        if e.path == MANIFEST_PATH {
            continue;
        }
        let old = listed.get(&path_key(&e.path));
        let sha = match (&e.source, old) {
            (Source::ImageFile(_), Some(r)) => r.sha256.clone(),
            (Source::Bytes(b), _) => hex::encode(Sha256::digest(b)),
            (Source::File(p), _) => hash_file(p)?,
            _ => bail!("/{}: no hash for the restated manifest", e.path),
        };
        files.push(FileRecord {
            path: e.path.clone(),
            size: e.size,
            sha256: sha,
            encrypted: old.and_then(|r| r.encrypted.clone()),
            volume: None,
        });
    }
    m.files = files;
    let bytes = m.to_bytes();
    for e in &mut plan.entries {
        if e.path == MANIFEST_PATH {
            e.size = bytes.len() as u64;
            e.note = super::note("restated manifest (split WIMs)");
            e.source = Source::Bytes(bytes.clone().into());
        }
    }
    Ok(plan)
}

fn hash_file(p: &Path) -> Result<String> {
    let mut f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut HashW(&mut h))?;
    Ok(hex::encode(h.finalize()))
}

struct HashW<'a>(&'a mut Sha256);

impl Write for HashW<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
