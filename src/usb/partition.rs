//! The partition table: MBR with one active FAT32 (LBA) partition and
//! tsmedia's MBR boot code (legacy BIOS boot), or GPT
//! with one Microsoft basic data partition and a protective MBR. Both start
//! the partition at 1 MiB. The first MiB (and for GPT the backup table at
//! the disk's end) is built in memory and written after the file system.

use anyhow::{bail, Result};

use super::blockio::BlockIo;

pub const SECTOR: u64 = 512;
/// First LBA of the partition (1 MiB).
pub const PART_START_LBA: u64 = 2048;
pub const MIB: u64 = 1 << 20;
/// FAT32 with LBA addressing.
pub const MBR_TYPE_FAT32_LBA: u8 = 0x0C;
pub const MBR_TYPE_PROTECTIVE: u8 = 0xEE;
/// GPT partition entries (the usual 128 of 128 bytes: 32 sectors).
const GPT_ENTRIES: u32 = 128;
const GPT_ENTRY_SIZE: u32 = 128;
const GPT_ARRAY_SECTORS: u64 = (GPT_ENTRIES * GPT_ENTRY_SIZE) as u64 / SECTOR;
/// Microsoft basic data partition type, EBD0A0A2-B9E5-4433-87C0-68B6B72699C7.
pub const GPT_BASIC_DATA: &str = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

/// Boot code of a GPT disk's protective MBR: GPT media boot by UEFI only,
/// so a BIOS that starts this code is told to try the next device
/// (INT 18h), then halts. MBR disks get [`super::boot::MBR_CODE`].
const PROTECTIVE_BOOT_CODE: [u8; 6] = [0xCD, 0x18, 0xFA, 0xF4, 0xEB, 0xFD];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableKind {
    Mbr,
    Gpt,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Mbr => "mbr",
            TableKind::Gpt => "gpt",
        }
    }
}

/// Identifiers written into the table, derived from the medium's GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskIds {
    pub mbr_signature: u32,
    /// GUIDs in their on-disk (mixed-endian) byte order.
    pub disk_guid: [u8; 16],
    pub part_guid: [u8; 16],
}

/// Where the partition lies on a disk of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLayout {
    pub kind: TableKind,
    pub disk_sectors: u64,
    pub part_start: u64,
    pub part_sectors: u64,
    pub ids: DiskIds,
}

impl DiskLayout {
    pub fn new(kind: TableKind, disk_bytes: u64, ids: DiskIds) -> Result<DiskLayout> {
        let disk_sectors = disk_bytes / SECTOR;
        let end = match kind {
            // MBR: 32-bit sector counts; a larger disk keeps 2 TiB usable.
            TableKind::Mbr => disk_sectors.min(u32::MAX as u64),
            // GPT: the backup array and header take the last 33 sectors;
            // the partition ends on a MiB boundary before them.
            TableKind::Gpt => {
                disk_sectors.saturating_sub(1 + GPT_ARRAY_SECTORS) / PART_START_LBA * PART_START_LBA
            }
        };
        if end <= PART_START_LBA + 1 {
            bail!("a disk of {disk_bytes} bytes is too small for a partition at 1 MiB");
        }
        Ok(DiskLayout {
            kind,
            disk_sectors,
            part_start: PART_START_LBA,
            part_sectors: end - PART_START_LBA,
            ids,
        })
    }

    /// Bytes before the partition's end a disk of this kind needs beyond the
    /// partition itself.
    pub fn overhead_bytes(kind: TableKind) -> u64 {
        PART_START_LBA * SECTOR
            + match kind {
                TableKind::Mbr => 0,
                TableKind::Gpt => (1 + GPT_ARRAY_SECTORS) * SECTOR,
            }
    }

    pub fn part_offset(&self) -> u64 {
        self.part_start * SECTOR
    }

    pub fn part_bytes(&self) -> u64 {
        self.part_sectors * SECTOR
    }

    /// The first MiB of the disk: MBR (or protective MBR, GPT header and
    /// entries), zeros elsewhere.
    pub fn first_mib(&self) -> Vec<u8> {
        let mut b = vec![0u8; MIB as usize];
        match self.kind {
            TableKind::Mbr => {
                b[..440].copy_from_slice(super::boot::MBR_CODE);
                b[440..444].copy_from_slice(&self.ids.mbr_signature.to_le_bytes());
                let e = mbr_entry(0x80, MBR_TYPE_FAT32_LBA, self.part_start, self.part_sectors);
                b[446..462].copy_from_slice(&e);
            }
            TableKind::Gpt => {
                b[..PROTECTIVE_BOOT_CODE.len()].copy_from_slice(&PROTECTIVE_BOOT_CODE);
                let size = (self.disk_sectors - 1).min(u32::MAX as u64);
                let mut e = mbr_entry(0, MBR_TYPE_PROTECTIVE, 1, size);
                // The protective entry starts at CHS 0/0/2.
                e[1..4].copy_from_slice(&[0x00, 0x02, 0x00]);
                b[446..462].copy_from_slice(&e);
                let entries = self.gpt_entries();
                let (hdr, _) = self.gpt_header(true, &entries);
                b[512..1024].copy_from_slice(&hdr);
                b[1024..1024 + entries.len()].copy_from_slice(&entries);
            }
        }
        b[510] = 0x55;
        b[511] = 0xAA;
        b
    }

    /// For GPT: the backup entries and header, and the byte offset they go to.
    pub fn tail(&self) -> Option<(u64, Vec<u8>)> {
        if self.kind != TableKind::Gpt {
            return None;
        }
        let entries = self.gpt_entries();
        let (hdr, array_lba) = self.gpt_header(false, &entries);
        let mut v = entries;
        v.extend_from_slice(&hdr);
        Some((array_lba * SECTOR, v))
    }

    fn gpt_entries(&self) -> Vec<u8> {
        let mut a = vec![0u8; (GPT_ENTRIES * GPT_ENTRY_SIZE) as usize];
        a[0..16].copy_from_slice(&guid_bytes(GPT_BASIC_DATA));
        a[16..32].copy_from_slice(&self.ids.part_guid);
        a[32..40].copy_from_slice(&self.part_start.to_le_bytes());
        let last = self.part_start + self.part_sectors - 1;
        a[40..48].copy_from_slice(&last.to_le_bytes());
        // attributes 0; name "tsmedia" in UTF-16LE
        for (i, u) in "tsmedia".encode_utf16().enumerate() {
            a[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        a
    }

    /// A GPT header (one sector) and the LBA of the entry array it names.
    fn gpt_header(&self, primary: bool, entries: &[u8]) -> ([u8; 512], u64) {
        let last_lba = self.disk_sectors - 1;
        let backup_array = last_lba - GPT_ARRAY_SECTORS;
        let (my, alt, array) = if primary {
            (1, last_lba, 2)
        } else {
            (last_lba, 1, backup_array)
        };
        let mut h = [0u8; 512];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&my.to_le_bytes());
        h[32..40].copy_from_slice(&alt.to_le_bytes());
        h[40..48].copy_from_slice(&(2 + GPT_ARRAY_SECTORS).to_le_bytes());
        h[48..56].copy_from_slice(&(backup_array - 1).to_le_bytes());
        h[56..72].copy_from_slice(&self.ids.disk_guid);
        h[72..80].copy_from_slice(&array.to_le_bytes());
        h[80..84].copy_from_slice(&GPT_ENTRIES.to_le_bytes());
        h[84..88].copy_from_slice(&GPT_ENTRY_SIZE.to_le_bytes());
        h[88..92].copy_from_slice(&crc32fast::hash(entries).to_le_bytes());
        let crc = crc32fast::hash(&h[..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        (h, array)
    }

    /// Writes the table: the backup (GPT) first, then the first MiB.
    pub fn write<D: BlockIo + ?Sized>(&self, dev: &mut D) -> std::io::Result<()> {
        if let Some((at, bytes)) = self.tail() {
            dev.write_all_at(&bytes, at)?;
        }
        dev.write_all_at(&self.first_mib(), 0)
    }
}

/// A 16-byte MBR partition entry with CHS fields for the usual 255 heads and
/// 63 sectors per track, capped at 1023/254/63 beyond what CHS can address.
fn mbr_entry(status: u8, kind: u8, lba: u64, sectors: u64) -> [u8; 16] {
    let mut e = [0u8; 16];
    e[0] = status;
    e[1..4].copy_from_slice(&chs(lba));
    e[4] = kind;
    e[5..8].copy_from_slice(&chs(lba + sectors - 1));
    e[8..12].copy_from_slice(&(lba as u32).to_le_bytes());
    e[12..16].copy_from_slice(&(sectors.min(u32::MAX as u64) as u32).to_le_bytes());
    e
}

/// CHS address bytes (head, sector | cylinder high bits, cylinder low bits).
pub fn chs(lba: u64) -> [u8; 3] {
    const HEADS: u64 = 255;
    const SPT: u64 = 63;
    let c = lba / (HEADS * SPT);
    if c > 1023 {
        return [254, 0xFF, 0xFF];
    }
    let h = (lba / SPT) % HEADS;
    let s = lba % SPT + 1;
    [h as u8, (s as u8) | (((c >> 8) as u8) << 6), c as u8]
}

/// On-disk bytes of a GUID written as text (first three fields little-endian).
pub fn guid_bytes(s: &str) -> [u8; 16] {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let mut raw = [0u8; 16];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    to_mixed_endian(raw)
}

/// Big-endian (text order) GUID bytes to GPT's mixed-endian order.
pub fn to_mixed_endian(raw: [u8; 16]) -> [u8; 16] {
    let mut g = raw;
    g[0..4].reverse();
    g[4..6].reverse();
    g[6..8].reverse();
    g
}

/// Where the first partition lies, read back from a disk's table:
/// (byte offset, bytes).
pub fn read_first_partition<D: BlockIo + ?Sized>(dev: &D) -> Result<(u64, u64)> {
    let mut mbr = [0u8; 512];
    dev.read_exact_at(&mut mbr, 0)?;
    if mbr[510] != 0x55 || mbr[511] != 0xAA {
        bail!("no partition table: the first sector has no boot signature");
    }
    let kind = mbr[446 + 4];
    let lba = u32::from_le_bytes(mbr[454..458].try_into().unwrap()) as u64;
    let count = u32::from_le_bytes(mbr[458..462].try_into().unwrap()) as u64;
    if kind == MBR_TYPE_PROTECTIVE {
        let mut h = [0u8; 512];
        dev.read_exact_at(&mut h, SECTOR)?;
        if &h[0..8] != b"EFI PART" {
            bail!("protective MBR without a GPT header");
        }
        let array = u64::from_le_bytes(h[72..80].try_into().unwrap());
        let mut e = [0u8; 128];
        dev.read_exact_at(&mut e, array * SECTOR)?;
        let first = u64::from_le_bytes(e[32..40].try_into().unwrap());
        let last = u64::from_le_bytes(e[40..48].try_into().unwrap());
        if first == 0 || last < first {
            bail!("the GPT has no first partition");
        }
        return Ok((first * SECTOR, (last - first + 1) * SECTOR));
    }
    if kind == 0 || count == 0 {
        bail!("the MBR has no first partition");
    }
    Ok((lba * SECTOR, count * SECTOR))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> DiskIds {
        DiskIds {
            mbr_signature: 0x1234_5678,
            disk_guid: [1; 16],
            part_guid: [2; 16],
        }
    }

    #[test]
    fn chs_is_capped() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(2048), [32, 33, 0]);
        assert_eq!(chs(1024 * 255 * 63), [254, 0xFF, 0xFF]);
        // cylinder 1023 exactly: high bits in the sector byte
        assert_eq!(chs(1023 * 255 * 63), [0, 0xC1, 0xFF]);
    }

    #[test]
    fn mbr_and_gpt_read_back() {
        for kind in [TableKind::Mbr, TableKind::Gpt] {
            let l = DiskLayout::new(kind, 64 << 20, ids()).unwrap();
            let mut disk: Vec<u8> = vec![0; 64 << 20];
            l.write(&mut disk).unwrap();
            let (off, len) = read_first_partition(&disk).unwrap();
            assert_eq!(off, 1 << 20);
            assert_eq!(len, l.part_bytes());
            assert_eq!(disk.len(), 64 << 20);
        }
    }

    #[test]
    fn basic_data_guid_bytes() {
        assert_eq!(
            guid_bytes(GPT_BASIC_DATA),
            [
                0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44, 0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26,
                0x99, 0xC7
            ]
        );
    }
}
