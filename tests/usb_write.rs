//! `tsmedia write`: ISO images (tsmedia's, volume sets, and a WinPE-like ISO
//! made by xorriso) written to USB images and loop devices, checked with
//! tools tsmedia does not contain: fsck.fat, 7z, sfdisk, wimlib-imagex,
//! xorriso, and BIOS and UEFI boots under QEMU.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const EPOCH: &str = "1767225600";

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

fn tools(list: &[(&str, &str)]) -> bool {
    list.iter().all(|(t, p)| have_tool(t, p))
}

/// A copy of an example profile with absolute paths, after `edit`.
fn profile(dir: &Path, example: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let text = std::fs::read_to_string(root().join("examples").join(example)).unwrap();
    let fx = fixtures();
    let text = text.replace("../fixtures/build", fx.to_str().unwrap());
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("output");
    edit(&mut v);
    let p = dir.join(format!("p-{example}"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

fn create_ok(profile: &Path, out: &Path, args: &[&str]) {
    let o = run(tsmedia()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["-q", "create", "--profile"])
        .arg(profile)
        .arg("--output")
        .arg(out)
        .args(args)
        .stdin(Stdio::null()));
    assert!(
        o.status.success(),
        "create failed ({:?}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `tsmedia -q write SOURCES --output OUT ARGS`.
fn write(sources: &[&Path], out: &Path, args: &[&str]) -> Output {
    run(tsmedia()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["-q", "write"])
        .args(sources)
        .arg("--output")
        .arg(out)
        .args(args)
        .stdin(Stdio::null()))
}

fn write_ok(sources: &[&Path], out: &Path, args: &[&str]) -> Output {
    let o = write(sources, out, args);
    assert!(
        o.status.success(),
        "write failed ({:?}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn marker_of(example: &str) -> String {
    let t = example.trim_end_matches(".json");
    std::fs::read_to_string(fixtures().join(format!("markers/{t}/tsmedia.marker")))
        .unwrap()
        .trim()
        .to_string()
}

/// fsck.fat -n of the image's partition at 1 MiB (copied out: fsck.fat
/// takes no offset).
fn fsck_partition(img: &Path, dir: &Path) {
    let part = dir.join("part.fat");
    let mut f = std::fs::File::open(img).unwrap();
    f.seek(SeekFrom::Start(MIB)).unwrap();
    let mut out = std::fs::File::create(&part).unwrap();
    std::io::copy(&mut f, &mut out).unwrap();
    drop(out);
    let o = run(Command::new("fsck.fat").arg("-n").arg("-v").arg(&part));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_file(&part).unwrap();
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

/// Extracts a disk image's FAT32 partition with 7-Zip.
fn extract_7z(img: &Path, dest: &Path, only: &[&str]) {
    run_tool_ok(
        Command::new("7z")
            .args(["x", "-y", "-bd"])
            .arg(format!("-o{}", dest.display()))
            .arg(img)
            .args(only),
    );
}

/// The first MBR entry is active and of type 0x0C (sfdisk).
fn active_fat32(img: &Path) {
    let dump = run_tool_ok(Command::new("sfdisk").arg("-d").arg(img));
    let line = dump.lines().find(|l| l.contains("start=")).unwrap();
    assert!(line.contains("start=        2048"), "{dump}");
    assert!(line.contains("type=c"), "{dump}");
    assert!(line.contains("bootable"), "{dump}");
}

fn boots(img: &Path, marker: &str, modes: &[(&str, &str)]) {
    for (mode, bus) in modes {
        if let Err(e) = boot_disk(mode, img, marker, bus) {
            panic!("{e}");
        }
    }
}

#[test]
fn a_tsmedia_iso_becomes_the_same_stick_create_makes() {
    fixtures();
    if !tools(&[
        ("fsck.fat", "dosfstools"),
        ("sfdisk", "fdisk"),
        ("7z", "p7zip-full"),
    ]) {
        return;
    }
    let tmp = scratch("write-iso");
    let p = profile(tmp.path(), "standalone.json", |_| {});
    let iso = tmp.path().join("standalone.iso");
    create_ok(&p, &iso, &["--format", "iso"]);
    let img = tmp.path().join("written.img");
    let o = write_ok(&[&iso], &img, &["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "usb-image");
    assert_eq!(report["media_type"], "standalone");
    assert_eq!(report["manifest_checked"], true);
    assert_eq!(report["bios_boot"], true);
    // Exactly the image `create --format usb-image` makes of the profile.
    let made = tmp.path().join("created.img");
    create_ok(&p, &made, &["--format", "usb-image"]);
    assert_eq!(
        sha256_file(&img),
        sha256_file(&made),
        "write of the ISO == create of the profile"
    );
    // Written again: the same bytes.
    let again = tmp.path().join("again.img");
    write_ok(&[&iso], &again, &[]);
    assert_eq!(sha256_file(&img), sha256_file(&again), "identical rebuilds");
    active_fat32(&img);
    fsck_partition(&img, tmp.path());
    // Byte-identical files, as 7-Zip reads them from the ISO and the stick.
    let a = tmp.path().join("iso-files");
    let b = tmp.path().join("stick-files");
    extract_7z(&iso, &a, &[]);
    extract_7z(&img, &b, &[]);
    let fa = files_under(&a);
    let fb = files_under(&b);
    let names = |v: &[(String, PathBuf)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb));
    for ((rel, x), (_, y)) in fa.iter().zip(&fb) {
        assert_eq!(sha256_file(x), sha256_file(y), "/{rel}");
    }
    let v = run(tsmedia().arg("verify").arg(&img));
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // The output may not be the source.
    let o = write(&[&iso], &iso, &["--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("destroy the source"));
    // Not an ISO.
    let o = write(&[&p], &tmp.path().join("x.img"), &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!tmp.path().join("x.img").exists());
}

#[test]
fn written_sticks_of_every_example_boot_bios_and_uefi() {
    fixtures();
    if !boot_tools() {
        return;
    }
    let tmp = scratch("write-boot");
    for example in [
        "capture.json",
        "bootable.json",
        "prestaged.json",
        "standalone.json",
    ] {
        let p = profile(tmp.path(), example, |_| {});
        let iso = tmp.path().join(format!("{example}.iso"));
        create_ok(&p, &iso, &["--format", "iso"]);
        let img = tmp.path().join(format!("{example}.img"));
        write_ok(&[&iso], &img, &[]);
        let marker = marker_of(example);
        boots(&img, &marker, &[("bios-hdd", "ide"), ("bios-hdd", "usb")]);
        if example == "standalone.json" {
            boots(&img, &marker, &[("uefi-hdd", "usb")]);
        }
    }
}

/// A sparse file of `size` bytes with `tag` at its start and its end.
fn sparse(path: &Path, size: u64, tag: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(tag.as_bytes()).unwrap();
    f.set_len(size).unwrap();
    f.seek(SeekFrom::Start(size - tag.len() as u64)).unwrap();
    f.write_all(tag.as_bytes()).unwrap();
}

#[test]
fn a_volume_set_becomes_one_stick() {
    fixtures();
    if !tools(&[("fsck.fat", "dosfstools")]) {
        return;
    }
    let tmp = scratch("write-set");
    let src = tmp.path().join("src");
    sparse(&src.join("p20/a.bin"), 400 * MIB, "P20-A");
    sparse(&src.join("p21/b.bin"), 500 * MIB, "P21-B");
    let p = profile(tmp.path(), "standalone.json", |v| {
        v["media"]["size"] = "cd".into();
        let pkgs = v["packages"].as_array_mut().unwrap();
        for (id, d) in [("TSM00020", "p20"), ("TSM00021", "p21")] {
            pkgs.push(serde_json::json!({
                "id": id, "name": id, "kind": "package",
                "source": src.join(d).to_str().unwrap(),
            }));
        }
    });
    let iso = tmp.path().join("set.iso");
    create_ok(&p, &iso, &["--format", "iso"]);
    let vols: Vec<PathBuf> = (1..)
        .map(|n| tmp.path().join(format!("set-{n}.iso")))
        .take_while(|v| v.exists())
        .collect();
    assert!(vols.len() >= 2, "a volume set: {vols:?}");
    let img = tmp.path().join("set.img");
    let refs: Vec<&Path> = vols.iter().map(|v| v.as_path()).collect();
    write_ok(&refs, &img, &[]);
    fsck_partition(&img, tmp.path());
    let v = run(tsmedia().arg("verify").arg(&img));
    assert!(
        v.status.success(),
        "verify of the stick:\n{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    // The first volume alone stands for the set, as for verify.
    let img1 = tmp.path().join("set1.img");
    write_ok(&[&vols[0]], &img1, &[]);
    assert_eq!(sha256_file(&img), sha256_file(&img1));
    std::fs::remove_file(&img1).unwrap();
    if boot_tools() {
        boots(&img, &marker_of("standalone"), &[("bios-hdd", "usb")]);
    }
}

/// Incompressible bytes (xorshift).
fn noise_file(p: &Path, size: u64, seed: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(p).unwrap());
    f.write_all(&noise(seed, size as usize)).unwrap();
    f.flush().unwrap();
}

#[test]
fn a_winpe_iso_made_by_xorriso_with_a_big_install_wim() {
    let fx = fixtures();
    if !tools(&[
        ("xorriso", "xorriso"),
        ("wimlib-imagex", "wimtools"),
        ("fsck.fat", "dosfstools"),
        ("7z", "p7zip-full"),
        ("fallocate", "util-linux"),
    ]) || !boot_tools()
    {
        return;
    }
    let tmp = scratch("write-winpe");
    // A WinPE / Windows Setup ISO tree, as oscdimg lays it out.
    let tree = tmp.path().join("tree");
    let pay = fx.join("payloads");
    let put_file = |rel: &str, from: &Path| {
        let to = tree.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    put_file("bootmgr", &pay.join("bootmgr"));
    put_file("boot/etfsboot.com", &pay.join("etfsboot.com"));
    put_file("efi/boot/bootx64.efi", &pay.join("bootx64.efi"));
    put_file("efi/microsoft/boot/efisys.bin", &pay.join("efisys.bin"));
    put_file("sources/boot.wim", &fx.join("boot.wim"));
    put(&tree, "boot/BCD", b"stand-in BCD");
    put(
        &tree,
        "sources/lang.ini",
        b"[Available UI Languages]\r\nen-US = 3\r\n",
    );
    noise_file(&tree.join("setup.exe"), 300_000, 7);
    let marker = "TSMEDIA-MARKER-WINPE-XORRISO-9d41";
    put(&tree, "tsmedia.marker", format!("{marker}\n").as_bytes());
    // install.wim of 4.5 GiB: three 1.5 GiB files (each its own resource,
    // so the WIM can be split), stored uncompressed, then made sparse.
    let wsrc = tmp.path().join("wim-src");
    for (i, name) in ["a.bin", "b.bin", "c.bin"].iter().enumerate() {
        sparse(&wsrc.join(name), 3 * GIB / 2, &format!("INSTALL-PART-{i}"));
    }
    let wim = tree.join("sources/install.wim");
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("capture")
            .arg(&wsrc)
            .arg(&wim)
            .args(["Windows 11 Pro", "--compress=none", "--no-acls"]),
    );
    run_tool_ok(Command::new("fallocate").arg("--dig-holes").arg(&wim));
    let wim_size = std::fs::metadata(&wim).unwrap().len();
    assert!(wim_size > 4 * GIB + GIB / 2, "{wim_size}");
    let iso = tmp.path().join("winpe.iso");
    run_tool_ok(
        Command::new("xorriso")
            .args([
                "-as",
                "mkisofs",
                "-quiet",
                "-iso-level",
                "3",
                "-J",
                "-joliet-long",
            ])
            .args([
                "-V",
                "WINPE_X64",
                "-b",
                "boot/etfsboot.com",
                "-no-emul-boot",
            ])
            .args([
                "-boot-load-size",
                "8",
                "--boot-catalog-hide",
                "-eltorito-alt-boot",
            ])
            .args(["-e", "efi/microsoft/boot/efisys.bin", "-no-emul-boot", "-o"])
            .arg(&iso)
            .arg(&tree),
    );
    run_tool_ok(Command::new("fallocate").arg("--dig-holes").arg(&iso));

    let img = tmp.path().join("winpe.img");
    let o = write_ok(&[&iso], &img, &["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["manifest_checked"], false);
    assert_eq!(
        report["swm_parts"],
        serde_json::json!(["sources/install.swm", "sources/install2.swm"])
    );
    run_tool_ok(Command::new("fallocate").arg("--dig-holes").arg(&img));
    std::fs::remove_file(&iso).unwrap();
    active_fat32(&img);
    fsck_partition(&img, tmp.path());
    boots(
        &img,
        marker,
        &[
            ("bios-hdd", "ide"),
            ("bios-hdd", "usb"),
            ("uefi-hdd", "usb"),
        ],
    );

    // Every other file byte-identical; the parts verify as one WIM.
    let out = tmp.path().join("stick");
    extract_7z(&img, &out, &[]);
    std::fs::remove_file(&img).unwrap();
    let mut want: Vec<String> = files_under(&tree)
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r != "sources/install.wim")
        .collect();
    want.extend(["sources/install.swm".into(), "sources/install2.swm".into()]);
    want.sort();
    let got = files_under(&out);
    let mut names: Vec<String> = got.iter().map(|(r, _)| r.clone()).collect();
    names.sort();
    assert_eq!(names, want);
    for (rel, p) in &got {
        if rel.ends_with(".swm") {
            assert!(std::fs::metadata(p).unwrap().len() < 4 * GIB);
            continue;
        }
        assert_eq!(sha256_file(p), sha256_file(&tree.join(rel)), "/{rel}");
    }
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("verify")
            .arg(out.join("sources/install.swm"))
            .arg("--ref")
            .arg(out.join("sources/install*.swm")),
    );
    let info = run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("dir")
            .arg(out.join("sources/install.swm"))
            .arg("1")
            .arg("--ref")
            .arg(out.join("sources/install*.swm")),
    );
    assert!(info.contains("/c.bin"), "{info}");
}

/// Flips one byte of `path` inside the ISO (found with tsmedia's reader).
fn damage(iso: &Path, path: &str, at: u64) {
    let img = tsmedia::read::iso::IsoImage::open(iso).unwrap();
    let ext = img.extents(path).unwrap();
    let (off, len) = ext[0];
    assert!(at < len);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(iso)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(off + at)).unwrap();
    f.read_exact(&mut b).unwrap();
    b[0] ^= 0x5A;
    f.seek(SeekFrom::Start(off + at)).unwrap();
    f.write_all(&b).unwrap();
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

    fn part1(&self) -> PathBuf {
        PathBuf::from(format!("{}p1", self.dev.display()))
    }

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
    std::fs::File::create(&p).unwrap().set_len(bytes).unwrap();
    p
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
fn a_damaged_iso_fails_and_leaves_no_valid_looking_stick() {
    fixtures();
    let tmp = scratch("write-damaged");
    let p = profile(tmp.path(), "standalone.json", |_| {});
    let iso = tmp.path().join("damaged.iso");
    create_ok(&p, &iso, &["--format", "iso"]);
    let victim = "SMS/PKG/TSM00003/Data/payload.bin";
    damage(&iso, victim, 1_000_000);
    // To an image: exit 3, the file named, nothing left behind.
    let img = tmp.path().join("out.img");
    let o = write(&[&iso], &img, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(victim), "{err}");
    assert!(!img.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // To a drive: exit 3, and its tables are wiped.
    if !have_tool("losetup", "mount") {
        return;
    }
    let disk = blank_image(tmp.path(), "disk.img", 100 * MIB);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .unwrap()
        .write_all(&vec![0xFF; MIB as usize])
        .unwrap();
    let Some(lo) = Loop::attach(&disk, &[]) else {
        return;
    };
    let o = write(&[&iso], &lo.dev, &["--yes", "--allow-non-removable"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(victim), "{err}");
    drop(lo);
    let raw = std::fs::read(&disk).unwrap();
    assert!(
        raw[..MIB as usize].iter().all(|&b| b == 0),
        "first MiB wiped"
    );
    let n = raw.len();
    assert!(
        raw[n - MIB as usize..].iter().all(|&b| b == 0),
        "last MiB wiped"
    );
}

#[test]
fn a_drive_is_written_and_every_refusal_of_create_holds() {
    fixtures();
    if !tools(&[("losetup", "mount"), ("fsck.fat", "dosfstools")]) {
        return;
    }
    let tmp = scratch("write-dev");
    let p = profile(tmp.path(), "bootable.json", |_| {});
    let iso = tmp.path().join("bootable.iso");
    create_ok(&p, &iso, &["--format", "iso"]);
    let y = ["--yes", "--allow-non-removable"];

    expect_refusal(
        &write(&[&iso], Path::new("/dev/null"), &y),
        &["not a block device", "character device"],
    );
    let img = tmp.path().join("disk.img");
    create_ok(&p, &img, &["--format", "usb-image", "--size", "100M"]);
    let before = sha256_file(&img);
    let Some(mut lo) = Loop::attach(&img, &["-P"]) else {
        return;
    };
    let part = lo.part1();
    assert!(lo.wait_part1(), "{} appeared", part.display());
    expect_refusal(
        &write(&[&iso], &part, &y),
        &["is a partition", &format!("--output {}", lo.dev.display())],
    );
    expect_refusal(
        &write(&[&iso], &lo.dev, &["--yes"]),
        &["not a removable drive", "--allow-non-removable"],
    );
    expect_refusal(
        &write(&[&iso], &lo.dev, &["--allow-non-removable"]),
        &["without confirmation", "--yes"],
    );
    assert_eq!(sha256_file(&img), before, "refusals write nothing");
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
            &write(&[&iso], &lo.dev, &y),
            &["mounted at", mnt.to_str().unwrap(), "umount"],
        );
        assert_eq!(sha256_file(&img), mounted_before, "refusal writes nothing");
    }
    drop(lo);
    if let Some(ro) = Loop::attach(&img, &["-r"]) {
        expect_refusal(&write(&[&iso], &ro.dev, &y), &["read-only"]);
    }
    let tiny = blank_image(tmp.path(), "tiny.img", 20 * MIB);
    if let Some(t) = Loop::attach(&tiny, &[]) {
        expect_refusal(&write(&[&iso], &t.dev, &y), &["too small", "larger drive"]);
        expect_refusal(
            &write(
                &[&iso],
                &t.dev,
                &["--yes", "--allow-non-removable", "--size", "1G"],
            ),
            &["--size"],
        );
    }

    // A drive written, verified and equal to the image of the same size.
    let disk = blank_image(tmp.path(), "drive.img", 120 * MIB);
    let Some(lo) = Loop::attach(&disk, &["-P"]) else {
        return;
    };
    let o = write_ok(
        &[&iso],
        &lo.dev,
        &["--yes", "--allow-non-removable", "--json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "usb-device");
    drop(lo);
    let same = tmp.path().join("same.img");
    write_ok(&[&iso], &same, &["--size", "120M"]);
    assert_eq!(sha256_file(&same), sha256_file(&disk), "drive == image");
    fsck_partition(&disk, tmp.path());
}

#[test]
fn split_wims_of_a_tsmedia_iso_are_renamed_and_its_manifest_restated() {
    fixtures();
    if !tools(&[("wimlib-imagex", "wimtools"), ("7z", "p7zip-full")]) {
        return;
    }
    let tmp = scratch("write-restate");
    // An OS image of three incompressible files (4.5 MB), split at a limit
    // above every other file of the medium (the largest is 3 MiB).
    let src = tmp.path().join("os");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..3u64 {
        noise_file(&src.join(format!("part{i}.bin")), 1_500_000, 40 + i);
    }
    let wim = tmp.path().join("wim/install.wim");
    std::fs::create_dir_all(wim.parent().unwrap()).unwrap();
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("capture")
            .arg(&src)
            .arg(&wim)
            .args(["Windows 11 Enterprise", "--compress=none", "--no-acls"]),
    );
    let p = profile(tmp.path(), "standalone.json", |v| {
        v["os_image"]["path"] = serde_json::json!(wim);
    });
    let iso = tmp.path().join("s.iso");
    create_ok(&p, &iso, &["--format", "iso"]);
    let ip = tsmedia::plan::from_image::from_iso_with_limits(
        std::slice::from_ref(&iso),
        true,
        4 << 20,
        2_000_000,
    )
    .unwrap();
    assert!(ip.has_manifest);
    let paths: Vec<&str> = ip.plan.entries.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"SMS/PKG/TSM00001/install.swm"), "{paths:?}");
    assert!(
        paths.contains(&"SMS/PKG/TSM00001/install2.swm"),
        "{paths:?}"
    );
    assert!(
        !paths.contains(&"SMS/PKG/TSM00001/install.wim"),
        "{paths:?}"
    );
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
        verify_image: true,
    };
    tsmedia::write::usb::write_image(&ip.plan, &img, &opts, &usb).unwrap();
    // The restated manifest vouches for the parts and the renamed task
    // sequence: verify finds the stick intact.
    let v = run(tsmedia().arg("verify").arg(&img));
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let out = tmp.path().join("stick");
    extract_7z(&img, &out, &[]);
    // The policy names the package folder, which holds the parts now.
    let policy = policy_text(&out);
    assert!(
        policy.contains("<value>SMS/PKG/TSM00001</value>"),
        "{policy}"
    );
    let dir = out.join("SMS/PKG/TSM00001");
    run_tool_ok(
        Command::new("wimlib-imagex")
            .arg("verify")
            .arg(dir.join("install.swm"))
            .arg("--ref")
            .arg(dir.join("install*.swm")),
    );
}
