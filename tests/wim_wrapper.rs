//! Integration tests of `tsmedia::wim`, against WIMs made by Debian's
//! `wimlib-imagex` (package `wimtools`), which also checks our output.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{noise, put};
use sha2::{Digest, Sha256};
use tsmedia::wim::{self, Wim, WimError};

/// `true` when `wimlib-imagex` runs. Without it: panic under CI=true, else
/// print a skip note and return `false`.
fn have_imagex() -> bool {
    let ok = Command::new("wimlib-imagex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("wimlib-imagex not found: install the Debian package `wimtools` (apt-get install wimtools)");
        }
        eprintln!("SKIP: wimlib-imagex not found (Debian package `wimtools`); WIM tests skipped");
    }
    ok
}

macro_rules! require_imagex {
    () => {
        if !have_imagex() {
            return;
        }
    };
}

fn imagex(args: &[&str]) -> std::process::Output {
    let out = Command::new("wimlib-imagex")
        .args(args)
        .output()
        .expect("run wimlib-imagex");
    out
}

fn imagex_ok(args: &[&str]) -> String {
    let out = imagex(args);
    assert!(
        out.status.success(),
        "wimlib-imagex {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Files of the first image: path -> content.
fn tree1() -> BTreeMap<&'static str, Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert("Windows/Boot/PCAT/bootmgr", noise(1, 5000));
    m.insert("Windows/Boot/DVD/PCAT/BCD", b"bcd in dvd pcat".to_vec());
    m.insert("Boot/BCD", b"bcd in boot".to_vec());
    m.insert("EFI/Microsoft/Boot/BCD", b"bcd in efi".to_vec());
    m.insert("sources/SETUP.exe", b"MZ fake setup".repeat(100));
    m.insert("sources/Empty.TXT", Vec::new());
    m.insert("Windows/System32/config/SYSTEM", b"hive ".repeat(4000));
    m.insert("copy/bootmgr", noise(1, 5000));
    m
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    wim: PathBuf,
}

/// A two-image WIM: image 1 "Base" (bootable, with description) from
/// tree1() plus an empty folder and a symlink; image 2 "Second".
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let src1 = dir.join("src1");
    for (rel, data) in tree1() {
        put(&src1, rel, &data);
    }
    fs::create_dir_all(src1.join("Users/Public")).unwrap();
    std::os::unix::fs::symlink("Windows/Boot", src1.join("BootLink")).unwrap();
    let src2 = dir.join("src2");
    put(&src2, "Only/In/Second.txt", b"second image");
    put(&src2, "big.bin", &noise(2, 40_000));

    let wim = dir.join("test.wim");
    let w = wim.to_str().unwrap();
    imagex_ok(&[
        "capture",
        src1.to_str().unwrap(),
        w,
        "Base",
        "Base description",
        "--boot",
    ]);
    imagex_ok(&["append", src2.to_str().unwrap(), w, "Second"]);
    Fixture {
        _tmp: tmp,
        dir,
        wim,
    }
}

/// The value of a `Key:   value` line of `wimlib-imagex info` output.
fn info_field(info: &str, key: &str) -> Option<String> {
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
}

fn sha256(p: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(p).unwrap()))
}

#[test]
fn images_names_and_errors() {
    require_imagex!();
    let f = fixture();
    wim::init();
    wim::init(); // idempotent
    let w = Wim::open(&f.wim).unwrap();
    assert_eq!(w.path(), f.wim);
    assert_eq!(w.image_count(), 2);
    assert_eq!(w.info().boot_index, 1);
    assert_eq!(w.info().compression, wim::Compression::Lzx);
    assert_eq!(w.image_name(1).as_deref(), Some("Base"));
    assert_eq!(w.image_name(2).as_deref(), Some("Second"));
    assert_eq!(w.image_description(1).as_deref(), Some("Base description"));
    assert_eq!(w.image_description(2), None);
    assert_eq!(w.image_name(3), None);
    assert_eq!(w.image_name(0), None);
    w.check_image(1).unwrap();
    w.check_image(2).unwrap();
    for bad in [0, 3] {
        match w.check_image(bad) {
            Err(WimError::NoSuchImage { index, count, .. }) => {
                assert_eq!((index, count), (bad, 2))
            }
            other => panic!("expected NoSuchImage, got {other:?}"),
        }
    }
    assert!(matches!(w.list(3), Err(WimError::NoSuchImage { .. })));
    assert!(matches!(
        w.stat(0, "Boot"),
        Err(WimError::NoSuchImage { .. })
    ));
    w.verify().unwrap();
    drop(Wim::open_checked(&f.wim).unwrap());
}

#[test]
fn not_a_wim() {
    require_imagex!();
    let f = fixture();
    let text = f.dir.join("readme.txt");
    fs::write(
        &text,
        "this is just text, long enough to be read as a header?".repeat(10),
    )
    .unwrap();
    let err = Wim::open(&text).unwrap_err();
    assert!(matches!(err, WimError::NotAWim { .. }), "{err:?}");
    assert!(
        err.to_string().contains("is not a WIM file or is damaged"),
        "{err}"
    );

    let trunc = f.dir.join("truncated.wim");
    fs::write(&trunc, &fs::read(&f.wim).unwrap()[..100]).unwrap();
    let err = Wim::open(&trunc).unwrap_err();
    assert!(matches!(err, WimError::NotAWim { .. }), "{err:?}");
    assert!(err
        .to_string()
        .contains("truncated.wim is not a WIM file or is damaged"));

    let empty = f.dir.join("empty.wim");
    fs::write(&empty, b"").unwrap();
    assert!(matches!(Wim::open(&empty), Err(WimError::NotAWim { .. })));

    let missing = f.dir.join("missing.wim");
    let err = Wim::open(&missing).unwrap_err();
    match &err {
        WimError::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(Wim::open(&f.dir).is_err());
    // Interior NUL: an error, not a panic.
    assert!(Wim::open(Path::new("a\0b.wim")).is_err());
}

#[test]
fn list_and_stat() {
    require_imagex!();
    let f = fixture();
    let w = Wim::open(&f.wim).unwrap();
    let list = w.list(1).unwrap();
    let by_path: BTreeMap<&str, &wim::WimEntry> =
        list.iter().map(|e| (e.path.as_str(), e)).collect();
    assert_eq!(by_path.len(), list.len(), "duplicate paths");
    assert!(!by_path.contains_key(""), "root must be omitted");
    assert!(list
        .iter()
        .all(|e| !e.path.starts_with('/') && !e.path.contains('\\')));

    for (rel, data) in tree1() {
        let e = by_path.get(rel).unwrap_or_else(|| panic!("{rel} missing"));
        assert!(!e.is_dir && !e.is_symlink, "{rel}");
        assert_eq!(e.size, data.len() as u64, "{rel}");
        assert_eq!(e.sha1.is_some(), !data.is_empty(), "{rel}");
    }
    for d in [
        "Windows",
        "Windows/Boot",
        "Windows/Boot/PCAT",
        "Users",
        "Users/Public",
        "sources",
    ] {
        let e = by_path[d];
        assert!(
            e.is_dir && !e.is_symlink && e.size == 0 && e.sha1.is_none(),
            "{d}"
        );
    }
    let link = by_path["BootLink"];
    assert!(link.is_symlink && !link.is_dir && link.sha1.is_none());
    // Identical content, identical hash; different content, different hash.
    assert_eq!(
        by_path["copy/bootmgr"].sha1,
        by_path["Windows/Boot/PCAT/bootmgr"].sha1
    );
    assert_ne!(
        by_path["Boot/BCD"].sha1,
        by_path["EFI/Microsoft/Boot/BCD"].sha1
    );
    // Exactly the captured tree: files + dirs + symlink.
    let dirs = list.iter().filter(|e| e.is_dir).count();
    let files = list.iter().filter(|e| !e.is_dir && !e.is_symlink).count();
    assert_eq!(files, tree1().len());
    assert_eq!(
        dirs,
        15,
        "{:?}",
        list.iter()
            .filter(|e| e.is_dir)
            .map(|e| &e.path)
            .collect::<Vec<_>>()
    );

    // Second image is different.
    let list2 = w.list(2).unwrap();
    let paths2: Vec<&str> = list2.iter().map(|e| e.path.as_str()).collect();
    assert!(paths2.contains(&"Only/In/Second.txt"));
    assert!(!paths2.contains(&"Boot/BCD"));

    // stat: case-insensitive, either separator, returns the stored spelling.
    let e = w.stat(1, "windows/boot/pcat/BOOTMGR").unwrap().unwrap();
    assert_eq!(e.path, "Windows/Boot/PCAT/bootmgr");
    assert_eq!(e.size, 5000);
    assert_eq!(e.name(), "bootmgr");
    let e = w
        .stat(1, "\\WINDOWS\\boot\\PCAT\\bootmgr")
        .unwrap()
        .unwrap();
    assert_eq!(e.path, "Windows/Boot/PCAT/bootmgr");
    let e = w.stat(1, "/SOURCES/setup.EXE").unwrap().unwrap();
    assert_eq!(e.path, "sources/SETUP.exe");
    let d = w.stat(1, "windows/BOOT/").unwrap().unwrap();
    assert_eq!(d.path, "Windows/Boot");
    assert!(d.is_dir);
    let root = w.stat(1, "").unwrap().unwrap();
    assert!(root.is_dir && root.path.is_empty());
    assert_eq!(w.stat(1, "Windows/Boot/nope").unwrap(), None);
    assert_eq!(w.stat(1, "Only/In/Second.txt").unwrap(), None);
    assert!(w.stat(2, "only/in/second.TXT").unwrap().is_some());
    assert!(matches!(
        w.stat(1, "a\0b"),
        Err(WimError::InteriorNul { .. })
    ));
}

#[test]
fn extract_files_flat_with_collisions() {
    require_imagex!();
    let f = fixture();
    let w = Wim::open(&f.wim).unwrap();
    let dest = f.dir.join("out/nested");
    let req = [
        "windows/boot/pcat/BOOTMGR",
        "Boot/BCD",
        "Windows\\Boot\\DVD\\PCAT\\BCD",
        "efi/microsoft/boot/bcd",
        "sources/Empty.TXT",
        "copy/bootmgr",
    ];
    let got = w.extract_files(1, &req, &dest).unwrap();
    assert_eq!(got.len(), req.len());
    assert_eq!(got[0], dest.join("bootmgr"));
    assert_eq!(got[1], dest.join("BCD"));
    assert_eq!(got[2], dest.join("_2/BCD"));
    assert_eq!(got[3], dest.join("_3/BCD"));
    assert_eq!(got[4], dest.join("Empty.TXT"));
    assert_eq!(got[5], dest.join("_2/bootmgr"));
    let t = tree1();
    let expect = [
        "Windows/Boot/PCAT/bootmgr",
        "Boot/BCD",
        "Windows/Boot/DVD/PCAT/BCD",
        "EFI/Microsoft/Boot/BCD",
        "sources/Empty.TXT",
        "copy/bootmgr",
    ];
    for (p, src) in got.iter().zip(expect) {
        assert_eq!(fs::read(p).unwrap(), t[src], "{}", p.display());
    }
    // Nothing else was extracted (flat: no folder structure).
    let mut top: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["BCD", "Empty.TXT", "_2", "_3", "bootmgr"]);

    // Extracting again replaces the files.
    let again = w.extract_files(1, &["Boot/BCD"], &dest).unwrap();
    assert_eq!(fs::read(&again[0]).unwrap(), t["Boot/BCD"]);

    // A requested file named like a collision folder pushes that folder aside.
    let dest2 = f.dir.join("out2");
    let src2 = f.dir.join("src3");
    put(&src2, "a/_2", b"file named _2");
    put(&src2, "b/_2", b"another _2");
    let w2path = f.dir.join("three.wim");
    imagex_ok(&[
        "capture",
        src2.to_str().unwrap(),
        w2path.to_str().unwrap(),
        "x",
    ]);
    let w2 = Wim::open(&w2path).unwrap();
    let got = w2.extract_files(1, &["a/_2", "b/_2"], &dest2).unwrap();
    assert_eq!(got, [dest2.join("_2"), dest2.join("__2/_2")]);
    assert_eq!(fs::read(&got[1]).unwrap(), b"another _2");

    // Errors.
    match w.extract_files(1, &["Boot/BCD", "Boot/missing"], &dest) {
        Err(WimError::NoSuchPath { image, inner, .. }) => {
            assert_eq!((image, inner.as_str()), (1, "Boot/missing"))
        }
        other => panic!("expected NoSuchPath, got {other:?}"),
    }
    assert!(matches!(
        w.extract_files(1, &["Windows/Boot"], &dest),
        Err(WimError::NotAFile { .. })
    ));
    assert!(matches!(
        w.extract_files(1, &["BootLink"], &dest),
        Err(WimError::NotAFile { .. })
    ));
    assert!(matches!(
        w.extract_files(3, &["Boot/BCD"], &dest),
        Err(WimError::NoSuchImage { .. })
    ));
    assert_eq!(
        w.extract_files(1, &[], &dest).unwrap(),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn export_is_deterministic_and_valid() {
    require_imagex!();
    let f = fixture();
    let guid = *b"tsmedia-guid-016";
    let a = f.dir.join("a.wim");
    let b = f.dir.join("b.wim");
    let c = f.dir.join("c.wim");
    {
        let w = Wim::open(&f.wim).unwrap();
        w.export_image(2, &a, guid).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        w.export_image(2, &b, guid).unwrap();
    }
    // A fresh handle, and in another thread (Wim is Send).
    let (src, c2) = (f.wim.clone(), c.clone());
    std::thread::spawn(move || {
        let w = Wim::open(&src).unwrap();
        w.export_image(2, &c2, guid).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(sha256(&a), sha256(&b));
    assert_eq!(sha256(&a), sha256(&c));

    // Another GUID changes only the header's GUID field (bytes 24..40).
    let d = f.dir.join("d.wim");
    Wim::open(&f.wim)
        .unwrap()
        .export_image(2, &d, *b"another-guid-016")
        .unwrap();
    let (ba, bd) = (fs::read(&a).unwrap(), fs::read(&d).unwrap());
    assert_eq!(ba.len(), bd.len());
    let diff: Vec<usize> = (0..ba.len()).filter(|&i| ba[i] != bd[i]).collect();
    assert!(
        !diff.is_empty() && diff.iter().all(|i| (24..40).contains(i)),
        "{diff:?}"
    );

    let e = Wim::open(&a).unwrap();
    assert_eq!(e.image_count(), 1);
    assert_eq!(e.info().guid, guid);
    assert_eq!(
        e.info().boot_index,
        1,
        "the exported image is marked bootable"
    );
    assert_eq!(e.info().compression, wim::Compression::Lzx);
    assert_eq!(e.image_name(1).as_deref(), Some("Second"));
    let src = Wim::open(&f.wim).unwrap();
    assert_eq!(e.list(1).unwrap(), src.list(2).unwrap());
    // The image's XML times are the source's, not the export's.
    assert!(src
        .image_property(2, "LASTMODIFICATIONTIME/LOWPART")
        .is_some());
    for prop in [
        "CREATIONTIME/HIGHPART",
        "CREATIONTIME/LOWPART",
        "LASTMODIFICATIONTIME/HIGHPART",
        "LASTMODIFICATIONTIME/LOWPART",
    ] {
        assert_eq!(
            e.image_property(1, prop),
            src.image_property(2, prop),
            "{prop}"
        );
    }
    e.verify().unwrap();

    let info = imagex_ok(&["info", a.to_str().unwrap()]);
    assert_eq!(
        info_field(&info, "Image Count").as_deref(),
        Some("1"),
        "{info}"
    );
    assert!(info.contains("Second"), "{info}");
    imagex_ok(&["verify", a.to_str().unwrap()]);

    // Exporting the boot image keeps it bootable (index 1), with its
    // description; the exported file is usable by wimlib-imagex.
    let boot = f.dir.join("boot.wim");
    src.export_image(1, &boot, guid).unwrap();
    let bw = Wim::open(&boot).unwrap();
    assert_eq!(bw.info().boot_index, 1);
    assert_eq!(bw.image_description(1).as_deref(), Some("Base description"));
    imagex_ok(&["verify", boot.to_str().unwrap()]);
    let applied = f.dir.join("applied");
    imagex_ok(&[
        "apply",
        boot.to_str().unwrap(),
        "1",
        applied.to_str().unwrap(),
    ]);
    for (rel, data) in tree1() {
        assert_eq!(fs::read(applied.join(rel)).unwrap(), data, "{rel}");
    }

    assert!(matches!(
        src.export_image(3, &f.dir.join("x.wim"), guid),
        Err(WimError::NoSuchImage { .. })
    ));
    assert!(src
        .export_image(1, &f.dir.join("no/such/dir/x.wim"), guid)
        .is_err());
}

#[test]
fn export_uncompressed_and_xpress_sources() {
    require_imagex!();
    let f = fixture();
    for (flag, comp) in [
        ("--compress=none", wim::Compression::None),
        ("--compress=fast", wim::Compression::Xpress),
    ] {
        let src = f.dir.join(format!("src{flag}.wim"));
        imagex_ok(&[
            "export",
            f.wim.to_str().unwrap(),
            "1",
            src.to_str().unwrap(),
            flag,
        ]);
        let w = Wim::open(&src).unwrap();
        assert_eq!(w.info().compression, comp);
        let out1 = f.dir.join(format!("out1{flag}.wim"));
        let out2 = f.dir.join(format!("out2{flag}.wim"));
        w.export_image(1, &out1, [7; 16]).unwrap();
        w.export_image(1, &out2, [7; 16]).unwrap();
        assert_eq!(sha256(&out1), sha256(&out2));
        let o = Wim::open(&out1).unwrap();
        assert_eq!(o.info().compression, comp);
        assert_eq!(o.list(1).unwrap(), w.list(1).unwrap());
        imagex_ok(&["verify", out1.to_str().unwrap()]);
    }
}

#[test]
fn verify_detects_damage() {
    require_imagex!();
    let f = fixture();
    let src = f.dir.join("src4");
    put(&src, "data.bin", &noise(9, 100_000));
    let good = f.dir.join("good.wim");
    imagex_ok(&[
        "capture",
        src.to_str().unwrap(),
        good.to_str().unwrap(),
        "d",
        "--compress=none",
    ]);
    Wim::open(&good).unwrap().verify().unwrap();
    let mut bytes = fs::read(&good).unwrap();
    // The file's data starts right after the 208-byte header.
    bytes[208 + 50_000] ^= 0xff;
    let bad = f.dir.join("bad.wim");
    fs::write(&bad, bytes).unwrap();
    let err = Wim::open(&bad).unwrap().verify().unwrap_err();
    assert!(matches!(err, WimError::Lib { op: "verify", .. }), "{err:?}");
}

#[test]
fn split_into_parts() {
    require_imagex!();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = dir.join("src");
    for i in 0..8 {
        put(
            &src,
            &format!("Dir{i}/file{i}.bin"),
            &noise(100 + i, 30_000),
        );
    }
    let wim_path = dir.join("install.wim");
    imagex_ok(&[
        "capture",
        src.to_str().unwrap(),
        wim_path.to_str().unwrap(),
        "Install",
    ]);

    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    let first = out.join("install.swm");
    let part_size = 100_000;
    let parts = wim::split(&wim_path, &first, part_size).unwrap();
    assert!(parts.len() >= 2, "{parts:?}");
    assert_eq!(parts[0], first);
    for (i, p) in parts.iter().enumerate().skip(1) {
        assert_eq!(*p, out.join(format!("install{}.swm", i + 1)));
    }
    for p in &parts {
        let len = fs::metadata(p).unwrap().len();
        assert!(len <= part_size, "{} is {len} bytes", p.display());
    }
    let mut on_disk: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    on_disk.sort();
    let mut listed = parts.clone();
    listed.sort();
    assert_eq!(on_disk, listed);

    let refs = format!("{}/install*.swm", out.display());
    imagex_ok(&["verify", "--ref", &refs, first.to_str().unwrap()]);
    let info = imagex_ok(&["info", first.to_str().unwrap()]);
    let want = format!("1/{}", parts.len());
    assert_eq!(info_field(&info, "Part Number"), Some(want), "{info}");

    // A resource bigger than the part size: a clear error, nothing written.
    let out2 = dir.join("out2");
    fs::create_dir(&out2).unwrap();
    let err = wim::split(&wim_path, &out2.join("install.swm"), 20_000).unwrap_err();
    match &err {
        WimError::ResourceTooLarge {
            part_size, largest, ..
        } => {
            assert_eq!(*part_size, 20_000);
            assert!(*largest >= 30_000, "{largest}");
        }
        other => panic!("expected ResourceTooLarge, got {other:?}"),
    }
    assert!(
        err.to_string().contains("choose a larger part size"),
        "{err}"
    );
    assert_eq!(fs::read_dir(&out2).unwrap().count(), 0);

    assert!(wim::split(&wim_path, &out2.join("x.swm"), 0).is_err());
    assert!(matches!(
        wim::split(&dir.join("nope.wim"), &out2.join("x.swm"), 1 << 20),
        Err(WimError::Io { .. })
    ));
}
