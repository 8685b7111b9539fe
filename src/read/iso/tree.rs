//! The file trees of an image, and walking the ISO 9660 and Joliet
//! directory hierarchies (with Rock Ridge names when present).

use std::collections::HashSet;

use super::descriptors::{SECTOR, SECTOR_U64};
use super::dir::{
    iso9660_name, joliet_name, parse_record, parse_susp, DirRecord, Susp, FLAG_ASSOCIATED,
    FLAG_MULTI_EXTENT, MODE_REGULAR, MODE_TYPE,
};
use super::source::Disk;
use super::ReadError;
use crate::read::extent::Piece;
use crate::read::Problems;

/// Deepest directory level walked (the root is level 0).
pub const MAX_DEPTH: usize = 64;
/// Most files listed per tree.
pub const MAX_FILES: usize = 1_000_000;
/// Most directories walked per tree.
pub const MAX_DIRS: usize = 200_000;
/// Largest directory read, in bytes.
pub const MAX_DIR_BYTES: u64 = 16 << 20;
/// Most extents of one file.
pub const MAX_PIECES: usize = 1 << 16;
/// Most Rock Ridge continuation areas followed for one record.
const MAX_CONTINUATIONS: usize = 16;

/// Which directory hierarchy a tree comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeKind {
    Iso9660,
    RockRidge,
    Joliet,
    Udf,
}

impl TreeKind {
    pub fn name(self) -> &'static str {
        match self {
            TreeKind::Iso9660 => "ISO 9660",
            TreeKind::RockRidge => "ISO 9660 (Rock Ridge)",
            TreeKind::Joliet => "Joliet",
            TreeKind::Udf => "UDF",
        }
    }
}

/// A file of a tree.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub pieces: Vec<Piece>,
    /// Volume sequence number the file's records name.
    pub volume: u16,
    /// Why the file cannot be read, when it cannot.
    pub unreadable: Option<String>,
}

impl FileEntry {
    /// The block the file's data starts at, when it starts on a block.
    pub fn first_block(&self) -> Option<u64> {
        match self.pieces.first() {
            Some(Piece::Data { offset, .. }) if offset % SECTOR_U64 == 0 => {
                Some(offset / SECTOR_U64)
            }
            _ => None,
        }
    }

    /// The (offset, length) of each recorded extent.
    pub fn data_extents(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Data { offset, len } if *len > 0 => Some((*offset, *len)),
            _ => None,
        })
    }
}

/// The files of one directory hierarchy, sorted by path.
#[derive(Debug, Clone)]
pub struct Tree {
    pub kind: TreeKind,
    pub files: Vec<FileEntry>,
    /// Directory extents (offset, length) walked, for overlap checks.
    pub dirs: Vec<(u64, u64)>,
}

impl Tree {
    pub fn new(kind: TreeKind) -> Self {
        Tree {
            kind,
            files: Vec::new(),
            dirs: Vec::new(),
        }
    }

    pub fn sort(&mut self) {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

/// Joins a directory path and a name.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Checks a name from a directory; returns the name to use, or `None` to
/// skip the entry. Problems are pushed.
pub fn usable_name(name: String, dir: &str, what: &str, problems: &mut Problems) -> Option<String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('\0') {
        problems.push(
            format!("{what} in directory /{dir}"),
            "a file name",
            format!("{name:?}"),
        );
        return None;
    }
    if name.contains('/') {
        problems.push(
            format!("{what} {name:?} in directory /{dir}"),
            "a name without '/'",
            "a '/' (read as '_')",
        );
        return Some(name.replace('/', "_"));
    }
    Some(name)
}

/// Catches entries of one directory whose names differ only in case.
pub struct NameSet(HashSet<String>);

impl NameSet {
    pub fn new() -> Self {
        NameSet(HashSet::new())
    }

    /// False (and a problem) when the name was already there.
    pub fn insert(&mut self, name: &str, dir: &str, what: &str, problems: &mut Problems) -> bool {
        if self.0.insert(name.to_lowercase()) {
            return true;
        }
        problems.push(
            format!("{what} directory /{dir}"),
            "unique names (compared case-insensitively)",
            format!("a second entry named {name:?} (ignored)"),
        );
        false
    }
}

/// Flavour of a directory hierarchy sharing the ECMA-119 record format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Iso9660,
    Joliet,
}

struct Walk<'d, 'a> {
    disk: &'d mut Disk<'a>,
    flavor: Flavor,
    /// Rock Ridge in use: bytes to skip at the start of each system use area.
    rr_skip: Option<usize>,
    what: &'static str,
    tree: Tree,
    visited: HashSet<u64>,
}

struct PendingDir {
    block: u64,
    size: u64,
    path: String,
    depth: usize,
}

/// Walks the hierarchy whose root directory record is `root` (34 bytes from
/// a volume descriptor). Fails only when the root cannot be read; problems
/// below it are pushed and their subtrees skipped.
pub fn walk_records(
    disk: &mut Disk<'_>,
    root: &[u8],
    flavor: Flavor,
    problems: &mut Problems,
) -> Result<Tree, ReadError> {
    let what = match flavor {
        Flavor::Iso9660 => "ISO 9660",
        Flavor::Joliet => "Joliet",
    };
    let rec = parse_record(root).map_err(|e| ReadError::Corrupt {
        what: format!("{what} root directory record: expected {e}"),
    })?;
    if !rec.is_dir() {
        return Err(ReadError::Corrupt {
            what: format!("{what} root directory record: it is not marked as a directory"),
        });
    }
    let root_block = rec.data_block();
    let root_size = u64::from(rec.size);
    // Rock Ridge: an "SP" entry in the root's "." record.
    let first = disk.sector(root_block).map_err(|e| ReadError::Corrupt {
        what: format!("{what} root directory: {e}"),
    })?;
    let mut rr_skip = None;
    if flavor == Flavor::Iso9660 {
        if let Ok(dot) = parse_record(&first) {
            let mut s = Susp::default();
            parse_susp(dot.system_use, &mut s);
            rr_skip = s.sp_skip.map(usize::from);
        }
    }
    let kind = match (flavor, rr_skip) {
        (Flavor::Joliet, _) => TreeKind::Joliet,
        (Flavor::Iso9660, Some(_)) => TreeKind::RockRidge,
        (Flavor::Iso9660, None) => TreeKind::Iso9660,
    };
    let mut w = Walk {
        disk,
        flavor,
        rr_skip,
        what: kind.name(),
        tree: Tree::new(kind),
        visited: HashSet::new(),
    };
    w.visited.insert(root_block);
    let mut stack = vec![PendingDir {
        block: root_block,
        size: root_size,
        path: String::new(),
        depth: 0,
    }];
    let mut dirs = 0usize;
    while let Some(d) = stack.pop() {
        dirs += 1;
        if dirs > MAX_DIRS {
            problems.push(
                format!("{} tree", w.what),
                format!("at most {MAX_DIRS} directories"),
                "more (the rest are not read)",
            );
            break;
        }
        if w.tree.files.len() >= MAX_FILES {
            problems.push(
                format!("{} tree", w.what),
                format!("at most {MAX_FILES} files"),
                "more (the rest are not read)",
            );
            break;
        }
        w.directory(d, &mut stack, problems)?;
    }
    w.tree.sort();
    Ok(w.tree)
}

impl Walk<'_, '_> {
    fn directory(
        &mut self,
        d: PendingDir,
        stack: &mut Vec<PendingDir>,
        problems: &mut Problems,
    ) -> Result<(), ReadError> {
        let what = self.what;
        let here = format!("{what} directory /{}", d.path);
        if d.size > MAX_DIR_BYTES {
            problems.push(
                here,
                format!("at most {MAX_DIR_BYTES} bytes"),
                format!("{} bytes (not read)", d.size),
            );
            return Ok(());
        }
        let len = d.size.div_ceil(SECTOR_U64) * SECTOR_U64;
        let buf = match d
            .block
            .checked_mul(SECTOR_U64)
            .ok_or_else(|| ReadError::Corrupt {
                what: "block number out of range".into(),
            })
            .and_then(|off| self.disk.read_vec(off, len as usize))
        {
            Ok(b) => b,
            Err(ReadError::Io(e)) => return Err(ReadError::Io(e)),
            Err(e) => {
                problems.push(here, "its extent within the image", e.to_string());
                return Ok(());
            }
        };
        self.tree.dirs.push((d.block * SECTOR_U64, len));
        let mut names = NameSet::new();
        let mut pending: Option<(String, FileEntry)> = None;
        let mut off = 0usize;
        let mut first = true;
        while off < buf.len() {
            let sector_end = (off / SECTOR + 1) * SECTOR;
            if buf[off] == 0 {
                off = sector_end;
                continue;
            }
            let rec = match parse_record(&buf[off..sector_end]) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(
                        format!("{here}, record at byte {off}"),
                        e,
                        "a malformed record (the rest of the sector is skipped)",
                    );
                    off = sector_end;
                    continue;
                }
            };
            let rec_len = usize::from(buf[off]);
            off += rec_len;
            if rec.is_self_or_parent() {
                if first && rec.id == [0] && rec.data_block() != d.block {
                    problems.push(
                        format!("{here}, record \".\""),
                        format!("extent {}", d.block),
                        format!("extent {}", rec.data_block()),
                    );
                }
                first = false;
                continue;
            }
            first = false;
            if rec.flags & FLAG_ASSOCIATED != 0 {
                continue;
            }
            let (name, susp) = self.name_of(&rec, &here, problems)?;
            let Some(name) = usable_name(name, &d.path, what, problems) else {
                continue;
            };
            let path = join(&d.path, &name);
            if !rec.mismatched.is_empty() {
                problems.push(
                    format!("{what} directory record for /{path}"),
                    "equal little- and big-endian copies of each field",
                    format!("different copies of: {}", rec.mismatched.join(", ")),
                );
            }
            if susp.relocated {
                // Listed where its "CL" placeholder is.
                continue;
            }
            // A finished multi-extent file, if this record does not continue it.
            if pending.as_ref().is_some_and(|(p, _)| *p != name) {
                self.end_unfinished(
                    pending.take(),
                    (&mut names, &d.path, what),
                    "a final record (flag bit 7 clear) with the same name",
                    format!("a record for {name:?}"),
                    problems,
                );
            }
            let child_link = susp.child_link;
            if rec.is_dir() || child_link.is_some() {
                self.end_unfinished(
                    pending.take(),
                    (&mut names, &d.path, what),
                    "a final record (flag bit 7 clear)",
                    "a directory record".into(),
                    problems,
                );
                if !names.insert(&name, &d.path, what, problems) {
                    continue;
                }
                let (block, size) = match child_link {
                    Some(b) => match self.relocated_size(u64::from(b)) {
                        Ok(s) => (u64::from(b), s),
                        Err(e) => {
                            problems.push(
                                format!("Rock Ridge child link of /{path}"),
                                "a directory at the linked block",
                                e,
                            );
                            continue;
                        }
                    },
                    None => (rec.data_block(), u64::from(rec.size)),
                };
                if d.depth + 1 > MAX_DEPTH {
                    problems.push(
                        format!("{what} directory /{path}"),
                        format!("at most {MAX_DEPTH} levels of directories"),
                        "deeper (not read)",
                    );
                    continue;
                }
                if !self.visited.insert(block) {
                    problems.push(
                        format!("{what} directory /{path}"),
                        "a directory extent of its own",
                        format!("block {block}, already walked (a directory loop or shared directory; not read again)"),
                    );
                    continue;
                }
                stack.push(PendingDir {
                    block,
                    size,
                    path,
                    depth: d.depth + 1,
                });
                continue;
            }
            // Rock Ridge symbolic links, devices and the like are no files of
            // a medium.
            if susp.mode.is_some_and(|m| m & MODE_TYPE != MODE_REGULAR) {
                continue;
            }
            // A file, or one extent of a multi-extent file.
            let (_, f) = pending.get_or_insert_with(|| {
                (
                    name.clone(),
                    FileEntry {
                        path: path.clone(),
                        size: 0,
                        pieces: Vec::new(),
                        volume: rec.volume_sequence,
                        unreadable: None,
                    },
                )
            });
            if rec.file_unit_size != 0 || rec.interleave_gap != 0 {
                problems.push(
                    format!("{what} directory record for /{path}"),
                    "a file that is not interleaved",
                    format!(
                        "file unit size {}, interleave gap {}",
                        rec.file_unit_size, rec.interleave_gap
                    ),
                );
                f.unreadable = Some("interleaved files are not supported".into());
            }
            if f.pieces.len() >= MAX_PIECES {
                f.unreadable = Some(format!("more than {MAX_PIECES} extents"));
            } else if rec.size > 0 {
                f.pieces.push(Piece::Data {
                    offset: rec.data_block().saturating_mul(SECTOR_U64),
                    len: u64::from(rec.size),
                });
            }
            f.size = f.size.saturating_add(u64::from(rec.size));
            if rec.flags & FLAG_MULTI_EXTENT == 0 {
                if let Some((pname, f)) = pending.take() {
                    if names.insert(&pname, &d.path, what, problems) {
                        self.tree.files.push(f);
                    }
                }
            }
        }
        self.end_unfinished(
            pending.take(),
            (&mut names, &d.path, what),
            "a final record (flag bit 7 clear)",
            "the end of the directory".into(),
            problems,
        );
        Ok(())
    }

    /// The record's name, and its Rock Ridge entries.
    /// Keeps a multi-extent file whose final record never came (`found`
    /// came instead), and reports it. `at` is the directory's name set,
    /// path and tree name.
    fn end_unfinished(
        &mut self,
        unfinished: Option<(String, FileEntry)>,
        at: (&mut NameSet, &str, &str),
        expected: &str,
        found: String,
        problems: &mut Problems,
    ) {
        let Some((name, f)) = unfinished else {
            return;
        };
        let (names, dir, what) = at;
        problems.push(
            format!("{what} multi-extent file /{}", f.path),
            expected,
            found,
        );
        if names.insert(&name, dir, what, problems) {
            self.tree.files.push(f);
        }
    }

    fn name_of(
        &mut self,
        rec: &DirRecord<'_>,
        here: &str,
        problems: &mut Problems,
    ) -> Result<(String, Susp), ReadError> {
        let mut susp = Susp::default();
        match self.flavor {
            Flavor::Joliet => return Ok((joliet_name(rec.id), susp)),
            Flavor::Iso9660 => {}
        }
        let plain = iso9660_name(rec.id);
        let Some(skip) = self.rr_skip else {
            return Ok((plain, susp));
        };
        let area = rec.system_use.get(skip..).unwrap_or(&[]);
        parse_susp(area, &mut susp);
        let mut hops = 0;
        while let Some((block, offset, len)) = susp.continuation {
            hops += 1;
            let ok = hops <= MAX_CONTINUATIONS && offset < SECTOR as u32 && len as usize <= SECTOR;
            let at = u64::from(block) * SECTOR_U64 + u64::from(offset);
            let data = if ok {
                match self.disk.read_vec(at, len as usize) {
                    Ok(d) => Some(d),
                    Err(ReadError::Io(e)) => return Err(ReadError::Io(e)),
                    Err(_) => None,
                }
            } else {
                None
            };
            let Some(data) = data else {
                problems.push(
                    format!("{here}, Rock Ridge entries of {plain:?}"),
                    format!("at most {MAX_CONTINUATIONS} continuation areas within the image"),
                    format!("a continuation of {len} bytes at block {block} offset {offset}"),
                );
                susp.continuation = None;
                break;
            };
            parse_susp(&data, &mut susp);
        }
        let name = match &susp.name {
            Some(n) if !n.is_empty() => String::from_utf8_lossy(n).into_owned(),
            _ => plain,
        };
        Ok((name, susp))
    }

    /// The size of a directory relocated by Rock Ridge, from its "." record.
    fn relocated_size(&mut self, block: u64) -> Result<u64, String> {
        let s = self.disk.sector(block).map_err(|e| e.to_string())?;
        let dot = parse_record(&s)?;
        if dot.id != [0] || !dot.is_dir() || dot.data_block() != block {
            return Err(format!("a \".\" record for block {block}"));
        }
        Ok(u64::from(dot.size))
    }
}
