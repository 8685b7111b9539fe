//! USB media: a partition table with one FAT32 partition holding the plan,
//! written to a disk image or straight to a removable drive.
//!
//! [`fat32`] is the file system, [`partition`] the MBR/GPT, [`device`] the
//! checks and system calls for writing a real drive; this module places a
//! plan on a disk of some size and writes it.

pub mod blockio;
pub mod boot;
pub mod device;
pub mod fat32;
pub mod partition;

use std::io::Write;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::io::{Progress, SourceChanged};
use crate::plan::{Entry, Plan, Source};
use crate::write::{open_source, Hashes};
use blockio::{BlockIo, SeqWriter};
use fat32::{FatTime, FileSpec, Geometry, Layout, Tree};
use partition::{DiskIds, DiskLayout, TableKind, MIB};

/// The smallest image tsmedia makes by default.
pub const MIN_DEFAULT_IMAGE: u64 = 64 * MIB;

/// The plan's files and folders as a FAT32 tree (same file order as
/// `plan.entries`; the manifest is allocated last).
pub fn tree(plan: &Plan) -> std::result::Result<Tree, Vec<fat32::TreeError>> {
    let files = plan
        .entries
        .iter()
        .map(|e| FileSpec {
            path: e.path.clone(),
            size: e.size,
        })
        .collect();
    let last = plan.entries.iter().position(|e| {
        matches!(e.source, Source::Manifest) || e.path == crate::manifest::MANIFEST_PATH
    });
    Tree::build(files, &plan.empty_dirs, last)
}

/// Identifiers derived from the medium's GUID, so rebuilds are identical.
pub fn ids(plan: &Plan) -> (DiskIds, u32) {
    let h = |what: &str| -> [u8; 32] {
        let mut s = Sha256::new();
        s.update(b"tsmedia-usb/");
        s.update(what.as_bytes());
        s.update(b"/");
        s.update(plan.media_guid.as_bytes());
        s.finalize().into()
    };
    let guid = |what: &str| {
        let d = h(what);
        let mut g = [0u8; 16];
        g.copy_from_slice(&d[..16]);
        g[6] = (g[6] & 0x0F) | 0x50;
        g[8] = (g[8] & 0x3F) | 0x80;
        partition::to_mixed_endian(g)
    };
    let word = |what: &str| {
        let d = h(what);
        u32::from_le_bytes([d[0], d[1], d[2], d[3]]).max(1)
    };
    (
        DiskIds {
            mbr_signature: word("mbr-signature"),
            disk_guid: guid("disk"),
            part_guid: guid("partition"),
        },
        word("fat-serial"),
    )
}

/// Everything placed on a disk of a given size.
#[derive(Debug, Clone)]
pub struct Medium {
    pub disk: DiskLayout,
    pub layout: Layout,
}

impl Medium {
    pub fn disk_bytes(&self) -> u64 {
        self.disk.disk_sectors * partition::SECTOR
    }
}

/// Why a disk cannot hold the plan.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("{0}")]
    Geometry(#[from] fat32::disk::GeometryError),
    #[error("{0}")]
    NoSpace(#[from] fat32::layout::NoSpace),
    #[error("{0}")]
    Other(String),
}

/// Places `tree` on a disk of `disk_bytes` with a `kind` table.
pub fn place(
    plan: &Plan,
    tree: Tree,
    kind: TableKind,
    disk_bytes: u64,
) -> std::result::Result<Medium, PlaceError> {
    let (ids, serial) = ids(plan);
    let disk =
        DiskLayout::new(kind, disk_bytes, ids).map_err(|e| PlaceError::Other(e.to_string()))?;
    let g = Geometry::new(disk.part_sectors, disk.part_start as u32)?;
    let layout = Layout::new(
        tree,
        g,
        serial,
        fat32::fat_label(&plan.label),
        FatTime::from(plan.created),
    )?;
    Ok(Medium { disk, layout })
}

/// Free space tsmedia leaves on a default-sized image.
pub fn headroom(content: u64) -> u64 {
    (content / 10).max(16 * MIB)
}

/// The smallest whole-MiB disk on which `tree` fits with at least `spare`
/// bytes free (and at least `floor` bytes in all).
pub fn fitting_disk_bytes(tree: &Tree, kind: TableKind, spare: u64, floor: u64) -> u64 {
    let content = tree.content_bytes();
    let over = DiskLayout::overhead_bytes(kind);
    let mut size = (content + spare + over + content / 64 + MIB)
        .max(floor)
        .div_ceil(MIB)
        * MIB;
    loop {
        let fits = DiskLayout::new(kind, size, ids_dummy())
            .ok()
            .and_then(|d| Geometry::new(d.part_sectors, d.part_start as u32).ok())
            .is_some_and(|g| {
                let need = tree.clusters_needed(g.cluster_bytes());
                (g.clusters as u64).saturating_sub(need) * g.cluster_bytes() >= spare
                    && need <= g.clusters as u64
            });
        if fits {
            return size;
        }
        size += (size / 64).max(MIB).div_ceil(MIB) * MIB;
    }
}

fn ids_dummy() -> DiskIds {
    DiskIds {
        mbr_signature: 1,
        disk_guid: [0; 16],
        part_guid: [0; 16],
    }
}

/// Default image size: the content plus [`headroom`], at least 64 MiB.
pub fn default_disk_bytes(tree: &Tree, kind: TableKind) -> u64 {
    fitting_disk_bytes(
        tree,
        kind,
        headroom(tree.content_bytes()),
        MIN_DEFAULT_IMAGE,
    )
}

/// Writes the medium: file system first (each file streamed once and
/// hashed), then the partition table and first MiB. Returns the hashes and
/// the manifest written.
pub fn write_medium<D: BlockIo + Send + ?Sized>(
    dev: &mut D,
    medium: &Medium,
    plan: &Plan,
    progress: &Progress,
) -> Result<(Hashes, [u8; 32])> {
    let mut manifest = [0u8; 32];
    let by_path = |d: &blockio::Digests| -> Hashes {
        let mut h = Hashes::new();
        for (i, d) in d.iter() {
            h.insert(*i, *d);
        }
        h
    };
    let last = medium.layout.tree.last;
    let digests = fat32::write_volume(dev, medium.disk.part_offset(), &medium.layout, |i, w| {
        let e = &plan.entries[i];
        // A damaged source fails before the last file makes the medium
        // look complete.
        if Some(i) == last {
            for (j, h) in w.all_digests()?.iter() {
                crate::write::check_expected(&plan.entries[*j], h)?;
            }
        }
        if matches!(e.source, Source::Manifest) {
            let hashes = by_path(&w.all_digests()?);
            let (n, sha) = plan
                .write_manifest(|i| hashes.get(i), w)
                .with_context(|| format!("writing /{}", e.path))?;
            if n != e.size {
                bail!(
                    "the manifest came out {} bytes, not the planned {}",
                    n,
                    e.size
                );
            }
            manifest = sha;
            progress.inc(e.size);
            return Ok(());
        }
        w.begin_file(i);
        copy_into(e, w, progress)
            .with_context(|| format!("copying {} to /{}", e.origin(), e.path))?;
        w.end_file();
        Ok(())
    })?;
    for (i, h) in digests.iter() {
        crate::write::check_expected(&plan.entries[*i], h)?;
    }
    medium
        .disk
        .write(dev)
        .context("writing the partition table")?;
    Ok((by_path(&digests), manifest))
}

/// Streams an entry straight into the writer's buffer (the writer hashes
/// it); fails like [`crate::io::copy_exact`] when the source is not the
/// planned size.
fn copy_into(e: &Entry, w: &mut SeqWriter, progress: &Progress) -> Result<()> {
    let mut r = open_source(e)?;
    let mut done: u64 = 0;
    loop {
        crate::io::cancel::check()?;
        // One byte more than planned is enough to notice growth.
        let want = (e.size + 1 - done).min(blockio::CHUNK as u64) as usize;
        let n = w.read_from(&mut *r, want)?;
        if n == 0 {
            break;
        }
        done += n as u64;
        progress.inc(n as u64);
        if done > e.size {
            return Err(SourceChanged {
                expected: e.size,
                got: done,
                how: "grew".into(),
            }
            .into());
        }
    }
    if done != e.size {
        return Err(SourceChanged {
            expected: e.size,
            got: done,
            how: "shrank".into(),
        }
        .into());
    }
    Ok(())
}

/// Reads every file of the plan back through the FAT32 reader and compares
/// its SHA-256 with what was written. Returns a description of the first
/// mismatch.
pub fn verify<D: BlockIo + ?Sized>(
    dev: &D,
    medium: &Medium,
    plan: &Plan,
    hashes: &Hashes,
    manifest_sha256: &[u8; 32],
    progress: &Progress,
) -> Result<std::result::Result<(), String>> {
    let (off, _) = partition::read_first_partition(dev)?;
    if off != medium.disk.part_offset() {
        return Ok(Err(format!(
            "the partition starts at byte {off}, not {}",
            medium.disk.part_offset()
        )));
    }
    let vol = fat32::Volume::open(dev, off)?;
    for (i, e) in plan.entries.iter().enumerate() {
        let want: [u8; 32] = match &e.source {
            Source::Manifest => *manifest_sha256,
            _ => match hashes.get(i) {
                Some(h) => h,
                None => bail!("no hash recorded for /{}", e.path),
            },
        };
        let Some(found) = vol.lookup(&e.path)? else {
            return Ok(Err(format!("/{} is missing", e.path)));
        };
        if found.is_dir || found.size as u64 != e.size {
            return Ok(Err(format!(
                "/{} reads back as {} bytes, not {}",
                e.path, found.size, e.size
            )));
        }
        let mut sink = HashSink(Sha256::new(), progress);
        vol.read_file(&found, &mut sink)?;
        let got: [u8; 32] = sink.0.finalize().into();
        if got != want {
            return Ok(Err(format!(
                "/{} reads back with SHA-256 {}, but {} was written",
                e.path,
                hex::encode(got),
                hex::encode(want)
            )));
        }
    }
    Ok(Ok(()))
}

struct HashSink<'a>(Sha256, &'a Progress);

impl Write for HashSink<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        self.1.inc(b.len() as u64);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
