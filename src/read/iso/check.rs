//! Structural checks across an image's trees: extents within the image, no
//! overlapping extents, the UDF bridge sharing its data with Joliet / ISO
//! 9660, and El Torito entries pointing at the boot files.

use std::collections::{HashMap, HashSet};

use super::descriptors::SECTOR_U64;
use super::tree::{FileEntry, Tree, TreeKind};
use super::IsoImage;
use crate::read::{path_key, Problems, PLATFORM_BIOS, PLATFORM_EFI};

/// Most overlaps reported per tree.
const MAX_OVERLAPS: usize = 50;
/// Unmatched empty files looked up by name prefixes at most (each lookup
/// scans the other tree).
const MAX_PREFIX_LOOKUPS: usize = 1000;

/// The file a platform's El Torito entry is expected to load.
pub fn expected_boot_file(platform: u8) -> Option<&'static str> {
    match platform {
        PLATFORM_BIOS => Some("boot/etfsboot.com"),
        PLATFORM_EFI => Some("efi/microsoft/boot/efisys.bin"),
        _ => None,
    }
}

/// The path of the main tree's file whose data starts at `block`, preferring
/// the platform's usual boot file when several share it.
pub fn file_at_block(img: &IsoImage, platform: u8, block: u64) -> Option<String> {
    let files = img.main_files();
    let mut hits = files
        .iter()
        .filter(|f| f.size > 0 && f.first_block() == Some(block));
    let first = hits.next()?;
    let want = expected_boot_file(platform);
    if let Some(w) = want {
        if path_key(&first.path) == w {
            return Some(first.path.clone());
        }
        if let Some(f) = hits.find(|f| path_key(&f.path) == w) {
            return Some(f.path.clone());
        }
    }
    Some(first.path.clone())
}

pub fn cross_checks(img: &IsoImage, out: &mut Problems) {
    let trees: Vec<&Tree> = [
        img.udf.as_ref().map(|u| &u.tree),
        img.joliet.as_ref(),
        img.iso.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut reported_past_end = HashSet::new();
    for t in &trees {
        past_end(t, img.len, &mut reported_past_end, out);
        overlaps(t, out);
    }
    // The UDF bridge against the tree beside it; Joliet against ISO 9660.
    let secondary = img.joliet.as_ref().or(img.iso.as_ref());
    if let (Some(u), Some(s)) = (&img.udf, secondary) {
        compare(&u.tree, s, out);
    }
    if let (Some(j), Some(i)) = (&img.joliet, &img.iso) {
        compare(j, i, out);
    }
    boot_files(img, out);
}

fn past_end(t: &Tree, len: u64, seen: &mut HashSet<(u64, u64)>, out: &mut Problems) {
    for f in &t.files {
        for (off, n) in f.data_extents() {
            if off.saturating_add(n) > len && seen.insert((off, n)) {
                out.push(
                    format!("{} file {}", t.kind.name(), f.path),
                    format!("extents within the image ({len} bytes)"),
                    format!(
                        "{n} bytes at block {} (running past the end)",
                        off / SECTOR_U64
                    ),
                );
            }
        }
    }
}

fn overlaps(t: &Tree, out: &mut Problems) {
    // (offset, length, owner): files by index, directories as None.
    let mut ext: Vec<(u64, u64, Option<usize>)> = Vec::new();
    for (i, f) in t.files.iter().enumerate() {
        ext.extend(f.data_extents().map(|(o, n)| (o, n, Some(i))));
    }
    ext.extend(t.dirs.iter().map(|&(o, n)| (o, n, None)));
    ext.sort_unstable();
    ext.dedup();
    let name = |owner: Option<usize>| match owner {
        Some(i) => format!("file {}", t.files[i].path),
        None => "a directory".to_string(),
    };
    let mut reported = 0usize;
    let mut reach: Option<(u64, u64, Option<usize>)> = None;
    for &(o, n, owner) in &ext {
        if let Some((ro, rn, rowner)) = reach {
            let r_end = ro.saturating_add(rn);
            let same_extent = ro == o && rn == n;
            if o < r_end && !same_extent {
                reported += 1;
                if reported <= MAX_OVERLAPS {
                    out.push(
                        format!("{} {}", t.kind.name(), name(owner)),
                        format!(
                            "an extent of its own, or the very same extent as another file ({})",
                            name(rowner)
                        ),
                        format!("{n} bytes at byte {o}, overlapping {rn} bytes at byte {ro}"),
                    );
                }
            }
            if o.saturating_add(n) > r_end {
                reach = Some((o, n, owner));
            }
        } else {
            reach = Some((o, n, owner));
        }
    }
    if reported > MAX_OVERLAPS {
        out.push(
            format!("{} tree", t.kind.name()),
            "no overlapping extents",
            format!("{} more overlaps", reported - MAX_OVERLAPS),
        );
    }
}

/// Checks that every file of `a` is in `b` with the same size and start,
/// and every non-empty file of `b` shares its start with a file of `a`.
fn compare(a: &Tree, b: &Tree, out: &mut Problems) {
    let by_path: HashMap<String, &FileEntry> =
        b.files.iter().map(|f| (path_key(&f.path), f)).collect();
    let mut by_block: HashMap<u64, Vec<&FileEntry>> = HashMap::new();
    for f in &b.files {
        if let Some(blk) = f.first_block().filter(|_| f.size > 0) {
            by_block.entry(blk).or_default().push(f);
        }
    }
    let (an, bn) = (a.kind.name(), b.kind.name());
    // ISO 9660 names without Rock Ridge are mangled: only extents match.
    let names_comparable = b.kind != TreeKind::Iso9660;
    let mut prefix_lookups = 0usize;
    for f in &a.files {
        let blk = f.first_block().filter(|_| f.size > 0);
        if let Some(g) = by_path.get(&path_key(&f.path)) {
            let gblk = g.first_block().filter(|_| g.size > 0);
            if g.size == f.size && gblk == blk {
                continue;
            }
            // Mangled ISO 9660 names may collide: there, match extents below.
            if names_comparable {
                out.push(
                    format!("{an} file {} in the {bn} tree", f.path),
                    format!("size {} starting at block {}", f.size, fmt_block(blk)),
                    format!("size {} starting at block {}", g.size, fmt_block(gblk)),
                );
                continue;
            }
        }
        if let Some(b0) = blk {
            match by_block.get(&b0) {
                // Another name for the same data: a truncated or mangled name.
                Some(c) if c.iter().any(|g| g.size == f.size) => {}
                Some(c) => out.push(
                    format!("{an} file {} in the {bn} tree", f.path),
                    format!("size {} at block {b0}", f.size),
                    format!("{} at block {b0} with size {}", c[0].path, c[0].size),
                ),
                None => out.push(
                    format!("{an} file {} in the {bn} tree", f.path),
                    format!("a file of {} bytes starting at block {b0}", f.size),
                    "none".to_string(),
                ),
            }
            continue;
        }
        // An empty file: only its name can match.
        if !names_comparable {
            continue;
        }
        prefix_lookups += 1;
        let truncated = prefix_lookups <= MAX_PREFIX_LOOKUPS
            && b.files
                .iter()
                .any(|g| g.size == 0 && truncated_match(&f.path, &g.path));
        if !truncated {
            out.push(
                format!("{an} file {} in the {bn} tree", f.path),
                "an empty file of that name (or a truncation of it)",
                "none",
            );
        }
    }
    // Data of `b` that `a` does not know of.
    let a_blocks: HashSet<(u64, u64)> = a
        .files
        .iter()
        .filter(|f| f.size > 0)
        .filter_map(|f| f.first_block().map(|b| (b, f.size)))
        .collect();
    for g in &b.files {
        if let Some(gb) = g.first_block().filter(|_| g.size > 0) {
            if !a_blocks.contains(&(gb, g.size)) {
                out.push(
                    format!("{bn} file {} in the {an} tree", g.path),
                    format!("a file of {} bytes starting at block {gb}", g.size),
                    "none".to_string(),
                );
            }
        }
    }
}

/// Whether two paths name the same file, one of them with names cut short
/// (Joliet truncates names to 64, or with long names about 103, UCS-2
/// characters, sometimes keeping the extension).
fn truncated_match(x: &str, y: &str) -> bool {
    let (xs, ys): (Vec<&str>, Vec<&str>) = (x.split('/').collect(), y.split('/').collect());
    xs.len() == ys.len()
        && xs.iter().zip(&ys).all(|(a, b)| {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
            if long == short {
                return true;
            }
            if short.chars().count() < 64 {
                return false;
            }
            // The cut may keep the extension: compare the stems then.
            let stem = |s: &str| s.rsplit_once('.').map(|(st, _)| st.to_string());
            long.starts_with(&short)
                || match (stem(&short), short.rsplit_once('.')) {
                    (Some(st), Some((_, ext))) => {
                        long.starts_with(&st) && long.ends_with(&format!(".{ext}"))
                    }
                    _ => false,
                }
        })
}

fn fmt_block(b: Option<u64>) -> String {
    b.map(|b| b.to_string()).unwrap_or_else(|| "none".into())
}

fn boot_files(img: &IsoImage, out: &mut Problems) {
    for (i, e) in img.catalog.iter().enumerate() {
        let entry = if i == 0 {
            "initial/default entry".to_string()
        } else {
            format!("entry {}", i + 1)
        };
        let what = format!("El Torito {entry} (platform {:#04x})", e.platform);
        let end = (u64::from(e.load_rba) + 1) * SECTOR_U64;
        if e.bootable && end > img.len {
            out.push(
                what.clone(),
                format!("a load RBA within the image ({} bytes)", img.len),
                format!("load RBA {}", e.load_rba),
            );
        }
        let Some(want) = expected_boot_file(e.platform) else {
            continue;
        };
        let Some(f) = img.entry(want) else {
            continue;
        };
        let blk = f.first_block().filter(|_| f.size > 0);
        if blk != Some(u64::from(e.load_rba)) {
            out.push(
                what,
                format!("load RBA {} (the start of {})", fmt_block(blk), f.path),
                format!("load RBA {}", e.load_rba),
            );
        }
    }
}
