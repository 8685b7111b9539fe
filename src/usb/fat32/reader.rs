//! Reads a FAT32 volume back: boot sector, directories (long names
//! included), and file contents by following cluster chains. Used to verify
//! what was written to a device.

use std::cell::RefCell;
use std::io::Write;

use anyhow::{bail, Context, Result};

use super::disk::{
    short_checksum, ShortEntry, ATTR_DIRECTORY, ATTR_LFN, ATTR_VOLUME_ID, DIR_ENTRY, LFN_CHARS,
    LFN_OFFSETS, MIN_CLUSTERS,
};
use crate::usb::blockio::BlockIo;

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The long name if there is a valid one, else the short name (with the
    /// NT case flags applied).
    pub name: String,
    pub short: [u8; 11],
    pub is_dir: bool,
    pub cluster: u32,
    pub size: u32,
}

/// An open FAT32 volume.
pub struct Volume<'a, D: BlockIo + ?Sized> {
    dev: &'a D,
    offset: u64,
    cluster_bytes: u64,
    pub(crate) fat_offset: u64,
    /// Bytes of one FAT, and how many FATs there are.
    pub(crate) fat_bytes: u64,
    pub(crate) fats: u64,
    pub(crate) data_offset: u64,
    pub(crate) clusters: u32,
    pub(crate) root: u32,
    pub serial: u32,
    pub label: [u8; 11],
    /// (first entry index, entries) of the FAT piece last read.
    cache: RefCell<(u64, Vec<u32>)>,
}

const CACHE_ENTRIES: u64 = 16_384;

fn le16(b: &[u8], at: usize) -> u32 {
    u16::from_le_bytes([b[at], b[at + 1]]) as u32
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a, D: BlockIo + ?Sized> Volume<'a, D> {
    /// Opens the volume whose boot sector is at byte `offset`.
    pub fn open(dev: &'a D, offset: u64) -> Result<Self> {
        let mut b = [0u8; 512];
        dev.read_exact_at(&mut b, offset)
            .context("reading the boot sector")?;
        if b[510] != 0x55 || b[511] != 0xAA {
            bail!("no boot sector signature at byte {offset}");
        }
        let bps = le16(&b, 11) as u64;
        let spc = b[13] as u64;
        let reserved = le16(&b, 14) as u64;
        let fats = b[16] as u64;
        let fat16_size = le16(&b, 22);
        let total = le32(&b, 32) as u64;
        let fat_sectors = le32(&b, 36) as u64;
        if bps != 512 || spc == 0 || !spc.is_power_of_two() || fats == 0 || fat16_size != 0 {
            bail!("not a FAT32 volume (bytes per sector {bps}, sectors per cluster {spc}, FAT16 size {fat16_size})");
        }
        let data_sector = reserved + fats * fat_sectors;
        let clusters = ((total.saturating_sub(data_sector)) / spc) as u32;
        if clusters < MIN_CLUSTERS {
            bail!("not a FAT32 volume: {clusters} clusters");
        }
        let mut label = [0u8; 11];
        label.copy_from_slice(&b[71..82]);
        Ok(Volume {
            dev,
            offset,
            cluster_bytes: spc * bps,
            fat_offset: offset + reserved * bps,
            fat_bytes: fat_sectors * bps,
            fats,
            data_offset: offset + data_sector * bps,
            clusters,
            root: le32(&b, 44),
            serial: le32(&b, 67),
            label,
            cache: RefCell::new((u64::MAX, Vec::new())),
        })
    }

    pub fn cluster_bytes(&self) -> u64 {
        self.cluster_bytes
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// FAT entry of cluster `c` (from the first FAT).
    pub fn fat_entry(&self, c: u32) -> Result<u32> {
        let piece = c as u64 / CACHE_ENTRIES * CACHE_ENTRIES;
        let mut cache = self.cache.borrow_mut();
        if cache.0 != piece {
            let n = CACHE_ENTRIES.min(self.clusters as u64 + 2 - piece) as usize;
            let mut raw = vec![0u8; n * 4];
            self.dev
                .read_exact_at(&mut raw, self.fat_offset + piece * 4)
                .context("reading the FAT")?;
            cache.1 = raw
                .chunks_exact(4)
                .map(|b| le32(b, 0) & 0x0FFF_FFFF)
                .collect();
            cache.0 = piece;
        }
        Ok(cache.1[(c as u64 - piece) as usize])
    }

    /// The chain starting at `first`, as runs of (first cluster, count).
    /// The runs (first cluster, count) of a chain; errors on invalid
    /// clusters and loops.
    pub fn chain(&self, first: u32) -> Result<Vec<(u32, u32)>> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        let mut c = first;
        let mut steps = 0u64;
        loop {
            if c < 2 || c >= self.clusters + 2 {
                bail!("cluster chain from {first} reaches invalid cluster {c}");
            }
            match runs.last_mut() {
                Some((s, n)) if *s + *n == c => *n += 1,
                _ => runs.push((c, 1)),
            }
            steps += 1;
            if steps > self.clusters as u64 {
                bail!("cluster chain from {first} loops");
            }
            let next = self.fat_entry(c)?;
            if next >= 0x0FFF_FFF8 {
                return Ok(runs);
            }
            c = next;
        }
    }

    pub(crate) fn cluster_pos(&self, c: u32) -> u64 {
        self.data_offset + (c as u64 - 2) * self.cluster_bytes
    }

    /// The entries of the directory starting at `cluster` (0 = the root),
    /// without `.`, `..` and the volume label.
    pub fn read_dir(&self, cluster: u32) -> Result<Vec<DirEntry>> {
        let first = if cluster == 0 { self.root } else { cluster };
        let mut out = Vec::new();
        let mut lfn: Vec<(u8, u8, [u16; LFN_CHARS])> = Vec::new();
        for (start, count) in self.chain(first)? {
            let mut buf = vec![0u8; (count as u64 * self.cluster_bytes) as usize];
            self.dev
                .read_exact_at(&mut buf, self.cluster_pos(start))
                .context("reading a directory")?;
            for e in buf.chunks_exact(DIR_ENTRY) {
                match e[0] {
                    0x00 => return Ok(out),
                    0xE5 => {
                        lfn.clear();
                        continue;
                    }
                    _ => {}
                }
                if e[11] & 0x3F == ATTR_LFN {
                    let mut units = [0u16; LFN_CHARS];
                    for (u, off) in units.iter_mut().zip(LFN_OFFSETS) {
                        *u = le16(e, off) as u16;
                    }
                    if e[0] & 0x40 != 0 {
                        lfn.clear();
                    }
                    lfn.push((e[0] & 0x1F, e[13], units));
                    continue;
                }
                let s = ShortEntry::decode(e);
                let long = std::mem::take(&mut lfn);
                if s.attr & ATTR_VOLUME_ID != 0 || s.name[0] == b'.' {
                    continue;
                }
                let name =
                    long_name(&long, short_checksum(&s.name)).unwrap_or_else(|| s.display_name());
                out.push(DirEntry {
                    name,
                    short: s.name,
                    is_dir: s.attr & ATTR_DIRECTORY != 0,
                    cluster: s.cluster,
                    size: s.size,
                });
            }
        }
        Ok(out)
    }

    /// Finds `path` (`/`-separated, matched ignoring case).
    pub fn lookup(&self, path: &str) -> Result<Option<DirEntry>> {
        let mut dir = 0u32;
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            let want = part.to_uppercase();
            let found = self
                .read_dir(dir)?
                .into_iter()
                .find(|e| e.name.to_uppercase() == want);
            match found {
                None => return Ok(None),
                Some(e) if i + 1 == parts.len() => return Ok(Some(e)),
                Some(e) if e.is_dir => dir = e.cluster,
                Some(_) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Streams a file's content into `w`.
    pub fn read_file(&self, e: &DirEntry, w: &mut dyn Write) -> Result<()> {
        let mut left = e.size as u64;
        if left == 0 {
            return Ok(());
        }
        let mut buf = vec![0u8; 1 << 20];
        for (start, count) in self.chain(e.cluster)? {
            let mut pos = self.cluster_pos(start);
            let mut run = (count as u64 * self.cluster_bytes).min(left);
            while run > 0 {
                crate::io::cancel::check()?;
                let n = run.min(buf.len() as u64) as usize;
                self.dev
                    .read_exact_at(&mut buf[..n], pos)
                    .with_context(|| format!("reading {}", e.name))?;
                w.write_all(&buf[..n])?;
                pos += n as u64;
                run -= n as u64;
                left -= n as u64;
            }
            if left == 0 {
                break;
            }
        }
        if left != 0 {
            bail!("{}: its cluster chain is shorter than its size", e.name);
        }
        Ok(())
    }
}

/// Assembles a long name from its entries (stored last part first), if they
/// are complete and match the short name's checksum.
fn long_name(parts: &[(u8, u8, [u16; LFN_CHARS])], checksum: u8) -> Option<String> {
    if parts.is_empty() || parts.iter().any(|p| p.1 != checksum) {
        return None;
    }
    let n = parts.len();
    let mut units = Vec::with_capacity(n * LFN_CHARS);
    for (k, p) in parts.iter().rev().enumerate() {
        if p.0 as usize != k + 1 {
            return None;
        }
        units.extend_from_slice(&p.2);
    }
    if let Some(end) = units.iter().position(|&u| u == 0) {
        units.truncate(end);
    }
    String::from_utf16(&units).ok()
}
