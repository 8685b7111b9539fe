//! A USB medium (disk image or block device) as a medium: the partition
//! table, then the FAT32 file system of its first partition, read with the
//! FAT32 reader and checked for consistency: both FATs agree, every chain
//! ends, no cluster belongs to two files, chains are as long as their files,
//! the backup boot sector matches, FSInfo's free count is right.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{path_key, BootEntry, Medium, MediumFile, StructureProblem};
use crate::usb::blockio::BlockIo;
use crate::usb::fat32::reader::{DirEntry, Volume};
use crate::usb::partition::{MBR_TYPE_FAT32_LBA, MBR_TYPE_PROTECTIVE, SECTOR};

/// At most this many files and folders are read from a medium.
const MAX_ENTRIES: usize = 2_000_000;

pub struct DiskMedium {
    path: PathBuf,
    dev: File,
    table: String,
    offset: u64,
    files: Vec<MediumFile>,
    entries: HashMap<String, DirEntry>,
    problems: Vec<StructureProblem>,
    label: String,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The partition table's kind and the first partition, with table problems.
fn read_table(
    dev: &File,
    size: u64,
    problems: &mut Vec<StructureProblem>,
) -> Result<(String, u64, u64)> {
    let mut mbr = [0u8; 512];
    dev.read_exact_at(&mut mbr, 0)
        .context("reading the first sector")?;
    if mbr[510] != 0x55 || mbr[511] != 0xAA {
        bail!("no partition table: the first sector has no boot signature");
    }
    let kind = mbr[446 + 4];
    if kind == MBR_TYPE_PROTECTIVE {
        let mut h = [0u8; 512];
        dev.read_exact_at(&mut h, SECTOR)?;
        if &h[0..8] != b"EFI PART" {
            bail!("a protective MBR without a GPT header");
        }
        let hsize = (le32(&h, 12) as usize).clamp(92, 512);
        let mut hc = h[..hsize].to_vec();
        hc[16..20].fill(0);
        if crc32fast::hash(&hc) != le32(&h, 16) {
            problems.push(StructureProblem::new(
                "GPT header",
                "a header whose CRC32 matches",
                "a damaged header",
            ));
        }
        let array = u64::from_le_bytes(h[72..80].try_into().unwrap());
        let n = (le32(&h, 80) as u64).min(1024);
        let esize = (le32(&h, 84) as u64).clamp(128, 1024);
        let mut arr = vec![0u8; (n * esize) as usize];
        dev.read_exact_at(&mut arr, array * SECTOR)?;
        if crc32fast::hash(&arr) != le32(&h, 88) {
            problems.push(StructureProblem::new(
                "GPT partition entries",
                "entries whose CRC32 matches the header",
                "damaged entries",
            ));
        }
        let backup = u64::from_le_bytes(h[32..40].try_into().unwrap());
        let mut b = [0u8; 8];
        if backup * SECTOR + 8 > size
            || dev.read_exact_at(&mut b, backup * SECTOR).is_err()
            || &b != b"EFI PART"
        {
            problems.push(StructureProblem::new(
                "GPT backup header",
                format!("a backup header at sector {backup}"),
                "none",
            ));
        }
        let first = u64::from_le_bytes(arr[32..40].try_into().unwrap());
        let last = u64::from_le_bytes(arr[40..48].try_into().unwrap());
        if first == 0 || last < first {
            bail!("the GPT has no first partition");
        }
        return Ok(("GPT".into(), first * SECTOR, (last - first + 1) * SECTOR));
    }
    let lba = le32(&mbr, 454) as u64;
    let count = le32(&mbr, 458) as u64;
    if kind == 0 || count == 0 {
        bail!("the MBR has no first partition");
    }
    if kind != MBR_TYPE_FAT32_LBA && kind != 0x0B {
        problems.push(StructureProblem::new(
            "MBR partition 1",
            "type 0x0C (FAT32 LBA)",
            format!("type 0x{kind:02X}"),
        ));
    }
    if mbr[446] != 0x80 {
        problems.push(StructureProblem::new(
            "MBR partition 1",
            "the active flag (0x80)",
            format!("0x{:02X}", mbr[446]),
        ));
    }
    if (lba + count) * SECTOR > size {
        problems.push(StructureProblem::new(
            "MBR partition 1",
            format!("a partition inside the disk ({size} bytes)"),
            format!("one ending at byte {}", (lba + count) * SECTOR),
        ));
    }
    Ok(("MBR".into(), lba * SECTOR, count * SECTOR))
}

impl DiskMedium {
    pub fn open(path: &Path) -> Result<DiskMedium> {
        let dev = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let size = {
            use std::io::{Seek, SeekFrom};
            let mut f = &dev;
            f.seek(SeekFrom::End(0))?
        };
        let mut problems = Vec::new();
        let (table, offset, _bytes) = read_table(&dev, size, &mut problems)?;
        let vol = Volume::open(&dev, offset)
            .context("reading the FAT32 file system of the first partition")?;
        let label = String::from_utf8_lossy(&vol.label).trim_end().to_string();
        let mut m = DiskMedium {
            path: path.to_path_buf(),
            table,
            offset,
            files: Vec::new(),
            entries: HashMap::new(),
            problems,
            label,
            dev: dev.try_clone()?,
        };
        m.scan(&vol)?;
        Ok(m)
    }

    /// Walks the tree, recording files and checking every chain.
    fn scan(&mut self, vol: &Volume<'_, File>) -> Result<()> {
        let mut owner: HashMap<u32, String> = HashMap::new();
        match vol.chain(vol.root) {
            Ok(runs) => {
                for (s, k) in runs {
                    for c in s..s + k {
                        owner.insert(c, "/".into());
                    }
                }
            }
            Err(e) => self.problems.push(StructureProblem::new(
                "root folder",
                "a chain that ends",
                format!("{e:#}"),
            )),
        }
        let mut stack: Vec<(u32, String)> = vec![(0, String::new())];
        let mut seen_dirs = std::collections::HashSet::new();
        let mut count = 0usize;
        while let Some((cluster, dir)) = stack.pop() {
            if !seen_dirs.insert(cluster) {
                self.problems.push(StructureProblem::new(
                    format!("folder /{dir}"),
                    "a tree",
                    "a folder that contains itself",
                ));
                continue;
            }
            let list = match vol.read_dir(cluster) {
                Ok(l) => l,
                Err(e) => {
                    self.problems.push(StructureProblem::new(
                        format!("folder /{dir}"),
                        "a readable folder",
                        format!("{e:#}"),
                    ));
                    continue;
                }
            };
            for e in list {
                count += 1;
                if count > MAX_ENTRIES {
                    bail!("more than {MAX_ENTRIES} files and folders: not a medium of ours");
                }
                if e.name == "." || e.name == ".." {
                    continue;
                }
                let path = if dir.is_empty() {
                    e.name.clone()
                } else {
                    format!("{dir}/{}", e.name)
                };
                // Every cluster of the entry belongs to it alone.
                if e.cluster != 0 {
                    match vol.chain(e.cluster) {
                        Ok(runs) => {
                            let n: u64 = runs.iter().map(|r| r.1 as u64).sum();
                            if !e.is_dir {
                                let want = (e.size as u64).div_ceil(vol.cluster_bytes());
                                if n != want {
                                    self.problems.push(StructureProblem::new(
                                        format!("FAT chain of {path}"),
                                        format!("{want} clusters for {} bytes", e.size),
                                        format!("{n} clusters"),
                                    ));
                                }
                            }
                            'runs: for (s, k) in runs {
                                for c in s..s + k {
                                    if let Some(other) = owner.insert(c, path.clone()) {
                                        self.problems.push(StructureProblem::new(
                                            format!("FAT chain of {path}"),
                                            "clusters of its own",
                                            format!("cluster {c} also belongs to {other} (cross-linked)"),
                                        ));
                                        break 'runs;
                                    }
                                }
                            }
                        }
                        Err(err) => self.problems.push(StructureProblem::new(
                            format!("FAT chain of {path}"),
                            "a chain that ends",
                            format!("{err:#}"),
                        )),
                    }
                } else if !e.is_dir && e.size > 0 {
                    self.problems.push(StructureProblem::new(
                        format!("directory entry of {path}"),
                        "a first cluster",
                        format!("none for {} bytes", e.size),
                    ));
                }
                if e.is_dir {
                    if e.cluster == 0 {
                        self.problems.push(StructureProblem::new(
                            format!("directory entry of {path}"),
                            "a first cluster",
                            "none",
                        ));
                    } else {
                        stack.push((e.cluster, path));
                    }
                } else {
                    self.files.push(MediumFile {
                        path: path.clone(),
                        size: e.size as u64,
                    });
                    self.entries.insert(path_key(&path), e);
                }
            }
        }
        self.check_fats(vol, &owner)?;
        self.files.sort();
        Ok(())
    }

    fn check_fats(&mut self, vol: &Volume<'_, File>, owner: &HashMap<u32, String>) -> Result<()> {
        // The FATs agree byte for byte.
        let mut a = vec![0u8; 1 << 20];
        let mut b = vec![0u8; 1 << 20];
        for k in 1..vol.fats {
            let mut pos = 0u64;
            while pos < vol.fat_bytes {
                let n = (vol.fat_bytes - pos).min(a.len() as u64) as usize;
                self.dev.read_exact_at(&mut a[..n], vol.fat_offset + pos)?;
                self.dev
                    .read_exact_at(&mut b[..n], vol.fat_offset + k * vol.fat_bytes + pos)?;
                if a[..n] != b[..n] {
                    let i = a[..n]
                        .iter()
                        .zip(&b[..n])
                        .position(|(x, y)| x != y)
                        .unwrap_or(0) as u64;
                    self.problems.push(StructureProblem::new(
                        format!("FAT {}", k + 1),
                        "a copy of FAT 1",
                        format!("a difference at byte {} of the FAT", pos + i),
                    ));
                    break;
                }
                pos += n as u64;
            }
        }
        // The backup boot sector matches, and FSInfo counts the free clusters.
        let mut boot = [0u8; 512];
        let mut backup = [0u8; 512];
        self.dev.read_exact_at(&mut boot, self.offset)?;
        let backup_sector = u16::from_le_bytes([boot[50], boot[51]]) as u64;
        if backup_sector != 0 && backup_sector != 0xFFFF {
            self.dev
                .read_exact_at(&mut backup, self.offset + backup_sector * SECTOR)?;
            if boot != backup {
                self.problems.push(StructureProblem::new(
                    "backup boot sector",
                    "a copy of the boot sector",
                    "a different sector",
                ));
            }
        }
        let mut used = 0u64;
        let mut lost = 0u64;
        for c in 2..vol.clusters + 2 {
            let v = vol.fat_entry(c)?;
            if v != 0 {
                used += 1;
                if !owner.contains_key(&c) {
                    lost += 1;
                }
            }
        }
        if lost > 0 {
            self.problems.push(StructureProblem::new(
                "FAT",
                "no allocated cluster outside a file or folder",
                format!("{lost} lost clusters"),
            ));
        }
        let fsinfo_sector = u16::from_le_bytes([boot[48], boot[49]]) as u64;
        if fsinfo_sector != 0 && fsinfo_sector != 0xFFFF {
            let mut fi = [0u8; 512];
            self.dev
                .read_exact_at(&mut fi, self.offset + fsinfo_sector * SECTOR)?;
            let free = le32(&fi, 488);
            let want = vol.clusters as u64 - used;
            if &fi[0..4] != b"RRaA" || &fi[484..488] != b"rrAa" {
                self.problems.push(StructureProblem::new(
                    "FSInfo sector",
                    "the FSInfo signatures",
                    "other bytes",
                ));
            } else if free != 0xFFFF_FFFF && free as u64 != want {
                self.problems.push(StructureProblem::new(
                    "FSInfo sector",
                    format!("{want} free clusters"),
                    format!("{free}"),
                ));
            }
        }
        Ok(())
    }
}

/// A file's content, read run by run straight from the disk.
struct FileReader<'a> {
    dev: &'a File,
    runs: Vec<(u64, u64)>,
    left: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 || self.runs.is_empty() {
            return Ok(0);
        }
        let (pos, len) = self.runs[0];
        let n = (buf.len() as u64).min(len).min(self.left) as usize;
        self.dev.read_exact_at(&mut buf[..n], pos)?;
        self.left -= n as u64;
        if n as u64 == len {
            self.runs.remove(0);
        } else {
            self.runs[0] = (pos + n as u64, len - n as u64);
        }
        Ok(n)
    }
}

impl Medium for DiskMedium {
    fn describe(&self) -> String {
        format!(
            "USB medium {} ({} partition table, FAT32 \"{}\")",
            self.path.display(),
            self.table,
            self.label
        )
    }

    fn files(&self) -> Vec<MediumFile> {
        self.files.clone()
    }

    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let e = self.entries.get(&path_key(path)).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{path} is not on the medium"),
            )
        })?;
        let vol = Volume::open(&self.dev, self.offset).map_err(std::io::Error::other)?;
        let runs = if e.size == 0 {
            Vec::new()
        } else {
            vol.chain(e.cluster)
                .map_err(std::io::Error::other)?
                .into_iter()
                .map(|(s, k)| (vol.cluster_pos(s), k as u64 * vol.cluster_bytes()))
                .collect()
        };
        Ok(Box::new(FileReader {
            dev: &self.dev,
            runs,
            left: e.size as u64,
        }))
    }

    fn check(&self) -> Vec<StructureProblem> {
        self.problems.clone()
    }

    fn boot_entries(&self) -> Vec<BootEntry> {
        Vec::new()
    }

    fn label(&self) -> Option<String> {
        Some(self.label.clone())
    }
}
