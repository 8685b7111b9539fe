//! The ISO writer, checked with tools tsmedia does not contain: xorriso,
//! isoinfo (genisoimage), 7z (p7zip-full), udfinfo (udftools) and QEMU with
//! SeaBIOS and OVMF (tests/boot/bootcheck.sh).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const TYPES: [&str; 4] = ["capture", "bootable", "prestaged", "standalone"];
const MIB: u64 = 1024 * 1024;

fn tools() -> bool {
    have_tool("xorriso", "xorriso")
        & have_tool("isoinfo", "genisoimage")
        & have_tool("7z", "p7zip-full")
        & have_tool("udfinfo", "udftools")
}

fn run(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// The example profile `t` with absolute fixture paths, changed by `f`,
/// written into `dir`.
fn profile(dir: &Path, t: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
    let fx = fixtures();
    let text = std::fs::read_to_string(root().join(format!("examples/{t}.json")))
        .unwrap()
        .replace("../fixtures/build", fx.to_str().unwrap());
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("output");
    f(&mut v);
    let p = dir.join(format!("{t}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

/// Builds an ISO and returns the --json report.
fn create(profile: &Path, out: &Path, env: &[(&str, &str)]) -> Value {
    let mut c = tsmedia();
    c.args(["-q", "create", "--format", "iso", "--json", "--profile"])
        .arg(profile)
        .arg("--output")
        .arg(out);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = run_ok(&mut c);
    serde_json::from_slice(&o.stdout).expect("--json prints JSON")
}

/// The volume files a `create --json` report lists.
fn volumes_of(report: &Value) -> Vec<PathBuf> {
    report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| PathBuf::from(v.as_str().unwrap()))
        .collect()
}

/// Adds a package `id` whose source is `dir`.
fn add_package(v: &mut Value, id: &str, dir: &Path) {
    let pkgs = v
        .as_object_mut()
        .unwrap()
        .entry("packages")
        .or_insert_with(|| Value::Array(Vec::new()));
    pkgs.as_array_mut().unwrap().push(serde_json::json!({
        "id": id,
        "name": format!("Test package {id}"),
        "kind": "package",
        "source": dir.to_str().unwrap(),
    }));
}

/// A sparse file of `size` bytes with `tag` at its start and its end.
fn sparse(path: &Path, size: u64, tag: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(tag.as_bytes()).unwrap();
    f.set_len(size).unwrap();
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(size - tag.len() as u64)).unwrap();
    f.write_all(tag.as_bytes()).unwrap();
}

/// Extracts an ISO with 7z (which reads the UDF tree) and checks 7z chose UDF.
fn extract(iso: &Path, dest: &Path) {
    let l = run(Command::new("7z").arg("l").arg(iso));
    assert!(l.contains("Type = Udf"), "7z reads the UDF tree:\n{l}");
    run(Command::new("7z")
        .args(["x", "-y", "-bd"])
        .arg(format!("-o{}", dest.display()))
        .arg(iso));
}

fn manifest_of(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("SMS/data/tsmedia-manifest.json")).unwrap())
        .unwrap()
}

/// Every file in `dir` matches the manifest, and the manifest lists every file.
fn check_against_manifest(dir: &Path, what: &str) {
    let m = manifest_of(dir);
    let listed = manifest_listing(&m);
    let on_disk: BTreeMap<String, PathBuf> = files_under(dir)
        .into_iter()
        .filter(|(r, _)| r != "SMS/data/tsmedia-manifest.json")
        .collect();
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        on_disk.keys().collect::<Vec<_>>(),
        "{what}: the extracted files are the manifest's"
    );
    for (rel, (size, sha)) in &listed {
        let p = &on_disk[rel];
        assert_eq!(std::fs::metadata(p).unwrap().len(), *size, "{what}: /{rel}");
        assert_eq!(&sha256_file(p), sha, "{what}: /{rel}");
    }
}

fn bootcheck(mode: &str, iso: &Path, marker: &str) {
    let out = Command::new("bash")
        .arg(root().join("tests/boot/bootcheck.sh"))
        .arg(mode)
        .arg(iso)
        .arg(marker)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{mode} boot of {} failed:\n{}{}",
        iso.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn boot_tools() -> bool {
    have_tool("qemu-system-x86_64", "qemu-system-x86") & {
        let ok = Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").exists();
        if !ok && std::env::var("CI").as_deref() == Ok("true") {
            panic!("OVMF is missing: install the Debian package ovmf (CI=true requires it)");
        }
        ok
    }
}

#[test]
fn every_example_makes_an_iso_that_boots_and_holds_the_medium() {
    let fx = fixtures();
    if !tools() || !boot_tools() {
        return;
    }
    let tmp = scratch("iso-examples");
    for t in TYPES {
        let p = profile(tmp.path(), t, |_| {});
        let iso = tmp.path().join(format!("{t}.iso"));
        let r = create(&p, &iso, &[]);
        assert_eq!(r["format"], "iso");
        assert_eq!(r["output_sha256"], sha256_file(&iso).as_str(), "{t}");
        assert_eq!(
            r["output_bytes"].as_u64().unwrap(),
            std::fs::metadata(&iso).unwrap().len()
        );

        // El Torito: BIOS and UEFI entries, both without emulation.
        let et = run(Command::new("xorriso")
            .args(["-indev"])
            .arg(&iso)
            .args(["-report_el_torito", "plain"]));
        let imgs: Vec<&str> = et
            .lines()
            .filter(|l| l.starts_with("El Torito boot img :"))
            .collect();
        assert_eq!(imgs.len(), 2, "{t}: {et}");
        let f1: Vec<&str> = imgs[0].split_whitespace().collect();
        let f2: Vec<&str> = imgs[1].split_whitespace().collect();
        assert_eq!(&f1[6..9], &["BIOS", "y", "none"], "{t}: {et}");
        assert_eq!(f1[11], "8", "{t}: BIOS load size");
        assert_eq!(&f2[6..9], &["UEFI", "y", "none"], "{t}: {et}");
        assert!(
            et.contains("El Torito img path :   1  /boot/etfsboot.com"),
            "{et}"
        );
        assert!(
            et.contains("El Torito img path :   2  /efi/microsoft/boot/efisys.bin"),
            "{et}"
        );

        // Joliet, and a Joliet listing with the medium's files.
        let d = run(Command::new("isoinfo").arg("-d").arg("-i").arg(&iso));
        assert!(d.contains("Joliet with UCS level 3 found"), "{t}: {d}");
        let jl = run(Command::new("isoinfo").args(["-l", "-J", "-i"]).arg(&iso));
        assert!(jl.contains("Directory listing of /SMS/data/"), "{t}");
        assert!(jl.contains(" tsmedia-manifest.json"), "{t}");
        assert!(jl.contains(" etfsboot.com"), "{t}");

        // UDF: a closed 2.01 volume.
        let u = run(Command::new("udfinfo").arg(&iso));
        assert!(u.contains("udfrev=2.01"), "{t}: {u}");
        assert!(u.contains("integrity=closed"), "{t}: {u}");

        // Every file, through UDF, byte-identical to the manifest.
        let x = tmp.path().join(format!("{t}-x"));
        extract(&iso, &x);
        check_against_manifest(&x, t);
        assert_eq!(
            sha256_file(&x.join("tsmedia.marker")),
            sha256_file(&fx.join(format!("markers/{t}/tsmedia.marker")))
        );

        // It boots on BIOS and UEFI, and the payload finds the marker.
        let marker = std::fs::read_to_string(fx.join(format!("markers/{t}/tsmedia.marker")))
            .unwrap()
            .trim()
            .to_string();
        bootcheck("bios", &iso, &marker);
        bootcheck("uefi", &iso, &marker);
        std::fs::remove_dir_all(&x).unwrap();
        std::fs::remove_file(&iso).unwrap();
    }
}

#[test]
fn rebuilds_are_byte_identical() {
    fixtures();
    if !have_tool("isoinfo", "genisoimage") {
        return;
    }
    let tmp = scratch("iso-repro");
    let p = profile(tmp.path(), "standalone", |_| {});
    let sha = |name: &str, env: &[(&str, &str)]| {
        let iso = tmp.path().join(name);
        let r = create(&p, &iso, env);
        let s = sha256_file(&iso);
        assert_eq!(r["output_sha256"], s.as_str());
        s
    };
    let a = sha("a.iso", &[]);
    let b = sha("b.iso", &[]);
    assert_eq!(a, b, "same profile, same bytes");
    let c = sha("c.iso", &[("SOURCE_DATE_EPOCH", "1700000000")]);
    let d = sha("d.iso", &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert_eq!(c, d, "same SOURCE_DATE_EPOCH, same bytes");
    assert_ne!(a, c, "the date is part of the image");
    let info = run(Command::new("isoinfo")
        .args(["-d", "-i"])
        .arg(tmp.path().join("c.iso")));
    assert!(info.contains("Volume set id: "), "{info}");
    let pvd = std::fs::read(tmp.path().join("c.iso")).unwrap();
    // PVD creation date (sector 16, offset 813): SOURCE_DATE_EPOCH in UTC.
    assert_eq!(&pvd[16 * 2048 + 813..16 * 2048 + 829], b"2023111422132000");
}

#[test]
fn a_file_over_4_gib_round_trips_and_stays_sparse() {
    fixtures();
    if !tools() {
        return;
    }
    let tmp = scratch("iso-big");
    let size = 4500 * MIB;
    let big = tmp.path().join("pkg/images/big.bin");
    sparse(&big, size, "TSMEDIA-BIG-FILE");
    std::fs::write(tmp.path().join("pkg/readme.txt"), "small\r\n").unwrap();
    let p = profile(tmp.path(), "standalone", |v| {
        v["media"]["size"] = "unlimited".into();
        add_package(v, "TSM00020", &tmp.path().join("pkg"));
    });
    let iso = tmp.path().join("big.iso");
    let rss = tmp.path().join("rss.txt");
    let timed = Path::new("/usr/bin/time").exists();
    let mut c = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").arg("-o").arg(&rss);
        c.arg(env!("CARGO_BIN_EXE_tsmedia"));
        c.current_dir(root()).env_remove("SOURCE_DATE_EPOCH");
        c
    } else {
        tsmedia()
    };
    c.args(["-q", "create", "--format", "iso", "--json", "--profile"])
        .arg(&p)
        .arg("--output")
        .arg(&iso);
    let o = run_ok(&mut c);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let want = sha256_file(&big);

    // Sparse: the zeros of the source are holes in the image.
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(&iso).unwrap();
    assert!(m.len() > size);
    assert!(
        m.blocks() * 512 < 200 * MIB,
        "image uses {} bytes on disk",
        m.blocks() * 512
    );
    if timed {
        let kib: u64 = std::fs::read_to_string(&rss)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
    }

    // The manifest on the medium records the right hash.
    let path = "SMS/PKG/TSM00020/images/big.bin";
    let mut x = Command::new("7z")
        .args(["x", "-so"])
        .arg(&iso)
        .arg("SMS/data/tsmedia-manifest.json")
        .output()
        .unwrap();
    assert!(x.status.success());
    let man: Value = serde_json::from_slice(&std::mem::take(&mut x.stdout)).unwrap();
    let rec = man["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap()
        .clone();
    assert_eq!(rec["size"].as_u64().unwrap(), size);
    assert_eq!(rec["sha256"], want.as_str());
    assert_eq!(r["output_sha256"], sha256_file(&iso).as_str());

    // UDF (7z): one stream, identical bytes.
    let mut child = Command::new("7z")
        .args(["x", "-so"])
        .arg(&iso)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = out.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(n, size, "7z (UDF) extracts the whole file");
    assert_eq!(hex::encode(h.finalize()), want, "7z (UDF) bytes");

    // ISO 9660 and Joliet: multi-extent records that add up to the size.
    for (flag, name) in [("-l", "BIG.BIN;1"), ("-J", "big.bin")] {
        let mut cmd = Command::new("isoinfo");
        cmd.arg("-l");
        if flag == "-J" {
            cmd.arg("-J");
        }
        let l = run(cmd.arg("-i").arg(&iso));
        let sizes: Vec<u64> = l
            .lines()
            .filter(|line| line.trim_end().ends_with(name))
            .map(|line| line.split_whitespace().nth(4).unwrap().parse().unwrap())
            .collect();
        assert!(sizes.len() >= 2, "{name}: multi-extent records: {sizes:?}");
        assert_eq!(sizes.iter().sum::<u64>(), size, "{name}");
    }
    // xorriso reads the ISO 9660 tree and sees one file of the whole size.
    let l = run(Command::new("xorriso")
        .args(["-indev"])
        .arg(&iso)
        .args(["-lsl", "/SMS/PKG/TSM00020/images"]));
    assert!(l.contains(&size.to_string()), "{l}");
}

#[test]
fn content_larger_than_a_cd_becomes_a_volume_set() {
    let fx = fixtures();
    if !tools() || !boot_tools() {
        return;
    }
    let tmp = scratch("iso-set");
    let src = tmp.path().join("src");
    sparse(&src.join("p20/a.bin"), 300 * MIB, "P20-A");
    sparse(&src.join("p20/b.bin"), 301 * MIB, "P20-B");
    sparse(&src.join("p21/c.bin"), 400 * MIB, "P21-C");
    sparse(&src.join("p22/d.bin"), 500 * MIB, "P22-D");
    let p = profile(tmp.path(), "standalone", |v| {
        v["media"]["size"] = "cd".into();
        add_package(v, "TSM00020", &src.join("p20"));
        add_package(v, "TSM00021", &src.join("p21"));
        add_package(v, "TSM00022", &src.join("p22"));
    });

    // The plan shows the assignment.
    let o = run_ok(
        tsmedia()
            .args(["plan", "--format", "iso", "--json", "--profile"])
            .arg(&p),
    );
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = plan["volumes"].as_u64().unwrap() as usize;
    assert_eq!(n, 3, "three CDs");
    let mut assigned: BTreeMap<String, u64> = BTreeMap::new();
    for f in plan["files"].as_array().unwrap() {
        assigned.insert(
            f["path"].as_str().unwrap().to_string(),
            f["volume"].as_u64().unwrap(),
        );
    }
    for (path, v) in &assigned {
        let first = path.starts_with("SMS/data/")
            || path.starts_with("boot")
            || path.starts_with("efi/")
            || path == "sources/boot.wim";
        if first {
            assert_eq!(*v, 1, "/{path} is on volume 1");
        }
    }
    let text = String::from_utf8(
        run_ok(
            tsmedia()
                .args(["plan", "--format", "iso", "--profile"])
                .arg(&p),
        )
        .stdout,
    )
    .unwrap();
    assert!(text.contains("[volume 3]"), "{text}");
    // A package is never split when it fits a volume.
    for pkg in ["TSM00020", "TSM00021", "TSM00022"] {
        let vols: BTreeSet<u64> = assigned
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("SMS/PKG/{pkg}/")))
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(vols.len(), 1, "{pkg} on one volume: {vols:?}");
    }

    let out = tmp.path().join("media.iso");
    let r = create(&p, &out, &[]);
    let vols = volumes_of(&r);
    assert_eq!(vols.len(), 3);
    assert!(
        !out.exists(),
        "a set is written as media-1.iso, media-2.iso, …"
    );
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut manifests = Vec::new();
    for (i, vol) in vols.iter().enumerate() {
        assert_eq!(
            vol.file_name().unwrap().to_string_lossy(),
            format!("media-{}.iso", i + 1)
        );
        assert!(
            std::fs::metadata(vol).unwrap().len() <= 650 * MIB,
            "fits a CD"
        );
        assert_eq!(r["volume_sha256"][i], sha256_file(vol).as_str());
        let x = tmp.path().join(format!("x{}", i + 1));
        extract(vol, &x);
        for (rel, _) in files_under(&x) {
            if rel == "SMS/data/tsmedia-manifest.json" {
                continue;
            }
            assert_eq!(
                assigned[&rel],
                i as u64 + 1,
                "/{rel} is where the plan said"
            );
            *seen.entry(rel).or_default() += 1;
        }
        let mbytes = std::fs::read(x.join("SMS/data/tsmedia-manifest.json")).unwrap();
        let m: Value = serde_json::from_slice(&mbytes).unwrap();
        // The files of this volume match the (shared) manifest.
        for f in m["files"].as_array().unwrap() {
            assert!(f["volume"].is_u64(), "records name their volume");
            if f["volume"].as_u64().unwrap() == i as u64 + 1 {
                let p = x.join(f["path"].as_str().unwrap());
                assert_eq!(sha256_file(&p), f["sha256"].as_str().unwrap());
            }
        }
        manifests.push(mbytes);
        if i == 0 {
            bootcheck(
                "bios",
                vol,
                std::fs::read_to_string(fx.join("markers/standalone/tsmedia.marker"))
                    .unwrap()
                    .trim(),
            );
            assert!(x.join("boot/etfsboot.com").exists());
            assert!(x.join("SMS/data/Variables.dat").exists());
        } else {
            let et = run(Command::new("xorriso")
                .args(["-indev"])
                .arg(vol)
                .args(["-report_el_torito", "plain"]));
            assert!(
                !et.contains("El Torito boot img"),
                "only volume 1 boots: {et}"
            );
        }
        std::fs::remove_dir_all(&x).unwrap();
    }
    assert!(
        manifests.windows(2).all(|w| w[0] == w[1]),
        "one manifest on every volume"
    );
    // tsmedia's own reader takes the set whole, given its first volume.
    let v = run(tsmedia().arg("verify").arg(&vols[0]));
    assert!(v.contains("3 volumes"), "{v}");
    let planned: BTreeSet<&String> = assigned
        .keys()
        .filter(|p| *p != "SMS/data/tsmedia-manifest.json")
        .collect();
    assert_eq!(planned, seen.keys().collect(), "every file on a volume");
    assert!(
        seen.values().all(|&c| c == 1),
        "every file on exactly one volume"
    );
}

#[test]
fn a_wim_larger_than_a_volume_is_split_on_password_protected_sets_too() {
    fixtures();
    if !tools() || !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("iso-set-swm");
    // An OS image of three 280 MiB resources: larger than a CD, splittable.
    let src = tmp.path().join("wimsrc");
    for n in ["one", "two", "three"] {
        sparse(
            &src.join(format!("{n}.bin")),
            280 * MIB,
            &format!("PART-{n}"),
        );
    }
    let wim = tmp.path().join("install.wim");
    run(Command::new("wimlib-imagex")
        .arg("capture")
        .arg(&src)
        .arg(&wim)
        .args(["Windows 11 Enterprise", "--compress=none", "--no-acls"]));
    std::fs::remove_dir_all(&src).unwrap();
    assert!(std::fs::metadata(&wim).unwrap().len() > 650 * MIB);
    let p = profile(tmp.path(), "standalone", |v| {
        v["media"]["size"] = "cd".into();
        v["media"]["password_protected"] = true.into();
        v["media"]["encrypt_content"] = true.into();
        v["os_image"]["path"] = wim.to_str().unwrap().into();
    });
    let pw = tmp.path().join("pw.txt");
    std::fs::write(&pw, "a long enough password\n").unwrap();

    // The plan (of the plaintext) shows the parts.
    let o = run_ok(
        tsmedia()
            .args(["plan", "--format", "iso", "--json", "--profile"])
            .arg(&p),
    );
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let parts: Vec<&str> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .filter(|p| p.starts_with("SMS/PKG/TSM00001/"))
        .collect();
    assert_eq!(
        parts,
        [
            "SMS/PKG/TSM00001/install.swm",
            "SMS/PKG/TSM00001/install2.swm"
        ]
    );

    let out = tmp.path().join("media.iso");
    let o = run_ok(
        tsmedia()
            .args([
                "-q",
                "create",
                "--format",
                "iso",
                "--json",
                "--password-file",
            ])
            .arg(&pw)
            .arg("--profile")
            .arg(&p)
            .arg("--output")
            .arg(&out),
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let vols = volumes_of(&r);
    assert!(vols.len() >= 2, "{r}");
    for v in &vols {
        assert!(
            std::fs::metadata(v).unwrap().len() <= 650 * MIB,
            "fits a CD"
        );
    }
    let v = run(tsmedia()
        .args(["verify", "--password-file"])
        .arg(&pw)
        .arg(&vols[0]));
    assert!(!v.contains("FAIL"), "{v}");

    // Decrypted, the parts are a split WIM wimlib accepts, and Policy.xml
    // (under the password) names the OS image's package folder.
    let dec = tmp.path().join("dec");
    run_ok(
        tsmedia()
            .args(["-q", "decrypt", "--password-file"])
            .arg(&pw)
            .arg("--medium")
            .arg(&vols[0])
            .arg("--output")
            .arg(&dec),
    );
    let first = dec.join("SMS/PKG/TSM00001/install.swm");
    run(Command::new("wimlib-imagex")
        .arg("verify")
        .arg(&first)
        .arg("--ref")
        .arg(dec.join("SMS/PKG/TSM00001/install*.swm")));
    let policy = common::settings_text(&dec.join("SMS/data/Policy.xml"), "a long enough password");
    assert!(
        policy.contains("<value>SMS/PKG/TSM00001</value>"),
        "{policy}"
    );
    assert!(!policy.contains("install.wim"), "{policy}");
}

#[test]
fn a_file_larger_than_a_volume_that_cannot_be_split_is_a_profile_problem() {
    fixtures();
    let tmp = scratch("iso-toobig");
    sparse(&tmp.path().join("p/huge.bin"), 700 * MIB, "HUGE");
    let p = profile(tmp.path(), "standalone", |v| {
        v["media"]["size"] = "cd".into();
        add_package(v, "TSM00020", &tmp.path().join("p"));
    });
    let o = tsmedia()
        .args(["plan", "--format", "iso", "--profile"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/SMS/PKG/TSM00020/huge.bin"), "{err}");
    assert!(err.contains("media.size"), "{err}");
}

#[test]
fn long_unicode_and_deep_names_survive() {
    fixtures();
    if !tools() {
        return;
    }
    let tmp = scratch("iso-names");
    let pkg = tmp.path().join("pkg");
    let long = format!("{}.txt", "L".repeat(196));
    assert_eq!(long.chars().count(), 200);
    let names = [
        long.clone(),
        "Überprüfung – Ünïcode.txt".to_string(),
        "日本語のファイル名.txt".to_string(),
        "emoji 😀 name.txt".to_string(),
        format!("{}.log", "ç".repeat(120)),
    ];
    for (i, n) in names.iter().enumerate() {
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join(n), format!("file {i}: {n}\r\n")).unwrap();
    }
    let mut deep = pkg.clone();
    for level in 1..=10 {
        deep = deep.join(format!("level{level:02}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("deep.txt"), "ten levels down\r\n").unwrap();
    let p = profile(tmp.path(), "standalone", |v| {
        add_package(v, "TSM00020", &pkg)
    });
    let iso = tmp.path().join("names.iso");
    create(&p, &iso, &[]);

    // UDF keeps every name whole.
    let x = tmp.path().join("x");
    extract(&iso, &x);
    check_against_manifest(&x, "names");
    for n in &names {
        assert!(x.join("SMS/PKG/TSM00020").join(n).exists(), "UDF keeps {n}");
    }
    let deep_rel = (1..=10)
        .map(|l| format!("level{l:02}"))
        .collect::<Vec<_>>()
        .join("/");
    assert_eq!(
        std::fs::read_to_string(x.join("SMS/PKG/TSM00020").join(&deep_rel).join("deep.txt"))
            .unwrap(),
        "ten levels down\r\n"
    );

    // Joliet cuts names at 64 characters, keeping the extension; the deep
    // folders are all there (no relocation).
    let jl = run(Command::new("isoinfo").args(["-l", "-J", "-i"]).arg(&iso));
    let cut = format!("{}.txt", "L".repeat(60));
    assert!(
        jl.contains(&format!(" {cut}")),
        "Joliet name cut to 64:\n{jl}"
    );
    // xorriso shows the Joliet tree in UTF-8 (isoinfo cannot).
    let xl = run(Command::new("xorriso")
        .arg("-indev")
        .arg(&iso)
        .args(["-ls", "/SMS/PKG/TSM00020"]));
    for n in [
        "'Überprüfung – Ünïcode.txt'".to_string(),
        "'日本語のファイル名.txt'".to_string(),
        "'emoji 😀 name.txt'".to_string(),
        format!("'{cut}'"),
    ] {
        assert!(xl.contains(&n), "Joliet has {n}:\n{xl}");
    }
    assert!(
        jl.contains(&format!(
            "Directory listing of /SMS/PKG/TSM00020/{deep_rel}/"
        )),
        "{jl}"
    );
    // The primary tree too.
    let pl = run(Command::new("isoinfo").args(["-l", "-i"]).arg(&iso));
    assert!(pl.contains("/LEVEL10/"), "{pl}");
    assert!(pl.contains("DEEP.TXT;1"), "{pl}");
    // xorriso reads the file ten levels down from the ISO 9660 tree.
    let xo = tmp.path().join("deep-xorriso.txt");
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&iso)
        .arg("-extract")
        .arg(format!("/SMS/PKG/TSM00020/{deep_rel}/deep.txt"))
        .arg(&xo));
    assert_eq!(std::fs::read_to_string(&xo).unwrap(), "ten levels down\r\n");

    // A name UDF cannot hold is a problem found by `plan`.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    // 129 characters beyond Latin-1: 254 bytes of UTF-8 (Linux allows it),
    // 259 bytes in UDF (which allows 255).
    std::fs::write(bad.join(format!("{}.txt", "ā".repeat(125))), "x").unwrap();
    let p = profile(tmp.path(), "standalone", |v| {
        add_package(v, "TSM00021", &bad)
    });
    let o = tsmedia()
        .args(["plan", "--format", "iso", "--profile"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("UDF"));
}

#[test]
fn identical_files_are_stored_once() {
    fixtures();
    if !have_tool("isoinfo", "genisoimage") || !have_tool("7z", "p7zip-full") {
        return;
    }
    let tmp = scratch("iso-dedup");
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir_all(pkg.join("copy")).unwrap();
    let data: Vec<u8> = (0..2 * MIB as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(pkg.join("one.bin"), &data).unwrap();
    std::fs::write(pkg.join("copy/two.bin"), &data).unwrap();
    let mut other = data.clone();
    other[MIB as usize] ^= 1;
    std::fs::write(pkg.join("copy/three.bin"), &other).unwrap();
    let p = profile(tmp.path(), "standalone", |v| {
        add_package(v, "TSM00020", &pkg)
    });
    let iso = tmp.path().join("dedup.iso");
    let r = create(&p, &iso, &[]);
    let saved = r["dedup_saved_bytes"].as_u64().unwrap();
    assert!(saved >= 2 * MIB, "saved {saved}");
    assert!(r["output_bytes"].as_u64().unwrap() < r["content_bytes"].as_u64().unwrap() + 2 * MIB);
    let l = run(Command::new("isoinfo").args(["-l", "-J", "-i"]).arg(&iso));
    let lba = |name: &str| -> String {
        let line = l.lines().find(|x| x.trim_end().ends_with(name)).unwrap();
        line.split('[')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(lba(" one.bin"), lba(" two.bin"), "one copy of the data");
    assert_ne!(
        lba(" one.bin"),
        lba(" three.bin"),
        "different content stays apart"
    );
    let x = tmp.path().join("x");
    extract(&iso, &x);
    check_against_manifest(&x, "dedup");
}

/// Waits until a partial output appears next to `out`.
fn wait_for_partial(dir: &Path, child: &mut std::process::Child) -> bool {
    for _ in 0..3000 {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let partial = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                e.file_name().to_string_lossy().contains("tsmedia-partial")
                    && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
            });
        if partial {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

fn no_output_left(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
}

#[test]
fn a_failed_or_interrupted_build_leaves_no_output() {
    fixtures();
    let tmp = scratch("iso-fail");
    let big = tmp.path().join("src/p/big.bin");
    sparse(&big, 3000 * MIB, "BIG");
    let p = profile(tmp.path(), "standalone", |v| {
        v["media"]["size"] = "unlimited".into();
        add_package(v, "TSM00020", &tmp.path().join("src/p"));
    });
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let start_build = |out: PathBuf| {
        let mut c = tsmedia();
        c.args(["-q", "create", "--format", "iso", "--profile"])
            .arg(&p)
            .arg("--output")
            .arg(out);
        c
    };

    // A source that shrinks while it is copied.
    let mut child = start_build(outdir.join("m.iso"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_partial(&outdir, &mut child), "the build started");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(10 * MIB)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("big.bin") && err.contains("shrank"), "{err}");
    no_output_left(&outdir);

    // An interrupt (Ctrl-C).
    sparse(&big, 3000 * MIB, "BIG");
    let mut child = start_build(outdir.join("m.iso"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for_partial(&outdir, &mut child), "the build started");
    // SAFETY: signalling the child we spawned, by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("interrupted"));
    no_output_left(&outdir);

    // An output folder that does not exist: refused before anything is made.
    let o = start_build(outdir.join("missing/m.iso")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    no_output_left(&outdir);
}
