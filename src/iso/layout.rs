//! The layout of one ISO volume, computed from the plan before any byte is
//! written (every size is known up front, the manifest's included), and
//! the rendering of each metadata part from it.
//!
//! Sectors, in the order they are written:
//!
//! | sectors | what |
//! | --- | --- |
//! | 0-15 | system area (zeros) |
//! | 16- | ISO 9660 primary descriptor, El Torito boot record (bootable volumes), Joliet descriptor, terminator, UDF recognition sequence (BEA01, NSR03, TEA01), boot catalog |
//! | 32-47, 48-63 | UDF main and reserve volume descriptor sequences |
//! | 64-65 | UDF logical volume integrity descriptor and terminator |
//! | 256 | UDF anchor |
//! | 257- | UDF partition: file set descriptor, folders (file entry + identifiers), file entries; then the ISO 9660 and Joliet path tables and folders; then the file data, the manifest last |
//! | +150 | zeros (300 KiB), so read-ahead near the end never reads past the medium |
//! | last | UDF anchor |
//!
//! ISO 9660, Joliet and UDF point at the same file data. The volume is the
//! partition's end plus one sector.

use std::collections::HashMap;

use anyhow::{bail, Result};
use time::OffsetDateTime;

use super::eltorito::{self, BootImage};
use super::names;
use super::records::{self, Tree};
use super::udf;
use super::SECTOR;

/// Largest extent of one ISO 9660 directory record: 4 GiB less one sector.
pub const MAX_ISO_EXTENT: u64 = 0xFFFF_F800;

const UDF_MAIN_VDS: u32 = 32;
const UDF_RESERVE_VDS: u32 = 48;
const UDF_VDS_LEN: u32 = 16;
const UDF_LVID: u32 = 64;
const UDF_ANCHOR: u32 = 256;
const PARTITION_START: u32 = 257;
/// Zero sectors after the file data (300 KiB, as mkisofs-style writers pad).
const TAIL_PADDING: u64 = 150;

/// One file of the volume.
#[derive(Debug, Clone)]
pub struct VolumeFile<'a> {
    /// Path on the medium, `/`-separated (borrowed from the plan).
    pub path: &'a str,
    pub size: u64,
    /// Index into [`VolumeInput::blobs`].
    pub blob: usize,
}

/// Bytes stored once on the volume, however many files name them.
#[derive(Debug, Clone)]
pub struct Blob {
    pub size: u64,
    /// Where the bytes come from (an index the writer understands).
    pub source: usize,
}

/// Everything a volume's layout depends on.
pub struct VolumeInput<'a> {
    pub files: Vec<VolumeFile<'a>>,
    pub blobs: Vec<Blob>,
    /// Folders with nothing in them.
    pub empty_dirs: Vec<String>,
    pub label: String,
    pub volume_set_id: String,
    pub created: OffsetDateTime,
    /// Medium paths of the BIOS and UEFI boot images, on bootable volumes.
    pub boot: Option<(String, String)>,
}

/// Bytes kept in the layout's arena (names and identifiers of every node
/// in one allocation, not three or four small ones per file).
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    at: u32,
    len: u32,
}

/// The names and identifiers of every node, end to end.
#[derive(Debug, Default)]
struct Arena(Vec<u8>);

impl Arena {
    fn push(&mut self, b: &[u8]) -> Span {
        let at = self.0.len() as u32;
        self.0.extend_from_slice(b);
        Span {
            at,
            len: b.len() as u32,
        }
    }

    fn get(&self, s: Span) -> &[u8] {
        &self.0[s.at as usize..(s.at + s.len) as usize]
    }

    fn str(&self, s: Span) -> &str {
        std::str::from_utf8(self.get(s)).expect("names are stored as UTF-8")
    }
}

/// A file or folder of the volume's tree.
#[derive(Debug)]
struct Node {
    /// The name on the medium (UTF-8, in the arena).
    name: Span,
    parent: u32,
    /// Files: the blob holding the content.
    blob: Option<u32>,
    size: u64,
    is_dir: bool,
    children: Vec<u32>,
    iso_id: Span,
    joliet_id: Span,
    udf_name: Span,
    udf_fe: u32,
    unique_id: u64,
    /// Folders: UDF identifier data (partition block and bytes).
    udf_data: u32,
    udf_len: u64,
    /// Folders: extents in the primary and Joliet trees.
    iso: (u32, u32),
    joliet: (u32, u32),
    /// Folders: number in each tree's path table.
    iso_num: u16,
    joliet_num: u16,
}

impl Node {
    /// A folder (no blob) or a file, with nothing laid out yet.
    fn new(name: Span, parent: usize, blob: Option<usize>, size: u64) -> Node {
        Node {
            name,
            parent: parent as u32,
            blob: blob.map(|b| b as u32),
            size,
            is_dir: blob.is_none(),
            children: Vec::new(),
            iso_id: Span::default(),
            joliet_id: Span::default(),
            udf_name: Span::default(),
            udf_fe: 0,
            unique_id: 0,
            udf_data: 0,
            udf_len: 0,
            iso: (0, 0),
            joliet: (0, 0),
            iso_num: 0,
            joliet_num: 0,
        }
    }
}

/// One part of the volume, in writing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Sectors of zeros.
    Zeros(u64),
    /// Volume descriptors 16.. through the boot catalog.
    Descriptors,
    /// A UDF volume descriptor sequence (main or reserve) at its sector.
    UdfVds(u32),
    UdfIntegrity,
    UdfAnchor(u32),
    /// File set descriptor and its terminator.
    FileSet,
    /// A folder's UDF file entry and identifiers.
    UdfDir(usize),
    /// A file's UDF file entry.
    UdfFile(usize),
    PathTables,
    /// A folder's records in one tree.
    IsoDir(Tree, usize),
    /// File data.
    Data(usize),
}

/// The computed layout of one volume.
pub struct Layout {
    /// The input, less its file list (not needed once the tree is built).
    input: VolumeInput<'static>,
    nodes: Vec<Node>,
    arena: Arena,
    /// Sector and size of the BIOS and UEFI boot images.
    boot_files: Option<((u32, u64), (u32, u64))>,
    /// First sector of each blob's data.
    blob_sector: Vec<u32>,
    parts: Vec<(u64, Part)>,
    total_sectors: u64,
    /// Order of folders in each tree's path table.
    iso_order: Vec<usize>,
    joliet_order: Vec<usize>,
    path_tables: [u32; 4],
    path_table_size: [u32; 2],
    boot_catalog: Option<u32>,
    next_unique_id: u64,
    partition_len: u32,
}

fn sectors(bytes: u64) -> u64 {
    bytes.div_ceil(SECTOR as u64)
}

/// The parts of a file over 4 GiB: extents of at most [`MAX_ISO_EXTENT`].
fn iso_extents(size: u64) -> Vec<u64> {
    if size == 0 {
        return vec![0];
    }
    let mut v = Vec::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(MAX_ISO_EXTENT);
        v.push(n);
        left -= n;
    }
    v
}

/// Sort key of an ISO 9660 identifier: name, then extension (ECMA-119 9.3).
fn iso_key(id: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let id = id.split(|&b| b == b';').next().unwrap_or(id);
    match id.iter().position(|&b| b == b'.') {
        Some(i) => (id[..i].to_vec(), id[i + 1..].to_vec()),
        None => (id.to_vec(), Vec::new()),
    }
}

impl Layout {
    /// Lays out the volume. Fails when a name cannot be stored in UDF or the
    /// volume exceeds what ISO 9660 can address.
    pub fn new(input: VolumeInput<'_>) -> Result<Layout> {
        let mut arena = Arena::default();
        let root_id = arena.push(&[0]);
        let mut root = Node::new(Span::default(), 0, None, 0);
        root.iso_id = root_id;
        root.joliet_id = root_id;
        root.iso_num = 1;
        root.joliet_num = 1;
        // Every folder named by a path, counted first so the node list is
        // allocated once at its final size.
        let folders = {
            let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
            // Ancestors of every path; an empty folder is counted itself below.
            let paths = input.files.iter().map(|f| f.path);
            for p in paths.chain(input.empty_dirs.iter().map(|d| d.as_str())) {
                let mut at = p.len();
                while let Some(i) = p[..at].rfind('/') {
                    if !seen.insert(&p[..i]) {
                        break;
                    }
                    at = i;
                }
            }
            seen.len() + input.empty_dirs.len()
        };
        let mut nodes = Vec::with_capacity(1 + folders + input.files.len());
        nodes.push(root);
        let mut dirs: HashMap<String, usize> = HashMap::new();
        dirs.insert(String::new(), 0);
        fn dir_of(
            nodes: &mut Vec<Node>,
            arena: &mut Arena,
            dirs: &mut HashMap<String, usize>,
            path: &str,
        ) -> usize {
            if let Some(&i) = dirs.get(path) {
                return i;
            }
            let (parent_path, name) = match path.rfind('/') {
                Some(i) => (&path[..i], &path[i + 1..]),
                None => ("", path),
            };
            let parent = dir_of(nodes, arena, dirs, parent_path);
            let i = nodes.len();
            let name = arena.push(name.as_bytes());
            nodes.push(Node::new(name, parent, None, 0));
            nodes[parent].children.push(i as u32);
            dirs.insert(path.to_string(), i);
            i
        }
        for d in &input.empty_dirs {
            dir_of(&mut nodes, &mut arena, &mut dirs, d);
        }
        let mut boot_node: [Option<usize>; 2] = [None, None];
        for f in &input.files {
            let (dir, name) = match f.path.rfind('/') {
                Some(i) => (&f.path[..i], &f.path[i + 1..]),
                None => ("", f.path),
            };
            let parent = dir_of(&mut nodes, &mut arena, &mut dirs, dir);
            let i = nodes.len();
            let name = arena.push(name.as_bytes());
            nodes.push(Node::new(name, parent, Some(f.blob), f.size));
            nodes[parent].children.push(i as u32);
            if let Some((bios, uefi)) = &input.boot {
                if f.path == *bios {
                    boot_node[0] = Some(i);
                }
                if f.path == *uefi {
                    boot_node[1] = Some(i);
                }
            }
        }
        drop(dirs);

        // Names, per folder.
        for d in 0..nodes.len() {
            if !nodes[d].is_dir || nodes[d].children.is_empty() {
                continue;
            }
            let mut kids = std::mem::take(&mut nodes[d].children);
            kids.sort_by(|&a, &b| {
                crate::plan::sort_key(arena.str(nodes[a as usize].name))
                    .cmp(&crate::plan::sort_key(arena.str(nodes[b as usize].name)))
            });
            let (iso, jol) = {
                let list: Vec<(&str, bool)> = kids
                    .iter()
                    .map(|&k| (arena.str(nodes[k as usize].name), nodes[k as usize].is_dir))
                    .collect();
                (names::iso_names(&list), names::joliet_names(&list))
            };
            for ((k, i), j) in kids.iter().zip(iso).zip(jol) {
                let k = *k as usize;
                let name = arena.str(nodes[k].name);
                if udf::name_len(name) > udf::MAX_NAME_BYTES {
                    bail!(
                        "the name `{}` is too long for UDF ({} bytes, at most {}): shorten it",
                        name,
                        udf::name_len(name),
                        udf::MAX_NAME_BYTES
                    );
                }
                let u = udf::cs0(name);
                nodes[k].iso_id = arena.push(&i);
                nodes[k].joliet_id = arena.push(&j);
                nodes[k].udf_name = arena.push(&u);
            }
            nodes[d].children = kids;
        }

        // Folder orders: UDF in breadth-first plan order, each ISO tree in
        // breadth-first order of its sorted identifiers (path table order).
        let bfs = |nodes: &Vec<Node>, key: &dyn Fn(&Node) -> Vec<u8>| -> Vec<usize> {
            let mut order = vec![0usize];
            let mut i = 0;
            while i < order.len() {
                let mut kids: Vec<usize> = nodes[order[i]]
                    .children
                    .iter()
                    .map(|&k| k as usize)
                    .filter(|&k| nodes[k].is_dir)
                    .collect();
                kids.sort_by_key(|&k| key(&nodes[k]));
                order.extend(kids);
                i += 1;
            }
            order
        };
        let udf_order = bfs(&nodes, &|_| Vec::new());
        let iso_order = bfs(&nodes, &|n| {
            let (a, b) = iso_key(arena.get(n.iso_id));
            [a, b].concat()
        });
        let joliet_order = bfs(&nodes, &|n| arena.get(n.joliet_id).to_vec());
        if iso_order.len() > u16::MAX as usize {
            bail!(
                "the medium has {} folders; ISO 9660 path tables hold at most 65535",
                iso_order.len()
            );
        }
        for (i, &d) in iso_order.iter().enumerate() {
            nodes[d].iso_num = (i + 1) as u16;
        }
        for (i, &d) in joliet_order.iter().enumerate() {
            nodes[d].joliet_num = (i + 1) as u16;
        }

        // Fixed area.
        let boot = input.boot.is_some();
        let mut s: u32 = 16;
        s += 1; // primary
        if boot {
            s += 1;
        }
        s += 1; // Joliet
        s += 1; // terminator
        s += 3; // BEA01 NSR03 TEA01
        let boot_catalog = if boot {
            s += 1;
            Some(s - 1)
        } else {
            None
        };
        debug_assert!(s <= UDF_MAIN_VDS);
        let mut parts: Vec<(u64, Part)> = vec![
            (0, Part::Zeros(16)),
            (16, Part::Descriptors),
            (s as u64, Part::Zeros((UDF_MAIN_VDS - s) as u64)),
            (UDF_MAIN_VDS as u64, Part::UdfVds(UDF_MAIN_VDS)),
            (UDF_RESERVE_VDS as u64, Part::UdfVds(UDF_RESERVE_VDS)),
            (UDF_LVID as u64, Part::UdfIntegrity),
            (
                UDF_LVID as u64 + 2,
                Part::Zeros((UDF_ANCHOR - UDF_LVID - 2) as u64),
            ),
            (UDF_ANCHOR as u64, Part::UdfAnchor(UDF_ANCHOR)),
            (PARTITION_START as u64, Part::FileSet),
        ];
        let dir_count = nodes.iter().filter(|n| n.is_dir).count();
        parts.reserve(nodes.len() + 2 * dir_count + input.blobs.len() + 4);

        // UDF metadata in the partition (blocks relative to its start).
        let mut lb: u64 = 2;
        let mut unique = udf::FIRST_UNIQUE_ID;
        for &d in &udf_order {
            nodes[d].udf_fe = lb as u32;
            nodes[d].unique_id = if d == 0 { 0 } else { unique };
            if d != 0 {
                unique += 1;
            }
            let mut len = udf::fid_len(0) as u64;
            for &k in &nodes[d].children {
                len += udf::fid_len(nodes[k as usize].udf_name.len as usize) as u64;
            }
            nodes[d].udf_data = (lb + 1) as u32;
            nodes[d].udf_len = len;
            parts.push((PARTITION_START as u64 + lb, Part::UdfDir(d)));
            lb += 1 + sectors(len);
        }
        for (f, node) in nodes.iter_mut().enumerate() {
            if node.is_dir {
                continue;
            }
            node.udf_fe = lb as u32;
            node.unique_id = unique;
            unique += 1;
            parts.push((PARTITION_START as u64 + lb, Part::UdfFile(f)));
            lb += 1;
        }
        let mut sector = PARTITION_START as u64 + lb;

        // Path tables: primary L, M, Joliet L, M.
        let pt_size = |order: &Vec<usize>, id: &dyn Fn(&Node) -> Span| -> u32 {
            order
                .iter()
                .map(|&d| {
                    records::path_record_len(if d == 0 {
                        1
                    } else {
                        id(&nodes[d]).len as usize
                    })
                })
                .sum::<usize>() as u32
        };
        let iso_pt = pt_size(&iso_order, &|n| n.iso_id);
        let jol_pt = pt_size(&joliet_order, &|n| n.joliet_id);
        parts.push((sector, Part::PathTables));
        let mut path_tables = [0u32; 4];
        for (i, size) in [iso_pt, iso_pt, jol_pt, jol_pt].into_iter().enumerate() {
            path_tables[i] = sector as u32;
            sector += sectors(size as u64);
        }

        // ISO folders.
        for (tree, order) in [(Tree::Primary, &iso_order), (Tree::Joliet, &joliet_order)] {
            for &d in order {
                let len = dir_bytes(&nodes, &arena, d, tree);
                let ext = (sector as u32, len as u32);
                match tree {
                    Tree::Primary => nodes[d].iso = ext,
                    Tree::Joliet => nodes[d].joliet = ext,
                }
                parts.push((sector, Part::IsoDir(tree, d)));
                sector += sectors(len);
            }
        }

        // File data: blobs in order, each once.
        let mut blob_sector = vec![0u32; input.blobs.len()];
        for (b, blob) in input.blobs.iter().enumerate() {
            if blob.size == 0 {
                continue;
            }
            blob_sector[b] = sector as u32;
            parts.push((sector, Part::Data(b)));
            sector += sectors(blob.size);
        }
        if sector + 1 > u32::MAX as u64 {
            bail!("the volume is larger than ISO 9660 can address (8 TiB)");
        }
        let partition_len = (sector - PARTITION_START as u64) as u32;
        // Padding: readers that read ahead in large blocks (BIOS disk
        // services under GRUB, Linux) fail on reads past the end of the
        // medium, which data near the end would trigger.
        parts.push((sector, Part::Zeros(TAIL_PADDING)));
        sector += TAIL_PADDING;
        parts.push((sector, Part::UdfAnchor(sector as u32)));
        let total_sectors = sector + 1;

        let mut boot_files = None;
        if let Some((bios, uefi)) = &input.boot {
            let mut found = [(0u32, 0u64); 2];
            for (slot, p) in [bios, uefi].into_iter().enumerate() {
                match boot_node[slot] {
                    Some(n) if nodes[n].size > 0 => {
                        let blob = nodes[n].blob.expect("files have a blob") as usize;
                        found[slot] = (blob_sector[blob], nodes[n].size);
                    }
                    _ => bail!("the boot image /{p} is not on the volume"),
                }
            }
            boot_files = Some((found[0], found[1]));
        }
        let iso_order_v = iso_order;
        let input = VolumeInput {
            files: Vec::new(),
            blobs: input.blobs,
            empty_dirs: input.empty_dirs,
            label: input.label,
            volume_set_id: input.volume_set_id,
            created: input.created,
            boot: input.boot,
        };
        Ok(Layout {
            nodes,
            arena,
            boot_files,
            blob_sector,
            parts,
            total_sectors,
            iso_order: iso_order_v,
            joliet_order,
            path_tables,
            path_table_size: [iso_pt, jol_pt],
            boot_catalog,
            next_unique_id: unique,
            partition_len,
            input,
        })
    }

    /// Every part, with its first sector, in writing order.
    pub fn parts(&self) -> &[(u64, Part)] {
        &self.parts
    }

    pub fn total_sectors(&self) -> u64 {
        self.total_sectors
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_sectors * SECTOR as u64
    }

    pub fn blobs(&self) -> &[Blob] {
        &self.input.blobs
    }

    /// First sector of each blob.
    pub fn blob_sector(&self, b: usize) -> u32 {
        self.blob_sector[b]
    }

    fn info(&self) -> udf::VolumeInfo<'_> {
        udf::VolumeInfo {
            label: &self.input.label,
            volume_set: &self.input.volume_set_id,
            created: self.input.created,
            partition_start: PARTITION_START,
            partition_len: self.partition_len,
            integrity: (UDF_LVID, 2),
        }
    }

    /// The bytes of a metadata part, a whole number of sectors.
    pub fn render(&self, part: Part) -> Vec<u8> {
        let mut out = match part {
            Part::Zeros(n) => vec![0u8; n as usize * SECTOR],
            Part::Descriptors => self.descriptors(),
            Part::UdfVds(at) => {
                let v = self.info();
                let mut b = Vec::new();
                for (i, d) in [
                    udf::pvd(&v, 0, at),
                    udf::iuvd(&v, 1, at + 1),
                    udf::pd(&v, 2, at + 2),
                    udf::lvd(&v, 3, at + 3),
                    udf::usd(4, at + 4),
                    udf::td(at + 5),
                ]
                .into_iter()
                .enumerate()
                {
                    b.resize(i * SECTOR, 0);
                    b.extend_from_slice(&d);
                }
                b.resize(UDF_VDS_LEN as usize * SECTOR, 0);
                b
            }
            Part::UdfIntegrity => {
                let files = self.nodes.iter().filter(|n| !n.is_dir).count() as u32;
                // The root is not counted as a folder.
                let dirs = self.nodes.iter().filter(|n| n.is_dir).count() as u32 - 1;
                let mut b = udf::lvid(&self.info(), self.next_unique_id, files, dirs, UDF_LVID);
                b.resize(SECTOR, 0);
                b.extend_from_slice(&udf::td(UDF_LVID + 1));
                b
            }
            Part::UdfAnchor(at) => udf::avdp(
                &udf::Anchor {
                    main: (UDF_MAIN_VDS, UDF_VDS_LEN),
                    reserve: (UDF_RESERVE_VDS, UDF_VDS_LEN),
                },
                at,
            ),
            Part::FileSet => {
                let mut b = udf::fsd(&self.info(), self.nodes[0].udf_fe, 0);
                b.resize(SECTOR, 0);
                b.extend_from_slice(&udf::td(1));
                b
            }
            Part::UdfDir(d) => self.udf_dir(d),
            Part::UdfFile(f) => {
                let n = &self.nodes[f];
                let blob = n.blob.expect("files have a blob") as usize;
                let fe = udf::FileEntry {
                    is_dir: false,
                    links: 1,
                    size: n.size,
                    data_block: (n.size > 0).then(|| self.blob_sector[blob] - PARTITION_START),
                    unique_id: n.unique_id,
                };
                udf::file_entry(&fe, self.input.created, n.udf_fe)
            }
            Part::PathTables => self.path_tables(),
            Part::IsoDir(tree, d) => self.iso_dir(tree, d),
            Part::Data(_) => panic!("file data is copied, not rendered"),
        };
        let len = out.len().div_ceil(SECTOR) * SECTOR;
        out.resize(len, 0);
        out
    }

    fn descriptors(&self) -> Vec<u8> {
        let root = |tree: Tree| {
            let (ext, len) = match tree {
                Tree::Primary => self.nodes[0].iso,
                Tree::Joliet => self.nodes[0].joliet,
            };
            records::dir_record(
                &[0],
                ext,
                len,
                records::FLAG_DIR,
                records::date7(self.input.created),
            )
        };
        let app = format!("TSMEDIA {}", env!("CARGO_PKG_VERSION"));
        let vid = names::iso_volume_id(&self.input.label);
        let desc = |tree: Tree| {
            let (pt_size, l, m) = match tree {
                Tree::Primary => (
                    self.path_table_size[0],
                    self.path_tables[0],
                    self.path_tables[1],
                ),
                Tree::Joliet => (
                    self.path_table_size[1],
                    self.path_tables[2],
                    self.path_tables[3],
                ),
            };
            let joliet_label: String = self.input.label.chars().take(16).collect();
            records::volume_descriptor(
                &records::Descriptor {
                    volume_id: match tree {
                        Tree::Primary => &vid,
                        Tree::Joliet => &joliet_label,
                    },
                    volume_set_id: &self.input.volume_set_id,
                    publisher: "",
                    preparer: &app,
                    application: &app,
                    space_sectors: self.total_sectors as u32,
                    path_table_size: pt_size,
                    path_table_l: l,
                    path_table_m: m,
                    root: root(tree),
                    created: self.input.created,
                },
                tree,
            )
        };
        let mut b = desc(Tree::Primary);
        if let Some(cat) = self.boot_catalog {
            b.extend_from_slice(&eltorito::boot_record(cat));
        }
        b.extend_from_slice(&desc(Tree::Joliet));
        b.extend_from_slice(&records::terminator());
        for kind in [b"BEA01", b"NSR03", b"TEA01"] {
            b.extend_from_slice(&udf::vrs(kind));
        }
        if let (Some(_), Some(((bs, _), (us, usize_)))) = (self.boot_catalog, self.boot_files) {
            b.extend_from_slice(&eltorito::catalog(
                &BootImage {
                    platform: eltorito::PLATFORM_BIOS,
                    sector: bs,
                    load_sectors: eltorito::BIOS_LOAD_SECTORS,
                },
                &[BootImage {
                    platform: eltorito::PLATFORM_UEFI,
                    sector: us,
                    load_sectors: eltorito::uefi_load_sectors(usize_),
                }],
            ));
        }
        b
    }

    fn udf_dir(&self, d: usize) -> Vec<u8> {
        let n = &self.nodes[d];
        let subdirs = n
            .children
            .iter()
            .filter(|&&k| self.nodes[k as usize].is_dir)
            .count();
        let fe = udf::FileEntry {
            is_dir: true,
            links: (1 + subdirs).min(u16::MAX as usize) as u16,
            size: n.udf_len,
            data_block: Some(n.udf_data),
            unique_id: n.unique_id,
        };
        let mut b = udf::file_entry(&fe, self.input.created, n.udf_fe);
        b.resize(SECTOR, 0);
        let start = b.len();
        let parent = &self.nodes[n.parent as usize];
        let here = |b: &Vec<u8>| n.udf_data + ((b.len() - start) / SECTOR) as u32;
        let fid = udf::fid(&[], true, true, parent.udf_fe, parent.unique_id, here(&b));
        b.extend_from_slice(&fid);
        for &k in &n.children {
            let c = &self.nodes[k as usize];
            let fid = udf::fid(
                self.arena.get(c.udf_name),
                c.is_dir,
                false,
                c.udf_fe,
                c.unique_id,
                here(&b),
            );
            b.extend_from_slice(&fid);
        }
        debug_assert_eq!((b.len() - start) as u64, n.udf_len);
        b
    }

    fn iso_dir(&self, tree: Tree, d: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let date = records::date7(self.input.created);
        let ext = |n: &Node| match tree {
            Tree::Primary => n.iso,
            Tree::Joliet => n.joliet,
        };
        let push = |out: &mut Vec<u8>, r: Vec<u8>| {
            let used = out.len() % SECTOR;
            if used + r.len() > SECTOR {
                out.resize(out.len() + SECTOR - used, 0);
            }
            out.extend_from_slice(&r);
        };
        let n = &self.nodes[d];
        let (e, l) = ext(n);
        push(
            &mut out,
            records::dir_record(&[0], e, l, records::FLAG_DIR, date),
        );
        let (e, l) = ext(&self.nodes[n.parent as usize]);
        push(
            &mut out,
            records::dir_record(&[1], e, l, records::FLAG_DIR, date),
        );
        for (id, k) in self.sorted_children(tree, d) {
            let c = &self.nodes[k];
            if c.is_dir {
                let (e, l) = ext(c);
                push(
                    &mut out,
                    records::dir_record(id, e, l, records::FLAG_DIR, date),
                );
                continue;
            }
            let blob = c.blob.expect("files have a blob") as usize;
            let mut sector = if c.size > 0 {
                self.blob_sector[blob]
            } else {
                0
            };
            let parts = iso_extents(c.size);
            let last = parts.len() - 1;
            for (i, len) in parts.into_iter().enumerate() {
                let flags = if i < last {
                    records::FLAG_MULTI_EXTENT
                } else {
                    0
                };
                push(
                    &mut out,
                    records::dir_record(id, sector, len as u32, flags, date),
                );
                sector += (len / SECTOR as u64) as u32;
            }
        }
        debug_assert_eq!(out.len().div_ceil(SECTOR) * SECTOR, ext(n).1 as usize);
        out
    }

    fn sorted_children(&self, tree: Tree, d: usize) -> Vec<(&[u8], usize)> {
        sorted_children(&self.nodes, &self.arena, tree, d)
    }

    fn path_tables(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (tree, order) in [
            (Tree::Primary, &self.iso_order),
            (Tree::Primary, &self.iso_order),
            (Tree::Joliet, &self.joliet_order),
            (Tree::Joliet, &self.joliet_order),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (t, o))| ((t, i % 2 == 1), o))
        {
            let (tree, big) = tree;
            let start = out.len();
            for &d in order {
                let n = &self.nodes[d];
                let (id, ext, parent): (&[u8], u32, u16) = match tree {
                    Tree::Primary => (
                        if d == 0 {
                            &[0]
                        } else {
                            self.arena.get(n.iso_id)
                        },
                        n.iso.0,
                        self.nodes[n.parent as usize].iso_num,
                    ),
                    Tree::Joliet => (
                        if d == 0 {
                            &[0]
                        } else {
                            self.arena.get(n.joliet_id)
                        },
                        n.joliet.0,
                        self.nodes[n.parent as usize].joliet_num,
                    ),
                };
                out.extend_from_slice(&records::path_record(id, ext, parent, big));
            }
            let len = (out.len() - start).div_ceil(SECTOR) * SECTOR;
            out.resize(start + len, 0);
        }
        out
    }
}

/// Children of folder `d` with their identifiers in `tree`, in the tree's order.
fn sorted_children<'a>(
    nodes: &[Node],
    arena: &'a Arena,
    tree: Tree,
    d: usize,
) -> Vec<(&'a [u8], usize)> {
    let mut v: Vec<(&[u8], usize)> = nodes[d]
        .children
        .iter()
        .map(|&k| {
            let k = k as usize;
            let id = match tree {
                Tree::Primary => arena.get(nodes[k].iso_id),
                Tree::Joliet => arena.get(nodes[k].joliet_id),
            };
            (id, k)
        })
        .collect();
    match tree {
        Tree::Primary => v.sort_by_key(|(id, _)| iso_key(id)),
        Tree::Joliet => v.sort_by(|a, b| a.0.cmp(b.0)),
    }
    v
}

/// Bytes of a folder's extent in `tree` (whole sectors: records never
/// straddle a sector).
fn dir_bytes(nodes: &[Node], arena: &Arena, d: usize, tree: Tree) -> u64 {
    let mut used = 0usize;
    let mut total = 0usize;
    let mut add = |len: usize| {
        if used + len > SECTOR {
            total += SECTOR;
            used = 0;
        }
        used += len;
    };
    add(records::record_len(1));
    add(records::record_len(1));
    for (id, k) in sorted_children(nodes, arena, tree, d) {
        let n = iso_extents(if nodes[k].is_dir { 0 } else { nodes[k].size }).len();
        for _ in 0..n {
            add(records::record_len(id.len()));
        }
    }
    (total + SECTOR) as u64
}
