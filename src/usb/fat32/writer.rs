//! Writes a [`Layout`] to a disk in one pass: both FATs (generated a piece at
//! a time), the directories, every file streamed once in cluster order, and
//! last the reserved sectors (boot sector, FSInfo, the boot code's second
//! sector, and their backups), so an
//! interrupted write never leaves a volume that looks complete.

use std::io::Write;

use anyhow::{bail, Context, Result};

use super::disk::{
    boot_sector, fsinfo, BACKUP_BOOT_SECTOR, FSINFO_SECTOR, RESERVED_SECTORS, SECTOR,
};
use super::layout::Layout;
use crate::usb::blockio::{with_seq_writer, BlockIo, Digests, SeqWriter};

/// FAT entries generated per piece (1 MiB of FAT).
const FAT_PIECE: usize = 1 << 18;

/// Writes the volume at byte `offset` of `dev`. `content(i, w)` must write
/// exactly the bytes of file `i` of the layout's tree into `w`; it is called
/// once per file, in cluster order (the tree's `last` file last). Returns
/// the SHA-256 of the files `content` wrapped in `w.begin_file(i)` and
/// `w.end_file()`.
pub fn write_volume<D: BlockIo + Send + ?Sized>(
    dev: &mut D,
    offset: u64,
    layout: &Layout,
    content: impl FnMut(usize, &mut SeqWriter) -> Result<()>,
) -> Result<Digests> {
    let g = &layout.geometry;
    write_fats(dev, offset, layout).context("writing the FATs")?;
    let ((), digests) = with_seq_writer(dev, offset + g.data_offset(), |w| {
        write_data(w, offset, layout, content)
    })
    .context("writing file data")?;
    // Reserved sectors last.
    write_reserved(dev, offset, layout)?;
    Ok(digests)
}

fn write_data(
    w: &mut SeqWriter,
    offset: u64,
    layout: &Layout,
    mut content: impl FnMut(usize, &mut SeqWriter) -> Result<()>,
) -> Result<()> {
    let g = &layout.geometry;
    for d in 0..layout.tree.dirs.len() {
        crate::io::cancel::check()?;
        let ext = layout.dir_extents[d];
        w.seek_to(offset + g.cluster_offset(ext.start))?;
        w.write_all(&layout.dir_bytes(d))
            .context("writing a directory")?;
    }
    let n = layout.tree.files.len();
    let order = (0..n)
        .filter(|&i| Some(i) != layout.tree.last)
        .chain(layout.tree.last);
    for i in order {
        let ext = layout.file_extents[i];
        let size = layout.tree.files[i].size;
        if ext.count > 0 {
            w.seek_to(offset + g.cluster_offset(ext.start))?;
        }
        let start = w.position();
        content(i, w)?;
        let written = w.position() - start;
        if written != size {
            bail!(
                "/{} took {written} bytes where {size} were planned",
                layout.tree.files[i].path
            );
        }
        if ext.count > 0 {
            let end = offset + g.cluster_offset(ext.start) + ext.count as u64 * g.cluster_bytes();
            w.zero_to(end)?;
        }
    }
    Ok(())
}

fn write_reserved<D: BlockIo + ?Sized>(dev: &mut D, offset: u64, layout: &Layout) -> Result<()> {
    let g = &layout.geometry;
    let mut reserved = vec![0u8; RESERVED_SECTORS as usize * SECTOR as usize];
    let boot = boot_sector(g, layout.serial, &layout.label);
    let info = fsinfo(layout.free_clusters(), layout.next_free());
    let stage2 = crate::usb::boot::vbr_stage2();
    let s2 = crate::usb::boot::VBR_STAGE2_SECTOR;
    for (sector, bytes) in [
        (0, &boot),
        (FSINFO_SECTOR, &info),
        (s2, stage2),
        (BACKUP_BOOT_SECTOR, &boot),
        (BACKUP_BOOT_SECTOR + 1, &info),
        (BACKUP_BOOT_SECTOR + s2, stage2),
    ] {
        let at = sector as usize * SECTOR as usize;
        reserved[at..at + 512].copy_from_slice(bytes);
    }
    dev.write_all_at(&reserved, offset)
        .context("writing the boot sector")?;
    Ok(())
}

fn write_fats<D: BlockIo + ?Sized>(dev: &mut D, offset: u64, layout: &Layout) -> Result<()> {
    let g = &layout.geometry;
    let total = g.fat_bytes() / 4;
    let extents = layout.extents_in_order();
    let mut entries = vec![0u32; FAT_PIECE];
    let mut bytes = vec![0u8; FAT_PIECE * 4];
    let mut first: u64 = 0;
    while first < total {
        crate::io::cancel::check()?;
        let n = (total - first).min(FAT_PIECE as u64) as usize;
        layout.fat_entries(first as u32, &mut entries[..n], &extents);
        for (b, e) in bytes.chunks_exact_mut(4).zip(&entries[..n]) {
            b.copy_from_slice(&e.to_le_bytes());
        }
        for fat in 0..super::disk::NUM_FATS {
            dev.write_all_at(&bytes[..n * 4], offset + g.fat_offset(fat) + first * 4)?;
        }
        first += n as u64;
    }
    Ok(())
}
