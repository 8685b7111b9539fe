//! FAT32 on-disk structures: geometry, boot sector, FSInfo, directory
//! entries and timestamps. Pure functions from values to bytes (and back);
//! no I/O here.

use time::OffsetDateTime;

/// Bytes per sector (the only size tsmedia writes).
pub const SECTOR: u64 = 512;
/// Reserved sectors before the first FAT: boot sector, FSInfo, backups, and
/// room for a Windows boot loader's extra sectors.
pub const RESERVED_SECTORS: u32 = 32;
pub const NUM_FATS: u32 = 2;
pub const FSINFO_SECTOR: u32 = 1;
pub const BACKUP_BOOT_SECTOR: u32 = 6;
/// The largest file FAT32 can hold (4 GiB - 1).
pub const MAX_FILE_SIZE: u64 = 0xFFFF_FFFF;
/// FAT32 needs at least this many clusters, or readers that follow
/// Microsoft's rule (the type comes from the cluster count) see FAT16.
pub const MIN_CLUSTERS: u32 = 65_525;
/// Highest cluster count FAT32's 28-bit entries allow.
pub const MAX_CLUSTERS: u32 = 0x0FFF_FFF5 - 2;
/// End-of-chain marker.
pub const FAT_EOC: u32 = 0x0FFF_FFFF;
/// FAT entry 0: media descriptor 0xF8 in the low byte.
pub const FAT_ENTRY0: u32 = 0x0FFF_FFF8;
pub const MEDIA_FIXED: u8 = 0xF8;
pub const ROOT_CLUSTER: u32 = 2;
/// Size of a directory entry.
pub const DIR_ENTRY: usize = 32;
/// A directory may hold at most this many 32-byte entries.
pub const MAX_DIR_ENTRIES: usize = 65_536;
/// The data area (and so every cluster) starts on a multiple of this, counted
/// from the start of the partition (which is itself 1 MiB aligned).
pub const DATA_ALIGN_SECTORS: u32 = 2048;

pub const ATTR_READ_ONLY: u8 = 0x01;
pub const ATTR_HIDDEN: u8 = 0x02;
pub const ATTR_SYSTEM: u8 = 0x04;
pub const ATTR_VOLUME_ID: u8 = 0x08;
pub const ATTR_DIRECTORY: u8 = 0x10;
pub const ATTR_ARCHIVE: u8 = 0x20;
pub const ATTR_LFN: u8 = 0x0F;
/// NT case flags (byte 12): the base name / the extension is lower case.
pub const CASE_LOWER_BASE: u8 = 0x08;
pub const CASE_LOWER_EXT: u8 = 0x10;

/// Why a volume of some size cannot be FAT32.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GeometryError {
    #[error("a FAT32 volume needs at least {MIN_CLUSTERS} clusters; {sectors} sectors are too few (the smallest FAT32 volume is about 33 MiB)")]
    TooSmall { sectors: u64 },
    #[error("{sectors} sectors are too many for FAT32 with 512-byte sectors")]
    TooLarge { sectors: u64 },
}

/// Where everything of a FAT32 volume lies, in sectors from its first sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub total_sectors: u32,
    pub sectors_per_cluster: u32,
    /// Sectors of one FAT.
    pub fat_sectors: u32,
    /// Data clusters (numbered from 2).
    pub clusters: u32,
    /// Sectors before the volume on its disk (the partition's start LBA).
    pub hidden_sectors: u32,
}

/// Cluster size Windows picks for a FAT32 volume of `bytes`.
fn default_cluster_bytes(bytes: u64) -> u32 {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match bytes {
        b if b < 64 * MIB => 512,
        b if b < 128 * MIB => 1024,
        b if b < 256 * MIB => 2048,
        b if b < 8 * GIB => 4096,
        b if b < 16 * GIB => 8192,
        b if b < 32 * GIB => 16384,
        _ => 32768,
    }
}

impl Geometry {
    /// The geometry of a volume of `total_sectors` starting at LBA `hidden`:
    /// Windows' cluster size for that size (smaller when needed to keep at
    /// least [`MIN_CLUSTERS`]), 32 reserved sectors, two FATs, each FAT
    /// padded so the data area starts 1 MiB aligned.
    pub fn new(total_sectors: u64, hidden: u32) -> Result<Geometry, GeometryError> {
        let too_large = GeometryError::TooLarge {
            sectors: total_sectors,
        };
        let total = u32::try_from(total_sectors).map_err(|_| too_large.clone())?;
        let mut cluster = default_cluster_bytes(total_sectors * SECTOR);
        loop {
            let spc = cluster / SECTOR as u32;
            if let Some(g) = Self::with_spc(total, spc, hidden) {
                if g.clusters >= MIN_CLUSTERS {
                    if g.clusters > MAX_CLUSTERS {
                        if cluster >= 32768 {
                            return Err(too_large);
                        }
                        cluster *= 2;
                        continue;
                    }
                    return Ok(g);
                }
            }
            if cluster == 512 {
                return Err(GeometryError::TooSmall {
                    sectors: total_sectors,
                });
            }
            cluster /= 2;
        }
    }

    fn with_spc(total: u32, spc: u32, hidden: u32) -> Option<Geometry> {
        let after_reserved = total.checked_sub(RESERVED_SECTORS)?;
        // An upper bound of the clusters gives a FAT that is surely big enough.
        let max_clusters = (after_reserved / spc) as u64;
        let need = ((max_clusters + 2) * 4).div_ceil(SECTOR) as u32;
        // RESERVED + 2 * fat must be a multiple of DATA_ALIGN_SECTORS.
        let align = DATA_ALIGN_SECTORS / 2;
        let want = (align - (RESERVED_SECTORS / 2) % align) % align;
        let mut fat = need;
        let rem = fat % align;
        if rem != want {
            fat += (want + align - rem) % align;
        }
        let meta = RESERVED_SECTORS as u64 + NUM_FATS as u64 * fat as u64;
        let data = (total as u64).checked_sub(meta)?;
        let clusters = (data / spc as u64) as u32;
        Some(Geometry {
            total_sectors: total,
            sectors_per_cluster: spc,
            fat_sectors: fat,
            clusters,
            hidden_sectors: hidden,
        })
    }

    pub fn cluster_bytes(&self) -> u64 {
        self.sectors_per_cluster as u64 * SECTOR
    }

    /// Byte offset of FAT `i` (0 or 1) from the start of the volume.
    pub fn fat_offset(&self, i: u32) -> u64 {
        (RESERVED_SECTORS as u64 + i as u64 * self.fat_sectors as u64) * SECTOR
    }

    pub fn fat_bytes(&self) -> u64 {
        self.fat_sectors as u64 * SECTOR
    }

    /// Byte offset of the data area (cluster 2).
    pub fn data_offset(&self) -> u64 {
        (RESERVED_SECTORS as u64 + NUM_FATS as u64 * self.fat_sectors as u64) * SECTOR
    }

    /// Byte offset of cluster `c` (>= 2).
    pub fn cluster_offset(&self, c: u32) -> u64 {
        self.data_offset() + (c as u64 - 2) * self.cluster_bytes()
    }

    pub fn volume_bytes(&self) -> u64 {
        self.total_sectors as u64 * SECTOR
    }
}

/// The FAT32 boot sector (also written as the backup at sector 6), with
/// tsmedia's BIOS boot code; its second part goes to sector 2 and 8
/// ([`crate::usb::boot::vbr_stage2`]).
pub fn boot_sector(g: &Geometry, serial: u32, label: &[u8; 11]) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[0..3].copy_from_slice(crate::usb::boot::vbr_jump());
    b[3..11].copy_from_slice(b"MSWIN4.1");
    b[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    b[13] = g.sectors_per_cluster as u8;
    b[14..16].copy_from_slice(&(RESERVED_SECTORS as u16).to_le_bytes());
    b[16] = NUM_FATS as u8;
    // 17..19 root entries = 0, 19..21 total sectors 16 = 0
    b[21] = MEDIA_FIXED;
    // 22..24 FAT size 16 = 0
    b[24..26].copy_from_slice(&63u16.to_le_bytes());
    b[26..28].copy_from_slice(&255u16.to_le_bytes());
    b[28..32].copy_from_slice(&g.hidden_sectors.to_le_bytes());
    b[32..36].copy_from_slice(&g.total_sectors.to_le_bytes());
    b[36..40].copy_from_slice(&g.fat_sectors.to_le_bytes());
    // 40..42 flags 0: FATs mirrored; 42..44 version 0.0
    b[44..48].copy_from_slice(&ROOT_CLUSTER.to_le_bytes());
    b[48..50].copy_from_slice(&(FSINFO_SECTOR as u16).to_le_bytes());
    b[50..52].copy_from_slice(&(BACKUP_BOOT_SECTOR as u16).to_le_bytes());
    b[64] = 0x80;
    b[66] = 0x29;
    b[67..71].copy_from_slice(&serial.to_le_bytes());
    b[71..82].copy_from_slice(label);
    b[82..90].copy_from_slice(b"FAT32   ");
    // Boot code from 0x5A (where the jump lands) and 55AA: it loads the
    // rest of itself from sector 2, then BOOTMGR (src/usb/boot).
    b[crate::usb::boot::VBR_CODE_START..].copy_from_slice(crate::usb::boot::vbr_code());
    b
}

/// The FSInfo sector.
pub fn fsinfo(free_clusters: u32, next_free: u32) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[0..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
    b[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
    b[488..492].copy_from_slice(&free_clusters.to_le_bytes());
    b[492..496].copy_from_slice(&next_free.to_le_bytes());
    b[508..512].copy_from_slice(&0xAA55_0000u32.to_le_bytes());
    b
}

/// A FAT date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FatTime {
    pub date: u16,
    pub time: u16,
    /// Creation time's 10 ms units (0..=199).
    pub centis: u8,
}

impl FatTime {
    /// FAT stores local time without a zone; tsmedia stores UTC. Dates
    /// outside 1980..=2107 are clamped to the range's ends.
    pub fn from(t: OffsetDateTime) -> FatTime {
        let t = t.to_offset(time::UtcOffset::UTC);
        let year = t.year();
        if year < 1980 {
            return FatTime {
                date: (1 << 5) | 1,
                time: 0,
                centis: 0,
            };
        }
        if year > 2107 {
            return FatTime {
                date: (127 << 9) | (12 << 5) | 31,
                time: (23 << 11) | (59 << 5) | 29,
                centis: 100,
            };
        }
        FatTime {
            date: (((year - 1980) as u16) << 9) | ((t.month() as u16) << 5) | t.day() as u16,
            time: ((t.hour() as u16) << 11) | ((t.minute() as u16) << 5) | (t.second() as u16 / 2),
            centis: (t.second() % 2) * 100,
        }
    }
}

/// A short (8.3) directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortEntry {
    pub name: [u8; 11],
    pub attr: u8,
    /// NT case flags ([`CASE_LOWER_BASE`], [`CASE_LOWER_EXT`]).
    pub case: u8,
    pub cluster: u32,
    pub size: u32,
    pub time: FatTime,
}

impl ShortEntry {
    pub fn encode(&self) -> [u8; DIR_ENTRY] {
        let mut b = [0u8; DIR_ENTRY];
        b[0..11].copy_from_slice(&self.name);
        b[11] = self.attr;
        b[12] = self.case;
        b[13] = self.time.centis;
        b[14..16].copy_from_slice(&self.time.time.to_le_bytes());
        b[16..18].copy_from_slice(&self.time.date.to_le_bytes());
        b[18..20].copy_from_slice(&self.time.date.to_le_bytes());
        b[20..22].copy_from_slice(&((self.cluster >> 16) as u16).to_le_bytes());
        b[22..24].copy_from_slice(&self.time.time.to_le_bytes());
        b[24..26].copy_from_slice(&self.time.date.to_le_bytes());
        b[26..28].copy_from_slice(&(self.cluster as u16).to_le_bytes());
        b[28..32].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> ShortEntry {
        let mut name = [0u8; 11];
        name.copy_from_slice(&b[0..11]);
        let hi = u16::from_le_bytes([b[20], b[21]]) as u32;
        let lo = u16::from_le_bytes([b[26], b[27]]) as u32;
        ShortEntry {
            name,
            attr: b[11],
            case: b[12],
            cluster: (hi << 16) | lo,
            size: u32::from_le_bytes([b[28], b[29], b[30], b[31]]),
            time: FatTime {
                date: u16::from_le_bytes([b[24], b[25]]),
                time: u16::from_le_bytes([b[22], b[23]]),
                centis: b[13],
            },
        }
    }

    /// The name as a reader shows it: `BASE.EXT` with the case flags applied.
    pub fn display_name(&self) -> String {
        let mut base: String = self.name[0..8]
            .iter()
            .map(|&c| if c == 0x05 { 0xE5 } else { c })
            .map(char::from)
            .collect::<String>()
            .trim_end_matches(' ')
            .to_string();
        let mut ext: String = self.name[8..11]
            .iter()
            .map(|&c| char::from(c))
            .collect::<String>()
            .trim_end_matches(' ')
            .to_string();
        if self.case & CASE_LOWER_BASE != 0 {
            base = base.to_ascii_lowercase();
        }
        if self.case & CASE_LOWER_EXT != 0 {
            ext = ext.to_ascii_lowercase();
        }
        if ext.is_empty() {
            base
        } else {
            format!("{base}.{ext}")
        }
    }
}

/// Checksum of a short name, stored in each of its long-name entries.
pub fn short_checksum(name: &[u8; 11]) -> u8 {
    name.iter()
        .fold(0u8, |s, &c| s.rotate_right(1).wrapping_add(c))
}

/// Characters per long-name entry.
pub const LFN_CHARS: usize = 13;
/// Offsets of the 13 UTF-16 units inside a long-name entry.
pub const LFN_OFFSETS: [usize; LFN_CHARS] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/// Number of long-name entries a name of `units` UTF-16 units takes.
pub fn lfn_count(units: usize) -> usize {
    units.div_ceil(LFN_CHARS)
}

/// The long-name entries for `name`, in on-disk order (last part first).
pub fn lfn_entries(name: &[u16], checksum: u8, out: &mut Vec<u8>) {
    let n = lfn_count(name.len());
    for seq in (1..=n).rev() {
        let mut b = [0u8; DIR_ENTRY];
        b[0] = seq as u8 | if seq == n { 0x40 } else { 0 };
        b[11] = ATTR_LFN;
        b[13] = checksum;
        let start = (seq - 1) * LFN_CHARS;
        for (i, off) in LFN_OFFSETS.iter().enumerate() {
            let unit = match start + i {
                j if j < name.len() => name[j],
                j if j == name.len() => 0x0000,
                _ => 0xFFFF,
            };
            b[*off..*off + 2].copy_from_slice(&unit.to_le_bytes());
        }
        out.extend_from_slice(&b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_is_valid_fat32_and_aligned() {
        for mib in [34u64, 64, 100, 700, 1800, 8 * 1024, 40 * 1024, 64 * 1024] {
            let sectors = mib * 2048 - 2048;
            let g = Geometry::new(sectors, 2048).unwrap();
            assert!(g.clusters >= MIN_CLUSTERS, "{mib} MiB: {g:?}");
            assert!(
                g.fat_sectors as u64 * 128 >= g.clusters as u64 + 2,
                "FAT too small at {mib} MiB"
            );
            assert_eq!(g.data_offset() % (1 << 20), 0, "{mib} MiB: data aligned");
            assert!(g.data_offset() + g.clusters as u64 * g.cluster_bytes() <= sectors * 512);
        }
        // Windows' sizes: 4 KiB up to 8 GiB, 32 KiB above 32 GiB.
        assert_eq!(Geometry::new(2 << 21, 2048).unwrap().cluster_bytes(), 4096);
        assert_eq!(
            Geometry::new(80 << 21, 2048).unwrap().cluster_bytes(),
            32768
        );
        assert!(matches!(
            Geometry::new(60_000, 2048),
            Err(GeometryError::TooSmall { .. })
        ));
    }

    #[test]
    fn checksum_matches_known_value() {
        // "README  TXT" as Linux' vfat computes it.
        let mut s = 0u8;
        for c in b"README  TXT" {
            s = ((s & 1) << 7).wrapping_add(s >> 1).wrapping_add(*c);
        }
        assert_eq!(short_checksum(b"README  TXT"), s);
    }

    #[test]
    fn lfn_pads_with_nul_then_ffff() {
        let name: Vec<u16> = "Long file name.txt".encode_utf16().collect();
        let mut v = Vec::new();
        lfn_entries(&name, 0xAB, &mut v);
        assert_eq!(v.len(), 64);
        assert_eq!(v[0], 0x42);
        assert_eq!(v[32], 0x01);
        assert_eq!(v[11], ATTR_LFN);
        assert_eq!(v[13], 0xAB);
        // second part holds "txt" (units 13..18), then NUL, then 0xFFFF.
        let unit =
            |e: &[u8], i: usize| u16::from_le_bytes([e[LFN_OFFSETS[i]], e[LFN_OFFSETS[i] + 1]]);
        assert_eq!(unit(&v[0..32], 4), 't' as u16);
        assert_eq!(unit(&v[0..32], 5), 0);
        assert_eq!(unit(&v[0..32], 6), 0xFFFF);
    }

    #[test]
    fn time_encoding() {
        let t = time::macros::datetime!(2024-03-05 13:45:59 UTC);
        let f = FatTime::from(t);
        assert_eq!(f.date, (44 << 9) | (3 << 5) | 5);
        assert_eq!(f.time, (13 << 11) | (45 << 5) | 29);
        assert_eq!(f.centis, 100);
    }
}
