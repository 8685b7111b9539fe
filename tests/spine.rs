//! The spine: each media type planned and written to a folder, checked
//! against its sources with tools tsmedia does not contain.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const TYPES: [&str; 4] = ["capture", "bootable", "prestaged", "standalone"];

fn manifest(dir: &Path) -> serde_json::Value {
    let b =
        std::fs::read(dir.join("SMS/data/tsmedia-manifest.json")).expect("manifest on the medium");
    serde_json::from_slice(&b).expect("manifest is JSON")
}

/// Boot files extracted by wimlib-imagex itself, for comparison.
fn extract_boot_tree(fx: &Path, dest: &Path) {
    let out = Command::new("wimlib-imagex")
        .args(["extract"])
        .arg(fx.join("boot.wim"))
        .args(["1", "/Windows/Boot", "--no-acls"])
        .arg(format!("--dest-dir={}", dest.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_media_type_writes_a_folder_matching_its_sources() {
    let fx = fixtures();
    if !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("spine");
    let boot_ref = tmp.path().join("boot-ref");
    extract_boot_tree(&fx, &boot_ref);
    for t in TYPES {
        let out = tmp.path().join(t);
        let o = run_ok(
            tsmedia()
                .args(["create", "--profile"])
                .arg(format!("examples/{t}.json"))
                .args(["--format", "folder", "--json", "--output"])
                .arg(&out),
        );
        let report: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("--json prints JSON");
        assert_eq!(report["media_type"], t);
        assert_eq!(report["format"], "folder");

        // The manifest lists every file but itself, with the right size and hash.
        let m = manifest(&out);
        assert_eq!(m["format"], "tsmedia-manifest/1");
        assert_eq!(m["media_type"], t);
        let files = m["files"].as_array().unwrap();
        let on_disk = files_under(&out);
        assert_eq!(
            files.len() + 1,
            on_disk.len(),
            "{t}: manifest covers every file"
        );
        assert_eq!(report["files"].as_u64().unwrap() as usize, on_disk.len());
        let listed = manifest_listing(&m);
        for (rel, abs) in &on_disk {
            if rel == "SMS/data/tsmedia-manifest.json" {
                continue;
            }
            let (size, sha) = listed
                .get(rel)
                .unwrap_or_else(|| panic!("{t}: {rel} not in manifest"));
            assert_eq!(
                std::fs::metadata(abs).unwrap().len(),
                *size,
                "{t}: size of {rel}"
            );
            assert_eq!(&sha256_file(abs), sha, "{t}: hash of {rel}");
        }
        let manifest_sha = sha256_file(&out.join("SMS/data/tsmedia-manifest.json"));
        assert_eq!(report["manifest_sha256"], manifest_sha.as_str());

        // Boot files are byte-identical to what wimlib-imagex extracts (the
        // boot image has the `_EX` files: the 2023 boot manager's).
        for (medium, inner) in [
            ("bootmgr", "Boot/PCAT/bootmgr"),
            ("bootmgr.efi", "Boot/EFI_EX/bootmgr_EX.efi"),
            ("boot/BCD", "Boot/DVD/PCAT/BCD"),
            ("boot/boot.sdi", "Boot/DVD/PCAT/boot.sdi"),
            ("boot/etfsboot.com", "Boot/DVD/PCAT/etfsboot.com"),
            ("efi/boot/bootx64.efi", "Boot/EFI_EX/bootmgfw_EX.efi"),
            ("efi/microsoft/boot/BCD", "Boot/DVD/EFI/BCD"),
            (
                "efi/microsoft/boot/efisys.bin",
                "Boot/DVD_EX/EFI/en-US/efisys_EX.bin",
            ),
            (
                "efi/microsoft/boot/fonts/wgl4_boot.ttf",
                "Boot/FONTS_EX/wgl4_boot_EX.ttf",
            ),
            ("efi/microsoft/boot/boot.stl", "Boot/EFI/boot.stl"),
        ] {
            assert_eq!(
                sha256_file(&out.join(medium)),
                sha256_file(&boot_ref.join(inner)),
                "{t}: /{medium}"
            );
        }
        // sources/boot.wim holds exactly the chosen image.
        let info = Command::new("wimlib-imagex")
            .arg("info")
            .arg(out.join("sources/boot.wim"))
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(
            info.lines()
                .any(|l| l.starts_with("Image Count:") && l.trim_end().ends_with(" 1")),
            "{t}: {info}"
        );
        assert!(info.contains("Microsoft Windows PE (x64)"), "{t}: {info}");
        let v = Command::new("wimlib-imagex")
            .arg("verify")
            .arg(out.join("sources/boot.wim"))
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{t}: boot.wim verify: {}",
            String::from_utf8_lossy(&v.stderr)
        );

        // Settings every medium has.
        let ini = std::fs::read_to_string(out.join("SMS/data/TsmBootstrap.ini")).unwrap();
        assert!(ini.contains("[MediaInfo]"));
        let vars = settings_text(&out.join("SMS/data/Variables.dat"), DEFAULT_PASSWORD);
        assert!(vars.contains("<var name=\"_SMSTSMediaType\">"), "{vars}");
        assert!(out.join("MediaLabel.txt").exists());
        // The marker from extra_files sits at the root.
        assert_eq!(
            sha256_file(&out.join("tsmedia.marker")),
            sha256_file(&fx.join(format!("markers/{t}/tsmedia.marker")))
        );
        // No temporary leftovers next to the output.
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "partial output left behind");
    }
}

#[test]
fn standalone_content_is_byte_identical_to_the_package_sources() {
    let fx = fixtures();
    let tmp = scratch("standalone");
    let out = tmp.path().join("m");
    build("examples/standalone.json", "folder", &out, &[]);
    for (id, src) in [
        ("TSM00002", "packages/app-notepad"),
        ("TSM00003", "packages/pkg-tools"),
        ("TSM00004", "packages/drv-net"),
        ("PRESTART", "prestart"),
    ] {
        let want = files_under(&fx.join(src));
        let got = files_under(&out.join("SMS/PKG").join(id));
        assert_eq!(
            want.iter().map(|x| &x.0).collect::<Vec<_>>(),
            got.iter().map(|x| &x.0).collect::<Vec<_>>(),
            "{id}: same names"
        );
        for ((_, a), (_, b)) in want.iter().zip(&got) {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{}",
                b.display()
            );
        }
    }
    assert_eq!(
        sha256_file(&out.join("SMS/PKG/TSM00001/install.wim")),
        sha256_file(&fx.join("install.wim"))
    );
    let policy = policy_text(&out);
    assert!(policy.contains("<property name=\"PKG_PackageID\" type=\"8\"><value>TSM00010</value>"));
    assert!(policy.contains("<value>SMS/PKG/TSM00003</value>"));
    assert!(policy.contains("<value>TSM00001</value>"));
}

#[test]
fn plan_json_lists_the_whole_medium() {
    fixtures();
    let o = run_ok(tsmedia().args(["plan", "--profile", "examples/standalone.json", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["media_type"], "standalone");
    assert_eq!(v["boot"]["bios"], "boot/etfsboot.com");
    assert_eq!(v["boot"]["uefi"], "efi/microsoft/boot/efisys.bin");
    let files = v["files"].as_array().unwrap();
    assert_eq!(v["total_files"].as_u64().unwrap() as usize, files.len());
    let sum: u64 = files.iter().map(|f| f["size"].as_u64().unwrap()).sum();
    assert_eq!(v["total_bytes"].as_u64().unwrap(), sum);
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    for p in [
        "bootmgr",
        "sources/boot.wim",
        "SMS/data/Policy.xml",
        "SMS/data/Variables.dat",
        "SMS/data/TsmBootstrap.ini",
        "SMS/data/tsmedia-manifest.json",
        "SMS/PKG/TSM00001/install.wim",
        "tsmedia.marker",
    ] {
        assert!(paths.contains(&p), "plan lists {p}");
    }
    // The planned manifest size is the size that gets written.
    let tmp = scratch("plan-json");
    let out = tmp.path().join("m");
    build("examples/standalone.json", "folder", &out, &[]);
    for f in files {
        let p = out.join(f["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            f["size"].as_u64().unwrap(),
            "{}",
            p.display()
        );
    }
    // `plan` writes nothing at the profile's output path.
    let text = std::fs::read_to_string(root().join("examples/standalone.json"))
        .unwrap()
        .replace("../fixtures/build", fixtures().to_str().unwrap())
        .replace("../out/standalone.iso", "never-written");
    let prof = tmp.path().join("p.json");
    std::fs::write(&prof, text).unwrap();
    run_ok(tsmedia().arg("plan").arg("--profile").arg(&prof));
    assert!(!tmp.path().join("never-written").exists());
}

#[test]
fn existing_output_needs_force_and_is_replaced_whole() {
    fixtures();
    let tmp = scratch("force");
    let out = tmp.path().join("m");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.txt"), "old").unwrap();
    let o = tsmedia()
        .args([
            "create",
            "--profile",
            "examples/bootable.json",
            "--format",
            "folder",
            "--output",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert!(out.join("old.txt").exists(), "refused output untouched");
    run_ok(
        tsmedia()
            .args([
                "-q",
                "create",
                "--profile",
                "examples/bootable.json",
                "--format",
                "folder",
                "--force",
                "--output",
            ])
            .arg(&out),
    );
    assert!(!out.join("old.txt").exists(), "old content replaced");
    assert!(out.join("SMS/data/tsmedia-manifest.json").exists());
}

#[test]
fn boot_image_index_selects_the_image() {
    let fx = fixtures();
    if !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("index");
    let text = std::fs::read_to_string(root().join("examples/bootable.json"))
        .unwrap()
        .replace("\"index\": 1", "\"index\": 2")
        .replace("../fixtures/build", fx.to_str().unwrap());
    let prof = tmp.path().join("p.json");
    std::fs::write(&prof, text).unwrap();
    let out = tmp.path().join("m");
    run_ok(
        tsmedia()
            .args(["-q", "create", "--format", "folder", "--profile"])
            .arg(&prof)
            .arg("--output")
            .arg(&out),
    );
    let info = Command::new("wimlib-imagex")
        .arg("info")
        .arg(out.join("sources/boot.wim"))
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Microsoft Windows Setup (x64)"), "{info}");
    assert!(
        info.lines()
            .any(|l| l.starts_with("Boot Index:") && l.trim_end().ends_with(" 1")),
        "the exported image is the boot image: {info}"
    );
    assert!(
        info.lines()
            .any(|l| l.starts_with("Image Count:") && l.trim_end().ends_with(" 1")),
        "{info}"
    );
}

#[test]
fn profile_init_validates_and_schema_is_json() {
    for t in TYPES {
        let o = run_ok(tsmedia().args(["profile", "init", "--type", t]));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("//"), "init output carries comments");
        let stripped = tsmedia::profile::strip_comments(&text);
        let v: serde_json::Value =
            serde_json::from_str(&stripped).expect("init output is JSON once comments go");
        assert_eq!(v["type"], t);
        // It parses as a profile (sources do not exist, so validation reports those only).
        let _: tsmedia::profile::Profile =
            serde_json::from_value(v).expect("init output parses as a profile");
    }
    let o = run_ok(tsmedia().args(["profile", "schema"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["properties"]["boot_image"].is_object());
    assert_eq!(v["additionalProperties"], false);
}
