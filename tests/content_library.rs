//! Standalone media whose content comes from a distribution point's content
//! library (fixtures/make-content-library.py builds one in the public
//! layout) and from the task sequence's references: every referenced package
//! lands on the medium byte-identical, missing references and damaged
//! libraries are refused with the package and step named, and nothing is
//! left behind. Media are checked with `verify`, 7z and xorriso.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::{json, Value};

const APP_MODEL: &str =
    "ScopeId_0A1B2C3D-0000-4000-8000-00000000000A/Application_5e6f7a8b-0000-4000-8000-00000000000b";
const APP_CONTENT: &str = "Content_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.1";
const MIB: u64 = 1024 * 1024;

/// A profile with no packages and no WIM paths: the task sequence, the boot
/// and OS image package IDs and the content library.
fn bare_profile(ts: &Path, library: &Path) -> Value {
    json!({
        "type": "standalone",
        "label": "LIBRARY",
        "boot_image": {"id": "TSM00101", "index": 1},
        "os_image": {"id": "TSM00102", "index": 1},
        "task_sequence": {"id": "TSM00110", "name": "From the library", "path": ts},
        "content_sources": [{"content_library": library}]
    })
}

fn write_profile(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

fn tsm(args: &[&str], profile: &Path, out: Option<&Path>) -> Output {
    let mut c = tsmedia();
    c.args(args).arg("--profile").arg(profile);
    if let Some(o) = out {
        c.arg("--output").arg(o);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// Copies a folder tree, keeping empty folders.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Every folder under `dir` (relative), sorted.
fn dirs_under(dir: &Path) -> Vec<String> {
    fn go(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                go(base, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    go(dir, dir, &mut v);
    v.sort();
    v
}

/// `medium/SMS/PKG/<id>` holds exactly the files and folders of the original package.
fn same_tree(original: &Path, on_medium: &Path) {
    let a: Vec<(String, String)> = files_under(original)
        .into_iter()
        .map(|(r, p)| (r, sha256_file(&p)))
        .collect();
    let b: Vec<(String, String)> = files_under(on_medium)
        .into_iter()
        .map(|(r, p)| (r, sha256_file(&p)))
        .collect();
    assert_eq!(a, b, "{} vs {}", original.display(), on_medium.display());
    assert_eq!(
        dirs_under(original),
        dirs_under(on_medium),
        "folders of {}",
        original.display()
    );
}

fn leftovers(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(name))
        .collect()
}

#[test]
fn standalone_medium_from_a_content_library_holds_every_referenced_package() {
    let fx = fixtures();
    let lib = fx.join("library");
    let tmp = scratch("library-ok");
    let v = bare_profile(
        &lib.join("task-sequence-library-noapp.xml"),
        &lib.join("SCCMContentLib"),
    );
    let p = write_profile(tmp.path(), "p", &v);

    // The plan says where every package comes from and who references it.
    let o = tsm(&["plan", "--json"], &p, None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let pkgs = plan["packages"].as_array().unwrap();
    let by_id = |id: &str| {
        pkgs.iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {pkgs:?}"))
    };
    assert_eq!(by_id("TSM00102")["kind"], "os-image");
    assert_eq!(
        by_id("TSM00104")["kind"],
        "driver",
        "kind from the driver step"
    );
    assert_eq!(
        by_id("TSM00104")["name"],
        "Netlib drivers",
        "name from the library"
    );
    assert_eq!(by_id("TSM00103")["kind"], "package");
    let origin = by_id("TSM00103")["origin"].as_str().unwrap();
    assert!(
        origin.contains("content library") && origin.contains("TSM00103.2"),
        "{origin}"
    );
    let refs: Vec<&str> = by_id("TSM00105")["referenced_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(refs, ["Setup Windows and ConfigMgr", "Run Client Script"]);
    assert!(
        !pkgs.iter().any(|x| x["id"] == "TSM00199"),
        "a disabled step pulls nothing"
    );
    let o = tsm(&["plan"], &p, None);
    let t = text(&o);
    assert!(t.contains("TSM00106 \"TSM00106\" (package)"), "{t}");
    assert!(t.contains("referenced by Apply Operating System"), "{t}");

    // The medium holds each package byte-identical to its original folder.
    let out = tmp.path().join("medium");
    build(p.to_str().unwrap(), "folder", &out, &[]);
    for id in ["TSM00103", "TSM00104", "TSM00105", "TSM00106"] {
        same_tree(
            &lib.join("library-src").join(id),
            &out.join("SMS/PKG").join(id),
        );
    }
    assert_eq!(
        sha256_file(&out.join("SMS/PKG/TSM00102/install.wim")),
        sha256_file(&lib.join("library-src/TSM00102/install.wim"))
    );
    assert!(
        out.join("SMS/PKG/TSM00103/Logs/Archive").is_dir(),
        "empty folder kept"
    );
    assert_eq!(
        std::fs::metadata(out.join("SMS/PKG/TSM00103/Tools/empty.log"))
            .unwrap()
            .len(),
        0
    );
    // The boot image came from boot.TSM00101.wim: wimlib-imagex reads the medium's copy.
    if have_tool("wimlib-imagex", "wimtools") {
        let info = Command::new("wimlib-imagex")
            .arg("info")
            .arg(out.join("sources/boot.wim"))
            .output()
            .unwrap();
        assert!(info.status.success());
        assert!(String::from_utf8_lossy(&info.stdout).contains("Microsoft Windows PE"));
    }
    // Policy.xml lists the packages pulled from the library.
    let policy = policy_text(&out);
    for id in ["TSM00103", "TSM00104", "TSM00105", "TSM00106"] {
        assert!(
            policy.contains(&format!(
                "<property name=\"ReferencePackageID\" type=\"8\"><value>{id}</value>"
            )),
            "{id} in {policy}"
        );
        assert!(
            policy.contains(&format!("<value>SMS/PKG/{id}</value>")),
            "{id} in {policy}"
        );
    }
    // TSM00104 is referenced by a driver step: its reference is a driver package.
    let driver = tsmedia::configmgr::policy::PackageKind::Driver.type_code();
    let reference = policy
        .split("<instance ")
        .find(|i| i.contains("ReferencePackageID\" type=\"8\"><value>TSM00104</value>"))
        .unwrap_or_else(|| panic!("no reference to TSM00104 in {policy}"));
    assert!(
        reference.contains(&format!(
            "<property name=\"ReferencePackageType\" type=\"8\"><value>{driver}</value>"
        )),
        "{reference}"
    );

    // verify passes.
    let o = tsmedia().arg("verify").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A USB image and a prestaged WIM of the same content verify too.
    let img = tmp.path().join("medium.img");
    build(p.to_str().unwrap(), "usb-image", &img, &[]);
    let o = tsmedia().arg("verify").arg(&img).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut pv = v.clone();
    pv["type"] = "prestaged".into();
    pv["site"] = json!({"code": "P01", "management_points": ["http://mp.example"]});
    let pp = write_profile(tmp.path(), "prestaged", &pv);
    let wim = tmp.path().join("prestaged.wim");
    build(pp.to_str().unwrap(), "wim", &wim, &[]);
    let o = tsmedia().arg("verify").arg(&wim).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // An ISO of the same medium, read back with 7z.
    if have_tool("7z", "p7zip-full") {
        let iso = tmp.path().join("medium.iso");
        build(p.to_str().unwrap(), "iso", &iso, &[]);
        let x = tmp.path().join("x");
        let o = Command::new("7z")
            .args(["x", "-y", "-bd"])
            .arg(format!("-o{}", x.display()))
            .arg(&iso)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        for id in ["TSM00103", "TSM00104"] {
            same_tree(
                &lib.join("library-src").join(id),
                &x.join("SMS/PKG").join(id),
            );
        }
        let o = tsmedia().arg("verify").arg(&iso).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
}

#[test]
fn applications_are_named_by_model_name_and_must_be_listed() {
    let fx = fixtures();
    let lib = fx.join("library");
    let tmp = scratch("library-app");
    let mut v = bare_profile(
        &lib.join("task-sequence-library.xml"),
        &lib.join("SCCMContentLib"),
    );
    let p = write_profile(tmp.path(), "noapp", &v);
    let o = tsm(&["plan"], &p, None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("Install Library Application") && t.contains(APP_MODEL),
        "{t}"
    );

    v["packages"] = json!([{
        "id": "TSM00107", "name": "Library App", "kind": "application",
        "model_name": APP_MODEL, "content_id": APP_CONTENT
    }]);
    let p = write_profile(tmp.path(), "app", &v);
    let out = tmp.path().join("medium");
    build(p.to_str().unwrap(), "folder", &out, &[]);
    same_tree(
        &lib.join("library-src/TSM00107"),
        &out.join("SMS/PKG/TSM00107"),
    );
    let o = tsm(&["plan", "--json"], &p, None);
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let app = plan["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "TSM00107")
        .unwrap()
        .clone();
    assert_eq!(app["referenced_by"], json!(["Install Library Application"]));
    assert!(app["origin"].as_str().unwrap().contains(APP_CONTENT));

    // Extras nothing references are fine and marked so.
    v["packages"].as_array_mut().unwrap().push(json!({
        "id": "TSM00003", "name": "Tools", "kind": "package",
        "source": fx.join("packages/pkg-tools")
    }));
    let p = write_profile(tmp.path(), "extra", &v);
    let o = tsm(&["plan"], &p, None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("TSM00003 \"Tools\" (package) /SMS/PKG/TSM00003  <- profile folder"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("; not referenced"), "{}", text(&o));
}

#[test]
fn references_found_nowhere_and_unsupported_steps_are_exit_2() {
    let fx = fixtures();
    let lib = fx.join("library");
    let tmp = scratch("library-missing");
    let ts = std::fs::read_to_string(lib.join("task-sequence-library-noapp.xml")).unwrap();
    let extra = r#"  <step type="SMS_TaskSequence_InstallSoftwareAction" name="Install Missing Thing">
    <action>smsswd.exe /pkg:TSM00999 /install</action>
    <defaultVarList><variable name="PackageID" property="PackageID">TSM00999</variable></defaultVarList>
  </step>
  <group name="Later"><step type="SMS_TaskSequence_RunCommandLineAction" name="Run Missing Thing">
    <action>smsswd.exe /run:TSM00999 cmd.exe /c x.cmd</action>
  </step></group>
  <step type="SMS_TaskSequence_DownloadPackageContentAction" name="Download Drivers"/>
  <step type="SMS_TaskSequence_InstallSoftwareAction" name="Install Dynamic List">
    <defaultVarList><variable name="BaseVariableName" property="BaseVariableName">PACKAGES</variable></defaultVarList>
  </step>
</sequence>"#;
    let tsp = tmp.path().join("ts.xml");
    std::fs::write(&tsp, ts.replace("</sequence>", extra)).unwrap();
    let v = bare_profile(&tsp, &lib.join("SCCMContentLib"));
    let p = write_profile(tmp.path(), "p", &v);
    let out = tmp.path().join("medium");
    let o = tsm(&["-q", "create", "--format", "folder"], &p, Some(&out));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("package TSM00999, referenced by `Install Missing Thing`, `Run Missing Thing`"),
        "{t}"
    );
    assert!(t.contains("fix: add TSM00999 to `packages`"), "{t}");
    assert!(
        t.contains("step `Download Drivers` cannot run from standalone media"),
        "{t}"
    );
    assert!(
        t.contains("step `Install Dynamic List` cannot run from standalone media")
            && t.contains("`PACKAGES`"),
        "{t}"
    );
    assert!(!out.exists());

    // The same references on prestaged media are not required.
    let mut v = v;
    v["type"] = "prestaged".into();
    v["site"] = json!({"code": "P01", "management_points": ["http://mp.example"]});
    let p = write_profile(tmp.path(), "prestaged", &v);
    let o = tsm(&["plan"], &p, None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A copy of the fixture library, to damage.
fn library_copy(tmp: &Path) -> PathBuf {
    let lib = fixtures().join("library/SCCMContentLib");
    let to = tmp.join("SCCMContentLib");
    copy_dir(&lib, &to);
    to
}

/// The FileLib file of a package file, by the hash in its DataLib INI.
fn filelib_of(lib: &Path, datalib_ini: &str) -> PathBuf {
    let b = std::fs::read(lib.join("DataLib").join(datalib_ini)).unwrap();
    let s = match b.strip_prefix(&[0xFF, 0xFE]) {
        Some(u) => String::from_utf16(
            &u.chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap(),
        None => String::from_utf8_lossy(&b).into_owned(),
    };
    let h = s
        .lines()
        .find_map(|l| l.strip_prefix("Hash="))
        .unwrap()
        .trim()
        .to_string();
    lib.join("FileLib").join(&h[..4]).join(&h)
}

#[test]
fn a_damaged_library_file_fails_the_build_naming_the_package_and_leaves_nothing() {
    let fx = fixtures();
    let tmp = scratch("library-damaged");
    let lib = library_copy(tmp.path());
    let victim = filelib_of(&lib, "TSM00103.2/Tools/Bin/x64/trace.exe.INI");
    let mut b = std::fs::read(&victim).unwrap();
    b[100] ^= 0x20; // same size, other bytes
    std::fs::write(&victim, &b).unwrap();
    let v = bare_profile(&fx.join("library/task-sequence-library-noapp.xml"), &lib);
    let p = write_profile(tmp.path(), "p", &v);
    // The plan cannot see it (sizes match); the build must.
    assert_eq!(tsm(&["plan"], &p, None).status.code(), Some(0));
    let outs = tmp.path().join("out");
    std::fs::create_dir(&outs).unwrap();
    for (format, name) in [
        ("folder", "medium"),
        ("iso", "medium.iso"),
        ("usb-image", "medium.img"),
    ] {
        let out = outs.join(name);
        let o = tsm(&["-q", "create", "--format", format], &p, Some(&out));
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{format}: {t}");
        assert!(
            t.contains("package TSM00103")
                && t.contains("/SMS/PKG/TSM00103/Tools/Bin/x64/trace.exe"),
            "{format}: {t}"
        );
        assert!(t.contains("content library"), "{format}: {t}");
        assert!(
            std::fs::read_dir(&outs).unwrap().next().is_none(),
            "{format}: nothing left: {:?}",
            leftovers(&outs, "")
        );
    }
    // A prestaged-media WIM (wimlib captures from FileLib while the hashing pass checks).
    let mut pv = v.clone();
    pv["type"] = "prestaged".into();
    pv["site"] = json!({"code": "P01", "management_points": ["http://mp.example"]});
    let pp = write_profile(tmp.path(), "prestaged", &pv);
    let out = outs.join("prestaged.wim");
    let o = tsm(&["-q", "create", "--format", "wim"], &pp, Some(&out));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "wim: {t}");
    assert!(
        t.contains("package TSM00103") && t.contains("trace.exe"),
        "wim: {t}"
    );
    assert!(
        std::fs::read_dir(&outs).unwrap().next().is_none(),
        "wim: nothing left"
    );
    // Password-protected: the plaintext is checked as it is encrypted.
    let out = outs.join("protected");
    let o = tsmedia()
        .args([
            "-q",
            "create",
            "--format",
            "folder",
            "--password-env",
            "TSMEDIA_TEST_PW",
            "--profile",
        ])
        .arg(&p)
        .arg("--output")
        .arg(&out)
        .env("TSMEDIA_TEST_PW", "correct horse battery staple")
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("package TSM00103"), "{t}");
    assert!(
        std::fs::read_dir(&outs).unwrap().next().is_none(),
        "nothing left"
    );
}

#[test]
fn library_problems_found_at_plan_time_are_exit_2() {
    let fx = fixtures();
    let tmp = scratch("library-plan");
    let ts = fx.join("library/task-sequence-library-noapp.xml");

    // A FileLib file of the wrong size.
    let lib = library_copy(&tmp.path().join("a"));
    let f = filelib_of(&lib, "TSM00104.3/NetLib/netlib.sys.INI");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&f)
        .unwrap()
        .set_len(10)
        .unwrap();
    let o = tsm(
        &["plan"],
        &write_profile(tmp.path(), "size", &bare_profile(&ts, &lib)),
        None,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&f.display().to_string()) && t.contains("is 10 bytes"),
        "{t}"
    );
    assert!(t.contains("redistribute"), "{t}");

    // A FileLib file missing.
    std::fs::remove_file(&f).unwrap();
    let o = tsm(
        &["plan"],
        &write_profile(tmp.path(), "gone", &bare_profile(&ts, &lib)),
        None,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&f.display().to_string()) && t.contains("is missing"),
        "{t}"
    );

    // A package INI missing: the package is in no content source.
    let lib = library_copy(&tmp.path().join("b"));
    std::fs::remove_file(lib.join("PkgLib/TSM00106.INI")).unwrap();
    let o = tsm(
        &["plan"],
        &write_profile(tmp.path(), "ini", &bare_profile(&ts, &lib)),
        None,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("package TSM00106, referenced by `Apply Operating System`"),
        "{t}"
    );
    assert!(
        t.contains("has no") && t.contains("PkgLib/TSM00106.INI"),
        "{t}"
    );

    // Not a content library.
    std::fs::remove_dir_all(lib.join("FileLib")).unwrap();
    let o = tsm(
        &["plan"],
        &write_profile(tmp.path(), "nolib", &bare_profile(&ts, &lib)),
        None,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("is not a content library: it has no FileLib folder"),
        "{t}"
    );

    // A boot image package holding two WIMs.
    let lib = library_copy(&tmp.path().join("c"));
    let d = lib.join("DataLib/TSM00101.1");
    std::fs::copy(d.join("boot.TSM00101.wim.INI"), d.join("second.wim.INI")).unwrap();
    let o = tsm(
        &["plan"],
        &write_profile(tmp.path(), "twowims", &bare_profile(&ts, &lib)),
        None,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("holds 2 WIM files")
            && t.contains("boot.TSM00101.wim")
            && t.contains("second.wim"),
        "{t}"
    );
}

#[test]
fn folder_sources_hold_packages_by_id() {
    let fx = fixtures();
    let tmp = scratch("library-folder");
    let ts = fx.join("library/task-sequence-library-noapp.xml");
    let mut v = bare_profile(&ts, &fx.join("library/SCCMContentLib"));
    // The library-src folder holds one folder per package ID: it takes precedence.
    v["content_sources"] = json!([{"folder": fx.join("library/library-src")}, {"content_library": fx.join("library/SCCMContentLib")}]);
    let p = write_profile(tmp.path(), "p", &v);
    let o = tsm(&["plan", "--json"], &p, None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    for x in plan["packages"].as_array().unwrap() {
        assert!(x["origin"].as_str().unwrap().contains("library-src"), "{x}");
    }
    let out = tmp.path().join("medium");
    build(p.to_str().unwrap(), "folder", &out, &[]);
    same_tree(
        &fx.join("library/library-src/TSM00103"),
        &out.join("SMS/PKG/TSM00103"),
    );
}

fn sparse(path: &Path, size: u64, tag: &str) {
    use std::io::{Seek, SeekFrom, Write};
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(tag.as_bytes()).unwrap();
    f.set_len(size).unwrap();
    f.seek(SeekFrom::Start(size - tag.len() as u64)).unwrap();
    f.write_all(tag.as_bytes()).unwrap();
}

/// Adds a package of one large sparse file to a library.
fn add_big_package(lib: &Path, id: &str, size: u64) {
    let tmp = lib.join("..").join(format!("{id}.bin"));
    sparse(&tmp, size, id);
    let h = sha256_file(&tmp).to_uppercase();
    let blob = lib.join("FileLib").join(&h[..4]).join(&h);
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::rename(&tmp, &blob).unwrap();
    put(
        lib,
        &format!("PkgLib/{id}.INI"),
        format!("[Packages]\r\n{id}.1=\r\n").as_bytes(),
    );
    put(
        lib,
        &format!("DataLib/{id}.1/data/{id}.bin.INI"),
        format!("[File]\r\nSize={size}\r\nHash={h}\r\n").as_bytes(),
    );
}

#[test]
fn an_iso_volume_set_of_a_library_medium_works() {
    let fx = fixtures();
    if !(have_tool("xorriso", "xorriso") & have_tool("7z", "p7zip-full")) {
        return;
    }
    let tmp = scratch("library-set");
    let lib = library_copy(tmp.path());
    add_big_package(&lib, "TSM00120", 400 * MIB);
    add_big_package(&lib, "TSM00121", 420 * MIB);
    let mut v = bare_profile(&fx.join("library/task-sequence-library-noapp.xml"), &lib);
    v["media"] = json!({"size": "cd"});
    v["packages"] = json!([
        {"id": "TSM00120", "name": "Big one", "kind": "package"},
        {"id": "TSM00121", "name": "Big two", "kind": "package"}
    ]);
    let p = write_profile(tmp.path(), "p", &v);
    let out = tmp.path().join("media.iso");
    let o = run_ok(
        tsmedia()
            .args(["-q", "create", "--format", "iso", "--json", "--profile"])
            .arg(&p)
            .arg("--output")
            .arg(&out),
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let vols: Vec<PathBuf> = r["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| PathBuf::from(x.as_str().unwrap()))
        .collect();
    assert!(vols.len() >= 2, "a volume set: {r}");
    // xorriso reads every volume; the set verifies whole from its first volume.
    for vol in &vols {
        let o = Command::new("xorriso")
            .args(["-indev"])
            .arg(vol)
            .args(["-find", "/SMS"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = tsmedia().arg("verify").arg(&vols[0]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The library packages are whole on some volume.
    let mut found = 0;
    for vol in &vols {
        let x = tmp
            .path()
            .join(format!("x-{}", vol.file_name().unwrap().to_string_lossy()));
        let o = Command::new("7z")
            .args(["x", "-y", "-bd", "-xr!*.bin"])
            .arg(format!("-o{}", x.display()))
            .arg(vol)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        if x.join("SMS/PKG/TSM00103").is_dir() {
            same_tree(
                &fx.join("library/library-src/TSM00103"),
                &x.join("SMS/PKG/TSM00103"),
            );
            found += 1;
        }
        std::fs::remove_dir_all(&x).unwrap();
    }
    assert_eq!(found, 1, "TSM00103 on exactly one volume");
}
