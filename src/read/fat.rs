//! A small FAT12/FAT16/FAT32 reader for images held in memory, such as the
//! El Torito UEFI image `efisys.bin` (a FAT12 floppy image). It lists files
//! and reads them; it is independent of the FAT32 writer and of the USB
//! reader. The bytes are untrusted: every count, chain and length is
//! checked and capped, and nothing panics.

use anyhow::{bail, Result};

/// Images larger than this are not read into memory.
pub const MAX_IMAGE: u64 = 256 << 20;
/// Files and folders listed at most.
const MAX_ENTRIES: usize = 65_536;
/// Folder depth followed at most.
const MAX_DEPTH: usize = 16;

/// Which FAT the volume uses (by its cluster count, as the FAT specification says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatKind {
    Fat12,
    Fat16,
    Fat32,
}

/// A file of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatFile {
    /// '/'-separated path, long names where present.
    pub path: String,
    pub size: u32,
    cluster: u32,
}

/// An open FAT image.
pub struct FatImage<'a> {
    data: &'a [u8],
    pub kind: FatKind,
    bytes_per_sector: usize,
    cluster_bytes: usize,
    fat_offset: usize,
    /// Fixed root folder of FAT12/16: (offset, entries).
    root_fixed: Option<(usize, usize)>,
    root_cluster: u32,
    data_offset: usize,
    clusters: u32,
}

fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}
fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

impl<'a> FatImage<'a> {
    /// Reads the boot sector of a FAT image.
    pub fn open(data: &'a [u8]) -> Result<FatImage<'a>> {
        if data.len() < 512 {
            bail!("too small for a FAT file system ({} bytes)", data.len());
        }
        let b = &data[..512];
        let bps = le16(b, 11);
        let spc = b[13] as usize;
        let reserved = le16(b, 14);
        let fats = b[16] as usize;
        let root_entries = le16(b, 17);
        let total16 = le16(b, 19);
        let fat16 = le16(b, 22);
        let total32 = le32(b, 32);
        let fat32 = le32(b, 36);
        if !(512..=4096).contains(&bps) || !bps.is_power_of_two() {
            bail!("not a FAT file system (bytes per sector {bps})");
        }
        if spc == 0 || !spc.is_power_of_two() || reserved == 0 || fats == 0 {
            bail!("not a FAT file system (sectors per cluster {spc}, reserved {reserved}, FATs {fats})");
        }
        let fat_sectors = if fat16 != 0 { fat16 } else { fat32 };
        let total = if total16 != 0 { total16 } else { total32 };
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let data_sector = reserved + fats * fat_sectors + root_sectors;
        if fat_sectors == 0 || total <= data_sector {
            bail!("not a FAT file system (FAT size {fat_sectors}, {total} sectors)");
        }
        let clusters = (total - data_sector) / spc;
        let kind = if clusters < 4085 {
            FatKind::Fat12
        } else if clusters < 65525 {
            FatKind::Fat16
        } else {
            FatKind::Fat32
        };
        let fat_offset = reserved * bps;
        if fat_offset + fat_sectors * bps > data.len() {
            bail!("the FAT lies past the end of the image");
        }
        let root_fixed = if kind == FatKind::Fat32 {
            None
        } else {
            let off = (reserved + fats * fat_sectors) * bps;
            if off + root_entries * 32 > data.len() {
                bail!("the root folder lies past the end of the image");
            }
            Some((off, root_entries))
        };
        Ok(FatImage {
            data,
            kind,
            bytes_per_sector: bps,
            cluster_bytes: spc * bps,
            fat_offset,
            root_fixed,
            root_cluster: if kind == FatKind::Fat32 {
                le32(b, 44) as u32
            } else {
                0
            },
            data_offset: data_sector * bps,
            clusters: clusters.min(u32::MAX as usize - 2) as u32,
        })
    }

    /// Bytes per sector of the volume.
    pub fn sector_size(&self) -> usize {
        self.bytes_per_sector
    }

    fn entry(&self, c: u32) -> Option<u32> {
        let d = self.data;
        let base = self.fat_offset;
        match self.kind {
            FatKind::Fat12 => {
                let at = base + c as usize * 3 / 2;
                let v = *d.get(at)? as u32 | (*d.get(at + 1)? as u32) << 8;
                Some(if c & 1 == 1 { v >> 4 } else { v & 0xFFF })
            }
            FatKind::Fat16 => {
                let at = base + c as usize * 2;
                Some(u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]) as u32)
            }
            FatKind::Fat32 => {
                let at = base + c as usize * 4;
                let b = d.get(at..at + 4)?;
                Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & 0x0FFF_FFFF)
            }
        }
    }

    fn is_end(&self, v: u32) -> bool {
        match self.kind {
            FatKind::Fat12 => v >= 0xFF8,
            FatKind::Fat16 => v >= 0xFFF8,
            FatKind::Fat32 => v >= 0x0FFF_FFF8,
        }
    }

    /// The clusters of a chain (at most `limit`).
    fn chain(&self, first: u32, limit: usize) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut c = first;
        loop {
            if c < 2 || c >= self.clusters + 2 {
                bail!("a cluster chain points at cluster {c}, outside the volume");
            }
            out.push(c);
            if out.len() > limit {
                bail!("a cluster chain is longer than its file (a loop?)");
            }
            let next = self
                .entry(c)
                .ok_or_else(|| anyhow::anyhow!("the FAT is cut short"))?;
            if self.is_end(next) {
                return Ok(out);
            }
            c = next;
        }
    }

    fn cluster_bytes_at(&self, c: u32) -> Result<&'a [u8]> {
        let at = self.data_offset + (c as usize - 2) * self.cluster_bytes;
        self.data
            .get(at..at + self.cluster_bytes)
            .ok_or_else(|| anyhow::anyhow!("cluster {c} lies past the end of the image"))
    }

    /// The raw 32-byte entries of a folder (cluster 0 = the root).
    fn dir_bytes(&self, cluster: u32) -> Result<Vec<u8>> {
        if cluster == 0 {
            if let Some((off, n)) = self.root_fixed {
                return Ok(self.data[off..off + n * 32].to_vec());
            }
            if self.root_cluster < 2 {
                bail!("the root folder starts at cluster {}", self.root_cluster);
            }
            return self.dir_bytes(self.root_cluster);
        }
        let max = (MAX_ENTRIES * 32).div_ceil(self.cluster_bytes);
        let mut v = Vec::new();
        for c in self.chain(cluster, max)? {
            v.extend_from_slice(self.cluster_bytes_at(c)?);
        }
        Ok(v)
    }

    /// Every file of the image, depth first.
    pub fn files(&self) -> Result<Vec<FatFile>> {
        let mut out = Vec::new();
        let mut stack = vec![(0u32, String::new(), 0usize)];
        let mut seen = std::collections::HashSet::new();
        let mut count = 0usize;
        while let Some((cluster, dir, depth)) = stack.pop() {
            if !seen.insert(cluster) || depth > MAX_DEPTH {
                continue;
            }
            let bytes = self.dir_bytes(cluster)?;
            for (name, attr, first, size) in entries(&bytes) {
                count += 1;
                if count > MAX_ENTRIES {
                    bail!("more than {MAX_ENTRIES} files and folders");
                }
                if name == "." || name == ".." || attr & 0x08 != 0 {
                    continue;
                }
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                if attr & 0x10 != 0 {
                    if first != 0 {
                        stack.push((first, path, depth + 1));
                    }
                } else {
                    out.push(FatFile {
                        path,
                        size,
                        cluster: first,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The file at `path` (matched case-insensitively), if there is one.
    pub fn find(&self, path: &str) -> Result<Option<FatFile>> {
        let want = super::path_key(path);
        Ok(self
            .files()?
            .into_iter()
            .find(|f| super::path_key(&f.path) == want))
    }

    /// A file's content (at most `max` bytes, else an error).
    pub fn read(&self, f: &FatFile, max: u64) -> Result<Vec<u8>> {
        if f.size as u64 > max {
            bail!("{} is {} bytes, more than {max}", f.path, f.size);
        }
        if f.size == 0 {
            return Ok(Vec::new());
        }
        let want = (f.size as usize).div_ceil(self.cluster_bytes);
        let chain = self.chain(f.cluster, want)?;
        if chain.len() != want {
            bail!(
                "{} has {} clusters for {} bytes",
                f.path,
                chain.len(),
                f.size
            );
        }
        let mut v = Vec::with_capacity(f.size as usize);
        for c in chain {
            v.extend_from_slice(self.cluster_bytes_at(c)?);
        }
        v.truncate(f.size as usize);
        Ok(v)
    }
}

/// (name, attributes, first cluster, size) of each entry of a folder;
/// long names are used when their checksum matches the short entry.
fn entries(bytes: &[u8]) -> Vec<(String, u8, u32, u32)> {
    let mut out = Vec::new();
    let mut lfn: Vec<(u8, [u16; 13])> = Vec::new();
    let mut lfn_sum = 0u8;
    for e in bytes.chunks_exact(32) {
        match e[0] {
            0x00 => break,
            0xE5 => {
                lfn.clear();
                continue;
            }
            _ => {}
        }
        let attr = e[11];
        if attr & 0x3F == 0x0F {
            let mut chars = [0u16; 13];
            for (i, at) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
                .iter()
                .enumerate()
            {
                chars[i] = u16::from_le_bytes([e[*at], e[at + 1]]);
            }
            if e[0] & 0x40 != 0 {
                lfn.clear();
                lfn_sum = e[13];
            }
            lfn.push((e[0] & 0x1F, chars));
            continue;
        }
        let short: &[u8] = &e[0..11];
        let sum = short.iter().fold(0u8, |s, &c| {
            ((s & 1) << 7).wrapping_add(s >> 1).wrapping_add(c)
        });
        let mut name = None;
        if !lfn.is_empty() && sum == lfn_sum {
            let mut parts = lfn.clone();
            parts.sort_by_key(|p| p.0);
            let units: Vec<u16> = parts
                .iter()
                .flat_map(|p| p.1.iter().copied())
                .take_while(|&c| c != 0 && c != 0xFFFF)
                .collect();
            let s = String::from_utf16_lossy(&units);
            if !s.is_empty() && !s.contains('/') {
                name = Some(s);
            }
        }
        lfn.clear();
        let name = name.unwrap_or_else(|| {
            let lower_base = e[12] & 0x08 != 0;
            let lower_ext = e[12] & 0x10 != 0;
            let mut first = short[0];
            if first == 0x05 {
                first = 0xE5;
            }
            let mut b: Vec<u8> = std::iter::once(first)
                .chain(short[1..8].iter().copied())
                .collect();
            while b.last() == Some(&b' ') {
                b.pop();
            }
            let mut x: Vec<u8> = short[8..11].to_vec();
            while x.last() == Some(&b' ') {
                x.pop();
            }
            let mut base: String = b.iter().map(|&c| c as char).collect();
            let mut ext: String = x.iter().map(|&c| c as char).collect();
            if lower_base {
                base = base.to_lowercase();
            }
            if lower_ext {
                ext = ext.to_lowercase();
            }
            let s = if ext.is_empty() {
                base
            } else {
                format!("{base}.{ext}")
            };
            s.replace('/', "_")
        });
        let hi = u16::from_le_bytes([e[20], e[21]]) as u32;
        let lo = u16::from_le_bytes([e[26], e[27]]) as u32;
        let size = u32::from_le_bytes([e[28], e[29], e[30], e[31]]);
        out.push((name, attr, hi << 16 | lo, size));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused() {
        assert!(FatImage::open(&[]).is_err());
        assert!(FatImage::open(&[0u8; 4096]).is_err());
    }
}
