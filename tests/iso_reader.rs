//! The ISO reader against images made by tools tsmedia does not contain
//! (xorriso, genisoimage): file lists, contents, boot entries, labels,
//! files over 4 GiB, volume sets, and damaged images.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest, Sha256};
use tsmedia::read::iso::{IsoImage, IsoVolumeSet, ReadError, TreeKind};
use tsmedia::read::{Emulation, Medium, StructureProblem, PLATFORM_BIOS, PLATFORM_EFI};

const LABEL: &str = "TSM_READER_TEST";
const EFISYS: &str = "efi/microsoft/boot/efisys.bin";
const ETFSBOOT: &str = "boot/etfsboot.com";
const UNICODE_NAME: &str = "Überprüfung – Ünïcode.txt";

fn long_name(len: usize, ext: &str) -> String {
    let stem: String = "long-name-".repeat(len / 10 + 1);
    format!("{}{ext}", &stem[..len - ext.len()])
}

fn long_dir_name(len: usize) -> String {
    "directory-".repeat(len / 10 + 1)[..len].to_string()
}

/// The test tree: boot files, names up to 200 characters, Unicode names, 10
/// levels of directories, empty and identical files. `efisys` sets the size
/// of the EFI boot image.
fn make_tree(root: &Path, efisys: usize) {
    put(root, ETFSBOOT, &noise(1, 4096));
    put(root, EFISYS, &noise(2, efisys));
    put(root, UNICODE_NAME, "Ünïcode\n".as_bytes());
    put(root, &long_name(200, ".txt"), b"two hundred characters\n");
    put(
        root,
        &format!("{}/inner file.txt", long_dir_name(150)),
        b"inside a long directory name\n",
    );
    let deep: Vec<String> = (1..=10).map(|i| format!("level{i}")).collect();
    put(root, &format!("{}/deep.txt", deep.join("/")), b"deep\n");
    put(root, "empty.txt", b"");
    put(root, &format!("{}.txt", "empty-".repeat(30)), b"");
    put(root, "dir with spaces/Mixed Case.TXT", b"mixed\n");
    put(root, "sources/install.wim", &noise(3, 3 * 2048 + 17));
    put(root, "dup-a.bin", &noise(4, 10_000));
    put(root, "dup-b.bin", &noise(4, 10_000));
    put(root, "Ordner/Übergröße/Datei.txt", "ä ö ü\n".as_bytes());
}

/// (path, size) of every file under `root`.
fn tree_listing(root: &Path) -> BTreeSet<(String, u64)> {
    files_under(root)
        .into_iter()
        .map(|(rel, abs)| (rel, std::fs::metadata(abs).unwrap().len()))
        .collect()
}

fn listing(m: &dyn Medium) -> BTreeSet<(String, u64)> {
    m.files().into_iter().map(|f| (f.path, f.size)).collect()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn xorriso_image(tree: &Path, out: &Path) {
    run(Command::new("xorriso")
        .args([
            "-as",
            "mkisofs",
            "-iso-level",
            "3",
            "-J",
            "-joliet-long",
            "-V",
            LABEL,
        ])
        .args(["-b", ETFSBOOT, "-no-emul-boot", "-boot-load-size", "8"])
        .args(["-eltorito-alt-boot", "-e", EFISYS, "-no-emul-boot", "-o"])
        .arg(out)
        .arg(tree));
}

fn genisoimage_image(tree: &Path, out: &Path, extra: &[&str]) {
    run(Command::new("genisoimage")
        .args(["-quiet", "-input-charset", "utf-8"])
        .args(extra)
        .args(["-J", "-joliet-long", "-iso-level", "3", "-V", LABEL])
        .args(["-b", ETFSBOOT, "-no-emul-boot", "-boot-load-size", "8"])
        .args(["-eltorito-alt-boot", "-e", EFISYS, "-no-emul-boot", "-o"])
        .arg(out)
        .arg(tree));
}

fn sha256_reader(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Every file of the tree reads back through the medium byte for byte.
fn assert_contents_match(m: &dyn Medium, tree: &Path) {
    for (rel, abs) in files_under(tree) {
        let r = m.open(&rel).unwrap_or_else(|e| panic!("open {rel}: {e}"));
        assert_eq!(
            sha256_reader(r).unwrap_or_else(|e| panic!("read {rel}: {e}")),
            sha256_file(&abs),
            "contents of {rel}"
        );
    }
}

/// Each name of a path cut to `max` UTF-16 units.
fn truncate_path(p: &str, max: usize) -> String {
    p.split('/')
        .map(|c| {
            let units: Vec<u16> = c.encode_utf16().take(max).collect();
            String::from_utf16(&units).unwrap()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn truncated(l: &BTreeSet<(String, u64)>, max: usize) -> BTreeSet<(String, u64)> {
    l.iter().map(|(p, n)| (truncate_path(p, max), *n)).collect()
}

fn assert_contents_match_truncated(m: &dyn Medium, tree: &Path, max: usize) {
    for (rel, abs) in files_under(tree) {
        let rel = truncate_path(&rel, max);
        let r = m.open(&rel).unwrap_or_else(|e| panic!("open {rel}: {e}"));
        assert_eq!(
            sha256_reader(r).unwrap(),
            sha256_file(&abs),
            "contents of {rel}"
        );
    }
}

fn assert_no_problems(m: &dyn Medium) {
    let p = m.check();
    assert!(p.is_empty(), "unexpected structure problems:\n{}", show(&p));
}

fn show(p: &[StructureProblem]) -> String {
    p.iter().map(|p| format!("  {p}\n")).collect()
}

/// The boot entries: BIOS then UEFI, no emulation, pointing at the files.
fn assert_boot_entries(m: &dyn Medium) {
    let b = m.boot_entries();
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(b[0].platform, PLATFORM_BIOS);
    assert_eq!(b[1].platform, PLATFORM_EFI);
    for e in &b {
        assert_eq!(e.emulation, Emulation::NoEmulation);
        assert!(e.bootable);
    }
    assert_eq!(b[0].load_sectors, 8);
    assert_eq!(b[0].path.as_deref(), Some(ETFSBOOT));
    assert_eq!(b[1].path.as_deref(), Some(EFISYS));
}

/// Boot entries as xorriso reports them: (platform, load size, LBA).
fn xorriso_boot_report(iso: &Path) -> Vec<(u8, u16, u32)> {
    let out = Command::new("xorriso")
        .args(["-indev"])
        .arg(iso)
        .args(["-report_el_torito", "plain"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.strip_prefix("El Torito boot img :"))
        .filter(|l| !l.trim_start().starts_with('N'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let platform = match f[1] {
                "BIOS" => 0,
                "UEFI" => 0xEF,
                other => panic!("platform {other}"),
            };
            (platform, f[6].parse().unwrap(), f[7].parse().unwrap())
        })
        .collect()
}

/// Data extents of every file as xorriso reports them: path -> [(block, bytes)].
fn xorriso_extents(iso: &Path) -> std::collections::BTreeMap<String, Vec<(u64, u64)>> {
    let out = Command::new("xorriso")
        .args(["-indev"])
        .arg(iso)
        .args(["-find", "/", "-type", "f", "-exec", "report_lba", "--"])
        .output()
        .unwrap();
    let mut m = std::collections::BTreeMap::<String, Vec<(u64, u64)>>::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(rest) = l.strip_prefix("File data lba:") else {
            continue;
        };
        let (nums, path) = rest.split_once('\'').unwrap();
        let f: Vec<u64> = nums
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let path = path
            .trim_end_matches('\'')
            .trim_start_matches('/')
            .to_string();
        m.entry(path).or_default().push((f[1], f[3]));
    }
    m
}

#[test]
fn xorriso_image_lists_reads_and_boots() {
    if !have_tool("xorriso", "xorriso") {
        return;
    }
    let s = scratch("isoread-xorriso");
    let tree = s.path().join("tree");
    make_tree(&tree, 1_474_560);
    let iso = s.path().join("x.iso");
    xorriso_image(&tree, &iso);

    let img = IsoImage::open(&iso).unwrap();
    let d = img.describe();
    assert!(d.starts_with("ISO 9660 + Rock Ridge + Joliet image"), "{d}");
    assert!(!d.contains("UDF"), "{d}");
    assert_eq!(img.label().as_deref(), Some(LABEL));
    assert_eq!(img.udf_revision(), None);
    assert_eq!(img.joliet_level(), Some(3));
    // Rock Ridge keeps the full names; xorriso adds its boot catalog as a file.
    assert_eq!(img.main_tree_kind(), Some(TreeKind::RockRidge));
    let mut want = tree_listing(&tree);
    want.insert(("boot.catalog".into(), 2048));
    assert_eq!(listing(&img), want);
    // Joliet names are cut short (xorriso keeps the extension: 100
    // characters and ".txt"); the files are the same ones.
    let joliet = img.tree_files(TreeKind::Joliet).unwrap();
    assert_eq!(joliet.len(), want.len());
    let longest = joliet
        .iter()
        .flat_map(|f| f.path.split('/'))
        .map(|c| c.encode_utf16().count())
        .max();
    assert_eq!(longest, Some(104));
    assert!(joliet.iter().any(|f| f.path == UNICODE_NAME));
    assert_contents_match(&img, &tree);
    assert_boot_entries(&img);
    assert_no_problems(&img);

    // Against xorriso's own reading of its image.
    let ours: Vec<(u8, u16, u32)> = img
        .boot_entries()
        .iter()
        .map(|b| (b.platform, b.load_sectors, b.load_rba.unwrap()))
        .collect();
    assert_eq!(ours, xorriso_boot_report(&iso));
    let theirs = xorriso_extents(&iso);
    // Its boot catalog is no regular file to xorriso's -find.
    assert_eq!(theirs.len(), want.len() - 1, "{theirs:?}");
    for (path, mut ext) in theirs {
        ext.retain(|e| e.1 > 0); // empty files have a block but no data
        let mine: Vec<(u64, u64)> = img
            .extents(&path)
            .unwrap_or_else(|| panic!("{path} not found"))
            .into_iter()
            .map(|(off, len)| (off / 2048, len))
            .collect();
        assert_eq!(mine, ext, "extents of {path}");
    }
    // Lookups ignore case; missing files are NotFound.
    assert!(img.open("BOOT/ETFSBOOT.COM").is_ok());
    assert_eq!(
        img.open("no/such/file").err().map(|e| e.kind()),
        Some(std::io::ErrorKind::NotFound)
    );
}

#[test]
fn genisoimage_udf_bridge_is_read_and_checked() {
    if !have_tool("genisoimage", "genisoimage") {
        return;
    }
    let s = scratch("isoread-genisoimage");
    let tree = s.path().join("tree");
    make_tree(&tree, 1_474_560);
    let iso = s.path().join("g.iso");
    // -D: without it (or Rock Ridge) genisoimage leaves out directories
    // deeper than 6 levels.
    genisoimage_image(&tree, &iso, &["-udf", "-D"]);

    let img = IsoImage::open(&iso).unwrap();
    let rev = img.udf_revision().expect("a UDF tree");
    eprintln!("genisoimage wrote UDF {rev}: {}", img.describe());
    assert!(rev == "1.02" || rev == "2.01", "UDF revision {rev}");
    assert_eq!(img.main_tree_kind(), Some(TreeKind::Udf));
    assert!(img
        .describe()
        .starts_with(&format!("ISO 9660 + Joliet + UDF {rev} image")));
    assert_eq!(img.label().as_deref(), Some(LABEL));
    // genisoimage's UDF tree takes its names from Joliet, cut to 103
    // characters, and lists the boot catalog as an empty file, while its
    // Joliet and ISO 9660 trees give it its 2048 bytes.
    let mut want = truncated(&tree_listing(&tree), 103);
    want.insert(("boot.catalog".into(), 0));
    assert_eq!(listing(&img), want);
    assert_contents_match_truncated(&img, &tree, 103);
    assert_boot_entries(&img);
    let problems = img.check();
    assert_eq!(problems.len(), 2, "{}", show(&problems));
    assert!(
        problems.iter().all(|p| p.what.contains("boot.catalog")),
        "{}",
        show(&problems)
    );
    let mut jwant = truncated(&tree_listing(&tree), 103);
    jwant.insert(("boot.catalog".into(), 2048));
    let joliet: BTreeSet<(String, u64)> = img
        .tree_files(TreeKind::Joliet)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.size))
        .collect();
    assert_eq!(joliet, jwant);
}

#[test]
fn rock_ridge_relocated_directories_are_put_back() {
    if !have_tool("genisoimage", "genisoimage") {
        return;
    }
    let s = scratch("isoread-rr");
    let tree = s.path().join("tree");
    make_tree(&tree, 65_536);
    let iso = s.path().join("r.iso");
    // Rock Ridge without -D: directories deeper than 6 levels are moved to
    // rr_moved and linked back with CL/RE entries.
    genisoimage_image(&tree, &iso, &["-R"]);
    let img = IsoImage::open(&iso).unwrap();
    assert_eq!(img.main_tree_kind(), Some(TreeKind::RockRidge));
    let mut want = tree_listing(&tree);
    want.insert(("boot.catalog".into(), 2048));
    assert_eq!(listing(&img), want);
    assert_contents_match(&img, &tree);
    assert_no_problems(&img);
}

/// The SHA-256 of a reader, computed by sha256sum as it streams.
fn sha256sum_of(mut r: impl Read) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    {
        let mut stdin = child.stdin.take().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf).expect("reading through the image");
            if n == 0 {
                break;
            }
            stdin.write_all(&buf[..n]).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn sha256_of_zeros(n: u64) -> String {
    sha256sum_of(std::io::repeat(0).take(n))
}

#[test]
fn files_of_4_gib_and_more() {
    let xorriso = have_tool("xorriso", "xorriso");
    let genisoimage = have_tool("genisoimage", "genisoimage");
    if !xorriso && !genisoimage {
        return;
    }
    const SIZE: u64 = 4500 << 20;
    let s = scratch("isoread-4gib");
    let tree = s.path().join("tree");
    std::fs::create_dir_all(tree.join("sources")).unwrap();
    let huge = tree.join("sources/install.wim");
    std::fs::File::create(&huge).unwrap().set_len(SIZE).unwrap(); // sparse
    put(&tree, "small.txt", b"small\n");
    let zeros = sha256_of_zeros(SIZE);
    let iso = s.path().join("big.iso");

    if xorriso {
        // ISO 9660 level 3: several records of the same name (multi-extent).
        run(Command::new("xorriso")
            .args([
                "-as",
                "mkisofs",
                "-iso-level",
                "3",
                "-J",
                "-joliet-long",
                "-o",
            ])
            .arg(&iso)
            .arg(&tree));
        let img = IsoImage::open(&iso).unwrap();
        assert_no_problems(&img);
        let ext = img.extents("sources/install.wim").unwrap();
        assert!(ext.len() >= 2, "a multi-extent file: {ext:?}");
        assert_eq!(ext.iter().map(|e| e.1).sum::<u64>(), SIZE);
        for kind in [TreeKind::RockRidge, TreeKind::Joliet] {
            let f = img.tree_files(kind).unwrap();
            let w = f.iter().find(|f| f.path == "sources/install.wim").unwrap();
            assert_eq!(w.size, SIZE, "{kind:?}");
        }
        assert_eq!(
            sha256sum_of(img.open("sources/install.wim").unwrap()),
            zeros
        );
        assert_eq!(
            sha256_reader(img.open("small.txt").unwrap()).unwrap(),
            sha256_file(&tree.join("small.txt"))
        );
        drop(img);
        std::fs::remove_file(&iso).unwrap();
    }
    if genisoimage {
        // genisoimage writes no multi-extent records: with
        // -allow-limited-size, UDF holds the whole file and ISO 9660 /
        // Joliet its size modulo 4 GiB. The reader takes UDF and reports
        // the disagreement.
        run(Command::new("genisoimage")
            .args([
                "-quiet",
                "-input-charset",
                "utf-8",
                "-udf",
                "-J",
                "-iso-level",
                "3",
            ])
            .args(["-allow-limited-size", "-o"])
            .arg(&iso)
            .arg(&tree));
        let img = IsoImage::open(&iso).unwrap();
        assert_eq!(img.main_tree_kind(), Some(TreeKind::Udf));
        let f = img.files();
        let w = f.iter().find(|f| f.path == "sources/install.wim").unwrap();
        assert_eq!(w.size, SIZE);
        let j = img.tree_files(TreeKind::Joliet).unwrap();
        let jw = j.iter().find(|f| f.path == "sources/install.wim").unwrap();
        assert_eq!(jw.size, SIZE % (1 << 32));
        let p = img.check();
        assert!(
            p.iter()
                .any(|p| p.what == "UDF file sources/install.wim in the Joliet tree"),
            "{}",
            show(&p)
        );
        assert_eq!(
            sha256sum_of(img.open("sources/install.wim").unwrap()),
            zeros
        );
        drop(img);
        std::fs::remove_file(&iso).unwrap();
    }
    std::fs::remove_file(&huge).unwrap();
}

// ---- damaged images -------------------------------------------------------

/// A small bootable image with Rock Ridge and Joliet, in memory.
fn small_rock_ridge_image(s: &Path) -> Vec<u8> {
    let tree = s.join("rr-tree");
    make_tree(&tree, 8192);
    let iso = s.join("small-rr.iso");
    xorriso_image(&tree, &iso);
    std::fs::read(&iso).unwrap()
}

/// A small bootable image with a UDF bridge, in memory.
fn small_udf_image(s: &Path) -> Vec<u8> {
    let tree = s.join("tree");
    make_tree(&tree, 8192);
    let iso = s.join("small.iso");
    genisoimage_image(&tree, &iso, &["-udf", "-D"]);
    std::fs::read(&iso).unwrap()
}

fn open_bytes(b: Vec<u8>) -> Result<IsoImage, ReadError> {
    IsoImage::from_bytes("damaged.iso", b)
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn find(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

fn ucs2(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

fn has(p: &[StructureProblem], what: &str, expected: &str) -> bool {
    p.iter()
        .any(|p| p.what.contains(what) && p.expected.contains(expected))
}

#[test]
fn damaged_structures_are_reported() {
    if !have_tool("genisoimage", "genisoimage") {
        return;
    }
    let s = scratch("isoread-damaged");
    let good = small_udf_image(s.path());
    let img = open_bytes(good.clone()).unwrap();
    let catalog = img.boot_catalog_sector().unwrap() as usize * 2048;
    let efi_block = img.extents(EFISYS).unwrap()[0].0 / 2048;
    drop(img);

    // The boot catalog's validation entry.
    let mut b = good.clone();
    b[catalog + 4] ^= 0x5A;
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(&p, "boot catalog validation entry", "checksum"),
        "{}",
        show(&p)
    );
    let mut b = good.clone();
    b[catalog + 30] = 0;
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(&p, "boot catalog validation entry", "55 AA"),
        "{}",
        show(&p)
    );

    // An El Torito entry that no longer loads efisys.bin.
    let mut b = good.clone();
    let at = (catalog..catalog + 2048)
        .step_by(32)
        .find(|&e| b[e] == 0x88 && u64::from(le32(&b, e + 8)) == efi_block)
        .unwrap();
    b[at + 8] = b[at + 8].wrapping_add(1);
    let img = open_bytes(b).unwrap();
    let p = img.check();
    assert!(
        has(
            &p,
            "El Torito entry",
            "the start of efi/microsoft/boot/efisys.bin"
        ),
        "{}",
        show(&p)
    );
    assert_ne!(img.boot_entries()[1].path.as_deref(), Some(EFISYS));

    // A Joliet directory record whose two copies of the extent disagree.
    let name = ucs2("etfsboot.com");
    let rec = find(&good, &name)
        .into_iter()
        .map(|i| i - 33)
        .find(|&r| usize::from(good[r + 32]) == name.len())
        .unwrap();
    let mut b = good.clone();
    b[rec + 6] ^= 0x01; // most significant byte of the big-endian copy
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(
            &p,
            "Joliet directory record for /boot/etfsboot.com",
            "little- and big-endian"
        ),
        "{}",
        show(&p)
    );
    // A record length too short to be a record.
    let mut b = good.clone();
    b[rec] = 20;
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(&p, "Joliet directory /boot", "at least 34 bytes"),
        "{}",
        show(&p)
    );
    // A record whose extent (both copies) points into another file.
    let mut b = good.clone();
    let moved = efi_block as u32 + 1;
    b[rec + 2..rec + 6].copy_from_slice(&moved.to_le_bytes());
    b[rec + 6..rec + 10].copy_from_slice(&moved.to_be_bytes());
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(&p, "Joliet file boot/etfsboot.com", "an extent of its own"),
        "{}",
        show(&p)
    );
    assert!(
        has(
            &p,
            "UDF file boot/etfsboot.com in the Joliet tree",
            "size 4096"
        ),
        "{}",
        show(&p)
    );

    // UDF descriptor tags: the anchor, and the file entry of etfsboot.com.
    let mut b = good.clone();
    b[256 * 2048 + 6] ^= 0x01; // tag serial number
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(
            &p,
            "UDF anchor volume descriptor pointer at sector 256",
            "tag checksum"
        ),
        "{}",
        show(&p)
    );
    let fe = (0..good.len() / 2048)
        .map(|s| s * 2048)
        .find(|&o| {
            good[o..o + 2] == 261u16.to_le_bytes()
                && good[o + 27] == 5
                && good[o + 56..o + 64] == 4096u64.to_le_bytes()
        })
        .expect("the file entry of etfsboot.com");
    let mut b = good.clone();
    b[fe + 6] ^= 0x01;
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(&p, "UDF file entry for boot/etfsboot.com", "tag checksum"),
        "{}",
        show(&p)
    );
    let mut b = good.clone();
    b[fe + 100] ^= 0x01; // inside the descriptor: its CRC no longer matches
    let p = open_bytes(b).unwrap().check();
    assert!(
        has(&p, "UDF file entry for boot/etfsboot.com", "descriptor CRC"),
        "{}",
        show(&p)
    );
    // A tag id that is no file entry: the file is left out and reported.
    let mut b = good.clone();
    b[fe] = 0x07;
    let img = open_bytes(b).unwrap();
    let p = img.check();
    assert!(
        has(
            &p,
            "UDF file entry for boot/etfsboot.com",
            "a readable file entry"
        ),
        "{}",
        show(&p)
    );
    assert!(img.files().iter().all(|f| f.path != ETFSBOOT));

    // No anchor at all (genisoimage writes them at 256 and over its end
    // padding): the UDF side is unusable, Joliet is used instead.
    let mut b = good.clone();
    for s in 0..b.len() / 2048 {
        if b[s * 2048..s * 2048 + 2] == 2u16.to_le_bytes() {
            b[s * 2048] = 0x09;
        }
    }
    let img = open_bytes(b).unwrap();
    assert_eq!(img.main_tree_kind(), Some(TreeKind::Joliet));
    let p = img.check();
    assert!(
        has(&p, "UDF volume", "readable UDF structures"),
        "{}",
        show(&p)
    );

    // Not an image; truncated images.
    assert!(matches!(
        open_bytes(vec![0u8; 40_000]),
        Err(ReadError::NotAnIso { .. })
    ));
    assert!(matches!(
        open_bytes(good[..20_000].to_vec()),
        Err(ReadError::NotAnIso { .. })
    ));
    for cut in [
        17 * 2048,
        19 * 2048 + 100,
        40 * 2048,
        good.len() / 2,
        good.len() - 4096,
    ] {
        match open_bytes(good[..cut].to_vec()) {
            Err(_) => {}
            Ok(img) => {
                let p = img.check();
                assert!(
                    has(&p, "image size", "at least"),
                    "cut at {cut}: {}",
                    show(&p)
                );
            }
        }
    }
    // Cut inside efisys.bin: the structures are whole, file data is not.
    let img = open_bytes(good[..efi_block as usize * 2048 + 4096].to_vec()).unwrap();
    let p = img.check();
    assert!(
        p.iter().any(|p| p.found.contains("running past the end")),
        "{}",
        show(&p)
    );
    let failures = img
        .files()
        .iter()
        .filter(|f| img.open(&f.path).and_then(sha256_reader).is_err())
        .count();
    assert!(
        failures > 0,
        "files past the end of a truncated image read without error"
    );
}

/// One damaged image through every operation, reading at most `cap` bytes.
fn exercise(bytes: Vec<u8>, cap: u64) {
    let Ok(img) = open_bytes(bytes) else {
        return;
    };
    let _ = img.describe();
    let _ = img.label();
    let _ = img.boot_entries();
    let _ = img.check();
    let mut left = cap;
    for f in img.files() {
        let Ok(r) = img.open(&f.path) else {
            continue;
        };
        let mut r = r.take(left);
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            left -= n as u64;
        }
        if left == 0 {
            break;
        }
    }
}

#[test]
fn random_damage_never_panics_or_hangs() {
    if !have_tool("genisoimage", "genisoimage") || !have_tool("xorriso", "xorriso") {
        return;
    }
    let s = scratch("isoread-fuzz");
    // Alternately a UDF bridge and a Rock Ridge image.
    let images = Arc::new([small_udf_image(s.path()), small_rock_ridge_image(s.path())]);
    // Most damage lands where the structures are: bytes that are not zero
    // and not file data.
    let nonzero: Arc<Vec<Vec<usize>>> = Arc::new(
        images
            .iter()
            .map(|good| {
                let img = open_bytes(good.clone()).unwrap();
                let mut data = vec![false; good.len()];
                for f in img.files() {
                    for (off, len) in img.extents(&f.path).unwrap() {
                        data[off as usize..(off + len) as usize].fill(true);
                    }
                }
                let v: Vec<usize> = good
                    .iter()
                    .enumerate()
                    .filter(|&(i, &b)| b != 0 && !data[i])
                    .map(|(i, _)| i)
                    .collect();
                assert!(v.len() > 1000, "{} structure bytes", v.len());
                v
            })
            .collect(),
    );
    const CASES: usize = 2000;
    let done = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (images, nonzero, done) = (images.clone(), nonzero.clone(), done.clone());
        std::thread::spawn(move || {
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for case in 0..CASES {
                let mut b = images[case % 2].clone();
                let nonzero = &nonzero[case % 2];
                let r = next();
                match r % 10 {
                    // Truncations.
                    0 => b.truncate((next() % b.len() as u64) as usize),
                    // Any byte, anywhere.
                    1 => {
                        let i = (next() % b.len() as u64) as usize;
                        b[i] ^= (next() % 255 + 1) as u8;
                    }
                    // A structure byte set to an extreme.
                    2 | 3 => {
                        let i = nonzero[(next() % nonzero.len() as u64) as usize];
                        b[i] = if r & 16 == 0 { 0xFF } else { 0x00 };
                    }
                    // A structure byte changed.
                    _ => {
                        let i = nonzero[(next() % nonzero.len() as u64) as usize];
                        b[i] ^= (next() % 255 + 1) as u8;
                    }
                }
                let caught = std::panic::catch_unwind(|| exercise(b, 64 << 20));
                if caught.is_err() {
                    panic!("case {case} panicked");
                }
                done.store(case + 1, Ordering::SeqCst);
            }
        })
    };
    let mut last = (0usize, Instant::now());
    while !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let n = done.load(Ordering::SeqCst);
        if n != last.0 {
            last = (n, Instant::now());
        }
        assert!(
            last.1.elapsed() < Duration::from_secs(20),
            "case {n} has run for 20 s: a hang"
        );
    }
    worker.join().expect("no case panicked");
    assert_eq!(done.load(Ordering::SeqCst), CASES);
}

// ---- volume sets ------------------------------------------------------------

/// Makes an image a volume of a set: volume set size and sequence number in
/// its primary and supplementary descriptors, and the volume sequence number
/// of every directory record (found through the path tables).
fn make_volume(iso: &Path, set_size: u16, seq: u16) {
    let mut b = std::fs::read(iso).unwrap();
    let both16 = |b: &mut [u8], off: usize, v: u16| {
        b[off..off + 2].copy_from_slice(&v.to_le_bytes());
        b[off + 2..off + 4].copy_from_slice(&v.to_be_bytes());
    };
    let mut s = 16;
    while &b[s * 2048 + 1..s * 2048 + 6] == b"CD001" && b[s * 2048] != 255 {
        let vd = s * 2048;
        if b[vd] == 1 || b[vd] == 2 {
            both16(&mut b, vd + 120, set_size);
            both16(&mut b, vd + 124, seq);
            // The root record, then every directory of the L path table.
            both16(&mut b, vd + 156 + 28, seq);
            let size = le32(&b, vd + 132) as usize;
            let table = le32(&b, vd + 140) as usize * 2048;
            let mut off = 0;
            while off < size {
                let len_di = b[table + off] as usize;
                let dir = le32(&b, table + off + 2) as usize * 2048;
                let dir_size = le32(&b, dir + 10) as usize; // its "." record
                let mut r = 0;
                while r < dir_size {
                    let len = b[dir + r] as usize;
                    if len == 0 {
                        r = (r / 2048 + 1) * 2048;
                        continue;
                    }
                    both16(&mut b, dir + r + 28, seq);
                    r += len;
                }
                off += 8 + len_di + len_di % 2;
            }
        }
        s += 1;
    }
    std::fs::write(iso, b).unwrap();
}

#[test]
fn volume_sets_combine_images() {
    if !have_tool("xorriso", "xorriso") {
        return;
    }
    let s = scratch("isoread-volset");
    let mut isos: Vec<PathBuf> = Vec::new();
    for v in 1..=2u16 {
        let tree = s.path().join(format!("tree{v}"));
        put(
            &tree,
            &format!("part{v}/data.bin"),
            &noise(10 + u64::from(v), 5000),
        );
        put(
            &tree,
            "shared/readme.txt",
            format!("volume {v}\n").as_bytes(),
        );
        put(&tree, "shared/same.txt", b"on every volume\n");
        let iso = s.path().join(format!("v{v}.iso"));
        run(Command::new("xorriso")
            .args([
                "-as",
                "mkisofs",
                "-iso-level",
                "3",
                "-J",
                "-volset",
                "TSMSET",
            ])
            .args(["-V", &format!("VOL{v}"), "-o"])
            .arg(&iso)
            .arg(&tree));
        isos.push(iso);
    }
    // Each image is "volume 1 of 1": a set of independent volumes (as
    // tsmedia writes them), taken in the order given. A file on several
    // volumes must be the same everywhere.
    let set = IsoVolumeSet::open(&isos).unwrap();
    let p = set.check();
    assert!(
        !has(&p, "volume set", "volume sequence numbers"),
        "{}",
        show(&p)
    );
    assert!(
        has(&p, "file shared/readme.txt", "one file of that name"),
        "{}",
        show(&p)
    );
    assert!(
        !p.iter().any(|q| q.what.contains("same.txt")),
        "{}",
        show(&p)
    );
    assert_eq!(set.volume_of("part2/data.bin"), Some(2));

    for (i, iso) in isos.iter().enumerate() {
        make_volume(iso, 2, i as u16 + 1);
    }
    let reversed: Vec<PathBuf> = isos.iter().rev().cloned().collect();
    let set = IsoVolumeSet::open(&reversed).unwrap();
    assert_eq!(set.volumes()[0].volume_sequence(), 1);
    assert!(set.describe().contains("2 volumes"), "{}", set.describe());
    assert_eq!(set.label().as_deref(), Some("VOL1"));
    let files: Vec<(String, u16)> = set
        .files_with_volume()
        .into_iter()
        .map(|(f, v)| (f.path, v))
        .collect();
    assert_eq!(
        files,
        vec![
            ("part1/data.bin".to_string(), 1),
            ("part2/data.bin".to_string(), 2),
            ("shared/readme.txt".to_string(), 2),
            ("shared/same.txt".to_string(), 2),
        ]
    );
    for v in 1..=2u64 {
        let r = set.open(&format!("part{v}/data.bin")).unwrap();
        assert_eq!(
            sha256_reader(r).unwrap(),
            hex::encode(Sha256::digest(noise(10 + v, 5000)))
        );
    }
    let mut text = String::new();
    set.open("shared/readme.txt")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "volume 2\n");
    let p = set.check();
    assert!(
        has(&p, "file shared/readme.txt", "one file of that name"),
        "{}",
        show(&p)
    );
    // In a numbered set each copy is a separate file, even when equal.
    assert!(
        has(&p, "file shared/same.txt", "one file of that name"),
        "{}",
        show(&p)
    );
    assert_eq!(p.len(), 2, "{}", show(&p));
    assert_eq!(set.volume_of("PART1/DATA.BIN"), Some(1));
}
