//! verify, inspect and decrypt on folder and WIM media: clean media pass,
//! every kind of damage is reported with the right path and exit code 3.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const PASSWORD: &str = "correct horse battery staple";

fn verify(paths: &[&Path], extra: &[&str]) -> Output {
    tsmedia()
        .arg("verify")
        .args(paths)
        .args(extra)
        .output()
        .unwrap()
}

fn flip(path: &Path, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x01]).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, p) in files_under(from) {
        let d = to.join(&rel);
        std::fs::create_dir_all(d.parent().unwrap()).unwrap();
        std::fs::copy(&p, &d).unwrap();
    }
}

/// Flips a byte of a copy of `medium`; verify must exit 3 with a problem
/// line starting with `want`.
fn damaged_copy_fails(medium: &Path, dir: &Path, name: &str, at: u64, want: &str) {
    let ext = medium.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    let c = dir.join(format!("{name}.{ext}"));
    std::fs::copy(medium, &c).unwrap();
    flip(&c, at);
    let o = verify(&[&c], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{name}: {out}");
    assert!(
        out.lines().any(|l| l.starts_with(want)),
        "{name}: a line starting `{want}` in: {out}"
    );
}

fn expect_problem(o: &Output, path: &str) {
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "exit 3 for {path}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.lines().any(|l| l.starts_with(path)),
        "a problem line for {path}: {out}"
    );
}

#[test]
fn folder_media_verify_clean_and_report_each_damage() {
    fixtures();
    let tmp = scratch("verify-folder");
    let good = tmp.path().join("good");
    build("examples/standalone.json", "folder", &good, &[]);
    let o = verify(&[&good], &["--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["files_checked"].as_u64().unwrap() > 30);

    let case = |name: &str, damage: &dyn Fn(&Path), path: &str| {
        let m = tmp.path().join(name);
        copy_tree(&good, &m);
        damage(&m);
        expect_problem(&verify(&[&m], &[]), path);
    };
    case(
        "pkg",
        &|m| flip(&m.join("SMS/PKG/TSM00003/Data/payload.bin"), 1000),
        "SMS/PKG/TSM00003/Data/payload.bin",
    );
    case(
        "manifest",
        &|m| flip(&m.join("SMS/data/tsmedia-manifest.json"), 700),
        "SMS/data/tsmedia-manifest.json",
    );
    case(
        "missing",
        &|m| std::fs::remove_file(m.join("boot/etfsboot.com")).unwrap(),
        "boot/etfsboot.com",
    );
    case(
        "extra",
        &|m| std::fs::write(m.join("stray.txt"), "x").unwrap(),
        "stray.txt",
    );
    // Without a manifest and without the product's settings, it is no medium.
    case(
        "nomanifest",
        &|m| {
            std::fs::remove_file(m.join("SMS/data/tsmedia-manifest.json")).unwrap();
            std::fs::remove_file(m.join("SMS/data/TsmBootstrap.ini")).unwrap();
            std::fs::remove_file(m.join("SMS/data/Variables.dat")).unwrap();
        },
        "SMS/data/tsmedia-manifest.json",
    );
    // Without a manifest, as the product makes media: structure and
    // settings are checked, and every file read; exit 0 when readable.
    let product = tmp.path().join("product");
    copy_tree(&good, &product);
    std::fs::remove_file(product.join("SMS/data/tsmedia-manifest.json")).unwrap();
    let o = verify(&[&product], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("no tsmedia manifest"), "{out}");
    assert!(
        out.contains("Variables.dat opened with the default password"),
        "{out}"
    );
    let o = run_ok(tsmedia().args(["inspect", "--json"]).arg(&product));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tsmedia_manifest"], false);
    assert_eq!(v["media_type"], "standalone");
    assert_eq!(v["task_sequence"]["id"], "TSM00010");
    case(
        "product-damaged-vars",
        &|m| {
            std::fs::remove_file(m.join("SMS/data/tsmedia-manifest.json")).unwrap();
            flip(&m.join("SMS/data/Variables.dat"), 40);
        },
        "SMS/data/Variables.dat",
    );
    case(
        "truncated",
        &|m| {
            let p = m.join("sources/boot.wim");
            let n = std::fs::metadata(&p).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(n - 1)
                .unwrap();
        },
        "sources/boot.wim",
    );

    // A path that is not a medium: exit 2; an unreadable one: exit 1.
    let o = verify(&[&fixtures().join("task-sequence.xml")], &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = verify(&[&tmp.path().join("none")], &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn wim_media_verify_clean_and_report_damage() {
    fixtures();
    if !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("verify-wim");
    let wim = tmp.path().join("p.wim");
    build(
        "examples/prestaged.json",
        "wim",
        &wim,
        &["--compression", "none"],
    );
    let o = verify(&[&wim], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Damage the content of a package file inside the (uncompressed) WIM.
    let bytes = std::fs::read(&wim).unwrap();
    let needle = std::fs::read(fixtures().join("packages/pkg-tools/config.ini")).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == &needle[..])
        .expect("content stored uncompressed") as u64;
    flip(&wim, at + 3);
    let o = verify(&[&wim], &[]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn pwfile(dir: &Path, pw: &str) -> PathBuf {
    let p = dir.join(format!("pw-{}.txt", pw.len()));
    std::fs::write(&p, format!("{pw}\n")).unwrap();
    p
}

#[test]
fn encrypted_media_round_trip_and_refuse_tampering() {
    let fx = fixtures();
    let tmp = scratch("encrypted");
    let pw = pwfile(tmp.path(), PASSWORD);
    let pws = pw.to_str().unwrap();
    let folder = tmp.path().join("enc");
    build(
        "examples/standalone.json",
        "folder",
        &folder,
        &["--password-file", pws, "--encrypt-content"],
    );
    let wim = tmp.path().join("enc.wim");
    build(
        "examples/standalone.json",
        "wim",
        &wim,
        &["--password-file", pws, "--encrypt-content"],
    );
    let iso = tmp.path().join("enc.iso");
    build(
        "examples/standalone.json",
        "iso",
        &iso,
        &["--password-file", pws, "--encrypt-content"],
    );
    let usb = tmp.path().join("enc.img");
    build(
        "examples/standalone.json",
        "usb-image",
        &usb,
        &["--password-file", pws, "--encrypt-content"],
    );

    // No plaintext of a package file anywhere on the media.
    let secret = std::fs::read(fx.join("packages/pkg-tools/install.cmd")).unwrap();
    let probe = &secret[..secret.len().min(40)];
    for (_, p) in files_under(&folder) {
        let b = std::fs::read(&p).unwrap();
        assert!(
            !b.windows(probe.len()).any(|w| w == probe),
            "plaintext found in {}",
            p.display()
        );
    }
    let wb = std::fs::read(&wim).unwrap();
    assert!(
        !wb.windows(probe.len()).any(|w| w == probe),
        "plaintext found in the WIM"
    );
    let vars = std::fs::read(folder.join("SMS/data/Variables.dat")).unwrap();
    assert!(
        !String::from_utf8_lossy(&vars).contains("OSDComputerName"),
        "variables are encrypted"
    );

    // verify without and with the password; decrypt both formats to the sources.
    assert_eq!(verify(&[&folder], &[]).status.code(), Some(0));
    assert_eq!(
        verify(&[&folder], &["--password-file", pws]).status.code(),
        Some(0)
    );
    assert_eq!(
        verify(&[&iso], &["--password-file", pws]).status.code(),
        Some(0)
    );
    for (name, medium) in [
        ("dec-folder", &folder),
        ("dec-wim", &wim),
        ("dec-iso", &iso),
        ("dec-usb", &usb),
    ] {
        let out = tmp.path().join(name);
        run_ok(
            tsmedia()
                .args(["-q", "decrypt", "--password-file", pws, "--medium"])
                .arg(medium)
                .arg("--output")
                .arg(&out),
        );
        for (id, src) in [
            ("TSM00002", "packages/app-notepad"),
            ("TSM00003", "packages/pkg-tools"),
            ("PRESTART", "prestart"),
        ] {
            for (rel, p) in files_under(&fx.join(src)) {
                assert_eq!(
                    std::fs::read(out.join("SMS/PKG").join(id).join(&rel)).unwrap(),
                    std::fs::read(&p).unwrap(),
                    "{name}: {id}/{rel}"
                );
            }
        }
        assert_eq!(
            sha256_file(&out.join("SMS/PKG/TSM00001/install.wim")),
            sha256_file(&fx.join("install.wim"))
        );
        // Settings files keep the product's own encryption, under the password.
        let vars = settings_text(&out.join("SMS/data/Variables.dat"), PASSWORD);
        assert!(vars.contains("OSDComputerName"));
    }

    // Every kind of tampering: exit 3, a message naming the problem, no output.
    let decrypt_fails = |medium: &Path, pwf: &str, want: &str| {
        let out = tmp.path().join("never");
        let o = tsmedia()
            .args(["decrypt", "--password-file", pwf, "--medium"])
            .arg(medium)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{want}: {err}");
        assert!(err.contains(want), "expected `{want}` in: {err}");
        assert!(!out.exists(), "no output after a failed decrypt");
        let partial: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(partial.is_empty());
    };
    let bad_pw = pwfile(tmp.path(), "a wrong password!");
    decrypt_fails(&folder, bad_pw.to_str().unwrap(), "wrong password");
    let o = verify(&[&folder], &["--password-file", bad_pw.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));

    let tampered = |name: &str, damage: &dyn Fn(&Path), want: &str| {
        let m = tmp.path().join(name);
        copy_tree(&folder, &m);
        damage(&m);
        decrypt_fails(&m, pws, want);
    };
    tampered(
        "t-header",
        &|m| flip(&m.join("SMS/data/tsmedia-key.bin"), 30),
        "key header",
    );
    let big = "SMS/PKG/TSM00003/Data/payload.bin";
    tampered("t-body", &|m| flip(&m.join(big), 70_000), big);
    tampered(
        "t-trunc",
        &|m| {
            let p = m.join(big);
            let n = std::fs::metadata(&p).unwrap().len();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(n - (65536 + 16))
                .unwrap();
            // Keep the manifest's size check from catching it first: decrypt
            // checks each chunk before the file's hash.
        },
        big,
    );
    tampered(
        "t-swap",
        &|m| {
            let p = m.join(big);
            let mut b = std::fs::read(&p).unwrap();
            let c = 65536 + 16;
            let (x, y) = (40, 40 + c);
            let first = b[x..x + c].to_vec();
            let second = b[y..y + c].to_vec();
            b[x..x + c].copy_from_slice(&second);
            b[y..y + c].copy_from_slice(&first);
            std::fs::write(&p, b).unwrap();
        },
        big,
    );
    tampered(
        "t-moved",
        &|m| {
            // Put one encrypted file's bytes in place of another's.
            let a = m.join("SMS/PKG/TSM00003/Tools/Bin/x64/trace.exe");
            let b = m.join("SMS/PKG/TSM00003/Tools/Bin/x86/trace.exe");
            std::fs::copy(&a, &b).unwrap();
        },
        "SMS/PKG/TSM00003/Tools/Bin/x86/trace.exe",
    );

    // A short password is refused up front.
    let short = pwfile(tmp.path(), "short");
    let o = tsmedia()
        .args([
            "create",
            "--profile",
            "examples/standalone.json",
            "--format",
            "folder",
            "--password-file",
            short.to_str().unwrap(),
            "--output",
        ])
        .arg(tmp.path().join("weak"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 12"));
    // password_protected without a password and without a terminal: refused.
    let text = std::fs::read_to_string(root().join("examples/standalone.json"))
        .unwrap()
        .replace(
            "\"password_protected\": false",
            "\"password_protected\": true",
        )
        .replace("../fixtures/build", fx.to_str().unwrap());
    let prof = tmp.path().join("protected.json");
    std::fs::write(&prof, text).unwrap();
    let o = tsmedia()
        .args(["create", "--format", "folder", "--profile"])
        .arg(&prof)
        .arg("--output")
        .arg(tmp.path().join("nopw"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--password-file"));
    let o = tsmedia()
        .env("TSMEDIA_TEST_PW", PASSWORD)
        .args([
            "-q",
            "create",
            "--format",
            "folder",
            "--password-env",
            "TSMEDIA_TEST_PW",
            "--profile",
        ])
        .arg(&prof)
        .arg("--output")
        .arg(tmp.path().join("envpw"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn inspect_shows_what_a_medium_is_and_flags_expiry() {
    fixtures();
    let tmp = scratch("inspect");
    let m = tmp.path().join("standalone");
    build("examples/standalone.json", "folder", &m, &[]);
    let o = run_ok(tsmedia().arg("inspect").arg(&m));
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        "media type:   standalone",
        "label:        TSM_STANDALONE",
        "by tsmedia",
        "validity:",
        "days left",
        "encrypted:    no",
        "files:",
    ] {
        assert!(text.contains(want), "`{want}` in:\n{text}");
    }
    let o = run_ok(
        tsmedia()
            .env("TSMEDIA_NOW", "2031-06-01T00:00:00Z")
            .args(["inspect", "--json"])
            .arg(&m),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["validity_expiry"]["expired"], true);
    assert!(
        v["warnings"][0].as_str().unwrap().contains("expired"),
        "{v}"
    );
    let o = run_ok(
        tsmedia()
            .env("TSMEDIA_NOW", "2029-12-20T00:00:00Z")
            .args(["inspect", "--json"])
            .arg(&m),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("expires in 12 days"),
        "{v}"
    );

    let b = tmp.path().join("bootable");
    build("examples/bootable.json", "folder", &b, &[]);
    let o = run_ok(tsmedia().args(["inspect", "--json"]).arg(&b));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["media_type"], "bootable");
    assert!(v["site"]["code"].is_string());
    assert!(v["site"]["management_points"][0]
        .as_str()
        .unwrap()
        .starts_with("http"));
    assert_eq!(v["certificate"]["kind"], "self-signed");
    assert!(v["certificate_expiry"]["date"].is_string());
}

fn xorriso_lines(iso: &Path, args: &[&str]) -> Vec<String> {
    let o = std::process::Command::new("xorriso")
        .arg("-indev")
        .arg(iso)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn iso_media_verify_with_our_reader_and_report_damage() {
    fixtures();
    if !have_tool("xorriso", "xorriso") {
        return;
    }
    let tmp = scratch("verify-iso");
    let iso = tmp.path().join("m.iso");
    build("examples/standalone.json", "iso", &iso, &[]);
    let o = verify(&[&iso], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run_ok(tsmedia().args(["inspect", "--json"]).arg(&iso));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let boots: Vec<(String, String)> = v["boot_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["firmware"].as_str().unwrap().to_string(),
                b["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        boots,
        vec![
            ("BIOS".to_string(), "boot/etfsboot.com".to_string()),
            (
                "UEFI".to_string(),
                "efi/microsoft/boot/efisys.bin".to_string()
            )
        ]
    );

    // Where xorriso says things are.
    let lba_of = |path: &str| -> u64 {
        let lines = xorriso_lines(&iso, &["-find", path, "-exec", "report_lba", "--"]);
        let l = lines
            .iter()
            .find(|l| l.starts_with("File data lba:"))
            .expect("report_lba line");
        l.split(',').nth(1).unwrap().trim().parse().unwrap()
    };
    let catalog: u64 = xorriso_lines(&iso, &["-report_el_torito", "plain"])
        .iter()
        .find(|l| l.starts_with("El Torito catalog"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let payload = "SMS/PKG/TSM00003/Data/payload.bin";
    let payload_lba = lba_of(&format!("/{payload}"));
    let manifest_lba = lba_of("/SMS/data/tsmedia-manifest.json");

    let case =
        |name: &str, at: u64, want: &str| damaged_copy_fails(&iso, tmp.path(), name, at, want);
    case("pkg", payload_lba * 2048 + 5000, payload);
    case(
        "manifest",
        manifest_lba * 2048 + 300,
        "SMS/data/tsmedia-manifest.json",
    );
    case("catalog", catalog * 2048 + 4, "boot catalog");
}

#[test]
fn usb_media_verify_with_our_reader_and_report_damage() {
    fixtures();
    let tmp = scratch("verify-usb");
    let img = tmp.path().join("m.img");
    build("examples/standalone.json", "usb-image", &img, &[]);
    let o = verify(&[&img], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let gpt = tmp.path().join("g.img");
    build(
        "examples/bootable.json",
        "usb-image",
        &gpt,
        &["--partition-table", "gpt"],
    );
    assert_eq!(verify(&[&gpt], &[]).status.code(), Some(0));

    let bytes = std::fs::read(&img).unwrap();
    let find = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("found") as u64
    };
    let part = 1 << 20; // the partition starts at 1 MiB
    let fat1 = part + 32 * 512; // after 32 reserved sectors

    // The root folder's entry, past the reserved sectors (the boot code
    // there holds the same 8.3 name, which it looks for).
    let bootmgr_entry = fat1
        + bytes[fat1 as usize..]
            .windows(11)
            .position(|w| w == b"BOOTMGR    ")
            .expect("found") as u64;
    let payload = find(
        &std::fs::read(fixtures().join("packages/pkg-tools/Data/payload.bin")).unwrap()[..4096],
    );
    let manifest = find(b"\"format\": \"tsmedia-manifest/1\"");

    let case =
        |name: &str, at: u64, want: &str| damaged_copy_fails(&img, tmp.path(), name, at, want);
    case("pkg", payload + 100, "SMS/PKG/TSM00003/Data/payload.bin");
    case("fat", fat1 + 4 * 5, "FAT 2");
    case("dirent", bootmgr_entry + 28 + 1, "bootmgr");
    case("manifest", manifest + 3, "SMS/data/tsmedia-manifest.json");
    case("mbr", 446, "MBR partition 1");
}
