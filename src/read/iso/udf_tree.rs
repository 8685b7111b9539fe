//! Reading the UDF side of an image: anchors, the volume descriptor
//! sequence, the file set and the directory hierarchy.

use std::collections::{BTreeMap, HashSet};

use super::descriptors::SECTOR_U64;
use super::source::Disk;
use super::tree::{join, usable_name, FileEntry, NameSet, Tree, TreeKind};
use super::tree::{MAX_DEPTH, MAX_DIRS, MAX_DIR_BYTES, MAX_FILES, MAX_PIECES};
use super::udf::*;
use super::ReadError;
use crate::read::extent::Piece;
use crate::read::Problems;

/// Most sectors of a volume descriptor sequence read.
const MAX_VDS_SECTORS: u32 = 256;
/// Most Volume Descriptor Pointers followed.
const MAX_VDS_POINTERS: usize = 8;
/// Most Allocation Extent Descriptors followed for one file.
const MAX_ALLOCATION_EXTENTS: usize = 4096;

/// What the UDF side of an image holds.
#[derive(Debug, Clone)]
pub struct UdfVolume {
    /// The UDF revision its domain identifier names (0x0102, 0x0201...).
    pub revision: u16,
    pub label: Option<String>,
    pub volume_sequence: u16,
    pub tree: Tree,
}

impl UdfVolume {
    /// "1.02", "2.01".
    pub fn revision_text(&self) -> String {
        format!("{:x}.{:02x}", self.revision >> 8, self.revision & 0xFF)
    }
}

/// A failure that makes the UDF side unusable.
type Fatal = String;

fn fatal_io(e: ReadError) -> Result<Fatal, ReadError> {
    match e {
        ReadError::Io(e) => Err(ReadError::Io(e)),
        other => Ok(other.to_string()),
    }
}

/// Reads the UDF volume. `Ok(Err(why))` when the UDF structures are unusable
/// (the caller falls back to Joliet or ISO 9660); `Err` only on I/O errors.
pub fn read_udf(
    disk: &mut Disk<'_>,
    problems: &mut Problems,
) -> Result<Result<UdfVolume, Fatal>, ReadError> {
    let anchor = match find_anchor(disk, problems)? {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    let vds = match read_vds(disk, anchor.main, "main", problems)? {
        Ok(v) => v,
        Err(main_err) => match read_vds(disk, anchor.reserve, "reserve", problems)? {
            Ok(v) => {
                problems.push(
                    "UDF main volume descriptor sequence",
                    "a logical volume and its partitions",
                    format!("{main_err} (the reserve sequence is used)"),
                );
                v
            }
            Err(e) => return Ok(Err(format!("{main_err}; reserve sequence: {e}"))),
        },
    };
    let lv = vds.logical;
    if lv.block_size != SECTOR_U64 as u32 {
        return Ok(Err(format!(
            "UDF logical block size {} (only 2048 is supported)",
            lv.block_size
        )));
    }
    if let Some((expected, found)) = &lv.map_fault {
        problems.push(
            "UDF logical volume descriptor partition maps",
            expected.clone(),
            found.clone(),
        );
    }
    let mut parts = Vec::new();
    for m in &lv.maps {
        parts.push(match m {
            PartitionMap::Physical { partition, .. } => match vds.partitions.get(partition) {
                Some(p) => Ok((u64::from(p.start), u64::from(p.length))),
                None => Err(format!(
                    "partition {partition}, which no partition descriptor describes"
                )),
            },
            PartitionMap::Other { kind, identifier } => Err(format!(
                "a type {kind} partition map {identifier:?} (not supported)"
            )),
        });
    }
    let volume_sequence = vds.primary.as_ref().map(|p| p.volume_sequence).unwrap_or(1);
    let label = match &lv.volume_id {
        Ok(s) if !s.is_empty() => Some(s.clone()),
        Ok(_) => None,
        Err(e) => {
            problems.push(
                "UDF logical volume identifier",
                e.clone(),
                "an undecodable name",
            );
            None
        }
    };
    let mut w = UdfWalk {
        disk,
        parts,
        visited: HashSet::new(),
        tree: Tree::new(TreeKind::Udf),
        volume: volume_sequence,
    };
    let root = match w.file_set(lv.file_set, problems)? {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = w.walk(root, problems)? {
        return Ok(Err(e));
    }
    let mut tree = w.tree;
    tree.sort();
    Ok(Ok(UdfVolume {
        revision: lv.udf_revision,
        label,
        volume_sequence,
        tree,
    }))
}

fn find_anchor(
    disk: &mut Disk<'_>,
    problems: &mut Problems,
) -> Result<Result<Anchor, Fatal>, ReadError> {
    let n = disk.sectors();
    let mut candidates = vec![ANCHOR_SECTOR];
    for s in [n.saturating_sub(1), n.saturating_sub(257)] {
        if s > ANCHOR_SECTOR && !candidates.contains(&s) {
            candidates.push(s);
        }
    }
    let mut found: Option<(u64, Anchor)> = None;
    for (i, &s) in candidates.iter().enumerate() {
        let b = match disk.sector(s) {
            Ok(b) => b,
            Err(e) => {
                let e = fatal_io(e)?;
                if i == 0 {
                    problems.push(
                        "UDF anchor volume descriptor pointer at sector 256",
                        "a readable sector",
                        e,
                    );
                }
                continue;
            }
        };
        let t = parse_tag(&b);
        let what = format!("UDF anchor volume descriptor pointer at sector {s}");
        if t.id != TAG_ANCHOR {
            // Only the one at 256 must be there.
            if i == 0 {
                problems.push(what, "tag 2", format!("tag {}", t.id));
            }
            continue;
        }
        for (expected, got) in tag_faults(&b, s as u32) {
            problems.push(what.clone(), expected, got);
        }
        let a = parse_anchor(&b);
        match &found {
            None => found = Some((s, a)),
            Some((first, fa)) if *fa != a => problems.push(
                what,
                format!("the same sequence extents as the anchor at sector {first}"),
                format!(
                    "main {:?}, reserve {:?} (the anchor at {first} has main {:?}, reserve {:?})",
                    a.main, a.reserve, fa.main, fa.reserve
                ),
            ),
            Some(_) => {}
        }
    }
    Ok(found
        .map(|(_, a)| a)
        .ok_or_else(|| "no UDF anchor volume descriptor pointer".to_string()))
}

struct Vds {
    primary: Option<PrimaryVolume>,
    logical: LogicalVolume,
    partitions: BTreeMap<u16, Partition>,
}

fn read_vds(
    disk: &mut Disk<'_>,
    extent: (u32, u32),
    which: &str,
    problems: &mut Problems,
) -> Result<Result<Vds, Fatal>, ReadError> {
    let (mut len, mut loc) = extent;
    let mut primary: Option<PrimaryVolume> = None;
    let mut logical: Option<LogicalVolume> = None;
    let mut partitions: BTreeMap<u16, Partition> = BTreeMap::new();
    let mut pointers = 0;
    let mut seen = HashSet::new();
    let mut i = 0u32;
    'outer: loop {
        let sectors = (len / SECTOR_U64 as u32).min(MAX_VDS_SECTORS);
        while i < sectors {
            let s = u64::from(loc) + u64::from(i);
            i += 1;
            if !seen.insert(s) || seen.len() > MAX_VDS_SECTORS as usize {
                break 'outer;
            }
            let b = match disk.sector(s) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(
                        format!("UDF {which} volume descriptor sequence"),
                        "sectors within the image",
                        fatal_io(e)?,
                    );
                    break 'outer;
                }
            };
            let t = parse_tag(&b);
            let name = match t.id {
                TAG_PRIMARY_VOLUME => "primary volume descriptor",
                TAG_VOLUME_POINTER => "volume descriptor pointer",
                TAG_IMPLEMENTATION_USE => "implementation use volume descriptor",
                TAG_PARTITION => "partition descriptor",
                TAG_LOGICAL_VOLUME => "logical volume descriptor",
                TAG_UNALLOCATED_SPACE => "unallocated space descriptor",
                TAG_TERMINATING => "terminating descriptor",
                _ => {
                    // A blank sector also ends the sequence.
                    if b.iter().any(|&x| x != 0) {
                        problems.push(
                            format!("UDF {which} volume descriptor sequence, sector {s}"),
                            "a volume descriptor (tags 1 to 8)",
                            format!("tag {}", t.id),
                        );
                    }
                    break 'outer;
                }
            };
            for (expected, got) in tag_faults(&b, s as u32) {
                problems.push(format!("UDF {name} at sector {s}"), expected, got);
            }
            match t.id {
                TAG_PRIMARY_VOLUME => {
                    let p = parse_primary_volume(&b);
                    if primary
                        .as_ref()
                        .is_none_or(|q| p.sequence_number >= q.sequence_number)
                    {
                        primary = Some(p);
                    }
                }
                TAG_PARTITION => {
                    let p = parse_partition(&b);
                    let keep = partitions
                        .get(&p.number)
                        .is_none_or(|q| p.sequence_number >= q.sequence_number);
                    if keep && partitions.len() < 64 {
                        partitions.insert(p.number, p);
                    }
                }
                TAG_LOGICAL_VOLUME => {
                    let l = parse_logical_volume(&b);
                    if logical
                        .as_ref()
                        .is_none_or(|q| l.sequence_number >= q.sequence_number)
                    {
                        logical = Some(l);
                    }
                }
                TAG_VOLUME_POINTER => {
                    pointers += 1;
                    if pointers > MAX_VDS_POINTERS {
                        break 'outer;
                    }
                    len = super::descriptors::le32(&b, 20);
                    loc = super::descriptors::le32(&b, 24);
                    i = 0;
                    continue 'outer;
                }
                TAG_TERMINATING => break 'outer,
                _ => {}
            }
        }
        break;
    }
    let Some(logical) = logical else {
        return Ok(Err(format!(
            "no logical volume descriptor in the {which} sequence"
        )));
    };
    if partitions.is_empty() {
        return Ok(Err(format!(
            "no partition descriptor in the {which} sequence"
        )));
    }
    Ok(Ok(Vds {
        primary,
        logical,
        partitions,
    }))
}

struct UdfWalk<'d, 'a> {
    disk: &'d mut Disk<'a>,
    /// Per partition reference: (start sector, length in blocks), or why not usable.
    parts: Vec<Result<(u64, u64), String>>,
    visited: HashSet<(u16, u32)>,
    tree: Tree,
    volume: u16,
}

/// The contents of a file entry: pieces, and for recorded pieces the
/// (partition reference, block) they start at.
struct Contents {
    pieces: Vec<Piece>,
    blocks: Vec<Option<(u16, u32)>>,
    /// Bytes the descriptors cover (may differ from the information length).
    covered: u64,
    unreadable: Option<String>,
}

struct Dir {
    icb: Ad,
    path: String,
    depth: usize,
}

impl UdfWalk<'_, '_> {
    /// The byte offset of a block of a partition.
    fn locate(&self, part: u16, block: u32) -> Result<u64, String> {
        match self.parts.get(usize::from(part)) {
            Some(Ok((start, len))) => {
                if u64::from(block) >= *len {
                    return Err(format!(
                        "block {block} within partition reference {part} ({len} blocks)"
                    ));
                }
                Ok((start + u64::from(block)) * SECTOR_U64)
            }
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!(
                "partition reference {part}, which the logical volume does not map"
            )),
        }
    }

    /// Reads the block a long_ad points at.
    fn block(&mut self, part: u16, block: u32) -> Result<Result<Vec<u8>, String>, ReadError> {
        let off = match self.locate(part, block) {
            Ok(o) => o,
            Err(e) => return Ok(Err(e)),
        };
        match self.disk.read_vec(off, SECTOR_U64 as usize) {
            Ok(b) => Ok(Ok(b)),
            Err(e) => Ok(Err(fatal_io(e)?)),
        }
    }

    fn file_set(
        &mut self,
        fsd: Ad,
        problems: &mut Problems,
    ) -> Result<Result<Ad, Fatal>, ReadError> {
        let part = fsd.partition.unwrap_or(0);
        let b = match self.block(part, fsd.block)? {
            Ok(b) => b,
            Err(e) => return Ok(Err(format!("UDF file set descriptor: {e}"))),
        };
        let t = parse_tag(&b);
        if t.id != TAG_FILE_SET {
            return Ok(Err(format!(
                "UDF file set descriptor at block {}: expected tag 256, found tag {}",
                fsd.block, t.id
            )));
        }
        for (expected, got) in tag_faults(&b, fsd.block) {
            problems.push("UDF file set descriptor", expected, got);
        }
        Ok(Ok(file_set_root(&b)))
    }

    fn walk(&mut self, root: Ad, problems: &mut Problems) -> Result<Result<(), Fatal>, ReadError> {
        let root_part = root.partition.unwrap_or(0);
        self.visited.insert((root_part, root.block));
        let mut stack = vec![Dir {
            icb: root,
            path: String::new(),
            depth: 0,
        }];
        let mut dirs = 0usize;
        let mut first = true;
        while let Some(d) = stack.pop() {
            dirs += 1;
            if dirs > MAX_DIRS || self.tree.files.len() >= MAX_FILES {
                problems.push(
                    "UDF tree",
                    format!("at most {MAX_DIRS} directories and {MAX_FILES} files"),
                    "more (the rest are not read)",
                );
                break;
            }
            let what = if d.path.is_empty() {
                "UDF root directory".to_string()
            } else {
                format!("UDF directory {}", d.path)
            };
            let entry = match self.entry(d.icb, &what, problems)? {
                Ok(e) => e,
                Err(e) => {
                    if first {
                        return Ok(Err(format!("{what}: {e}")));
                    }
                    problems.push(
                        format!("UDF file entry for {}", d.path),
                        "a readable file entry",
                        e,
                    );
                    continue;
                }
            };
            first = false;
            if entry.0 != FILE_TYPE_DIRECTORY {
                problems.push(
                    format!("UDF file entry for {}", display(&d.path)),
                    format!("file type {FILE_TYPE_DIRECTORY} (directory)"),
                    format!("file type {}", entry.0),
                );
                continue;
            }
            self.directory(&d, (entry.1, entry.2), &mut stack, problems)?;
        }
        Ok(Ok(()))
    }

    /// Reads a (extended) file entry: its file type and contents.
    fn entry(
        &mut self,
        icb: Ad,
        what: &str,
        problems: &mut Problems,
    ) -> Result<Result<(u8, Contents, u64), String>, ReadError> {
        let part = icb.partition.unwrap_or(0);
        let b = match self.block(part, icb.block)? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let t = parse_tag(&b);
        if t.id != TAG_FILE_ENTRY && t.id != TAG_EXTENDED_FILE_ENTRY {
            return Ok(Err(format!(
                "a file entry (tag 261 or 266) at block {}, found tag {}",
                icb.block, t.id
            )));
        }
        let fwhat = format!("UDF file entry for {}", what.trim_start_matches("UDF "));
        for (expected, got) in tag_faults(&b, icb.block) {
            problems.push(fwhat.clone(), expected, got);
        }
        let fe = match parse_file_entry(&b, t.id) {
            Ok(fe) => fe,
            Err(e) => return Ok(Err(e)),
        };
        if fe.strategy != 4 {
            return Ok(Err(format!(
                "ICB strategy 4, found strategy {} (not supported)",
                fe.strategy
            )));
        }
        let c = self.contents(&fe, part, &fwhat, problems)?;
        Ok(Ok((fe.file_type, c, fe.info_len)))
    }

    fn contents(
        &mut self,
        fe: &super::udf::FileEntry<'_>,
        part: u16,
        what: &str,
        problems: &mut Problems,
    ) -> Result<Contents, ReadError> {
        let mut c = Contents {
            pieces: Vec::new(),
            blocks: Vec::new(),
            covered: 0,
            unreadable: None,
        };
        if fe.ad_form == AD_EMBEDDED {
            let n = (fe.ads.len() as u64).min(fe.info_len) as usize;
            c.pieces.push(Piece::Inline(fe.ads[..n].to_vec()));
            c.blocks.push(None);
            c.covered = fe.ads.len() as u64;
            return Ok(c);
        }
        if ad_size(fe.ad_form).is_none() {
            problems.push(
                what,
                "allocation descriptor form 0 to 3",
                format!("{}", fe.ad_form),
            );
            c.unreadable = Some(format!("allocation descriptor form {}", fe.ad_form));
            return Ok(c);
        }
        let mut area: Vec<Ad> = match parse_ads(fe.ads, fe.ad_form, MAX_PIECES) {
            Ok(a) => a,
            Err(e) => {
                problems.push(what, e, "more");
                c.unreadable = Some("too many allocation descriptors".into());
                return Ok(c);
            }
        };
        let mut zeros = 0u64;
        let mut continuations = 0usize;
        let mut seen_aed = HashSet::new();
        let mut i = 0usize;
        while i < area.len() {
            let ad = area[i];
            i += 1;
            let ad_part = ad.partition.unwrap_or(part);
            if ad.kind == EXTENT_NEXT {
                continuations += 1;
                if continuations > MAX_ALLOCATION_EXTENTS || !seen_aed.insert((ad_part, ad.block)) {
                    problems.push(
                        what,
                        format!("at most {MAX_ALLOCATION_EXTENTS} allocation extent descriptors, none twice"),
                        format!("a chain reaching block {} again or going on", ad.block),
                    );
                    c.unreadable = Some("a looping allocation extent chain".into());
                    break;
                }
                let b = match self.block(ad_part, ad.block)? {
                    Ok(b) => b,
                    Err(e) => {
                        problems.push(what, "a readable allocation extent descriptor", e);
                        c.unreadable = Some("an unreadable allocation extent descriptor".into());
                        break;
                    }
                };
                let t = parse_tag(&b);
                if t.id != TAG_ALLOCATION_EXTENT {
                    problems.push(
                        what,
                        "an allocation extent descriptor (tag 258)",
                        format!("tag {}", t.id),
                    );
                    c.unreadable = Some("a broken allocation extent chain".into());
                    break;
                }
                for (expected, got) in tag_faults(&b, ad.block) {
                    problems.push(
                        format!("{what}, allocation extent descriptor"),
                        expected,
                        got,
                    );
                }
                let more =
                    allocation_extent_area(&b).and_then(|a| parse_ads(a, fe.ad_form, MAX_PIECES));
                match more {
                    // The "next extent" descriptor ends its list: the
                    // descriptors go on in the allocation extent.
                    Ok(m) => {
                        area = m;
                        i = 0;
                    }
                    Err(_) => {
                        problems.push(
                            format!("{what}, allocation extent descriptor"),
                            "a readable list of descriptors",
                            "a malformed or overlong one",
                        );
                        c.unreadable = Some("a broken allocation extent chain".into());
                        break;
                    }
                }
                continue;
            }
            if c.pieces.len() >= MAX_PIECES {
                problems.push(what, format!("at most {MAX_PIECES} extents"), "more");
                c.unreadable = Some(format!("more than {MAX_PIECES} extents"));
                break;
            }
            let len = u64::from(ad.len);
            c.covered = c.covered.saturating_add(len);
            if ad.kind == EXTENT_RECORDED {
                match self.locate(ad_part, ad.block) {
                    Ok(off) => {
                        if let Ok((_, plen)) = &self.parts[usize::from(ad_part)] {
                            let blocks = len.div_ceil(SECTOR_U64);
                            if u64::from(ad.block) + blocks > *plen {
                                problems.push(
                                    what,
                                    format!("extents within the partition ({plen} blocks)"),
                                    format!("{len} bytes at block {}", ad.block),
                                );
                            }
                        }
                        c.pieces.push(Piece::Data { offset: off, len });
                        c.blocks.push(Some((ad_part, ad.block)));
                    }
                    Err(e) => {
                        problems.push(what, "extents within a mapped partition", e.clone());
                        c.unreadable = Some(e);
                        break;
                    }
                }
            } else {
                zeros += len;
                c.pieces.push(Piece::Zeros { len });
                c.blocks.push(None);
            }
        }
        // Unrecorded extents read as zeros: more of them than the image
        // holds would only make a reader stream zeros for hours.
        if zeros > self.disk.len {
            problems.push(
                what,
                format!(
                    "unrecorded extents of at most the image's {} bytes",
                    self.disk.len
                ),
                format!("{zeros} bytes"),
            );
            c.unreadable = Some(format!("{zeros} bytes of unrecorded extents"));
        }
        Ok(c)
    }

    fn directory(
        &mut self,
        d: &Dir,
        (contents, info_len): (Contents, u64),
        stack: &mut Vec<Dir>,
        problems: &mut Problems,
    ) -> Result<(), ReadError> {
        let here = format!("UDF directory {}", display(&d.path));
        if info_len > MAX_DIR_BYTES {
            problems.push(
                here,
                format!("at most {MAX_DIR_BYTES} bytes"),
                format!("{info_len} bytes (not read)"),
            );
            return Ok(());
        }
        if contents.covered < info_len || contents.unreadable.is_some() {
            problems.push(
                format!("UDF file entry for {}", display(&d.path)),
                format!("allocation descriptors covering its {info_len} bytes"),
                format!("{} bytes", contents.covered),
            );
            return Ok(());
        }
        // The directory's bytes, and for each piece where it starts in them.
        let mut data = Vec::new();
        let mut starts = Vec::new();
        for (p, blk) in contents.pieces.iter().zip(&contents.blocks) {
            let want = (info_len - data.len() as u64).min(p.len()) as usize;
            if want == 0 {
                break;
            }
            starts.push((data.len(), *blk));
            match p {
                Piece::Data { offset, .. } => match self.disk.read_vec(*offset, want) {
                    Ok(b) => data.extend_from_slice(&b),
                    Err(e) => {
                        problems.push(here.clone(), "its extents within the image", fatal_io(e)?);
                        return Ok(());
                    }
                },
                Piece::Zeros { .. } => data.resize(data.len() + want, 0),
                Piece::Inline(b) => data.extend_from_slice(&b[..want]),
            }
        }
        // The block a byte of the directory is in, for FID tag locations.
        let block_of = |at: usize| -> Option<u32> {
            let (start, blk) = starts.iter().rev().find(|(s, _)| *s <= at)?;
            blk.map(|(_, b)| b.wrapping_add(((at - start) / SECTOR_U64 as usize) as u32))
        };
        let embedded_block = if matches!(contents.pieces.first(), Some(Piece::Inline(_))) {
            Some(d.icb.block)
        } else {
            None
        };
        let mut names = NameSet::new();
        let mut off = 0usize;
        while off < data.len() {
            let rest = &data[off..];
            let t = parse_tag(rest);
            if t.id != TAG_FILE_ID {
                if rest.iter().all(|&b| b == 0) {
                    break;
                }
                problems.push(
                    format!("{here}, byte {off}"),
                    "a file identifier descriptor (tag 257)",
                    format!("tag {} (the rest of the directory is skipped)", t.id),
                );
                break;
            }
            let fid = match parse_fid(rest) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(
                        format!("{here}, file identifier descriptor at byte {off}"),
                        e,
                        "a malformed one",
                    );
                    break;
                }
            };
            let location = embedded_block.or_else(|| block_of(off));
            if let Some(loc) = location {
                // The CRC covers the padding: it is part of the descriptor.
                let whole = &rest[..fid.total_len.min(rest.len())];
                for (expected, got) in tag_faults(whole, loc) {
                    problems.push(
                        format!("{here}, file identifier descriptor at byte {off}"),
                        expected,
                        got,
                    );
                }
            }
            off += fid.total_len;
            if fid.characteristics & (FID_DELETED | FID_PARENT) != 0 {
                continue;
            }
            let name = match cs0(fid.name) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(
                        format!(
                            "{here}, file identifier descriptor at byte {}",
                            off - fid.total_len
                        ),
                        e,
                        "an undecodable name",
                    );
                    continue;
                }
            };
            let Some(name) = usable_name(name, &d.path, "UDF entry", problems) else {
                continue;
            };
            if !names.insert(&name, &d.path, "UDF", problems) {
                continue;
            }
            let path = join(&d.path, &name);
            let icb = fid.icb;
            let key = (icb.partition.unwrap_or(0), icb.block);
            let is_dir = fid.characteristics & FID_DIRECTORY != 0;
            if is_dir {
                if d.depth + 1 > MAX_DEPTH {
                    problems.push(
                        format!("UDF directory {path}"),
                        format!("at most {MAX_DEPTH} levels of directories"),
                        "deeper (not read)",
                    );
                    continue;
                }
                if !self.visited.insert(key) {
                    problems.push(
                        format!("UDF directory {path}"),
                        "a file entry of its own",
                        format!(
                            "block {}, already walked (a directory loop; not read again)",
                            icb.block
                        ),
                    );
                    continue;
                }
                stack.push(Dir {
                    icb,
                    path,
                    depth: d.depth + 1,
                });
                continue;
            }
            if self.tree.files.len() >= MAX_FILES {
                problems.push(
                    "UDF tree",
                    format!("at most {MAX_FILES} files"),
                    "more (the rest are not read)",
                );
                return Ok(());
            }
            let fwhat = format!("UDF {path}");
            let (ftype, c, size) = match self.entry(icb, &fwhat, problems)? {
                Ok(e) => e,
                Err(e) => {
                    problems.push(
                        format!("UDF file entry for {path}"),
                        "a readable file entry",
                        e,
                    );
                    continue;
                }
            };
            match ftype {
                FILE_TYPE_REGULAR | 0 => {}
                FILE_TYPE_DIRECTORY => {
                    problems.push(
                        format!("UDF file identifier descriptor for {path}"),
                        "the directory characteristic, as its file entry is a directory",
                        "a file",
                    );
                    continue;
                }
                // Symbolic links, devices and the like are not files of a medium.
                _ => continue,
            }
            let mut unreadable = c.unreadable;
            if c.covered < size && unreadable.is_none() {
                problems.push(
                    format!("UDF file entry for {path}"),
                    format!("allocation descriptors covering its {size} bytes"),
                    format!("{} bytes", c.covered),
                );
                unreadable = Some(format!(
                    "its extents hold {} of its {size} bytes",
                    c.covered
                ));
            }
            self.tree.files.push(FileEntry {
                path,
                size,
                pieces: trim_pieces(c.pieces, size),
                volume: self.volume,
                unreadable,
            });
        }
        Ok(())
    }
}

/// Cuts pieces down to `size` bytes in total.
fn trim_pieces(pieces: Vec<Piece>, size: u64) -> Vec<Piece> {
    let mut left = size;
    let mut out = Vec::with_capacity(pieces.len());
    for p in pieces {
        if left == 0 {
            break;
        }
        let n = p.len().min(left);
        left -= n;
        out.push(match p {
            Piece::Data { offset, .. } => Piece::Data { offset, len: n },
            Piece::Zeros { .. } => Piece::Zeros { len: n },
            Piece::Inline(mut b) => {
                b.truncate(n as usize);
                Piece::Inline(b)
            }
        });
    }
    out
}

fn display(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}
