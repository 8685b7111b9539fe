//! An independent, streaming reader of ISO images: ECMA-119 (ISO 9660) with
//! Rock Ridge names, Joliet, El Torito, and a UDF bridge (ECMA-167 / OSTA
//! UDF 1.02 to 2.01). It shares no code with the ISO writer, so a bug in one
//! cannot hide the same bug in the other.
//!
//! On-disk structures are parsed by pure functions ([`descriptors`], [`dir`],
//! [`eltorito`], [`udf`]); the walks that read them from the image, and the
//! structural checks, build on those.

pub mod descriptors;
pub mod dir;
pub mod eltorito;
pub mod udf;

mod check;
mod set;
mod source;
#[cfg(test)]
mod tests;
mod tree;
mod udf_tree;

use std::collections::HashMap;
use std::io;
use std::path::Path;

pub use set::IsoVolumeSet;
pub use tree::TreeKind;

use descriptors::{
    is_volume_recognition, joliet_label, joliet_level, parse_volume_descriptor, primary_label,
    standard_identifier, VolumeDescriptor, VolumeInfo, CD001, EL_TORITO_ID, FIRST_VD_SECTOR,
    SECTOR, SECTOR_U64,
};
use eltorito::CatalogEntry;
use source::{Backing, Disk};
use tree::{FileEntry, Flavor, Tree};
use udf_tree::UdfVolume;

use super::extent::ExtentReader;
use super::{path_key, BootEntry, Emulation, Medium, MediumFile, Problems, StructureProblem};

/// Where a file's bytes lie: pieces of an image file, in file order.
#[derive(Debug, Clone)]
pub struct FileData {
    pub image: std::path::PathBuf,
    pub image_len: u64,
    pub pieces: Vec<super::extent::Piece>,
    pub size: u64,
}

/// Why an image could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not an ISO 9660 or UDF image: {why}")]
    NotAnIso { why: String },
    #[error("corrupt image: {what}")]
    Corrupt { what: String },
    #[error("reading the image: {0}")]
    Io(#[from] io::Error),
}

/// Most sectors of volume recognition structures read from sector 16 on.
const MAX_VRS_SECTORS: u64 = 64;
/// Most sectors of a boot catalog read.
const MAX_CATALOG_SECTORS: u64 = 8;

/// The primary volume descriptor's fields kept.
#[derive(Debug, Clone)]
struct Primary {
    label: String,
    volume_space_size: u32,
    volume_set_size: u16,
    volume_sequence: u16,
    volume_set_id: String,
}

/// One ISO image, opened: its descriptors and trees are read and checked;
/// file contents are read only when a file is opened.
#[derive(Debug)]
pub struct IsoImage {
    name: String,
    backing: Backing,
    len: u64,
    primary: Option<Primary>,
    joliet_label: Option<String>,
    joliet_level: Option<u8>,
    iso: Option<Tree>,
    joliet: Option<Tree>,
    udf: Option<UdfVolume>,
    /// Index of each file of the main tree by [`path_key`].
    by_path: HashMap<String, usize>,
    boot_catalog: Option<u32>,
    catalog: Vec<CatalogEntry>,
    problems: Problems,
}

impl IsoImage {
    /// Opens an image file.
    pub fn open(path: &Path) -> Result<IsoImage, ReadError> {
        IsoImage::from_backing(
            path.display().to_string(),
            Backing::File(path.to_path_buf()),
        )
    }

    /// Opens an image held in memory (`name` is used in messages).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<IsoImage, ReadError> {
        IsoImage::from_backing(name.to_string(), Backing::Bytes(bytes))
    }

    fn from_backing(name: String, backing: Backing) -> Result<IsoImage, ReadError> {
        let len = backing.len()?;
        let mut img = IsoImage {
            name,
            len,
            primary: None,
            joliet_label: None,
            joliet_level: None,
            iso: None,
            joliet: None,
            udf: None,
            by_path: HashMap::new(),
            boot_catalog: None,
            catalog: Vec::new(),
            problems: Problems::new(),
            backing: Backing::Bytes(Vec::new()),
        };
        {
            let mut disk = Disk::new(backing.reader()?, len);
            img.read(&mut disk)?;
        }
        img.backing = backing;
        Ok(img)
    }

    fn read(&mut self, disk: &mut Disk<'_>) -> Result<(), ReadError> {
        if self.len < (FIRST_VD_SECTOR + 1) * SECTOR_U64 {
            return Err(ReadError::NotAnIso {
                why: format!(
                    "{} is {} bytes, too short to hold a volume descriptor at sector 16",
                    self.name, self.len
                ),
            });
        }
        // Volume recognition: ECMA-119 descriptors, then the ECMA-167
        // extended area (BEA01, NSR02/NSR03, TEA01).
        let mut primary: Option<VolumeInfo> = None;
        let mut joliet: Option<(u8, VolumeInfo)> = None;
        let mut boot: Option<descriptors::BootRecord> = None;
        let mut terminated = false;
        let mut iso_seen = false;
        let mut in_extended = false;
        let mut nsr = false;
        for s in FIRST_VD_SECTOR..FIRST_VD_SECTOR + MAX_VRS_SECTORS {
            if (s + 1) * SECTOR_U64 > self.len {
                break;
            }
            let sec = disk.sector(s)?;
            if !is_volume_recognition(&sec) {
                break;
            }
            match &standard_identifier(&sec) {
                id if id == CD001 => {
                    iso_seen = true;
                    if terminated {
                        continue;
                    }
                    match parse_volume_descriptor(&sec) {
                        Some(VolumeDescriptor::Primary(v)) if primary.is_none() => {
                            primary = Some(v)
                        }
                        Some(VolumeDescriptor::Supplementary(v)) => {
                            if let Some(level) = joliet_level(&v) {
                                if joliet.as_ref().is_none_or(|(l, _)| level > *l) {
                                    joliet = Some((level, v));
                                }
                            }
                        }
                        Some(VolumeDescriptor::Boot(b))
                            if boot.is_none() && b.system_id.starts_with(EL_TORITO_ID) =>
                        {
                            boot = Some(b)
                        }
                        Some(VolumeDescriptor::Terminator) => terminated = true,
                        _ => {}
                    }
                }
                b"BEA01" => in_extended = true,
                b"NSR02" | b"NSR03" if in_extended => nsr = true,
                b"TEA01" => break,
                _ => {}
            }
        }
        if !iso_seen && !nsr {
            return Err(ReadError::NotAnIso {
                why: format!(
                    "{} has no volume descriptor (\"CD001\") or UDF descriptor (\"NSR02\"/\"NSR03\") at sector 16",
                    self.name
                ),
            });
        }
        if iso_seen && !terminated {
            self.problems.push(
                "volume descriptor set",
                "a set terminator (type 255)",
                "none",
            );
        }
        if iso_seen && primary.is_none() {
            self.problems.push(
                "volume descriptor set",
                "a primary volume descriptor (type 1)",
                "none",
            );
        }
        if let Some(p) = &primary {
            if p.block_size != SECTOR as u16 {
                return Err(ReadError::Corrupt {
                    what: format!(
                        "primary volume descriptor: logical block size {} (only 2048 is supported)",
                        p.block_size
                    ),
                });
            }
            for m in &p.mismatched {
                self.problems.push(
                    format!("primary volume descriptor {m}"),
                    "equal little- and big-endian copies",
                    "different copies",
                );
            }
            let needed = u64::from(p.volume_space_size) * SECTOR_U64;
            if needed > self.len {
                self.problems.push(
                    "image size",
                    format!(
                        "at least {needed} bytes (the volume space size is {} blocks)",
                        p.volume_space_size
                    ),
                    format!("{} bytes (the image is truncated)", self.len),
                );
            }
            self.primary = Some(Primary {
                label: primary_label(&p.volume_id),
                volume_space_size: p.volume_space_size,
                volume_set_size: p.volume_set_size,
                volume_sequence: p.volume_sequence,
                volume_set_id: primary_label(&p.volume_set_id),
            });
        }
        // The trees.
        if let Some(p) = &primary {
            self.iso = self.tree(disk, &p.root, Flavor::Iso9660)?;
        }
        if let Some((level, j)) = &joliet {
            if j.block_size != SECTOR as u16 {
                self.problems.push(
                    "Joliet volume descriptor",
                    "logical block size 2048",
                    format!("{} (the Joliet tree is not read)", j.block_size),
                );
            } else {
                self.joliet_level = Some(*level);
                let l = joliet_label(&j.volume_id);
                self.joliet_label = (!l.is_empty()).then_some(l);
                self.joliet = self.tree(disk, &j.root, Flavor::Joliet)?;
            }
        }
        if nsr {
            match udf_tree::read_udf(disk, &mut self.problems)? {
                Ok(v) => self.udf = Some(v),
                Err(why) => self.problems.push(
                    "UDF volume",
                    "readable UDF structures (the Joliet or ISO 9660 tree is used instead)",
                    why,
                ),
            }
        }
        let Some(main) = self.main_tree() else {
            return Err(ReadError::Corrupt {
                what: format!(
                    "{} has no readable directory tree: {}",
                    self.name,
                    self.problems
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            });
        };
        self.by_path = main
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (path_key(&f.path), i))
            .rev()
            .collect();
        // El Torito.
        if let Some(b) = boot {
            self.boot_catalog = Some(b.catalog_sector);
            self.read_catalog(disk, b.catalog_sector)?;
        }
        Ok(())
    }

    fn tree(
        &mut self,
        disk: &mut Disk<'_>,
        root: &[u8],
        flavor: Flavor,
    ) -> Result<Option<Tree>, ReadError> {
        match tree::walk_records(disk, root, flavor, &mut self.problems) {
            Ok(t) => Ok(Some(t)),
            Err(ReadError::Io(e)) => Err(ReadError::Io(e)),
            Err(e) => {
                let name = match flavor {
                    Flavor::Iso9660 => "ISO 9660 tree",
                    Flavor::Joliet => "Joliet tree",
                };
                self.problems
                    .push(name, "a readable root directory", e.to_string());
                Ok(None)
            }
        }
    }

    fn read_catalog(&mut self, disk: &mut Disk<'_>, sector: u32) -> Result<(), ReadError> {
        let start = u64::from(sector) * SECTOR_U64;
        if start + SECTOR_U64 > self.len {
            self.problems.push(
                "boot catalog",
                format!("a sector within the image ({} bytes)", self.len),
                format!("sector {sector}"),
            );
            return Ok(());
        }
        let sectors = ((self.len - start) / SECTOR_U64).min(MAX_CATALOG_SECTORS);
        let bytes = match disk.read_vec(start, (sectors * SECTOR_U64) as usize) {
            Ok(b) => b,
            Err(ReadError::Io(e)) => return Err(ReadError::Io(e)),
            Err(e) => {
                self.problems
                    .push("boot catalog", "readable sectors", e.to_string());
                return Ok(());
            }
        };
        self.catalog = eltorito::parse_catalog(&bytes, &mut self.problems);
        Ok(())
    }

    /// The tree `files()` lists: UDF when present (it keeps long names and
    /// holds files over 4 GiB in one entry), else ISO 9660 with Rock Ridge
    /// names (which are not truncated either), else Joliet, else plain ISO
    /// 9660. The other trees are compared with it by `check()`.
    fn main_tree(&self) -> Option<&Tree> {
        let rock_ridge = self.iso.as_ref().filter(|t| t.kind == TreeKind::RockRidge);
        self.udf
            .as_ref()
            .map(|u| &u.tree)
            .or(rock_ridge)
            .or(self.joliet.as_ref())
            .or(self.iso.as_ref())
    }

    /// The tree `files()` lists.
    pub fn main_tree_kind(&self) -> Option<TreeKind> {
        self.main_tree().map(|t| t.kind)
    }

    /// The trees read: UDF, Joliet, ISO 9660 (each when present).
    pub fn trees(&self) -> Vec<TreeKind> {
        let mut v: Vec<TreeKind> = Vec::new();
        if let Some(u) = &self.udf {
            v.push(u.tree.kind);
        }
        if let Some(j) = &self.joliet {
            v.push(j.kind);
        }
        if let Some(i) = &self.iso {
            v.push(i.kind);
        }
        v
    }

    /// The files of one of the image's trees (not only the main one), or
    /// `None` when the image has no such tree.
    pub fn tree_files(&self, kind: TreeKind) -> Option<Vec<MediumFile>> {
        let t = [
            self.udf.as_ref().map(|u| &u.tree),
            self.joliet.as_ref(),
            self.iso.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|t| t.kind == kind)?;
        Some(
            t.files
                .iter()
                .map(|f| MediumFile {
                    path: f.path.clone(),
                    size: f.size,
                })
                .collect(),
        )
    }

    /// The UDF revision ("1.02", "2.01") when a UDF tree was read.
    pub fn udf_revision(&self) -> Option<String> {
        self.udf.as_ref().map(|u| u.revision_text())
    }

    /// The Joliet level (1 to 3) when a Joliet tree was read.
    pub fn joliet_level(&self) -> Option<u8> {
        self.joliet_level
    }

    /// The volume sequence number of this image in its volume set (1-based).
    pub fn volume_sequence(&self) -> u16 {
        match (&self.primary, &self.udf) {
            (Some(p), _) => p.volume_sequence,
            (None, Some(u)) => u.volume_sequence,
            _ => 1,
        }
    }

    /// The number of volumes of the set this image belongs to.
    pub fn volume_set_size(&self) -> u16 {
        self.primary
            .as_ref()
            .map(|p| p.volume_set_size)
            .unwrap_or(1)
    }

    /// The volume set identifier of the primary volume descriptor.
    pub fn volume_set_id(&self) -> String {
        self.primary
            .as_ref()
            .map(|p| p.volume_set_id.clone())
            .unwrap_or_default()
    }

    /// The image's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The volume space size the primary descriptor records, in blocks.
    pub fn volume_space_size(&self) -> Option<u32> {
        self.primary.as_ref().map(|p| p.volume_space_size)
    }

    /// The boot catalog's sector, when there is an El Torito boot record.
    pub fn boot_catalog_sector(&self) -> Option<u32> {
        self.boot_catalog
    }

    /// Where a file of `files()` is recorded: (byte offset in the image,
    /// length) of each extent, in file order (unrecorded and embedded parts
    /// are left out).
    pub fn extents(&self, path: &str) -> Option<Vec<(u64, u64)>> {
        Some(self.entry(path)?.data_extents().collect())
    }

    /// Where a file's bytes lie, so another part of tsmedia can stream them
    /// itself (`tsmedia write`): `None` for a path the image does not hold;
    /// an error for a file that cannot be read or an image held in memory.
    pub fn file_data(&self, path: &str) -> Option<Result<FileData, String>> {
        let e = self.entry(path)?;
        Some(self.data_of(e))
    }

    pub(crate) fn data_of(&self, e: &FileEntry) -> Result<FileData, String> {
        if let Some(why) = &e.unreadable {
            return Err(format!("{}: cannot be read: {why}", e.path));
        }
        match &self.backing {
            Backing::File(p) => Ok(FileData {
                image: p.clone(),
                image_len: self.len,
                pieces: e.pieces.clone(),
                size: e.size,
            }),
            Backing::Bytes(_) => Err(format!("{}: the image is held in memory", e.path)),
        }
    }

    pub(crate) fn entry(&self, path: &str) -> Option<&FileEntry> {
        let i = *self.by_path.get(&path_key(path))?;
        self.main_tree()?.files.get(i)
    }

    pub(crate) fn main_files(&self) -> &[FileEntry] {
        self.main_tree().map(|t| &t.files[..]).unwrap_or(&[])
    }

    /// A reader of `entry`'s bytes in this image.
    pub(crate) fn reader(&self, entry: &FileEntry) -> io::Result<Box<dyn io::Read + '_>> {
        if let Some(why) = &entry.unreadable {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: cannot be read: {why}", entry.path),
            ));
        }
        Ok(Box::new(ExtentReader::new(
            self.backing.reader()?,
            self.len,
            entry.pieces.clone(),
            entry.size,
            &entry.path,
        )))
    }

    fn format_parts(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.iso {
            parts.push("ISO 9660".to_string());
            if i.kind == TreeKind::RockRidge {
                parts.push("Rock Ridge".to_string());
            }
        }
        if self.joliet.is_some() {
            parts.push("Joliet".to_string());
        }
        if let Some(u) = &self.udf {
            parts.push(format!("UDF {}", u.revision_text()));
        }
        parts.join(" + ")
    }

    fn boot_text(&self) -> String {
        if self.catalog.is_empty() {
            return String::new();
        }
        let mut names: Vec<String> = Vec::new();
        for e in &self.catalog {
            let n = match e.platform {
                super::PLATFORM_BIOS => "BIOS".to_string(),
                super::PLATFORM_EFI => "UEFI".to_string(),
                p => format!("platform {p:#04x}"),
            };
            if !names.contains(&n) {
                names.push(n);
            }
        }
        format!(", El Torito boot ({})", names.join(" + "))
    }
}

impl Medium for IsoImage {
    fn describe(&self) -> String {
        let volumes = if self.volume_set_size() > 1 {
            format!(
                "volume {} of {}",
                self.volume_sequence(),
                self.volume_set_size()
            )
        } else {
            "1 volume".to_string()
        };
        format!(
            "{} image{}, {volumes}",
            self.format_parts(),
            self.boot_text()
        )
    }

    fn files(&self) -> Vec<MediumFile> {
        self.main_files()
            .iter()
            .map(|f| MediumFile {
                path: f.path.clone(),
                size: f.size,
            })
            .collect()
    }

    fn open(&self, path: &str) -> io::Result<Box<dyn io::Read + '_>> {
        let e = self.entry(path).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{path}: no such file in {}", self.name),
            )
        })?;
        self.reader(e)
    }

    fn check(&self) -> Vec<StructureProblem> {
        let mut p = self.problems.clone();
        check::cross_checks(self, &mut p);
        p.into_vec()
    }

    fn boot_entries(&self) -> Vec<BootEntry> {
        self.catalog
            .iter()
            .map(|e| BootEntry {
                platform: e.platform,
                emulation: Emulation::from_media_type(e.media_type),
                bootable: e.bootable,
                load_segment: e.load_segment,
                load_sectors: e.sector_count,
                load_rba: Some(e.load_rba),
                path: check::file_at_block(self, e.platform, u64::from(e.load_rba)),
            })
            .collect()
    }

    fn label(&self) -> Option<String> {
        let udf = self.udf.as_ref().and_then(|u| u.label.clone());
        let pvd = self
            .primary
            .as_ref()
            .map(|p| p.label.clone())
            .filter(|l| !l.is_empty());
        udf.or(pvd).or_else(|| self.joliet_label.clone())
    }
}
