//! Prestaged media as a WIM, and capture media settings, checked with
//! wimlib-imagex.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn wimlib(args: &[&str], path: &Path) -> String {
    let o = Command::new("wimlib-imagex")
        .args(&args[..1])
        .arg(path)
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "wimlib-imagex {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn xml_of(path: &Path) -> String {
    let o = Command::new("wimlib-imagex")
        .arg("info")
        .arg(path)
        .arg("--xml")
        .output()
        .unwrap();
    assert!(o.status.success());
    let units: Vec<u16> = o
        .stdout
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[test]
fn prestaged_wim_applies_to_the_planned_tree() {
    fixtures();
    if !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("prestaged");
    let wim = tmp.path().join("prestaged.wim");
    let o = run_ok(
        tsmedia()
            .args([
                "create",
                "--profile",
                "examples/prestaged.json",
                "--format",
                "wim",
                "--json",
                "--output",
            ])
            .arg(&wim),
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "wim");
    assert_eq!(report["output_sha256"], sha256_file(&wim).as_str());

    wimlib(&["verify"], &wim);
    let info = wimlib(&["info"], &wim);
    assert!(info.contains("Compression:    XPRESS"), "{info}");
    assert!(
        info.contains("Name:                   TSM prestaged media"),
        "{info}"
    );
    assert!(
        info.contains("Description:            Windows 11 Enterprise"),
        "{info}"
    );
    let xml = xml_of(&wim);
    assert!(
        xml.contains("<CREATEDBY>tsmedia example</CREATEDBY>"),
        "{xml}"
    );
    assert!(xml.contains("<VERSION>1.0</VERSION>"), "{xml}");
    assert!(xml.contains("<COMMENT>Apply to the disk"), "{xml}");

    // Applying the image gives exactly the tree the folder writer writes.
    let applied = tmp.path().join("applied");
    let o = Command::new("wimlib-imagex")
        .arg("apply")
        .arg(&wim)
        .arg("1")
        .arg(&applied)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let folder = tmp.path().join("folder");
    build("examples/prestaged.json", "folder", &folder, &[]);
    let a = files_under(&applied);
    let f = files_under(&folder);
    assert_eq!(
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        f.iter().map(|x| &x.0).collect::<Vec<_>>(),
        "same files"
    );
    for ((rel, pa), (_, pf)) in a.iter().zip(&f) {
        assert_eq!(sha256_file(pa), sha256_file(pf), "{rel}");
    }
    // And every file matches the manifest the WIM carries.
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(applied.join("SMS/data/tsmedia-manifest.json")).unwrap(),
    )
    .unwrap();
    for rec in m["files"].as_array().unwrap() {
        let p = applied.join(rec["path"].as_str().unwrap());
        assert_eq!(
            sha256_file(&p),
            rec["sha256"].as_str().unwrap(),
            "{}",
            p.display()
        );
    }
    assert_eq!(m["media_type"], "prestaged");
    let ini = std::fs::read_to_string(applied.join("SMS/data/TsmBootstrap.ini")).unwrap();
    assert!(ini.contains("MediaType=OEMMedia"), "{ini}");
    assert!(
        ini.contains("[PrestagedMedia]") && ini.contains("CreatedBy=tsmedia example"),
        "{ini}"
    );
}

#[test]
fn prestaged_wim_compressions_split_and_rebuilds() {
    fixtures();
    if !have_tool("wimlib-imagex", "wimtools") {
        return;
    }
    let tmp = scratch("prestaged-opts");
    for (c, shown) in [("none", "None"), ("xpress", "XPRESS"), ("lzx", "LZX")] {
        let wim = tmp.path().join(format!("{c}.wim"));
        run_ok(
            tsmedia()
                .args([
                    "-q",
                    "create",
                    "--profile",
                    "examples/prestaged.json",
                    "--format",
                    "wim",
                    "--compression",
                    c,
                ])
                .arg("--output")
                .arg(&wim),
        );
        let info = wimlib(&["info"], &wim);
        assert!(
            info.contains(&format!("Compression:    {shown}")),
            "{c}: {info}"
        );
        wimlib(&["verify"], &wim);
    }

    // Same input, same SOURCE_DATE_EPOCH: same bytes.
    let a = tmp.path().join("a.wim");
    let b = tmp.path().join("b.wim");
    for w in [&a, &b] {
        run_ok(
            tsmedia()
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args([
                    "-q",
                    "create",
                    "--profile",
                    "examples/prestaged.json",
                    "--format",
                    "wim",
                    "--output",
                ])
                .arg(w),
        );
    }
    assert_eq!(sha256_file(&a), sha256_file(&b), "rebuilds are identical");
    let info = wimlib(&["info"], &a);
    assert!(
        info.contains("Creation Time:          Tue Nov 14 22:13:20 2023 UTC"),
        "{info}"
    );

    // Split into parts.
    let parts_dir = tmp.path().join("parts");
    std::fs::create_dir(&parts_dir).unwrap();
    let o = run_ok(
        tsmedia()
            .args([
                "create",
                "--profile",
                "examples/prestaged.json",
                "--format",
                "wim",
                "--compression",
                "none",
                "--split",
                "4M",
                "--json",
                "--output",
            ])
            .arg(parts_dir.join("prestaged.wim")),
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vols = report["volumes"].as_array().unwrap();
    assert!(vols.len() >= 2, "{report}");
    let mut names: Vec<String> = std::fs::read_dir(&parts_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.contains(&"prestaged.swm".to_string())
            && names.contains(&"prestaged2.swm".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
    for n in &names {
        assert!(
            std::fs::metadata(parts_dir.join(n)).unwrap().len() <= 4 << 20,
            "{n} within the part size"
        );
    }
    let refs = format!("--ref={}/prestaged*.swm", parts_dir.display());
    wimlib(&["verify", &refs], &parts_dir.join("prestaged.swm"));
}

#[test]
fn capture_media_carries_its_settings_and_no_secret() {
    fixtures();
    let tmp = scratch("capture");
    let out = tmp.path().join("m");
    build("examples/capture.json", "folder", &out, &[]);
    let vars = settings_text(&out.join("SMS/data/Variables.dat"), DEFAULT_PASSWORD);
    assert!(
        vars.contains("<var name=\"_SMSTSMediaType\"><![CDATA[CaptureMedia]]></var>"),
        "{vars}"
    );
    assert!(vars.contains("_SMSTSCaptureDestination"), "{vars}");
    assert!(vars.contains("_SMSTSCaptureImageName"), "{vars}");
    assert!(
        vars.contains("<var name=\"_SMSTSCapturePasswordVariable\">"),
        "{vars}"
    );
    assert!(
        !vars.to_lowercase().contains("password\"><![cdata[p"),
        "no password value"
    );
    // Capture media has no content and no task sequence policy.
    assert!(!out.join("SMS/PKG").exists());
    assert!(!out.join("SMS/data/Policy.xml").exists());
    assert!(out.join("sources/boot.wim").exists());
}
