//! Secure Boot: the 2023 boot manager's `_EX` boot files, and what every
//! medium boots with. Checked with osslsigncode (Authenticode hashes),
//! mtools (the FAT12 El Torito image), xorriso, and QEMU with OVMF.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn run(c: &mut Command) -> String {
    let o = c.output().expect("running a tool");
    assert!(
        o.status.success(),
        "{c:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A copy of an example profile with absolute fixture paths, changed by `f`.
fn profile(dir: &Path, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
    let fx = fixtures();
    let text = std::fs::read_to_string(root().join("examples/bootable.json"))
        .unwrap()
        .replace("../fixtures/build", fx.to_str().unwrap());
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("output");
    f(&mut v);
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

fn json_of(c: &mut Command) -> Value {
    let o = run_ok(c);
    serde_json::from_slice(&o.stdout).expect("--json prints JSON")
}

fn plan_json(p: &Path, extra: &[&str]) -> Value {
    json_of(
        tsmedia()
            .args(["plan", "--json", "--profile"])
            .arg(p)
            .args(extra),
    )
}

/// (medium path, source inside the boot image) of a plan's boot files.
fn sources(plan: &Value) -> Vec<(String, String)> {
    plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            let src = f["source"].as_str()?;
            let inner = src.split(":/").nth(1)?;
            Some((f["path"].as_str()?.to_string(), inner.to_string()))
        })
        .collect()
}

/// (path, CA ids or "unsigned") of every loader in a secure boot report.
fn cas(sb: &Value) -> Vec<(String, Vec<String>)> {
    sb["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let sigs = f["signatures"].as_array().unwrap();
            let ids = if sigs.is_empty() {
                vec!["unsigned".to_string()]
            } else {
                sigs.iter()
                    .map(|s| {
                        s["ca"]["id"]
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| s["ca"]["name"].as_str().unwrap().to_string())
                    })
                    .collect()
            };
            (f["path"].as_str().unwrap().to_string(), ids)
        })
        .collect()
}

const LOADERS: [&str; 3] = [
    "efi/boot/bootx64.efi",
    "bootmgr.efi",
    "efi/microsoft/boot/efisys.bin:EFI/BOOT/BOOTX64.EFI",
];

fn all(ca: &str) -> Vec<(String, Vec<String>)> {
    LOADERS
        .iter()
        .map(|l| (l.to_string(), vec![ca.to_string()]))
        .collect()
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn authenticode_hashes_match_osslsigncode() {
    let fx = fixtures();
    if !have_tool("osslsigncode", "osslsigncode") {
        return;
    }
    for name in [
        "bootx64-pca2011.efi",
        "bootx64-ca2023.efi",
        "bootx64-unknown-dual.efi",
    ] {
        let p = fx.join("payloads").join(name);
        // The chain ends in a test CA nobody trusts, so verification itself
        // fails; the digests are printed all the same.
        let o = Command::new("osslsigncode")
            .arg("verify")
            .arg("-in")
            .arg(&p)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let want = out
            .lines()
            .find(|l| l.starts_with("Calculated message digest"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or_else(|| panic!("{name}: no digest in\n{out}"))
            .trim()
            .to_string();
        let bytes = std::fs::read(&p).unwrap();
        let facts = tsmedia::secureboot::authenticode::examine(&bytes).unwrap();
        assert_eq!(facts.authenticode_sha256, want, "{name}");
        assert!(facts.problems.is_empty(), "{name}: {:?}", facts.problems);
        assert!(facts.signatures.iter().all(|s| s.digest_matches), "{name}");
    }
    // The unsigned loader hashes like its signed copies (osslsigncode pads
    // nothing here: the GRUB image is a multiple of 8 bytes long).
    let unsigned = std::fs::read(fx.join("payloads/bootx64.efi")).unwrap();
    let signed = std::fs::read(fx.join("payloads/bootx64-unknown-dual.efi")).unwrap();
    assert_eq!(
        tsmedia::secureboot::authenticode::authenticode_sha256(&unsigned).unwrap(),
        tsmedia::secureboot::authenticode::authenticode_sha256(&signed).unwrap()
    );
    // A changed byte after signing is noticed.
    let mut bad = signed.clone();
    bad[0x400] ^= 1;
    let f = tsmedia::secureboot::authenticode::examine(&bad).unwrap();
    assert!(f.signatures.iter().all(|s| !s.digest_matches));
    assert!(f
        .problems
        .iter()
        .any(|p| p.contains("changed after signing")));
}

#[test]
fn nested_signatures_are_walked() {
    let fx = fixtures();
    let bytes = std::fs::read(fx.join("payloads/bootx64-unknown-dual.efi")).unwrap();
    let f = tsmedia::secureboot::authenticode::examine(&bytes).unwrap();
    assert_eq!(f.signatures.len(), 2, "{:#?}", f.signatures);
    assert_eq!(f.signatures[0].nesting, 0);
    assert_eq!(f.signatures[0].ca.id, None);
    assert!(f.signatures[0]
        .ca
        .name
        .contains("TSMEDIA Test Unknown UEFI CA"));
    assert_eq!(f.signatures[1].nesting, 1);
    assert_eq!(
        f.signatures[1].ca.id.as_deref(),
        Some("windows-uefi-ca-2023")
    );
    // Test keys: named by the real certificate in the set, not by its key.
    assert_eq!(f.signatures[1].ca.matched_by, "certificate");
    assert!(!f.signatures[1].ca.key_matches);
    assert!(f.signatures[1]
        .certificates
        .contains(&"45A0FA32604773C82433C3B7D59E7466B3AC0C67".to_string()));
}

#[test]
fn fat12_reader_reads_efisys_like_mtools() {
    let fx = fixtures();
    if !have_tool("mcopy", "mtools") {
        return;
    }
    let tmp = scratch("sb-fat");
    for name in ["efisys.bin", "efisys-ca2023.bin", "efisys-pca2011.bin"] {
        let img = fx.join("payloads").join(name);
        let out = tmp.path().join(format!("{name}.efi"));
        run(Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-n")
            .arg("-i")
            .arg(&img)
            .arg("::/EFI/BOOT/BOOTX64.EFI")
            .arg(&out));
        let data = std::fs::read(&img).unwrap();
        let fat = tsmedia::read::fat::FatImage::open(&data).unwrap();
        assert_eq!(fat.kind, tsmedia::read::fat::FatKind::Fat12, "{name}");
        let files = fat.files().unwrap();
        assert_eq!(files.len(), 1, "{name}: {files:?}");
        let f = fat.find("efi/boot/bootx64.efi").unwrap().unwrap();
        assert_eq!(
            fat.read(&f, 64 << 20).unwrap(),
            std::fs::read(&out).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn plan_takes_the_ex_files_by_default_and_2011_on_request() {
    let tmp = scratch("sb-plan");
    let p = profile(tmp.path(), "default", |_| {});
    let v = plan_json(&p, &[]);
    assert_eq!(v["boot"]["boot_manager"], "2023");
    assert_eq!(v["boot"]["boot_manager_from"], "boot image");
    let s = sources(&v);
    for (medium, inner) in [
        (
            "efi/boot/bootx64.efi",
            "Windows/Boot/EFI_EX/bootmgfw_EX.efi",
        ),
        ("bootmgr.efi", "Windows/Boot/EFI_EX/bootmgr_EX.efi"),
        (
            "efi/microsoft/boot/efisys.bin",
            "Windows/Boot/DVD_EX/EFI/en-US/efisys_EX.bin",
        ),
        (
            "efi/microsoft/boot/fonts/wgl4_boot.ttf",
            "Windows/Boot/FONTS_EX/wgl4_boot_EX.ttf",
        ),
        (
            "efi/microsoft/boot/fonts/segmono_boot.ttf",
            "Windows/Boot/FONTS_EX/segmono_boot_EX.ttf",
        ),
        ("efi/microsoft/boot/boot.stl", "Windows/Boot/EFI/boot.stl"),
        ("boot/etfsboot.com", "Windows/Boot/DVD/PCAT/etfsboot.com"),
    ] {
        assert!(
            s.contains(&(medium.to_string(), inner.to_string())),
            "{medium} <- {inner} not in {s:?}"
        );
    }
    assert_eq!(cas(&v["secure_boot"]), all("windows-uefi-ca-2023"));
    for f in v["secure_boot"]["files"].as_array().unwrap() {
        assert_eq!(f["svn"], serde_json::json!({"major": 9, "minor": 0}));
        assert_eq!(
            f["dbx"]["svn_minimum"],
            serde_json::json!({"major": 9, "minor": 0})
        );
        assert_eq!(f["dbx"]["svn_revoked"], false);
    }
    let w = warnings(&v);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w
        .iter()
        .all(|w| w.ends_with("needs firmware whose DB holds Windows UEFI CA 2023")));

    // --boot-manager 2011: the layout of the 2011 boot files, nothing of _EX.
    let old = plan_json(&p, &["--boot-manager", "2011"]);
    assert_eq!(old["boot"]["boot_manager"], "2011");
    assert_eq!(old["boot"]["boot_manager_from"], "--boot-manager");
    let s = sources(&old);
    assert!(s.contains(&(
        "efi/boot/bootx64.efi".into(),
        "Windows/Boot/EFI/bootmgfw.efi".into()
    )));
    assert!(s.contains(&(
        "efi/microsoft/boot/efisys.bin".into(),
        "Windows/Boot/DVD/EFI/en-US/efisys.bin".into()
    )));
    assert!(
        s.iter()
            .all(|(m, i)| !i.contains("_EX") && !m.contains("fonts") && !m.ends_with("boot.stl")),
        "{s:?}"
    );
    assert_eq!(cas(&old["secure_boot"]), all("windows-production-pca-2011"));
    // The 2011 stand-ins carry SVN 3.0, below the DBX minimum 9.0.
    let w = warnings(&old);
    assert_eq!(w.len(), 6, "{w:?}");
    for l in LOADERS {
        assert!(w.contains(&format!(
            "/{l}: signed under Microsoft Windows Production PCA 2011: revoked on devices with the KB5025885 mitigations; rebuild with --boot-manager 2023"
        )), "{w:?}");
        assert!(
            w.contains(&format!(
                "/{l}: revoked: its boot manager SVN 3.0 is below the DBX minimum 9.0"
            )),
            "{w:?}"
        );
    }
    for f in old["secure_boot"]["files"].as_array().unwrap() {
        assert_eq!(f["dbx"]["svn_revoked"], true);
    }

    // The profile key chooses too, and the command line overrides it.
    let p11 = profile(tmp.path(), "p2011", |v| {
        v["boot_image"]["boot_manager"] = "2011".into();
    });
    let v11 = plan_json(&p11, &[]);
    assert_eq!(v11["boot"]["boot_manager"], "2011");
    assert_eq!(v11["boot"]["boot_manager_from"], "boot_image.boot_manager");
    let v23 = plan_json(&p11, &["--boot-manager", "2023"]);
    assert_eq!(v23["boot"]["boot_manager"], "2023");

    // Text output names the choice and the CA of every loader.
    let o = run_ok(tsmedia().args(["plan", "--profile"]).arg(&p));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("boot manager: 2023 (chosen by boot image)"),
        "{text}"
    );
    assert!(
        text.contains("secure boot: /efi/boot/bootx64.efi -> Windows UEFI CA 2023"),
        "{text}"
    );
}

#[test]
fn asking_for_2023_without_ex_files_names_them_and_the_fix() {
    let tmp = scratch("sb-no-ex");
    // Image 2 of boot.wim has no _EX files: 2011 by default.
    let p = profile(tmp.path(), "index2", |v| {
        v["boot_image"]["index"] = 2.into();
    });
    let v = plan_json(&p, &[]);
    assert_eq!(v["boot"]["boot_manager"], "2011");
    // Asked for in the profile: a problem at boot_image.boot_manager.
    let p = profile(tmp.path(), "index2-2023", |v| {
        v["boot_image"]["index"] = 2.into();
        v["boot_image"]["boot_manager"] = "2023".into();
    });
    let o = tsmedia()
        .args(["plan", "--json", "--profile"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let prob = &v["problems"][0];
    assert_eq!(prob["path"], "boot_image.boot_manager");
    let msg = prob["message"].as_str().unwrap();
    for missing in [
        "Windows/Boot/EFI_EX/bootmgfw_EX.efi",
        "Windows/Boot/EFI_EX/bootmgr_EX.efi",
        "Windows/Boot/DVD_EX/EFI/en-US/efisys_EX.bin",
    ] {
        assert!(msg.contains(missing), "{msg}");
    }
    let fix = prob["fix"].as_str().unwrap();
    assert!(fix.contains("ADK of 2024-04 or later"), "{fix}");
    assert!(
        fix.contains("2024-04 (or later) cumulative update"),
        "{fix}"
    );
    // On the command line: the same problem, at boot_image.path; create refuses too.
    let p = profile(tmp.path(), "index2b", |v| {
        v["boot_image"]["index"] = 2.into();
    });
    let o = tsmedia()
        .args([
            "create",
            "--boot-manager",
            "2023",
            "--format",
            "folder",
            "--profile",
        ])
        .arg(&p)
        .arg("--output")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("boot_image.path"), "{err}");
    assert!(err.contains("EFI_EX/bootmgfw_EX.efi"), "{err}");
    assert!(!tmp.path().join("out").exists());
    // A value the key does not know is refused when the profile is read.
    let p = profile(tmp.path(), "bad-value", |v| {
        v["boot_image"]["boot_manager"] = "2020".into();
    });
    let o = tsmedia()
        .args(["plan", "--profile"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("boot_image.boot_manager"), "{err}");
}

fn inspect(paths: &[&Path], extra: &[&str]) -> Value {
    json_of(
        tsmedia()
            .args(["inspect", "--json"])
            .args(extra)
            .args(paths),
    )
}

#[test]
fn folders_of_every_boot_image_name_the_right_ca() {
    let tmp = scratch("sb-folders");
    let fx = fixtures();
    // 2011 boot manager.
    let p = profile(tmp.path(), "b", |_| {});
    let out11 = tmp.path().join("m2011");
    build(
        p.to_str().unwrap(),
        "folder",
        &out11,
        &["--boot-manager", "2011"],
    );
    let v = inspect(&[&out11], &[]);
    assert_eq!(cas(&v["secure_boot"]), all("windows-production-pca-2011"));
    assert!(warnings(&v).iter().any(|w| w.contains("KB5025885")));
    // Unknown CA (with a nested 2023 signature), unsigned bootmgr.efi and
    // unsigned loader in efisys.bin.
    let pu = profile(tmp.path(), "u", |v| {
        v["boot_image"]["path"] = fx.join("boot-unknown-ca.wim").to_str().unwrap().into();
    });
    let outu = tmp.path().join("unknown");
    build(pu.to_str().unwrap(), "folder", &outu, &[]);
    let v = inspect(&[&outu], &[]);
    let c = cas(&v["secure_boot"]);
    assert_eq!(c[0].0, "efi/boot/bootx64.efi");
    assert_eq!(c[0].1.len(), 2, "{c:?}");
    assert!(
        c[0].1[0].contains("CN=TSMEDIA Test Unknown UEFI CA"),
        "{c:?}"
    );
    assert_eq!(c[0].1[1], "windows-uefi-ca-2023");
    assert_eq!(
        c[1],
        ("bootmgr.efi".to_string(), vec!["unsigned".to_string()])
    );
    assert_eq!(c[2].1, vec!["unsigned".to_string()]);
    let w = warnings(&v);
    assert!(
        w.iter()
            .any(|w| w.ends_with("boots differently from DVD and from USB")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w.contains("not a Microsoft UEFI CA")),
        "{w:?}"
    );
    assert!(w.iter().any(|w| w.contains("unsigned")), "{w:?}");
    // verify: intact, but --strict fails on the warnings (exit 3).
    run_ok(tsmedia().arg("verify").arg(&outu));
    let o = tsmedia()
        .args(["verify", "--strict"])
        .arg(&outu)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let o = tsmedia()
        .args(["verify", "--strict", "--json"])
        .arg(&outu)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], true, "no problems, only warnings");
    assert!(!warnings(&j).is_empty());
}

#[test]
fn dbx_file_revokes_by_hash_and_by_svn() {
    let tmp = scratch("sb-dbx");
    let fx = fixtures();
    let p = profile(tmp.path(), "b", |_| {});
    let out = tmp.path().join("m");
    build(p.to_str().unwrap(), "folder", &out, &[]);
    let bytes = std::fs::read(fx.join("payloads/bootx64-ca2023.efi")).unwrap();
    let hash = tsmedia::secureboot::authenticode::authenticode_sha256(&bytes).unwrap();
    let dbx = tmp.path().join("dbx.json");
    let doc = serde_json::json!({
        "images": { "x64": [ {
            "authenticodeHash": hash,
            "hashType": "SHA256",
            "filename": "bootmgfw_EX.efi",
            "dateOfAddition": "2026-11-30"
        } ] },
        "certificates": [],
        "svns": [ {
            "value": "01612B139DD5598843AB1C185C3CB2EB9200000B000000000000000000000000",
            "version": "11.0",
            "filename": "bootmgfw.efi"
        } ]
    });
    std::fs::write(&dbx, serde_json::to_vec(&doc).unwrap()).unwrap();
    let v = inspect(&[&out], &["--dbx", dbx.to_str().unwrap()]);
    let files = v["secure_boot"]["files"].as_array().unwrap();
    assert!(files.iter().all(|f| f["dbx"]["hash_revoked"] == true));
    assert!(files.iter().all(|f| f["dbx"]["svn_revoked"] == true));
    assert!(warnings(&v)
        .iter()
        .any(|w| w.contains("revoked: its boot manager SVN 9.0 is below the DBX minimum 11.0")));
    assert_eq!(v["secure_boot"]["dbx"], dbx.to_str().unwrap());
    assert!(warnings(&v)
        .iter()
        .any(|w| w.contains("revoked: its Authenticode hash is in the DBX")));
    // The built-in copy does not list the test loader, and its SVN (9.0)
    // meets the built-in minimum.
    let v = inspect(&[&out], &[]);
    assert!(v["secure_boot"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["dbx"]["hash_revoked"] == false && f["dbx"]["svn_revoked"] == false));
    // A file that is not DBX data is refused.
    std::fs::write(&dbx, b"{\"x\": 1}").unwrap();
    let o = tsmedia()
        .args(["inspect", "--dbx"])
        .arg(&dbx)
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is not DBX data"), "{err}");
    assert!(err.contains("fix: give --dbx"), "{err}");
}

fn ovmf() -> bool {
    if !have_tool("qemu-system-x86_64", "qemu-system-x86") {
        return false;
    }
    let ok = Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").exists();
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("OVMF is missing: install the Debian package ovmf (CI=true requires it)");
    }
    ok
}

fn bootcheck(mode: &str, image: &Path, marker: &str) {
    let out = Command::new("bash")
        .arg(root().join("tests/boot/bootcheck.sh"))
        .arg(mode)
        .arg(image)
        .arg(marker)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{mode} boot of {} failed:\n{}{}",
        image.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn iso_and_usb_image_boot_under_ovmf_with_either_boot_manager() {
    let fx = fixtures();
    if !have_tool("xorriso", "xorriso") {
        return;
    }
    let boot = ovmf();
    let tmp = scratch("sb-media");
    let p = profile(tmp.path(), "b", |_| {});
    let marker = std::fs::read_to_string(fx.join("markers/bootable/tsmedia.marker"))
        .unwrap()
        .trim()
        .to_string();
    let iso = tmp.path().join("m.iso");
    build(p.to_str().unwrap(), "iso", &iso, &[]);
    let usb = tmp.path().join("m.img");
    build(p.to_str().unwrap(), "usb-image", &usb, &[]);
    for m in [&iso, &usb] {
        let v = inspect(&[m], &[]);
        assert_eq!(
            cas(&v["secure_boot"]),
            all("windows-uefi-ca-2023"),
            "{}",
            m.display()
        );
    }
    // The El Torito UEFI image is efisys_EX.bin, byte for byte.
    let et = run(Command::new("xorriso")
        .args(["-indev"])
        .arg(&iso)
        .args(["-report_el_torito", "plain"]));
    assert!(
        et.contains("El Torito img path :   2  /efi/microsoft/boot/efisys.bin"),
        "{et}"
    );
    let x = tmp.path().join("efisys.bin");
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&iso)
        .args(["-extract", "/efi/microsoft/boot/efisys.bin"])
        .arg(&x));
    assert_eq!(
        sha256_file(&x),
        sha256_file(&fx.join("payloads/efisys-ca2023.bin"))
    );
    // --boot-manager 2011: today's layout, which boots as before.
    let iso11 = tmp.path().join("m2011.iso");
    build(
        p.to_str().unwrap(),
        "iso",
        &iso11,
        &["--boot-manager", "2011"],
    );
    let v = inspect(&[&iso11], &[]);
    assert_eq!(cas(&v["secure_boot"]), all("windows-production-pca-2011"));
    if boot {
        bootcheck("uefi", &iso, &marker);
        bootcheck("uefi-hdd", &usb, &marker);
        bootcheck("uefi", &iso11, &marker);
    }
}

#[test]
fn the_fuzz_seeds_carry_an_svn_and_nested_signatures() {
    let dir = root().join("fuzz/corpus/authenticode");
    let nested = std::fs::read(dir.join("tiny-nested.efi")).unwrap();
    let f = tsmedia::secureboot::authenticode::examine(&nested).unwrap();
    assert_eq!(
        f.svn,
        Some(tsmedia::secureboot::authenticode::Svn { major: 9, minor: 0 })
    );
    assert_eq!(f.signatures.len(), 2, "{:#?}", f.signatures);
    assert_eq!(f.signatures[0].digest_algorithm, "sha256");
    assert_eq!(f.signatures[1].digest_algorithm, "sha1");
    assert!(f.signatures.iter().all(|s| s.digest_matches));
    // The real PCA 2011 certificate is in the first signature's set, but the
    // signer (a self-signed "CN=Microsoft Windows Production PCA 2011") was
    // not issued under that certificate's name or key: no known CA.
    assert!(f.signatures[0]
        .certificates
        .contains(&"580A6F4CC4E4B669B9EBDC1B2B3E087B80D0678D".to_string()));
    assert_eq!(f.signatures[0].ca.id, None);
    assert_eq!(f.signatures[0].ca.matched_by, "none");
    assert_eq!(f.signatures[1].ca.id, None);
    // SVN 9.0 is not below the built-in DBX minimum (9.0); with a DBX whose
    // minimum is 11.0 it is revoked.
    let dbx = tsmedia::secureboot::Dbx::builtin();
    let r = tsmedia::secureboot::report::file_facts("bootmgr.efi", "t", &nested, &dbx);
    assert!(!r.dbx.svn_revoked);
    let newer = tsmedia::secureboot::Dbx::parse(
        br#"{"svns": [{"value": "01612B139DD5598843AB1C185C3CB2EB9200000B000000000000000000000000",
                      "version": "11.0", "filename": "bootmgfw.efi"}]}"#,
        "test",
    )
    .unwrap();
    let r = tsmedia::secureboot::report::file_facts("bootmgr.efi", "t", &nested, &newer);
    assert!(r.dbx.svn_revoked);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("revoked: its boot manager SVN 9.0 is below the DBX minimum 11.0")));
}

#[test]
fn fat16_and_fat32_images_read_like_mtools() {
    if !have_tool("mkfs.fat", "dosfstools") || !have_tool("mcopy", "mtools") {
        return;
    }
    let tmp = scratch("sb-fat16");
    let payload = noise(7, 70_000);
    let src = tmp.path().join("payload.bin");
    std::fs::write(&src, &payload).unwrap();
    for (fat, kib, kind) in [
        ("16", "20480", tsmedia::read::fat::FatKind::Fat16),
        ("32", "40960", tsmedia::read::fat::FatKind::Fat32),
    ] {
        let img = tmp.path().join(format!("fat{fat}.img"));
        run(Command::new("mkfs.fat")
            .args(["-C", "-F", fat, "-n", "TSMEDIA"])
            .arg(&img)
            .arg(kib));
        let m = |args: &[&str]| {
            run(Command::new(args[0])
                .env("MTOOLS_SKIP_CHECK", "1")
                .arg("-i")
                .arg(&img)
                .args(&args[1..]));
        };
        m(&[
            "mmd",
            "::/EFI",
            "::/EFI/BOOT",
            "::/A folder with a long name",
        ]);
        m(&["mcopy", src.to_str().unwrap(), "::/EFI/BOOT/BOOTX64.EFI"]);
        m(&[
            "mcopy",
            src.to_str().unwrap(),
            "::/A folder with a long name/Payload with a long name.bin",
        ]);
        let data = std::fs::read(&img).unwrap();
        let f = tsmedia::read::fat::FatImage::open(&data).unwrap();
        assert_eq!(f.kind, kind, "FAT{fat}");
        let mut names: Vec<String> = f.files().unwrap().into_iter().map(|x| x.path).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "A folder with a long name/Payload with a long name.bin",
                "EFI/BOOT/BOOTX64.EFI"
            ],
            "FAT{fat}"
        );
        for n in names {
            let e = f.find(&n).unwrap().unwrap();
            assert_eq!(f.read(&e, 1 << 20).unwrap(), payload, "FAT{fat}: {n}");
        }
    }
}
