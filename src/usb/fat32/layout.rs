//! The whole volume decided before a byte is written: the directory tree
//! with every entry's names, then cluster allocation (directories first,
//! then each file contiguous, in order).

use std::collections::HashMap;

use super::disk::{
    lfn_entries, short_checksum, FatTime, Geometry, ShortEntry, ATTR_ARCHIVE, ATTR_DIRECTORY,
    ATTR_VOLUME_ID, DIR_ENTRY, MAX_DIR_ENTRIES, MAX_FILE_SIZE, ROOT_CLUSTER,
};
use super::names::{self, Names};

/// A file to put on the volume.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// `/`-separated path, no leading `/`.
    pub path: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Dir(usize),
    File(usize),
}

#[derive(Debug, Clone)]
pub struct Child {
    pub node: Node,
    pub names: Names,
}

#[derive(Debug, Clone)]
pub struct Dir {
    /// Path on the volume ("" for the root).
    pub path: String,
    pub parent: usize,
    pub children: Vec<Child>,
    /// 32-byte entries, `.`/`..` or the volume label included.
    pub entries: usize,
}

/// Why a tree cannot be a FAT32 volume.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TreeError {
    #[error("/{path}: {reason}")]
    BadName { path: String, reason: String },
    #[error(
        "/{path} is {size} bytes; FAT32 files hold at most 4 GiB - 1 byte ({MAX_FILE_SIZE} bytes)"
    )]
    FileTooLarge { path: String, size: u64 },
    #[error("the folder /{path} needs {entries} directory entries; FAT allows {MAX_DIR_ENTRIES} per folder (long names take one entry per 13 characters)")]
    DirTooLarge { path: String, entries: usize },
}

/// Files and folders with their names, independent of cluster size.
#[derive(Debug, Clone)]
pub struct Tree {
    pub files: Vec<FileSpec>,
    /// Index 0 is the root; parents come before their children.
    pub dirs: Vec<Dir>,
    /// The file written last (the manifest), allocated after all others.
    pub last: Option<usize>,
}

impl Tree {
    /// Builds the tree of `files` plus `empty_dirs`, with names for every
    /// entry. `last` is the index of a file to allocate after the others.
    pub fn build(
        files: Vec<FileSpec>,
        empty_dirs: &[String],
        last: Option<usize>,
    ) -> Result<Tree, Vec<TreeError>> {
        let mut errors = Vec::new();
        let mut dirs = vec![Dir {
            path: String::new(),
            parent: 0,
            children: Vec::new(),
            entries: 0,
        }];
        let mut by_path: HashMap<String, usize> = HashMap::new();
        by_path.insert(String::new(), 0);
        // Pending children: (dir, name, node).
        let mut kids: Vec<Vec<(String, Node)>> = vec![Vec::new()];

        fn dir_of(
            path: &str,
            dirs: &mut Vec<Dir>,
            kids: &mut Vec<Vec<(String, Node)>>,
            by_path: &mut HashMap<String, usize>,
            errors: &mut Vec<TreeError>,
        ) -> usize {
            let key = path.to_uppercase();
            if let Some(&i) = by_path.get(&key) {
                return i;
            }
            let (parent_path, name) = match path.rfind('/') {
                Some(i) => (&path[..i], &path[i + 1..]),
                None => ("", path),
            };
            let parent = dir_of(parent_path, dirs, kids, by_path, errors);
            if let Some(reason) = names::invalid_name(name) {
                errors.push(TreeError::BadName {
                    path: path.to_string(),
                    reason,
                });
            }
            let i = dirs.len();
            dirs.push(Dir {
                path: path.to_string(),
                parent,
                children: Vec::new(),
                entries: 0,
            });
            kids.push(Vec::new());
            kids[parent].push((name.to_string(), Node::Dir(i)));
            by_path.insert(key, i);
            i
        }

        for d in empty_dirs {
            dir_of(d, &mut dirs, &mut kids, &mut by_path, &mut errors);
        }
        for (i, f) in files.iter().enumerate() {
            let (parent_path, name) = match f.path.rfind('/') {
                Some(j) => (&f.path[..j], &f.path[j + 1..]),
                None => ("", f.path.as_str()),
            };
            let parent = dir_of(parent_path, &mut dirs, &mut kids, &mut by_path, &mut errors);
            if let Some(reason) = names::invalid_name(name) {
                errors.push(TreeError::BadName {
                    path: f.path.clone(),
                    reason,
                });
            }
            if f.size > MAX_FILE_SIZE {
                errors.push(TreeError::FileTooLarge {
                    path: f.path.clone(),
                    size: f.size,
                });
            }
            kids[parent].push((name.to_string(), Node::File(i)));
        }
        for (d, mut list) in kids.into_iter().enumerate() {
            list.sort_by(|a, b| (a.0.to_uppercase(), &a.0).cmp(&(b.0.to_uppercase(), &b.0)));
            let refs: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
            let assigned = names::assign(&refs);
            // The root holds the volume label; other folders `.` and `..`.
            let mut entries = if d == 0 { 1 } else { 2 };
            let children: Vec<Child> = list
                .into_iter()
                .zip(assigned)
                .map(|((_, node), names)| {
                    entries += names.entry_count();
                    Child { node, names }
                })
                .collect();
            if entries > MAX_DIR_ENTRIES {
                errors.push(TreeError::DirTooLarge {
                    path: dirs[d].path.clone(),
                    entries,
                });
            }
            dirs[d].children = children;
            dirs[d].entries = entries;
        }
        if errors.is_empty() {
            Ok(Tree { files, dirs, last })
        } else {
            Err(errors)
        }
    }

    /// Clusters every directory and file takes at `cluster_bytes`.
    pub fn clusters_needed(&self, cluster_bytes: u64) -> u64 {
        let dirs: u64 = self
            .dirs
            .iter()
            .map(|d| dir_clusters(d.entries, cluster_bytes) as u64)
            .sum();
        let files: u64 = self
            .files
            .iter()
            .map(|f| f.size.div_ceil(cluster_bytes))
            .sum();
        dirs + files
    }

    pub fn content_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

fn dir_clusters(entries: usize, cluster_bytes: u64) -> u32 {
    ((entries * DIR_ENTRY) as u64)
        .div_ceil(cluster_bytes)
        .max(1) as u32
}

/// A contiguous run of clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extent {
    /// First cluster (0 for an empty file).
    pub start: u32,
    pub count: u32,
}

/// The volume: tree, geometry and where everything lies.
#[derive(Debug, Clone)]
pub struct Layout {
    pub tree: Tree,
    pub geometry: Geometry,
    pub dir_extents: Vec<Extent>,
    pub file_extents: Vec<Extent>,
    /// Clusters in use (directories and files).
    pub used: u32,
    pub serial: u32,
    pub label: [u8; 11],
    pub time: FatTime,
}

/// The tree does not fit the volume.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the content needs {needed} clusters of {cluster_bytes} bytes but the volume has {available}"
)]
pub struct NoSpace {
    pub needed: u64,
    pub available: u32,
    pub cluster_bytes: u64,
}

impl Layout {
    /// Allocates clusters: the root at cluster 2, the other directories
    /// next, then files in order, the `last` file at the end.
    pub fn new(
        tree: Tree,
        geometry: Geometry,
        serial: u32,
        label: [u8; 11],
        time: FatTime,
    ) -> Result<Layout, NoSpace> {
        let cb = geometry.cluster_bytes();
        let needed = tree.clusters_needed(cb);
        if needed > geometry.clusters as u64 {
            return Err(NoSpace {
                needed,
                available: geometry.clusters,
                cluster_bytes: cb,
            });
        }
        let mut next = ROOT_CLUSTER;
        let mut take = |count: u32| {
            if count == 0 {
                return Extent::default();
            }
            let e = Extent { start: next, count };
            next += count;
            e
        };
        let dir_extents: Vec<Extent> = tree
            .dirs
            .iter()
            .map(|d| take(dir_clusters(d.entries, cb)))
            .collect();
        let mut file_extents = vec![Extent::default(); tree.files.len()];
        let order = (0..tree.files.len())
            .filter(|&i| Some(i) != tree.last)
            .chain(tree.last);
        for i in order {
            file_extents[i] = take(tree.files[i].size.div_ceil(cb) as u32);
        }
        let used = next - ROOT_CLUSTER;
        Ok(Layout {
            tree,
            geometry,
            dir_extents,
            file_extents,
            used,
            serial,
            label,
            time,
        })
    }

    pub fn free_clusters(&self) -> u32 {
        self.geometry.clusters - self.used
    }

    /// The FSInfo hint: the first free cluster, or 0xFFFFFFFF when full.
    pub fn next_free(&self) -> u32 {
        if self.used < self.geometry.clusters {
            ROOT_CLUSTER + self.used
        } else {
            0xFFFF_FFFF
        }
    }

    /// Every allocated extent in disk order (directories, then files).
    pub fn extents_in_order(&self) -> Vec<Extent> {
        let mut v: Vec<Extent> = self
            .dir_extents
            .iter()
            .chain(&self.file_extents)
            .copied()
            .filter(|e| e.count > 0)
            .collect();
        v.sort_by_key(|e| e.start);
        v
    }

    /// FAT entries `first..first + out.len()`, into `out`.
    pub fn fat_entries(&self, first: u32, out: &mut [u32], extents: &[Extent]) {
        out.fill(0);
        let end = first as u64 + out.len() as u64;
        for (i, slot) in out
            .iter_mut()
            .enumerate()
            .take(2usize.saturating_sub(first as usize))
        {
            *slot = if first as usize + i == 0 {
                super::disk::FAT_ENTRY0
            } else {
                super::disk::FAT_EOC
            };
        }
        // Extents overlapping [first, end).
        let from = extents.partition_point(|e| (e.start + e.count) as u64 <= first as u64);
        for e in &extents[from..] {
            if e.start as u64 >= end {
                break;
            }
            let last = e.start + e.count - 1;
            let lo = e.start.max(first);
            let hi = (last as u64).min(end - 1) as u32;
            for c in lo..=hi {
                out[(c - first) as usize] = if c == last {
                    super::disk::FAT_EOC
                } else {
                    c + 1
                };
            }
        }
    }

    /// The bytes of directory `d`, padded to its clusters.
    pub fn dir_bytes(&self, d: usize) -> Vec<u8> {
        let dir = &self.tree.dirs[d];
        let ext = self.dir_extents[d];
        let cb = self.geometry.cluster_bytes() as usize;
        let mut out = Vec::with_capacity(ext.count as usize * cb);
        let t = self.time;
        if d == 0 {
            out.extend_from_slice(
                &ShortEntry {
                    name: self.label,
                    attr: ATTR_VOLUME_ID,
                    case: 0,
                    cluster: 0,
                    size: 0,
                    time: t,
                }
                .encode(),
            );
        } else {
            let parent = if dir.parent == 0 {
                0
            } else {
                self.dir_extents[dir.parent].start
            };
            for (name, cluster) in [(*b".          ", ext.start), (*b"..         ", parent)] {
                out.extend_from_slice(
                    &ShortEntry {
                        name,
                        attr: ATTR_DIRECTORY,
                        case: 0,
                        cluster,
                        size: 0,
                        time: t,
                    }
                    .encode(),
                );
            }
        }
        for c in &dir.children {
            let (attr, cluster, size) = match c.node {
                Node::Dir(j) => (ATTR_DIRECTORY, self.dir_extents[j].start, 0),
                Node::File(i) => (
                    ATTR_ARCHIVE,
                    self.file_extents[i].start,
                    self.tree.files[i].size as u32,
                ),
            };
            if let Some(long) = &c.names.long {
                lfn_entries(long, short_checksum(&c.names.short), &mut out);
            }
            out.extend_from_slice(
                &ShortEntry {
                    name: c.names.short,
                    attr,
                    case: c.names.case,
                    cluster,
                    size,
                    time: t,
                }
                .encode(),
            );
        }
        out.resize(ext.count as usize * cb, 0);
        out
    }
}

/// The FAT label for a volume label: upper case, characters FAT labels
/// cannot hold replaced by `_`, cut to 11 characters, space padded.
pub fn fat_label(label: &str) -> [u8; 11] {
    let mut out = [b' '; 11];
    for (slot, c) in out.iter_mut().zip(label.chars()) {
        let c = c.to_ascii_uppercase();
        *slot = if c.is_ascii_uppercase() || c.is_ascii_digit() || "_-$%'@~`!(){}^#&".contains(c) {
            c as u8
        } else {
            b'_'
        };
    }
    if out == [b' '; 11] {
        out[..7].copy_from_slice(b"NO NAME");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(p: &str, size: u64) -> FileSpec {
        FileSpec {
            path: p.into(),
            size,
        }
    }

    #[test]
    fn tree_and_allocation() {
        let files = vec![
            spec("a/b/one.txt", 10),
            spec("a/two.bin", 5000),
            spec("m.json", 3),
            spec("zero", 0),
        ];
        let tree = Tree::build(files, &["empty".to_string()], Some(2)).unwrap();
        assert_eq!(tree.dirs.len(), 4); // root, empty, a, a/b
        let g = Geometry::new(200_000, 2048).unwrap();
        let l = Layout::new(tree, g, 1, fat_label("x"), FatTime::default()).unwrap();
        assert_eq!(l.dir_extents[0].start, 2);
        // Directories first, then files; the manifest last; empty file at 0.
        let files_start = l
            .dir_extents
            .iter()
            .map(|e| e.start + e.count)
            .max()
            .unwrap();
        assert_eq!(l.file_extents[0].start, files_start);
        assert_eq!(l.file_extents[3], Extent::default());
        assert!(l.file_extents[2].start > l.file_extents[1].start);
        let ext = l.extents_in_order();
        let mut fat = vec![0u32; 64];
        l.fat_entries(0, &mut fat, &ext);
        assert_eq!(fat[0], 0x0FFF_FFF8);
        assert_eq!(fat[1], 0x0FFF_FFFF);
        assert_eq!(fat[2], 0x0FFF_FFFF);
        let two = l.file_extents[1];
        assert_eq!(two.count as u64, 5000u64.div_ceil(g.cluster_bytes()));
        assert_eq!(fat[two.start as usize], two.start + 1);
        assert_eq!(fat[(two.start + two.count - 1) as usize], 0x0FFF_FFFF);
        // The same, asked for in pieces.
        let mut part = vec![0u32; 7];
        l.fat_entries(two.start + 5, &mut part, &ext);
        assert_eq!(
            &part[..],
            &fat[(two.start + 5) as usize..(two.start + 12) as usize]
        );
    }

    #[test]
    fn labels() {
        assert_eq!(&fat_label("TSM_BOOTABLE"), b"TSM_BOOTABL");
        assert_eq!(&fat_label("demo-1"), b"DEMO-1     ");
    }

    #[test]
    fn errors_name_the_path() {
        let e = Tree::build(vec![spec("a/b:c", 1), spec("big", 5 << 30)], &[], None).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(e[0].to_string().contains("/a/b:c"));
    }
}
