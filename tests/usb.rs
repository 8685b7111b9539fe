//! USB output: disk images and drives (loop devices), checked with tools
//! tsmedia does not contain: fsck.fat, mtools, 7z, sfdisk, sgdisk, wimlib,
//! the fatfs crate, and a UEFI boot under QEMU.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const MIB: u64 = 1 << 20;

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn run_tool_ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed ({:?}):\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A copy of an example profile with absolute paths, after `edit`.
fn profile(dir: &Path, example: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let text = std::fs::read_to_string(root().join("examples").join(example)).unwrap();
    let fx = root().join("fixtures/build");
    let text = text.replace("../fixtures/build", fx.to_str().unwrap());
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    let p = dir.join(format!("p-{example}"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

fn create(profile: &Path, out: &Path, args: &[&str]) -> Output {
    run(tsmedia()
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .args(["-q", "create", "--profile"])
        .arg(profile)
        .arg("--output")
        .arg(out)
        .args(args)
        .stdin(Stdio::null()))
}

fn create_ok(profile: &Path, out: &Path, args: &[&str]) {
    let o = create(profile, out, args);
    assert!(
        o.status.success(),
        "create failed ({:?}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The same profile written as a folder: what every reader must find.
fn reference_folder(profile: &Path, dir: &Path) -> PathBuf {
    let out = dir.join("reference");
    if !out.exists() {
        create_ok(profile, &out, &["--format", "folder"]);
    }
    out
}

/// Asserts two trees hold the same names and bytes.
fn assert_same_tree(want: &Path, got: &Path, what: &str) {
    let a = files_under(want);
    let b = files_under(got);
    let names = |v: &[(String, PathBuf)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "{what}: same file names");
    for ((rel, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(sha256_file(x), sha256_file(y), "{what}: content of {rel}");
    }
}

/// The partition of an image, copied out (offset and length in bytes).
fn extract(img: &Path, offset: u64, len: u64, to: &Path) {
    let mut f = std::fs::File::open(img).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut out = std::fs::File::create(to).unwrap();
    std::io::copy(&mut f.take(len), &mut out).unwrap();
}

/// (start sector, sectors, type, bootable) of the first MBR entry, via sfdisk.
fn sfdisk_first(img: &Path) -> (u64, u64, String, bool, String) {
    let dump = run_tool_ok(Command::new("sfdisk").arg("-d").arg(img));
    let line = dump
        .lines()
        .find(|l| l.contains("start="))
        .unwrap_or_else(|| panic!("no partition in sfdisk -d:\n{dump}"));
    let attrs = line.split_once(" : ").map(|x| x.1).unwrap_or(line);
    let field = |k: &str| -> String {
        attrs
            .split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    (
        field("start").parse().unwrap(),
        field("size").parse().unwrap(),
        field("type"),
        line.contains("bootable"),
        dump,
    )
}

fn fsck_clean(part: &Path) {
    let o = run(Command::new("fsck.fat").arg("-n").arg("-v").arg(part));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "fsck.fat -n found problems:\n{text}");
    for bad in [
        "Free cluster summary",
        "differ",
        "Wrong",
        "invalid",
        "Dirty bit",
    ] {
        assert!(!text.contains(bad), "fsck.fat reported `{bad}`:\n{text}");
    }
}

/// Reads the whole volume with the fatfs crate into `dest`.
fn fatfs_extract(part: &Path, dest: &Path) -> (String, u32) {
    fn walk<T: fatfs::ReadWriteSeek>(d: fatfs::Dir<'_, T>, dest: &Path) {
        std::fs::create_dir_all(dest).unwrap();
        for e in d.iter() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == "." || name == ".." {
                continue;
            }
            if e.is_dir() {
                walk(e.to_dir(), &dest.join(&name));
            } else {
                let mut buf = Vec::new();
                e.to_file().read_to_end(&mut buf).unwrap();
                assert_eq!(buf.len() as u64, e.len());
                std::fs::write(dest.join(&name), buf).unwrap();
            }
        }
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(part)
        .unwrap();
    let fs = fatfs::FileSystem::new(f, fatfs::FsOptions::new()).expect("fatfs opens the volume");
    assert_eq!(fs.fat_type(), fatfs::FatType::Fat32);
    walk(fs.root_dir(), dest);
    (fs.volume_label(), fs.volume_id())
}

fn tools(list: &[(&str, &str)]) -> bool {
    list.iter().all(|(t, p)| have_tool(t, p))
}

#[test]
fn mbr_image_is_clean_fat32_that_every_reader_extracts_identically() {
    fixtures();
    if !tools(&[
        ("fsck.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("7z", "p7zip-full"),
        ("sfdisk", "fdisk"),
    ]) {
        return;
    }
    let tmp = scratch("usb-mbr");
    let p = profile(tmp.path(), "standalone.json", |_| {});
    let img = tmp.path().join("s.img");
    let o = run(tsmedia()
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .args(["create", "--json", "--format", "usb-image", "--profile"])
        .arg(&p)
        .arg("--output")
        .arg(&img));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "usb-image");
    let size = std::fs::metadata(&img).unwrap().len();
    assert_eq!(report["output_bytes"].as_u64().unwrap(), size);
    assert_eq!(size % MIB, 0);
    assert!(size >= 64 * MIB);
    let reference = reference_folder(&p, tmp.path());

    // The table: one active FAT32 LBA partition at 1 MiB, to the disk's end.
    let (start, sectors, kind, boot, dump) = sfdisk_first(&img);
    assert_eq!(start, 2048, "{dump}");
    assert_eq!(kind, "c", "{dump}");
    assert!(boot, "active: {dump}");
    assert_eq!((start + sectors) * 512, size, "{dump}");
    assert!(dump.contains("label: dos"), "{dump}");

    let part = tmp.path().join("part.img");
    extract(&img, start * 512, sectors * 512, &part);
    fsck_clean(&part);

    // Boot sector details fsck does not insist on.
    let raw = std::fs::read(&part).unwrap();
    assert_eq!(&raw[0..512], &raw[6 * 512..7 * 512], "backup boot sector");
    assert_eq!(
        u16::from_le_bytes([raw[14], raw[15]]),
        32,
        "reserved sectors"
    );
    assert_eq!(&raw[71..82], b"TSM_STANDAL", "label in the boot sector");
    assert_eq!(&raw[82..90], b"FAT32   ");
    let fsinfo = &raw[512..1024];
    assert_eq!(&fsinfo[0..4], b"RRaA");
    assert_eq!(&fsinfo[484..488], b"rrAa");

    // mtools, from the image at its partition offset.
    let m = tmp.path().join("mcopy");
    std::fs::create_dir(&m).unwrap();
    run_tool_ok(
        Command::new("mcopy")
            .args(["-s", "-n", "-i"])
            .arg(format!("{}@@1M", img.display()))
            .arg("::/")
            .arg(&m),
    );
    assert_same_tree(&reference, &m, "mcopy");
    let listing = run_tool_ok(
        Command::new("mdir")
            .args(["-/", "-a", "-i"])
            .arg(format!("{}@@1M", img.display()))
            .arg("::/"),
    );
    assert!(
        listing.contains("Volume in drive : is TSM_STANDAL"),
        "{listing}"
    );
    assert!(
        listing.contains("Überprüfung – Ünïcode.txt"),
        "long Unicode name: {listing}"
    );

    // 7-Zip reads the partition table and the file system itself.
    let z = tmp.path().join("7z");
    run_tool_ok(
        Command::new("7z")
            .arg("x")
            .arg(format!("-o{}", z.display()))
            .arg(&img),
    );
    assert_same_tree(&reference, &z, "7z");

    // The fatfs crate, an independent reader.
    let ff = tmp.path().join("fatfs");
    let (label, serial) = fatfs_extract(&part, &ff);
    assert_eq!(label.trim_end(), "TSM_STANDAL");
    assert_ne!(serial, 0);
    let lower = |d: &Path| -> Vec<(String, String)> {
        files_under(d)
            .into_iter()
            .map(|(r, p)| (r.to_lowercase(), sha256_file(&p)))
            .collect()
    };
    assert_eq!(lower(&reference), lower(&ff), "fatfs reads the same files");
}

#[test]
fn gpt_image_has_a_valid_table_and_the_same_files() {
    fixtures();
    if !tools(&[
        ("sgdisk", "gdisk"),
        ("7z", "p7zip-full"),
        ("fsck.fat", "dosfstools"),
    ]) {
        return;
    }
    let tmp = scratch("usb-gpt");
    let p = profile(tmp.path(), "standalone.json", |_| {});
    let img = tmp.path().join("g.img");
    create_ok(
        &p,
        &img,
        &[
            "--format",
            "usb-image",
            "--partition-table",
            "gpt",
            "--size",
            "100M",
        ],
    );
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 100 * MIB);
    let v = run_tool_ok(Command::new("sgdisk").arg("-v").arg(&img));
    assert!(v.contains("No problems found"), "{v}");
    assert!(!v.contains("Caution"), "{v}");
    let table = run_tool_ok(Command::new("sgdisk").arg("-p").arg(&img));
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("{table}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[1], "2048", "{table}");
    assert_eq!(f[5], "0700", "basic data partition: {table}");
    let info = run_tool_ok(Command::new("sgdisk").args(["-i", "1"]).arg(&img));
    assert!(
        info.contains("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"),
        "{info}"
    );
    // Protective MBR.
    let raw = std::fs::read(&img).unwrap();
    assert_eq!(raw[446 + 4], 0xEE);
    let start: u64 = f[1].parse().unwrap();
    let end: u64 = f[2].parse().unwrap();
    let part = tmp.path().join("part.img");
    extract(&img, start * 512, (end - start + 1) * 512, &part);
    fsck_clean(&part);
    let z = tmp.path().join("7z");
    run_tool_ok(
        Command::new("7z")
            .arg("x")
            .arg(format!("-o{}", z.display()))
            .arg(&part),
    );
    assert_same_tree(
        &reference_folder(&p, tmp.path()),
        &z,
        "7z on the GPT partition",
    );
}

#[test]
fn the_same_profile_twice_gives_the_same_image() {
    fixtures();
    let tmp = scratch("usb-repro");
    let p = profile(tmp.path(), "standalone.json", |_| {});
    for table in ["mbr", "gpt"] {
        let a = tmp.path().join(format!("a-{table}.img"));
        let b = tmp.path().join(format!("b-{table}.img"));
        create_ok(
            &p,
            &a,
            &["--format", "usb-image", "--partition-table", table],
        );
        create_ok(
            &p,
            &b,
            &["--format", "usb-image", "--partition-table", table],
        );
        assert_eq!(
            sha256_file(&a),
            sha256_file(&b),
            "{table}: identical images"
        );
    }
    // Another profile gives other identifiers.
    let q = profile(tmp.path(), "bootable.json", |_| {});
    let c = tmp.path().join("c.img");
    create_ok(&q, &c, &["--format", "usb-image"]);
    let sig = |p: &Path| std::fs::read(p).unwrap()[440..444].to_vec();
    assert_ne!(sig(&c), sig(&tmp.path().join("a-mbr.img")));
}

#[test]
fn size_is_checked_and_large_fat32_volumes_work() {
    fixtures();
    let tmp = scratch("usb-size");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let small = tmp.path().join("small.img");
    let o = create(&p, &small, &["--format", "usb-image", "--size", "20M"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("too small") && err.contains("--size"), "{err}");
    assert!(!small.exists());
    let o = create(&p, &small, &["--format", "usb-image", "--size", "8X"]);
    assert_eq!(o.status.code(), Some(2));

    // 40 GiB: more than Windows formats as FAT32. Sparse, so cheap.
    let big = tmp.path().join("big.img");
    create_ok(&p, &big, &["--format", "usb-image", "--size", "40G"]);
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 40 << 30);
    let raw = {
        let mut f = std::fs::File::open(&big).unwrap();
        let mut b = vec![0u8; 2 * MIB as usize];
        f.read_exact(&mut b).unwrap();
        b
    };
    // CHS of the partition's end is capped at 1023/254/63.
    assert_eq!(&raw[446 + 5..446 + 8], &[0xFE, 0xFF, 0xFF]);
    let vbr = &raw[MIB as usize..MIB as usize + 512];
    assert_eq!(vbr[13], 64, "32 KiB clusters above 32 GiB");
    if have_tool("mdir", "mtools") {
        let listing = run_tool_ok(
            Command::new("mdir")
                .args(["-i"])
                .arg(format!("{}@@1M", big.display()))
                .arg("::/"),
        );
        assert!(listing.contains("tsmedia"), "{listing}");
    }
    if let Some(lo) = Loop::attach_at(&big, MIB, false) {
        if have_tool("fsck.fat", "dosfstools") {
            fsck_clean(&lo.dev);
        }
    }
}

#[test]
fn ten_thousand_files_in_one_folder() {
    fixtures();
    if !tools(&[("fsck.fat", "dosfstools"), ("mcopy", "mtools")]) {
        return;
    }
    let tmp = scratch("usb-many");
    let src = tmp.path().join("many");
    std::fs::create_dir(&src).unwrap();
    for i in 0..10_000 {
        std::fs::write(src.join(format!("file-{i:05}.txt")), format!("{i}\n")).unwrap();
    }
    // Names that clash after conversion to 8.3.
    for n in [
        "FILE-0~1.TXT",
        "file.with.dots.txt",
        "Mixed.Txt",
        "lower.txt",
    ] {
        std::fs::write(src.join(n), n).unwrap();
    }
    let p = profile(tmp.path(), "bootable.json", |v| {
        v["extra_files"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"source": src, "target": "/many"}));
    });
    let img = tmp.path().join("m.img");
    let t = std::time::Instant::now();
    create_ok(&p, &img, &["--format", "usb-image"]);
    eprintln!("10,004 files in one folder: {:?}", t.elapsed());
    let part = tmp.path().join("part.img");
    let len = std::fs::metadata(&img).unwrap().len() - MIB;
    extract(&img, MIB, len, &part);
    fsck_clean(&part);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    run_tool_ok(
        Command::new("mcopy")
            .args(["-s", "-n", "-i"])
            .arg(format!("{}@@1M", img.display()))
            .arg("::/many")
            .arg(&out),
    );
    assert_same_tree(&src, &out.join("many"), "10,004 files");
}

#[test]
fn files_fat32_cannot_hold_are_plan_time_errors() {
    fixtures();
    let tmp = scratch("usb-limits");
    let big = tmp.path().join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(4 << 30).unwrap(); // 4 GiB: one byte too many
    drop(f);
    let p = profile(tmp.path(), "bootable.json", |v| {
        v["extra_files"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"source": big, "target": "/data"}));
    });
    let o = run(tsmedia()
        .args(["plan", "--format", "usb-image", "--profile"])
        .arg(&p));
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/data/big.bin") && err.contains("4 GiB - 1 byte"),
        "{err}"
    );
    // Fine for a folder.
    let o = run(tsmedia()
        .args(["plan", "--format", "folder", "--profile"])
        .arg(&p));
    assert!(o.status.success());
    // And a creation fails before writing anything.
    let img = tmp.path().join("x.img");
    let o = create(&p, &img, &["--format", "usb-image"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!img.exists());
}

/// A WIM captured from `files` (name, bytes) with no compression.
fn capture_wim(dir: &Path, name: &str, files: &[(&str, u64)]) -> PathBuf {
    let src = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(&src).unwrap();
    for (i, (n, size)) in files.iter().enumerate() {
        write_random(&src.join(n), *size, i as u64 + 1);
    }
    let wim = dir.join(format!("{name}.wim"));
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("capture")
            .arg(&src)
            .arg(&wim)
            .args(["Windows 11 Enterprise", "--compress=none", "--no-acls"]),
    );
    std::fs::remove_dir_all(&src).unwrap();
    wim
}

/// Incompressible bytes (xorshift), written fast.
fn write_random(p: &Path, size: u64, seed: u64) {
    let mut f = std::io::BufWriter::with_capacity(4 << 20, std::fs::File::create(p).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for c in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

fn plan_for(profile: &Path) -> tsmedia::plan::Plan {
    let loaded = tsmedia::profile::load(profile).unwrap();
    let vp = tsmedia::profile::validate::validate(loaded, None).unwrap();
    tsmedia::plan::build(&vp).unwrap()
}

fn verify_parts(parts: &[PathBuf]) {
    let first = &parts[0];
    let pattern = first.with_file_name(format!(
        "{}*.swm",
        first.file_stem().unwrap().to_string_lossy()
    ));
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("verify")
            .arg(first)
            .arg("--ref")
            .arg(pattern),
    );
}

#[test]
fn wims_over_the_limit_become_swm_parts_on_the_medium() {
    fixtures();
    if !tools(&[("wimlib-imagex", "wimtools"), ("mcopy", "mtools")]) {
        return;
    }
    let tmp = scratch("usb-swm-small");
    // The FAT32 rules with a small file limit, so small WIMs exercise them.
    // (The fixtures hold files up to 3 MiB, so the limit is 3.5 MiB.)
    let limit = 3 * MIB + MIB / 2;
    let part_size = 2_500_000;
    let wim = capture_wim(
        tmp.path(),
        "install",
        &[
            ("a.bin", 1_200_000),
            ("b.bin", 1_200_000),
            ("c.bin", 1_200_000),
            ("d.bin", 1_200_000),
        ],
    );
    let p = profile(tmp.path(), "standalone.json", |v| {
        v["os_image"]["path"] = serde_json::json!(wim);
    });
    let plan = plan_for(&p);
    let plan = tsmedia::plan::limits::fat32_limits(plan, limit, part_size).unwrap();
    let parts: Vec<_> = plan
        .entries
        .iter()
        .filter(|e| e.path.starts_with("SMS/PKG/TSM00001/"))
        .collect();
    let names: Vec<&str> = parts.iter().map(|e| e.path.as_str()).collect();
    assert!(names.len() >= 2, "{names:?}");
    assert_eq!(names[0], "SMS/PKG/TSM00001/install.swm");
    assert_eq!(names[1], "SMS/PKG/TSM00001/install2.swm");
    assert!(parts.iter().all(|e| e.size <= part_size));
    let files: Vec<PathBuf> = parts
        .iter()
        .map(|e| match &e.source {
            tsmedia::plan::Source::File(f) => f.clone(),
            _ => panic!("parts are files"),
        })
        .collect();
    verify_parts(&files);
    // The policy (under the media GUID) names the OS image's package
    // folder, which the parts leave as it was.
    let policy = plan
        .entries
        .iter()
        .find(|e| e.path == "SMS/data/Policy.xml")
        .unwrap();
    let tsmedia::plan::Source::Bytes(b) = &policy.source else {
        panic!()
    };
    let (_, plain) = tsmedia::configmgr::envelope::open(b, &plan.media_guid).unwrap();
    let text = tsmedia::configmgr::envelope::decode_text(&plain).unwrap();
    assert!(text.contains("<value>SMS/PKG/TSM00001</value>"), "{text}");
    assert_eq!(b.len() as u64, policy.size);

    // Written to an image, the parts come back out identical and valid.
    let img = tmp.path().join("s.img");
    let opts = tsmedia::write::WriteOptions {
        force: false,
        quiet: true,
        hash_output: false,
    };
    let usb = tsmedia::write::usb::UsbOptions {
        table: tsmedia::usb::partition::TableKind::Mbr,
        size: None,
        allow_non_removable: false,
        yes: false,
        verify: true,
        verify_image: false,
    };
    tsmedia::write::usb::write_image(&plan, &img, &opts, &usb).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    run_tool_ok(
        Command::new("mcopy")
            .args(["-s", "-n", "-i"])
            .arg(format!("{}@@1M", img.display()))
            .arg("::/SMS/PKG/TSM00001")
            .arg(&out),
    );
    let mut got: Vec<PathBuf> = std::fs::read_dir(out.join("TSM00001"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    got.sort();
    assert_eq!(got.len(), files.len());
    for (a, b) in files.iter().zip(&got) {
        assert_eq!(sha256_file(a), sha256_file(b));
    }
    verify_parts(&got);

    // A WIM whose one file is bigger than a part cannot be split.
    let one = capture_wim(tmp.path(), "one", &[("huge.bin", 4 * MIB)]);
    let p = profile(tmp.path(), "standalone.json", |v| {
        v["os_image"]["path"] = serde_json::json!(one);
    });
    let err =
        tsmedia::plan::limits::fat32_limits(plan_for(&p), limit, part_size).expect_err("refused");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("cannot be split") && msg.contains("os_image.path"),
        "{msg}"
    );
    assert_eq!(tsmedia::error::exit_code(&err), 2);
}

/// The real thing: a 4.8 GiB OS image split into parts under 4 GiB.
#[test]
fn a_wim_over_4_gib_is_split_into_parts_under_4_gib() {
    fixtures();
    if !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("usb-swm-big");
    let gib = 1u64 << 30;
    let size = gib * 8 / 5; // 1.6 GiB each, 4.8 GiB in all
    let wim = capture_wim(
        tmp.path(),
        "install",
        &[("one.bin", size), ("two.bin", size), ("three.bin", size)],
    );
    assert!(std::fs::metadata(&wim).unwrap().len() > 4 * gib + gib / 2);
    let p = profile(tmp.path(), "standalone.json", |v| {
        v["os_image"]["path"] = serde_json::json!(wim);
    });
    let plan = tsmedia::plan::limits::apply(plan_for(&p), tsmedia::profile::OutputFormat::UsbImage)
        .unwrap();
    std::fs::remove_file(&wim).unwrap();
    let parts: Vec<_> = plan
        .entries
        .iter()
        .filter(|e| e.path.starts_with("SMS/PKG/TSM00001/"))
        .collect();
    assert_eq!(
        parts.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        [
            "SMS/PKG/TSM00001/install.swm",
            "SMS/PKG/TSM00001/install2.swm"
        ]
    );
    assert!(parts.iter().all(|e| e.size < 4 * gib));
    let files: Vec<PathBuf> = parts
        .iter()
        .map(|e| match &e.source {
            tsmedia::plan::Source::File(f) => f.clone(),
            _ => panic!("parts are files"),
        })
        .collect();
    verify_parts(&files);
}

/// A loop device, detached when dropped.
struct Loop {
    dev: PathBuf,
    mounted: Option<PathBuf>,
}

impl Loop {
    fn attach(img: &Path, args: &[&str]) -> Option<Loop> {
        let o = Command::new("losetup")
            .args(["--show", "-f"])
            .args(args)
            .arg(img)
            .output()
            .ok()?;
        if !o.status.success() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "losetup failed (CI=true needs loop devices): {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            eprintln!(
                "SKIPPED: no loop device: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        let dev = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        Some(Loop { dev, mounted: None })
    }

    fn attach_at(img: &Path, offset: u64, ro: bool) -> Option<Loop> {
        let off = offset.to_string();
        let mut a = vec!["-o", off.as_str()];
        if ro {
            a.push("-r");
        }
        Self::attach(img, &a)
    }

    fn part1(&self) -> PathBuf {
        PathBuf::from(format!("{}p1", self.dev.display()))
    }

    /// Waits for partition 1 to appear; asks partx when the kernel's own
    /// scan found nothing (kernels without partition-table parsers).
    fn wait_part1(&self) -> bool {
        for i in 0..50 {
            if self.part1().exists() {
                return true;
            }
            if i == 10 {
                let _ = Command::new("partx").arg("-a").arg(&self.dev).output();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            let _ = Command::new("umount").arg(&m).status();
        }
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

fn blank_image(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(bytes).unwrap();
    p
}

fn device_args<'a>(dev: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut v = vec![
        "--format".to_string(),
        "usb-device".into(),
        "--output".into(),
        dev.display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn create_dev(profile: &Path, args: &[String]) -> Output {
    run(tsmedia()
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .args(["-q", "create", "--profile"])
        .arg(profile)
        .args(args)
        .stdin(Stdio::null()))
}

fn expect_refusal(o: &Output, words: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "exit 2 expected:\n{err}");
    for w in words {
        assert!(err.contains(w), "`{w}` expected in:\n{err}");
    }
    assert!(err.contains("fix:"), "a fix is offered:\n{err}");
}

#[test]
fn wrong_devices_are_refused() {
    fixtures();
    if !have_tool("losetup", "mount") {
        return;
    }
    let tmp = scratch("usb-refuse");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let y = ["--yes", "--allow-non-removable"];

    // Not block devices.
    let file = blank_image(tmp.path(), "plain.img", 100 * MIB);
    expect_refusal(
        &create_dev(&p, &device_args(&file, &y)),
        &["not a block device", "regular file", "--format usb-image"],
    );
    expect_refusal(
        &create_dev(&p, &device_args(Path::new("/dev/null"), &y)),
        &["not a block device", "character device"],
    );

    // A disk with a partition: the partition is refused, then the disk is
    // refused when not removable, when mounted, and without --yes.
    let img = tmp.path().join("disk.img");
    create_ok(&p, &img, &["--format", "usb-image", "--size", "100M"]);
    let before = sha256_file(&img);
    let Some(mut lo) = Loop::attach(&img, &["-P"]) else {
        return;
    };
    let part = lo.part1();
    assert!(
        lo.wait_part1(),
        "losetup -P (or partx) made {}",
        part.display()
    );
    expect_refusal(
        &create_dev(&p, &device_args(&part, &y)),
        &["is a partition", &format!("--output {}", lo.dev.display())],
    );
    expect_refusal(
        &create_dev(&p, &device_args(&lo.dev, &["--yes"])),
        &["not a removable drive", "--allow-non-removable"],
    );
    expect_refusal(
        &create_dev(&p, &device_args(&lo.dev, &["--allow-non-removable"])),
        &["without confirmation", "--yes"],
    );
    assert_eq!(sha256_file(&img), before, "refusals write nothing");
    // Mounted: the partition gets a file system every kernel mounts (ext4;
    // some kernels have no vfat), since the refusal is about the mount.
    if have_tool("mkfs.ext4", "e2fsprogs") {
        run_tool_ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&part));
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        run_tool_ok(
            Command::new("mount")
                .args(["-o", "ro"])
                .arg(&part)
                .arg(&mnt),
        );
        lo.mounted = Some(mnt.clone());
        let mounted_before = sha256_file(&img);
        expect_refusal(
            &create_dev(&p, &device_args(&lo.dev, &y)),
            &["mounted at", mnt.to_str().unwrap(), "umount"],
        );
        assert_eq!(sha256_file(&img), mounted_before, "refusal writes nothing");
    }
    drop(lo);

    // Read-only.
    if let Some(ro) = Loop::attach(&img, &["-r"]) {
        expect_refusal(&create_dev(&p, &device_args(&ro.dev, &y)), &["read-only"]);
    }
    // Too small.
    let tiny = blank_image(tmp.path(), "tiny.img", 20 * MIB);
    if let Some(t) = Loop::attach(&tiny, &[]) {
        expect_refusal(
            &create_dev(&p, &device_args(&t.dev, &y)),
            &["too small", "larger drive"],
        );
    }
    // --size makes no sense for a drive.
    if let Some(t) = Loop::attach(&tiny, &[]) {
        expect_refusal(
            &create_dev(
                &p,
                &device_args(&t.dev, &["--yes", "--allow-non-removable", "--size", "1G"]),
            ),
            &["--size"],
        );
    }
}

#[test]
fn a_drive_is_written_verified_and_partitioned() {
    fixtures();
    if !tools(&[
        ("losetup", "mount"),
        ("fsck.fat", "dosfstools"),
        ("7z", "p7zip-full"),
    ]) {
        return;
    }
    let tmp = scratch("usb-device");
    let p = profile(tmp.path(), "standalone.json", |_| {});
    let reference = reference_folder(&p, tmp.path());
    for table in ["mbr", "gpt"] {
        let img = blank_image(tmp.path(), &format!("{table}.img"), 120 * MIB);
        // Old content that must not survive: 0xFF over the first MiB.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&img)
            .unwrap()
            .write_all(&vec![0xFF; MIB as usize])
            .unwrap();
        let Some(lo) = Loop::attach(&img, &["-P"]) else {
            return;
        };
        let o = create_dev(
            &p,
            &device_args(
                &lo.dev,
                &[
                    "--yes",
                    "--allow-non-removable",
                    "--partition-table",
                    table,
                    "--json",
                ],
            ),
        );
        assert!(
            o.status.success(),
            "{table}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["format"], "usb-device");
        assert_eq!(report["output_bytes"].as_u64(), Some(120 * MIB));
        // tsmedia made the kernel take the new partition (BLKRRPART or BLKPG).
        let sys = format!(
            "/sys/class/block/{}p1/start",
            lo.dev.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            std::fs::read_to_string(&sys)
                .map(|s| s.trim().to_string())
                .ok(),
            Some("2048".to_string()),
            "{table}: the kernel knows the new partition ({sys})"
        );
        assert!(
            lo.part1().exists(),
            "{table}: {} exists",
            lo.part1().display()
        );
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("warning"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        fsck_clean(&lo.part1());
        drop(lo);
        let z = tmp.path().join(format!("7z-{table}"));
        // 7-Zip reads MBR and GPT disks alike.
        run_tool_ok(
            Command::new("7z")
                .arg("x")
                .arg(format!("-o{}", z.display()))
                .arg(&img),
        );
        assert_same_tree(&reference, &z, table);
        // Same bytes as the image of the same size.
        let same = tmp.path().join(format!("{table}-same.img"));
        create_ok(
            &p,
            &same,
            &[
                "--format",
                "usb-image",
                "--size",
                "120M",
                "--partition-table",
                table,
            ],
        );
        assert_eq!(
            sha256_file(&same),
            sha256_file(&img),
            "{table}: device == image"
        );
    }
}

#[test]
fn a_failed_write_leaves_no_partition_table() {
    fixtures();
    if !have_tool("losetup", "mount") {
        return;
    }
    let tmp = scratch("usb-fail");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let img = blank_image(tmp.path(), "f.img", 100 * MIB);
    // A valid medium first, so there is a table to lose.
    create_ok(
        &p,
        &img,
        &["--format", "usb-image", "--size", "100M", "--force"],
    );
    let Some(lo) = Loop::attach(&img, &[]) else {
        return;
    };
    // A source that turns out shorter than planned: the write fails midway.
    let short = tmp.path().join("short.bin");
    std::fs::write(&short, b"only ten b").unwrap();
    let mut plan = plan_for(&p);
    plan.entries.insert(
        0,
        tsmedia::plan::Entry {
            path: "aaa-changed.bin".into(),
            size: 5000,
            source: tsmedia::plan::Source::File(short),
            note: None,
            group: tsmedia::plan::Group::Extra,
            volume: 1,
            sha256: None,
        },
    );
    plan.size_manifest();
    let opts = tsmedia::write::WriteOptions {
        force: false,
        quiet: true,
        hash_output: false,
    };
    let usb = tsmedia::write::usb::UsbOptions {
        table: tsmedia::usb::partition::TableKind::Gpt,
        size: None,
        allow_non_removable: true,
        yes: true,
        verify: true,
        verify_image: false,
    };
    let err = tsmedia::write::usb::write_device(&plan, &lo.dev, &opts, &usb)
        .expect_err("the write fails");
    assert!(format!("{err:#}").contains("shrank"), "{err:#}");
    drop(lo);
    let raw = std::fs::read(&img).unwrap();
    let n = raw.len();
    assert!(
        raw[..MIB as usize].iter().all(|&b| b == 0),
        "first MiB wiped"
    );
    assert!(
        raw[n - MIB as usize..].iter().all(|&b| b == 0),
        "last MiB wiped"
    );
}

/// The marker an example profile puts at the root of its medium.
fn marker_of(example: &str) -> String {
    let t = example.trim_end_matches(".json");
    std::fs::read_to_string(fixtures().join(format!("markers/{t}/tsmedia.marker")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn usb_images_of_every_example_boot_bios_and_uefi() {
    fixtures();
    if !boot_tools() {
        return;
    }
    let tmp = scratch("usb-boot");
    for example in [
        "capture.json",
        "bootable.json",
        "prestaged.json",
        "standalone.json",
    ] {
        let p = profile(tmp.path(), example, |_| {});
        let marker = marker_of(example);
        let img = tmp.path().join(format!("{example}.img"));
        create_ok(&p, &img, &["--format", "usb-image"]);
        // MBR: BIOS (MBR code, FAT32 boot code, bootmgr) as an IDE disk and
        // as a USB stick; UEFI as a USB stick.
        for (mode, bus) in [
            ("bios-hdd", "ide"),
            ("bios-hdd", "usb"),
            ("uefi-hdd", "usb"),
        ] {
            match boot_disk(mode, &img, &marker, bus) {
                Ok(_) => eprintln!("{example}: {mode} over {bus} booted and found {marker}"),
                Err(e) => panic!("{example}: {e}"),
            }
        }
        std::fs::remove_file(&img).unwrap();
    }
    // GPT media boot UEFI only: OVMF boots them, SeaBIOS passes them over.
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let marker = marker_of("bootable.json");
    let img = tmp.path().join("gpt.img");
    create_ok(
        &p,
        &img,
        &["--format", "usb-image", "--partition-table", "gpt"],
    );
    if let Err(e) = boot_disk("uefi-hdd", &img, &marker, "ide") {
        panic!("gpt: {e}");
    }
    assert!(
        boot_disk("bios-hdd", &img, &marker, "ide").is_err(),
        "a GPT medium does not boot under SeaBIOS"
    );
}

#[test]
fn the_boot_chain_is_in_place() {
    fixtures();
    let tmp = scratch("usb-chain");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let img = tmp.path().join("chain.img");
    create_ok(&p, &img, &["--format", "usb-image"]);
    let raw = std::fs::read(&img).unwrap();
    let mbr = &raw[..512];
    assert_eq!(&mbr[..440], tsmedia::usb::boot::MBR_CODE, "MBR code");
    assert_eq!(mbr[446], 0x80, "the partition is active");
    let vol = &raw[MIB as usize..];
    assert_eq!(&vol[0..3], &[0xEB, 0x58, 0x90], "jump over the BPB");
    assert_eq!(&vol[510..512], &[0x55, 0xAA]);
    assert_eq!(&vol[..512], &vol[6 * 512..7 * 512], "backup boot sector");
    assert_eq!(
        &vol[2 * 512..3 * 512],
        &vol[8 * 512..9 * 512],
        "second sector of the boot code and its copy"
    );
    assert_eq!(&vol[2 * 512 + 510..3 * 512], &[0x55, 0xAA]);
    // The plan says how the medium boots.
    let o = run_ok(
        tsmedia()
            .args(["plan", "--format", "usb-image", "--profile"])
            .arg(&p),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("BIOS boot of the USB medium"), "{text}");
    let o = run_ok(
        tsmedia()
            .args([
                "plan",
                "--format",
                "usb-image",
                "--partition-table",
                "gpt",
                "--profile",
            ])
            .arg(&p),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("boot UEFI only"), "{text}");
    // Without bootmgr, an MBR medium warns that it boots UEFI only.
    let wim = tmp.path().join("boot-nobootmgr.wim");
    std::fs::copy(fixtures().join("boot.wim"), &wim).unwrap();
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("update")
            .arg(&wim)
            .arg("1")
            .arg("--command=delete /Windows/Boot/PCAT/bootmgr"),
    );
    let p2 = profile(tmp.path(), "capture.json", |v| {
        v["boot_image"]["path"] = serde_json::json!(wim);
        v["boot_image"]["index"] = 1.into();
    });
    let o = run(tsmedia()
        .args(["plan", "--format", "usb-image", "--json", "--profile"])
        .arg(&p2));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("boots UEFI only"),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_prompt_shows_the_drive_and_needs_yes() {
    fixtures();
    if !tools(&[("losetup", "mount"), ("script", "bsdutils")]) {
        return;
    }
    let tmp = scratch("usb-prompt");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let img = blank_image(tmp.path(), "d.img", 80 * MIB);
    let Some(lo) = Loop::attach(&img, &[]) else {
        return;
    };
    for (answer, ok) in [("no", false), ("yes", true)] {
        // `script` gives tsmedia a terminal; the answer is typed into it.
        let cmd = format!(
            "{} create --profile {} --format usb-device --output {} --allow-non-removable",
            env!("CARGO_BIN_EXE_tsmedia"),
            p.display(),
            lo.dev.display()
        );
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("SOURCE_DATE_EPOCH", "1767225600")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{answer}").unwrap();
        let o = child.wait_with_output().unwrap();
        drop(stdin);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains("ERASE EVERYTHING"), "{text}");
        assert!(text.contains("loop device on"), "model shown: {text}");
        assert!(text.contains("80.0 MiB"), "size shown: {text}");
        assert_eq!(o.status.success(), ok, "answer {answer}: {text}");
        if !ok {
            assert!(text.contains("not confirmed"), "{text}");
            assert!(std::fs::read(&img).unwrap().iter().all(|&b| b == 0));
        }
    }
}

#[test]
fn ctrl_c_while_writing_a_drive_wipes_its_tables() {
    fixtures();
    if !have_tool("losetup", "mount") {
        return;
    }
    let tmp = scratch("usb-sigint");
    // A large (sparse) file makes the write take a while.
    let big = tmp.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let p = profile(tmp.path(), "bootable.json", |v| {
        v["extra_files"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"source": big, "target": "/data"}));
    });
    let img = blank_image(tmp.path(), "d.img", (3 << 30) + 200 * MIB);
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.write_all(&vec![0xFF; MIB as usize]).unwrap();
    }
    let Some(lo) = Loop::attach(&img, &[]) else {
        return;
    };
    let mut child = tsmedia()
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .args([
            "-q",
            "create",
            "--format",
            "usb-device",
            "--yes",
            "--allow-non-removable",
        ])
        .arg("--profile")
        .arg(&p)
        .arg("--output")
        .arg(&lo.dev)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first MiB turns to zeros when tsmedia starts writing the drive.
    let started = std::time::Instant::now();
    let mut head = vec![0u8; 4096];
    loop {
        std::fs::File::open(&img)
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        if head.iter().all(|&b| b == 0) {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "tsmedia never started writing"
        );
        assert!(child.try_wait().unwrap().is_none(), "tsmedia ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    run_tool_ok(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "stopped by Ctrl-C: {err}");
    assert!(err.contains("interrupted"), "{err}");
    drop(lo);
    let mut f = std::fs::File::open(&img).unwrap();
    let mut first = vec![0u8; 2 * MIB as usize];
    f.read_exact(&mut first).unwrap();
    assert!(first[..MIB as usize].iter().all(|&b| b == 0), "table wiped");
    assert!(
        first[MIB as usize..MIB as usize + 512]
            .iter()
            .all(|&b| b == 0),
        "no boot sector written"
    );
    let len = f.metadata().unwrap().len();
    f.seek(SeekFrom::Start(len - MIB)).unwrap();
    let mut last = vec![0u8; MIB as usize];
    f.read_exact(&mut last).unwrap();
    assert!(last.iter().all(|&b| b == 0), "last MiB wiped");
}

/// The whole disk holding `/`, when `/` is on a block device.
fn root_disk() -> Option<PathBuf> {
    let src = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()?
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(" - ").nth(1))
        .and_then(|r| r.split(' ').nth(1))
        .map(str::to_string)?;
    let name = Path::new(&src).file_name()?.to_string_lossy().into_owned();
    let sys = std::fs::canonicalize(format!("/sys/class/block/{name}")).ok()?;
    let disk = if sys.join("partition").exists() {
        sys.parent()?.file_name()?.to_string_lossy().into_owned()
    } else {
        name
    };
    let dev = PathBuf::from(format!("/dev/{disk}"));
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(&dev)
        .ok()?
        .file_type()
        .is_block_device()
        .then_some(dev)
}

#[test]
fn the_disk_holding_the_root_file_system_is_refused() {
    fixtures();
    let Some(disk) = root_disk() else {
        eprintln!("SKIPPED: / is not on a block device here");
        return;
    };
    let tmp = scratch("usb-root");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    // No --yes and no --allow-non-removable: even a broken root check would
    // be stopped by the checks after it, before anything is opened.
    expect_refusal(
        &create_dev(&p, &device_args(&disk, &[])),
        &["root file system", "choose the USB drive"],
    );
}

#[test]
fn a_drive_used_as_swap_is_refused() {
    fixtures();
    if !tools(&[("losetup", "mount"), ("mkswap", "util-linux")]) {
        return;
    }
    let tmp = scratch("usb-swap");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let img = blank_image(tmp.path(), "swap.img", 80 * MIB);
    let Some(lo) = Loop::attach(&img, &[]) else {
        return;
    };
    run_tool_ok(Command::new("mkswap").arg(&lo.dev));
    let on = run(Command::new("swapon").arg(&lo.dev));
    if !on.status.success() {
        // Some kernels are built without swap.
        eprintln!(
            "SKIPPED: swapon failed: {}",
            String::from_utf8_lossy(&on.stderr)
        );
        return;
    }
    struct SwapOff(PathBuf);
    impl Drop for SwapOff {
        fn drop(&mut self) {
            let _ = Command::new("swapoff").arg(&self.0).status();
        }
    }
    let _off = SwapOff(lo.dev.clone());
    expect_refusal(
        &create_dev(
            &p,
            &device_args(&lo.dev, &["--yes", "--allow-non-removable"]),
        ),
        &["in use as swap", "swapoff"],
    );
}

/// Reverses the cluster order of /bootmgr on an image's FAT32 volume: the
/// same clusters, holding the file's pieces last to first, and a FAT chain
/// that jumps backwards at every cluster. The boot code must follow the
/// chain, not assume a contiguous file.
fn scatter_bootmgr(img: &Path) -> usize {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    let mut vol = vec![0u8; 512];
    f.seek(SeekFrom::Start(MIB)).unwrap();
    f.read_exact(&mut vol).unwrap();
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as u64;
    let cluster_bytes = vol[13] as u64 * 512;
    let reserved = u16_at(&vol, 14);
    let fats = vol[16] as u64;
    let fat_sectors = u32_at(&vol, 36);
    let root = u32_at(&vol, 44);
    let fat_at = MIB + reserved * 512;
    let data_at = fat_at + fats * fat_sectors * 512;
    let at = |c: u64| data_at + (c - 2) * cluster_bytes;
    let mut fat = vec![0u8; (fat_sectors * 512) as usize];
    f.seek(SeekFrom::Start(fat_at)).unwrap();
    f.read_exact(&mut fat).unwrap();
    let mut dir = vec![0u8; cluster_bytes as usize];
    f.seek(SeekFrom::Start(at(root))).unwrap();
    f.read_exact(&mut dir).unwrap();
    let e = (0..dir.len() / 32)
        .map(|i| i * 32)
        .find(|&o| &dir[o..o + 11] == b"BOOTMGR    ")
        .expect("BOOTMGR in the first root cluster");
    let first = (u16_at(&dir, e + 20) << 16) | u16_at(&dir, e + 26);
    let mut chain = vec![first];
    loop {
        let n = u32_at(&fat, *chain.last().unwrap() as usize * 4) & 0x0FFF_FFFF;
        if n >= 0x0FFF_FFF8 {
            break;
        }
        chain.push(n);
    }
    let pieces: Vec<Vec<u8>> = chain
        .iter()
        .map(|&c| {
            let mut b = vec![0u8; cluster_bytes as usize];
            f.seek(SeekFrom::Start(at(c))).unwrap();
            f.read_exact(&mut b).unwrap();
            b
        })
        .collect();
    // Piece k goes to the k-th cluster from the end.
    let n = chain.len();
    let new: Vec<u64> = (0..n).map(|k| chain[n - 1 - k]).collect();
    for (k, piece) in pieces.iter().enumerate() {
        f.seek(SeekFrom::Start(at(new[k]))).unwrap();
        f.write_all(piece).unwrap();
        let next = if k + 1 < n {
            new[k + 1] as u32
        } else {
            0x0FFF_FFFF
        };
        let o = new[k] as usize * 4;
        fat[o..o + 4].copy_from_slice(&next.to_le_bytes());
    }
    for i in 0..fats {
        f.seek(SeekFrom::Start(fat_at + i * fat_sectors * 512))
            .unwrap();
        f.write_all(&fat).unwrap();
    }
    let c = new[0] as u32;
    dir[e + 20..e + 22].copy_from_slice(&((c >> 16) as u16).to_le_bytes());
    dir[e + 26..e + 28].copy_from_slice(&(c as u16).to_le_bytes());
    f.seek(SeekFrom::Start(at(root))).unwrap();
    f.write_all(&dir).unwrap();
    n
}

#[test]
fn bootmgr_in_a_scattered_chain_still_boots() {
    fixtures();
    if !tools(&[("fsck.fat", "dosfstools"), ("mcopy", "mtools")]) || !boot_tools() {
        return;
    }
    let tmp = scratch("usb-scatter");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let img = tmp.path().join("scatter.img");
    create_ok(&p, &img, &["--format", "usb-image"]);
    let clusters = scatter_bootmgr(&img);
    assert!(clusters > 100, "{clusters} clusters");
    // Still a clean file system holding the same bootmgr.
    let part = tmp.path().join("part.img");
    extract(
        &img,
        MIB,
        std::fs::metadata(&img).unwrap().len() - MIB,
        &part,
    );
    fsck_clean(&part);
    let back = tmp.path().join("bootmgr");
    run_tool_ok(
        Command::new("mcopy")
            .arg("-i")
            .arg(&part)
            .arg("::/bootmgr")
            .arg(&back),
    );
    assert_eq!(
        sha256_file(&back),
        sha256_file(&fixtures().join("payloads/bootmgr"))
    );
    let marker = marker_of("bootable.json");
    for bus in ["ide", "usb"] {
        if let Err(e) = boot_disk("bios-hdd", &img, &marker, bus) {
            panic!("scattered bootmgr: {e}");
        }
    }
}
