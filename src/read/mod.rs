//! Readers of finished media, independent of the writers in [`crate::write`].
//!
//! `tsmedia verify` and `tsmedia decrypt` look at a medium only through the
//! [`Medium`] trait, so every format (ISO image, FAT32 stick, folder, WIM)
//! is read the same way: list its files, stream their bytes, check its
//! structure, list its boot entries. Media are untrusted input: readers never
//! panic on them, cap every count and length they read from them, and stream
//! file contents instead of loading them.

pub mod disk;
pub mod extent;
pub mod fat;
pub mod folder;
pub mod iso;
pub mod open;
pub mod settings;
pub mod wimfile;

use std::fmt;

/// A file on a medium.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediumFile {
    /// '/'-separated, no leading '/'.
    pub path: String,
    pub size: u64,
}

/// A problem in a medium's structure (not its contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureProblem {
    /// Where: e.g. "boot catalog", "UDF file entry for SMS/PKG/x".
    pub what: String,
    pub expected: String,
    pub found: String,
}

impl StructureProblem {
    pub fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        StructureProblem {
            what: what.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}

impl fmt::Display for StructureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.what, self.expected, self.found
        )
    }
}

/// El Torito platform id of PC BIOS (x86) boot entries.
pub const PLATFORM_BIOS: u8 = 0x00;
/// El Torito platform id of UEFI boot entries.
pub const PLATFORM_EFI: u8 = 0xEF;

/// How a boot image is presented to the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulation {
    NoEmulation,
    Floppy1200K,
    Floppy1440K,
    Floppy2880K,
    HardDisk,
    /// A media type value the El Torito specification does not define.
    Unknown(u8),
}

impl Emulation {
    /// From the low four bits of an El Torito boot media type byte.
    pub fn from_media_type(b: u8) -> Emulation {
        match b & 0x0F {
            0 => Emulation::NoEmulation,
            1 => Emulation::Floppy1200K,
            2 => Emulation::Floppy1440K,
            3 => Emulation::Floppy2880K,
            4 => Emulation::HardDisk,
            other => Emulation::Unknown(other),
        }
    }
}

/// A boot entry of a medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEntry {
    /// Platform id: [`PLATFORM_BIOS`], [`PLATFORM_EFI`], or another value.
    pub platform: u8,
    pub emulation: Emulation,
    /// The boot indicator says the entry is bootable (0x88).
    pub bootable: bool,
    /// Real-mode segment the image is loaded at (0 means the default 0x7C0).
    pub load_segment: u16,
    /// Number of 512-byte virtual sectors loaded.
    pub load_sectors: u16,
    /// The 2048-byte block the loaded image starts at, on media that boot by
    /// block address (El Torito).
    pub load_rba: Option<u32>,
    /// The file the entry points at, when one starts at its load address.
    pub path: Option<String>,
}

/// A medium as `verify` and `decrypt` see it.
pub trait Medium {
    /// A short description ("ISO 9660 + Joliet + UDF 2.01 image, 1 volume").
    fn describe(&self) -> String;
    fn files(&self) -> Vec<MediumFile>;
    /// Stream one file's bytes (path as in files(), matched case-insensitively).
    fn open(&self, path: &str) -> std::io::Result<Box<dyn std::io::Read + '_>>;
    /// Structural checks; an empty list means the structure is sound.
    fn check(&self) -> Vec<StructureProblem>;
    /// Boot entries found (platform id, emulation, load sectors, the path of
    /// the file they point at if any).
    fn boot_entries(&self) -> Vec<BootEntry>;
    fn label(&self) -> Option<String>;
}

/// The lookup key of a medium path: '\\' taken as '/', no leading or
/// trailing '/', lower case.
pub fn path_key(path: &str) -> String {
    path.replace('\\', "/").trim_matches('/').to_lowercase()
}

/// Problems gathered while reading a medium, capped so a badly broken
/// medium cannot fill memory with them.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    list: Vec<StructureProblem>,
    dropped: usize,
}

impl Problems {
    /// At most this many problems are kept; the rest are counted.
    pub const CAP: usize = 1000;

    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        if self.list.len() < Self::CAP {
            self.list.push(StructureProblem::new(what, expected, found));
        } else {
            self.dropped += 1;
        }
    }

    pub fn add(&mut self, p: StructureProblem) {
        if self.list.len() < Self::CAP {
            self.list.push(p);
        } else {
            self.dropped += 1;
        }
    }

    pub fn extend(&mut self, other: &Problems) {
        for p in &other.list {
            self.add(p.clone());
        }
        self.dropped += other.dropped;
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.dropped == 0
    }

    /// The problems, with one closing entry counting those not kept.
    pub fn into_vec(mut self) -> Vec<StructureProblem> {
        if self.dropped > 0 {
            self.list.push(StructureProblem::new(
                "further problems",
                "none",
                format!("{} more not listed", self.dropped),
            ));
        }
        self.list
    }

    pub fn iter(&self) -> impl Iterator<Item = &StructureProblem> {
        self.list.iter()
    }
}
