//! The reader against images laid out here byte by byte, for the cases the
//! usual tools never write: multi-extent files of small extents, directory
//! loops, overlapping and out-of-image extents, UDF 2.01 with extended file
//! entries, embedded data, allocation extent chains and 16-bit names.

use std::io::Read;

use super::udf::{crc16, tag_checksum};
use super::{IsoImage, ReadError, TreeKind};
use crate::read::{Medium, StructureProblem};

const S: usize = 2048;

struct Img(Vec<u8>);

impl Img {
    fn new(sectors: usize) -> Self {
        Img(vec![0u8; sectors * S])
    }

    fn put(&mut self, block: usize, bytes: &[u8]) {
        self.0[block * S..block * S + bytes.len()].copy_from_slice(bytes);
    }

    fn open(&self) -> Result<IsoImage, ReadError> {
        IsoImage::from_bytes("test.iso", self.0.clone())
    }

    // ---- ISO 9660 ----

    /// A primary volume descriptor at 16 and a terminator at 17.
    fn pvd(&mut self, root_block: u32, root_size: u32) {
        let mut v = vec![0u8; S];
        v[0] = 1;
        v[1..6].copy_from_slice(b"CD001");
        v[6] = 1;
        v[40..48].copy_from_slice(b"SYNTHETI");
        v[48..72].fill(b' ');
        let space = (self.0.len() / S) as u32;
        both32(&mut v, 80, space);
        both16(&mut v, 120, 1);
        both16(&mut v, 124, 1);
        both16(&mut v, 128, S as u16);
        v[156..190].copy_from_slice(&record(&[0], root_block, root_size, 2));
        self.put(16, &v);
        let mut t = vec![0u8; S];
        t[0] = 255;
        t[1..6].copy_from_slice(b"CD001");
        t[6] = 1;
        self.put(17, &t);
    }

    /// A directory at `block`: ".", "..", then `records`, packed into
    /// sectors as ECMA-119 requires. Returns its size.
    fn dir(&mut self, block: u32, parent: u32, records: &[Vec<u8>]) -> u32 {
        let mut all = vec![record(&[0], block, 0, 2), record(&[1], parent, 0, 2)];
        all.extend_from_slice(records);
        let mut bytes = Vec::new();
        for r in &all {
            if bytes.len() % S + r.len() > S {
                bytes.resize(bytes.len().div_ceil(S) * S, 0);
            }
            bytes.extend_from_slice(r);
        }
        let size = (bytes.len().div_ceil(S) * S) as u32;
        // "." carries the directory's own size.
        both32(&mut bytes, 10, size);
        self.put(block as usize, &bytes);
        size
    }
}

fn both16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
    b[off + 2..off + 4].copy_from_slice(&v.to_be_bytes());
}

fn both32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    b[off + 4..off + 8].copy_from_slice(&v.to_be_bytes());
}

fn record(id: &[u8], block: u32, size: u32, flags: u8) -> Vec<u8> {
    let pad = usize::from(id.len() % 2 == 0);
    let len = 33 + id.len() + pad;
    let mut r = vec![0u8; len];
    r[0] = len as u8;
    both32(&mut r, 2, block);
    both32(&mut r, 10, size);
    r[25] = flags;
    both16(&mut r, 28, 1);
    r[32] = id.len() as u8;
    r[33..33 + id.len()].copy_from_slice(id);
    r
}

fn file(name: &str, block: u32, size: u32) -> Vec<u8> {
    record(format!("{name};1").as_bytes(), block, size, 0)
}

fn read(img: &IsoImage, path: &str) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    img.open(path)?.read_to_end(&mut v)?;
    Ok(v)
}

fn show(p: &[StructureProblem]) -> String {
    p.iter().map(|p| format!("  {p}\n")).collect()
}

fn fill(img: &mut Img, block: usize, len: usize, byte: u8) {
    img.put(block, &vec![byte; len]);
}

#[test]
fn multi_extent_files_are_concatenated_in_record_order() {
    let mut img = Img::new(60);
    fill(&mut img, 30, S, b'a');
    fill(&mut img, 40, S, b'b');
    fill(&mut img, 35, 100, b'c');
    let big = b"BIG.BIN;1";
    let size = img.dir(
        20,
        20,
        &[
            record(big, 30, S as u32, 0x80),
            record(big, 40, S as u32, 0x80),
            record(big, 35, 100, 0),
            file("EMPTY.", 0, 0),
        ],
    );
    img.pvd(20, size);
    let iso = img.open().unwrap();
    assert_eq!(iso.main_tree_kind(), Some(TreeKind::Iso9660));
    let files = iso.files();
    assert_eq!(files.len(), 2);
    assert_eq!(
        (files[0].path.as_str(), files[0].size),
        ("BIG.BIN", 2 * S as u64 + 100)
    );
    assert_eq!(files[1].path, "EMPTY");
    let data = read(&iso, "big.bin").unwrap();
    assert_eq!(data.len(), 2 * S + 100);
    assert!(data[..S].iter().all(|&b| b == b'a'));
    assert!(data[S..2 * S].iter().all(|&b| b == b'b'));
    assert!(data[2 * S..].iter().all(|&b| b == b'c'));
    assert!(iso.check().is_empty(), "{}", show(&iso.check()));
    assert_eq!(iso.describe(), "ISO 9660 image, 1 volume");
    assert_eq!(iso.label().as_deref(), Some("SYNTHETI"));
}

#[test]
fn a_multi_extent_file_without_its_final_record_is_reported() {
    let mut img = Img::new(60);
    let size = img.dir(
        20,
        20,
        &[
            record(b"A.BIN;1", 30, S as u32, 0x80),
            file("B.BIN", 31, 10),
        ],
    );
    img.pvd(20, size);
    let iso = img.open().unwrap();
    let p = iso.check();
    assert!(
        p.iter()
            .any(|p| p.what == "ISO 9660 multi-extent file /A.BIN"),
        "{}",
        show(&p)
    );
    assert_eq!(iso.files().len(), 2);
}

#[test]
fn directory_loops_are_reported_not_followed() {
    let mut img = Img::new(60);
    let a = img.dir(
        21,
        20,
        &[
            record(b"BACK", 20, S as u32, 2),
            record(b"SELF", 21, S as u32, 2),
            file("X.TXT", 40, 3),
        ],
    );
    let root = img.dir(20, 20, &[record(b"A", 21, a, 2)]);
    img.pvd(20, root);
    fill(&mut img, 40, 3, b'x');
    let iso = img.open().unwrap();
    assert_eq!(iso.files().len(), 1);
    let p = iso.check();
    let loops = p
        .iter()
        .filter(|p| p.found.contains("already walked"))
        .count();
    assert_eq!(loops, 2, "{}", show(&p));
}

#[test]
fn directories_deeper_than_the_cap_are_not_read() {
    let levels = 70u32;
    let mut img = Img::new(200);
    // Directory i at block 20 + i holds directory i + 1 ("D"), the last a file.
    for i in (0..=levels).rev() {
        let block = 20 + i;
        let parent = if i == 0 { 20 } else { block - 1 };
        let recs = if i == levels {
            vec![file("F.TXT", 150, 1)]
        } else {
            vec![record(b"D", block + 1, S as u32, 2)]
        };
        let size = img.dir(block, parent, &recs);
        if i == 0 {
            img.pvd(20, size);
        }
    }
    let iso = img.open().unwrap();
    assert!(iso.files().is_empty());
    let p = iso.check();
    assert!(
        p.iter().any(|p| p.expected.contains("at most 64 levels")),
        "{}",
        show(&p)
    );
}

#[test]
fn extents_past_the_end_and_overlaps_are_reported() {
    let mut img = Img::new(60);
    let size = img.dir(
        20,
        20,
        &[
            file("A.BIN", 30, 3 * S as u32),
            file("B.BIN", 31, 100),          // inside A: an overlap
            file("C.BIN", 30, 3 * S as u32), // A stored once: fine
            file("D.BIN", 59, 2 * S as u32), // past the end
        ],
    );
    img.pvd(20, size);
    let iso = img.open().unwrap();
    let p = iso.check();
    assert_eq!(p.len(), 2, "{}", show(&p));
    assert!(
        p.iter().any(|p| p.what == "ISO 9660 file B.BIN"),
        "{}",
        show(&p)
    );
    assert!(
        p.iter()
            .any(|p| p.what == "ISO 9660 file D.BIN" && p.found.contains("running past the end")),
        "{}",
        show(&p)
    );
    assert!(read(&iso, "D.BIN").is_err());
    assert_eq!(read(&iso, "C.BIN").unwrap().len(), 3 * S);
}

#[test]
fn broken_records_and_huge_directories_do_not_stop_the_walk() {
    let mut img = Img::new(60);
    let mut bad = file("BAD.TXT", 40, 1);
    bad[32] = 200; // identifier longer than the record
    let size = img.dir(
        20,
        20,
        &[
            bad,
            record(b"HUGE", 22, u32::MAX - 10, 2),
            file("GOOD.TXT", 41, 1),
        ],
    );
    img.pvd(20, size);
    let iso = img.open().unwrap();
    let names: Vec<String> = iso.files().into_iter().map(|f| f.path).collect();
    // The rest of the sector after a malformed record is skipped.
    assert!(names.is_empty(), "{names:?}");
    let p = iso.check();
    assert!(
        p.iter().any(|p| p.expected.contains("file identifier")),
        "{}",
        show(&p)
    );

    let mut img = Img::new(60);
    let size = img.dir(
        20,
        20,
        &[
            record(b"HUGE", 22, u32::MAX - 10, 2),
            file("GOOD.TXT", 41, 1),
        ],
    );
    img.pvd(20, size);
    let iso = img.open().unwrap();
    assert_eq!(iso.files().len(), 1);
    assert!(iso.check().iter().any(|p| p.found.contains("not read")));
}

#[test]
fn images_without_a_tree_are_errors() {
    assert!(matches!(
        Img::new(10).open(),
        Err(ReadError::NotAnIso { .. })
    ));
    assert!(matches!(
        Img::new(40).open(),
        Err(ReadError::NotAnIso { .. })
    ));
    let mut img = Img::new(40);
    img.pvd(45, S as u32); // a root directory past the end
    assert!(matches!(img.open(), Err(ReadError::Corrupt { .. })));
    let mut img = Img::new(40);
    img.pvd(20, S as u32);
    img.0[16 * S + 129] = 0; // logical block size 0 (LE copy)
    assert!(matches!(img.open(), Err(ReadError::Corrupt { .. })));
}

// ---- UDF ----------------------------------------------------------------

const PART_START: usize = 300;
const PART_LEN: usize = 200;

/// Writes a tagged descriptor: `d` is the whole descriptor.
fn tag(d: &mut [u8], id: u16, location: u32) {
    d[0..2].copy_from_slice(&id.to_le_bytes());
    d[2..4].copy_from_slice(&3u16.to_le_bytes());
    d[6..8].copy_from_slice(&1u16.to_le_bytes());
    let crc = crc16(&d[16..]);
    d[8..10].copy_from_slice(&crc.to_le_bytes());
    let crc_len = (d.len() - 16) as u16;
    d[10..12].copy_from_slice(&crc_len.to_le_bytes());
    d[12..16].copy_from_slice(&location.to_le_bytes());
    d[4] = tag_checksum(d);
}

fn long_ad(len: u32, block: u32) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0..4].copy_from_slice(&len.to_le_bytes());
    a[4..8].copy_from_slice(&block.to_le_bytes());
    a
}

fn short_ad(len: u32, block: u32) -> [u8; 8] {
    let mut a = [0u8; 8];
    a[0..4].copy_from_slice(&len.to_le_bytes());
    a[4..8].copy_from_slice(&block.to_le_bytes());
    a
}

fn dstring<const N: usize>(s: &str) -> [u8; N] {
    let mut f = [0u8; N];
    f[0] = 8;
    f[1..1 + s.len()].copy_from_slice(s.as_bytes());
    f[N - 1] = (s.len() + 1) as u8;
    f
}

/// A File Identifier Descriptor (padded), for the block `location`.
fn fid(name: &[u8], characteristics: u8, icb_block: u32, location: u32) -> Vec<u8> {
    let body = 38 + name.len();
    let mut f = vec![0u8; (body + 3) & !3];
    f[16..18].copy_from_slice(&1u16.to_le_bytes());
    f[18] = characteristics;
    f[19] = name.len() as u8;
    f[20..36].copy_from_slice(&long_ad(S as u32, icb_block));
    f[38..body].copy_from_slice(name);
    tag(&mut f, 257, location);
    f
}

fn cs0_8(s: &str) -> Vec<u8> {
    let mut v = vec![8u8];
    v.extend(s.chars().map(|c| c as u8));
    v
}

fn cs0_16(s: &str) -> Vec<u8> {
    let mut v = vec![16u8];
    v.extend(s.encode_utf16().flat_map(|u| u.to_be_bytes()));
    v
}

/// An Extended File Entry (tag 266) of a file type, allocation descriptor
/// form and information length, with `ads` (or the embedded data).
fn efe(file_type: u8, form: u16, info_len: u64, ads: &[u8], location: u32) -> Vec<u8> {
    let mut e = vec![0u8; 216 + ads.len()];
    e[16 + 4..16 + 6].copy_from_slice(&4u16.to_le_bytes());
    e[16 + 11] = file_type;
    e[16 + 18..16 + 20].copy_from_slice(&form.to_le_bytes());
    e[56..64].copy_from_slice(&info_len.to_le_bytes());
    e[212..216].copy_from_slice(&(ads.len() as u32).to_le_bytes());
    e[216..].copy_from_slice(ads);
    tag(&mut e, 266, location);
    e
}

/// A (non-extended) File Entry (tag 261).
fn fe(file_type: u8, form: u16, info_len: u64, ads: &[u8], location: u32) -> Vec<u8> {
    let mut e = vec![0u8; 176 + ads.len()];
    e[16 + 4..16 + 6].copy_from_slice(&4u16.to_le_bytes());
    e[16 + 11] = file_type;
    e[16 + 18..16 + 20].copy_from_slice(&form.to_le_bytes());
    e[56..64].copy_from_slice(&info_len.to_le_bytes());
    e[172..176].copy_from_slice(&(ads.len() as u32).to_le_bytes());
    e[176..].copy_from_slice(ads);
    tag(&mut e, 261, location);
    e
}

const UNICODE: &str = "Ünïcode – 16.txt";

/// A UDF 2.01 image (no ISO 9660): volume recognition, anchor, volume
/// descriptors, a file set and this tree:
///
/// - `Ünïcode – 16.txt` (16-bit name; File Entry, short_ad, 5000 bytes)
/// - `embedded.txt` (Extended File Entry, data embedded)
/// - `chain.bin` (long_ads continued in an allocation extent descriptor,
///   then an unrecorded extent read as zeros)
/// - `sub/inner.txt`, and `sub/loop`, a directory pointing back at the root
struct Udf {
    img: Img,
}

impl Udf {
    fn lb(&mut self, lbn: usize, bytes: &[u8]) {
        self.img.put(PART_START + lbn, bytes);
    }

    fn new() -> Self {
        let mut img = Img::new(PART_START + PART_LEN);
        for (i, id) in [b"BEA01", b"NSR03", b"TEA01"].iter().enumerate() {
            let mut v = vec![0u8; 7];
            v[1..6].copy_from_slice(*id);
            v[6] = 1;
            img.put(16 + i, &v);
        }
        let mut a = vec![0u8; 512];
        a[16..20].copy_from_slice(&(16 * S as u32).to_le_bytes());
        a[20..24].copy_from_slice(&32u32.to_le_bytes());
        a[24..28].copy_from_slice(&(16 * S as u32).to_le_bytes());
        a[28..32].copy_from_slice(&48u32.to_le_bytes());
        tag(&mut a, 2, 256);
        img.put(256, &a);
        let last = PART_START + PART_LEN - 1;
        tag(&mut a, 2, last as u32);
        img.put(last, &a);
        // Main and reserve sequences alike.
        for base in [32u32, 48] {
            let mut p = vec![0u8; 512];
            p[24..56].copy_from_slice(&dstring::<32>("SYNTH_UDF"));
            p[56..58].copy_from_slice(&1u16.to_le_bytes());
            p[58..60].copy_from_slice(&1u16.to_le_bytes());
            tag(&mut p, 1, base);
            img.put(base as usize, &p);
            let mut d = vec![0u8; 512];
            d[25..31].copy_from_slice(b"+NSR03");
            d[184..188].copy_from_slice(&1u32.to_le_bytes());
            d[188..192].copy_from_slice(&(PART_START as u32).to_le_bytes());
            d[192..196].copy_from_slice(&(PART_LEN as u32).to_le_bytes());
            tag(&mut d, 5, base + 1);
            img.put(base as usize + 1, &d);
            let mut l = vec![0u8; 446];
            l[84..212].copy_from_slice(&dstring::<128>("SYNTH_UDF"));
            l[212..216].copy_from_slice(&(S as u32).to_le_bytes());
            l[217..236].copy_from_slice(b"*OSTA UDF Compliant");
            l[240..242].copy_from_slice(&0x0201u16.to_le_bytes());
            l[248..264].copy_from_slice(&long_ad(S as u32, 0));
            l[264..268].copy_from_slice(&6u32.to_le_bytes());
            l[268..272].copy_from_slice(&1u32.to_le_bytes());
            l[440..446].copy_from_slice(&[1, 6, 1, 0, 0, 0]);
            tag(&mut l, 6, base + 2);
            img.put(base as usize + 2, &l);
            let mut t = vec![0u8; 512];
            tag(&mut t, 8, base + 3);
            img.put(base as usize + 3, &t);
        }
        let mut u = Udf { img };
        let mut fsd = vec![0u8; 512];
        fsd[400..416].copy_from_slice(&long_ad(S as u32, 1));
        tag(&mut fsd, 256, 0);
        u.lb(0, &fsd);
        // The root: FIDs embedded in its entry.
        let mut root = fid(b"", 0x0A, 1, 1);
        root.extend(fid(&cs0_16(UNICODE), 0, 2, 1));
        root.extend(fid(&cs0_8("embedded.txt"), 0, 3, 1));
        root.extend(fid(&cs0_8("chain.bin"), 0, 4, 1));
        root.extend(fid(&cs0_8("sub"), 0x02, 6, 1));
        let root_len = root.len() as u64;
        u.lb(1, &efe(4, 3, root_len, &root, 1));
        // Ünïcode: a File Entry with a short_ad.
        u.lb(2, &fe(5, 0, 5000, &short_ad(5000, 20), 2));
        u.lb(20, &vec![b'u'; 5000]);
        // embedded.txt
        u.lb(3, &efe(5, 3, 14, b"hello embedded", 3));
        // chain.bin: 3000 bytes, then the chain goes on at block 5.
        let mut ads = long_ad(3000, 30).to_vec();
        ads.extend(long_ad((3 << 30) | S as u32, 5));
        u.lb(4, &efe(5, 1, 3000 + 1000 + 4096, &ads, 4));
        u.lb(30, &vec![b'c'; 3000]);
        u.lb(40, &vec![b'd'; 1000]);
        let mut aed = vec![0u8; 24];
        let mut more = long_ad(1000, 40).to_vec();
        more.extend(long_ad((1 << 30) | 4096, 0));
        aed[20..24].copy_from_slice(&(more.len() as u32).to_le_bytes());
        aed.extend(more);
        tag(&mut aed, 258, 5);
        u.lb(5, &aed);
        // sub: a directory whose FIDs are in block 7.
        let mut sub = fid(b"", 0x0A, 1, 7);
        sub.extend(fid(&cs0_8("loop"), 0x02, 1, 7));
        sub.extend(fid(&cs0_8("inner.txt"), 0, 8, 7));
        u.lb(
            6,
            &efe(4, 0, sub.len() as u64, &short_ad(sub.len() as u32, 7), 6),
        );
        u.lb(7, &sub);
        u.lb(8, &efe(5, 0, 2, &short_ad(2, 41), 8));
        u.lb(41, b"hi");
        u
    }
}

#[test]
fn a_udf_201_image_with_every_allocation_form() {
    let u = Udf::new();
    let iso = u.img.open().unwrap();
    assert_eq!(iso.describe(), "UDF 2.01 image, 1 volume");
    assert_eq!(iso.label().as_deref(), Some("SYNTH_UDF"));
    let files: Vec<(String, u64)> = iso.files().into_iter().map(|f| (f.path, f.size)).collect();
    assert_eq!(
        files,
        vec![
            ("chain.bin".to_string(), 8096),
            ("embedded.txt".to_string(), 14),
            ("sub/inner.txt".to_string(), 2),
            (UNICODE.to_string(), 5000),
        ]
    );
    assert_eq!(read(&iso, "EMBEDDED.TXT").unwrap(), b"hello embedded");
    assert_eq!(read(&iso, "sub/inner.txt").unwrap(), b"hi");
    assert_eq!(read(&iso, UNICODE).unwrap(), vec![b'u'; 5000]);
    let chain = read(&iso, "chain.bin").unwrap();
    let mut want = vec![b'c'; 3000];
    want.extend(vec![b'd'; 1000]);
    want.extend(vec![0u8; 4096]);
    assert_eq!(chain, want);
    let p = iso.check();
    assert_eq!(p.len(), 1, "{}", show(&p));
    assert_eq!(p[0].what, "UDF directory sub/loop");
}

#[test]
fn udf_damage_is_reported_and_reading_goes_on() {
    // An allocation extent chain that points at itself.
    let mut u = Udf::new();
    let mut aed = vec![0u8; 24];
    let mut more = long_ad(1000, 40).to_vec();
    more.extend(long_ad((3 << 30) | S as u32, 5));
    aed[20..24].copy_from_slice(&(more.len() as u32).to_le_bytes());
    aed.extend(more);
    tag(&mut aed, 258, 5);
    u.lb(5, &aed);
    let iso = u.img.open().unwrap();
    assert!(read(&iso, "chain.bin").is_err());
    assert!(iso
        .check()
        .iter()
        .any(|p| p.what == "UDF file entry for chain.bin" && p.found.contains("again")));

    // A FID whose CRC no longer matches: reported, and the file still read.
    let mut u = Udf::new();
    let at = (PART_START + 7) * S + 40 + 40; // inside the "inner.txt" FID name
    let name_at = u.img.0[at..at + 200]
        .windows(9)
        .position(|w| w == b"inner.txt")
        .unwrap();
    u.img.0[at + name_at] = b'I';
    let iso = u.img.open().unwrap();
    let p = iso.check();
    assert!(
        p.iter()
            .any(|p| p.what.starts_with("UDF directory sub, file identifier")
                && p.expected.starts_with("descriptor CRC")),
        "{}",
        show(&p)
    );
    assert_eq!(read(&iso, "sub/Inner.txt").unwrap(), b"hi");

    // A bad main sequence: the reserve one is used.
    let mut u = Udf::new();
    u.img.0[34 * S] = 0x77;
    let iso = u.img.open().unwrap();
    assert_eq!(iso.files().len(), 4);
    assert!(iso
        .check()
        .iter()
        .any(|p| p.found.contains("reserve sequence is used")));

    // A file entry claiming more than its extents hold.
    let mut u = Udf::new();
    u.lb(8, &efe(5, 0, 5, &short_ad(2, 41), 8));
    let iso = u.img.open().unwrap();
    assert!(read(&iso, "sub/inner.txt").is_err());
    assert!(iso
        .check()
        .iter()
        .any(|p| p.what == "UDF file entry for sub/inner.txt" && p.expected.contains("covering")));

    // A partition map of a kind not supported: no usable tree at all.
    let mut u = Udf::new();
    for base in [32usize, 48] {
        let mut l = u.img.0[(base + 2) * S..(base + 2) * S + 446].to_vec();
        l[440] = 2;
        tag(&mut l, 6, base as u32 + 2);
        u.img.put(base + 2, &l);
    }
    assert!(matches!(u.img.open(), Err(ReadError::Corrupt { .. })));
}
