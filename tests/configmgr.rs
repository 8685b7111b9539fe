//! The product's settings files, checked by a reader tsmedia does not
//! contain: docs/read_configmgr.py (Python `cryptography`, written from the
//! public descriptions) opens `Variables.dat` and `Policy.xml` of every
//! example medium, with and without a password, and finds the variables by
//! name; openssl opens the media certificate.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

const PW: &str = "a media password of some length";

fn python_ok() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import cryptography"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("/usr/bin/python3 with cryptography is missing: install python3-cryptography");
        }
        eprintln!("SKIPPED: python3-cryptography not installed");
    }
    ok
}

/// The Python reader's view of a medium folder, or its error.
fn read(folder: &Path, password: Option<&str>) -> Result<Value, String> {
    let mut c = Command::new("/usr/bin/python3");
    c.arg(root().join("docs/read_configmgr.py")).arg(folder);
    if let Some(p) = password {
        c.arg(p);
    }
    let o = c.output().unwrap();
    if o.status.success() {
        Ok(serde_json::from_slice(&o.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// An example profile, its `../` paths made absolute.
fn example(t: &str) -> Value {
    let text = std::fs::read_to_string(root().join(format!("examples/{t}.json"))).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\"../", &format!("\"{}/", root().display()));
    serde_json::from_str(&text).unwrap()
}

fn with_password(dir: &Path) -> String {
    let p = dir.join("pw.txt");
    std::fs::write(&p, format!("{PW}\n")).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn a_third_party_reader_opens_every_example_medium() {
    fixtures();
    if !python_ok() {
        return;
    }
    let tmp = scratch("configmgr-read");
    let pwf = with_password(tmp.path());
    for (t, code) in [
        ("capture", "CaptureMedia"),
        ("bootable", "BootMedia"),
        ("prestaged", "OEMMedia"),
        ("standalone", "FullMedia"),
    ] {
        let plain = tmp.path().join(t);
        build(&format!("examples/{t}.json"), "folder", &plain, &[]);
        let prot = tmp.path().join(format!("{t}-pw"));
        build(
            &format!("examples/{t}.json"),
            "folder",
            &prot,
            &["--password-file", &pwf],
        );
        let v = read(&plain, None).unwrap_or_else(|e| panic!("{t}: {e}"));
        let vars = &v["variables"];
        assert_eq!(vars["_SMSTSMediaType"], code, "{t}: {v}");
        assert!(vars["_SMSMediaGuid"].as_str().unwrap().starts_with('{'));
        assert_eq!(v["cipher"], "aes-128");
        match t {
            "bootable" => {
                assert_eq!(vars["_SMSTSSiteCode"], "TSM");
                assert_eq!(
                    vars["SMSTSLocationMPs"],
                    "https://mp1.corp.example*https://mp2.corp.example"
                );
                assert!(vars.get("_SMSTSMediaPFX").is_some(), "{v}");
                assert!(vars.get("_SMSTSRootCACerts").is_some(), "{v}");
                assert_eq!(vars["OSDComputerName"], "DEMO-%SERIAL%");
            }
            "prestaged" => {
                assert!(vars["SMSTSMP"].as_str().unwrap().starts_with("http"), "{v}");
                assert!(!vars["_SMSTSMediaPFX"].as_str().unwrap().is_empty(), "{v}");
            }
            "standalone" => {
                assert_eq!(vars["_SMSTSStandAloneMedia"], "true");
                let p = &v["policy"];
                assert_eq!(p["PKG_Name"], "Deploy Windows 11", "{v}");
                assert_eq!(p["ADV_AdvertisementID"], "TSM00010");
                assert_eq!(p["TS_Sequence_starts"], "<sequence");
                assert!(p["steps"].as_u64().unwrap() > 0);
            }
            "capture" => {
                assert!(vars.get("_SMSTSCaptureDestination").is_some(), "{v}");
            }
            _ => {}
        }
        // The protected medium: not with the default password (nor the
        // GUID for the policy), with the media password.
        let e = read(&prot, None).unwrap_err();
        assert!(e.contains("wrong password"), "{t}: {e}");
        let v2 = read(&prot, Some(PW)).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(v2["variables"]["_SMSTSMediaType"], code);
        if t == "standalone" {
            assert_eq!(v2["policy"]["PKG_Name"], "Deploy Windows 11");
        }
        let ini = std::fs::read_to_string(prot.join("SMS/data/TsmBootstrap.ini")).unwrap();
        assert!(ini.contains("PasswordRequired=true"), "{ini}");
        let ini = std::fs::read_to_string(plain.join("SMS/data/TsmBootstrap.ini")).unwrap();
        assert!(ini.contains("PasswordRequired=false"), "{ini}");
        assert_eq!(
            std::fs::read_to_string(plain.join("MediaLabel.txt")).unwrap(),
            format!("label={}\r\n", example(t)["label"].as_str().unwrap())
        );
        // Package content stays plain without --encrypt-content.
        if t == "standalone" {
            assert_eq!(
                sha256_file(&prot.join("SMS/PKG/TSM00001/install.wim")),
                sha256_file(&fixtures().join("install.wim"))
            );
        }
    }
}

#[test]
fn aes_256_and_byte_identical_rebuilds() {
    fixtures();
    if !python_ok() {
        return;
    }
    let tmp = scratch("configmgr-aes256");
    let mut v = example("standalone");
    v["media"]["cipher"] = "aes-256".into();
    let prof = tmp.path().join("aes256.json");
    std::fs::write(&prof, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let p = prof.to_string_lossy().into_owned();
    build(&p, "folder", &a, &[]);
    // Another second: identical bytes come from identical input, not time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build(&p, "folder", &b, &[]);
    let r = read(&a, None).unwrap();
    assert_eq!(r["cipher"], "aes-256");
    assert_eq!(r["policy"]["PKG_Name"], "Deploy Windows 11");
    for f in ["SMS/data/Variables.dat", "SMS/data/Policy.xml"] {
        assert_eq!(sha256_file(&a.join(f)), sha256_file(&b.join(f)), "{f}");
    }
}

#[test]
fn inspect_shows_every_setting_of_a_bootable_medium() {
    fixtures();
    let tmp = scratch("configmgr-inspect");
    let m = tmp.path().join("boot");
    build("examples/bootable.json", "folder", &m, &[]);
    let o = run_ok(tsmedia().args(["inspect", "--json"]).arg(&m));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["settings"]["site_code"], "TSM");
    assert_eq!(v["settings"]["mode"], "dynamic");
    assert_eq!(
        v["settings"]["management_points"][1],
        "https://mp2.corp.example"
    );
    assert_eq!(v["unknown_computer_support"], true);
    assert_eq!(v["password_required"], false);
    assert_eq!(
        v["settings"]["user_device_affinity"],
        "allow-with-manual-approval"
    );
    assert_eq!(v["settings"]["root_certificates"], 1);
    assert!(v["certificate"]["subject"]
        .as_str()
        .unwrap()
        .contains("TSM"));
    assert!(v["security_note"]
        .as_str()
        .unwrap()
        .contains("default password is public"));
    let names: Vec<&str> = v["settings"]["variable_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"OSDComputerName"), "{names:?}");
    // A password hides the settings until it is given.
    let pwf = with_password(tmp.path());
    let p = tmp.path().join("boot-pw");
    build(
        "examples/bootable.json",
        "folder",
        &p,
        &["--password-file", &pwf],
    );
    let o = run_ok(tsmedia().args(["inspect", "--json"]).arg(&p));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["settings"]["variables"]
        .as_str()
        .unwrap()
        .starts_with("locked"));
    assert!(v["security_note"].is_null());
    let o = run_ok(
        tsmedia()
            .args(["inspect", "--json", "--password-file", &pwf])
            .arg(&p),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["settings"]["variables"], "opened with the media password");
    assert_eq!(v["settings"]["site_code"], "TSM");
}

/// openssl opens the media PKCS#12 with the first 31 characters of the
/// media GUID, and the certificate (also beside the output) has the
/// profile's validity dates.
#[test]
fn openssl_opens_the_media_certificate_with_the_guid() {
    fixtures();
    if !python_ok() || !have_tool("openssl", "openssl") {
        return;
    }
    let tmp = scratch("configmgr-pfx");
    let m = tmp.path().join("boot");
    build("examples/bootable.json", "folder", &m, &[]);
    let v = read(&m, None).unwrap();
    let guid = v["variables"]["_SMSMediaGuid"].as_str().unwrap();
    let pfx = hex::decode(v["variables"]["_SMSTSMediaPFX"].as_str().unwrap()).unwrap();
    let pf = tmp.path().join("media.pfx");
    std::fs::write(&pf, pfx).unwrap();
    let pass: String = guid.chars().take(31).collect();
    let o = Command::new("openssl")
        .args(["pkcs12", "-nokeys", "-passin"])
        .arg(format!("pass:{pass}"))
        .arg("-in")
        .arg(&pf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pem = tmp.path().join("cert.pem");
    std::fs::write(&pem, &o.stdout).unwrap();
    for (file, inform) in [(pem, "PEM"), (tmp.path().join("boot.media.cer"), "DER")] {
        let o = Command::new("openssl")
            .args(["x509", "-noout", "-dates", "-inform", inform, "-in"])
            .arg(&file)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("notBefore=Jan  1 00:00:00 2026 GMT"), "{out}");
        assert!(out.contains("notAfter=Jan  1 00:00:00 2028 GMT"), "{out}");
    }
}

#[test]
fn autorun_and_client_binaries() {
    fixtures();
    let tmp = scratch("configmgr-autorun");
    let mut v = example("bootable");
    v["media"]["autorun"] = true.into();
    v["client_binaries"] = fixtures().join("prestart").to_string_lossy().into();
    let prof = tmp.path().join("p.json");
    std::fs::write(&prof, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let m = tmp.path().join("m");
    build(&prof.to_string_lossy(), "folder", &m, &[]);
    let inf = std::fs::read_to_string(m.join("autorun.inf")).unwrap();
    assert!(inf.starts_with("[autorun]\r\n"), "{inf}");
    assert!(inf.contains("TSMBAutorun.exe"), "{inf}");
    for (rel, p) in files_under(&fixtures().join("prestart")) {
        assert_eq!(
            std::fs::read(m.join("SMS/bin/x64").join(&rel)).unwrap(),
            std::fs::read(&p).unwrap(),
            "{rel}"
        );
    }
    // Without `autorun`, no autorun.inf.
    let plain = tmp.path().join("plain");
    build("examples/bootable.json", "folder", &plain, &[]);
    assert!(!plain.join("autorun.inf").exists());
    run_ok(tsmedia().arg("verify").arg(&m));
}

/// Unknown computer support with the site's object GUIDs: the third-party
/// reader finds both variables; a GUID that is not one is a profile error.
#[test]
fn unknown_computer_guids_are_media_variables() {
    fixtures();
    if !python_ok() {
        return;
    }
    let tmp = scratch("configmgr-unknown");
    let mut v = example("bootable");
    v["site"]["unknown_computer_guids"] = serde_json::json!({
        "x64": "6B2A1C9E-0D4F-4A53-9E3E-1C2D3E4F5A6B",
        "x86": "{0A1B2C3D-4E5F-4061-8273-9A8B7C6D5E4F}"
    });
    let prof = tmp.path().join("p.json");
    std::fs::write(&prof, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let m = tmp.path().join("m");
    build(&prof.to_string_lossy(), "folder", &m, &[]);
    let r = read(&m, None).unwrap();
    assert_eq!(
        r["variables"]["_SMSTSx64UnknownMachineGUID"],
        "6B2A1C9E-0D4F-4A53-9E3E-1C2D3E4F5A6B"
    );
    assert_eq!(
        r["variables"]["_SMSTSx86UnknownMachineGUID"],
        "{0A1B2C3D-4E5F-4061-8273-9A8B7C6D5E4F}"
    );

    v["site"]["unknown_computer_guids"]["x64"] = "not-a-guid".into();
    std::fs::write(&prof, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tsmedia"))
        .args(["plan", "--profile"])
        .arg(&prof)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("site.unknown_computer_guids.x64") && err.contains("is not a GUID"),
        "{err}"
    );
}
