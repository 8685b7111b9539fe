//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the fixtures once (the script is idempotent and locks itself).
pub fn fixtures() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = root().join("fixtures/make-fixtures.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("running fixtures/make-fixtures.sh");
        assert!(
            out.status.success(),
            "fixtures/make-fixtures.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        root().join("fixtures/build")
    })
    .clone()
}

/// True when an external checking tool is present. Under CI=true a missing
/// tool fails the test instead of skipping it.
pub fn have_tool(tool: &str, debian_package: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is missing: install the Debian package {debian_package} (CI=true requires it)");
        }
        eprintln!("SKIPPED: {tool} not installed (Debian package {debian_package})");
    }
    found
}

/// The tsmedia binary, run from the repository root.
pub fn tsmedia() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tsmedia"));
    c.current_dir(root());
    c.env("TSMEDIA_PFX_PASSWORD", "tsmedia-demo");
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

pub fn run_ok(c: &mut Command) -> Output {
    let out = c.output().expect("running tsmedia");
    assert!(
        out.status.success(),
        "command failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `tsmedia -q create --profile P --format F [extra] --output OUT`, which must succeed.
pub fn build(profile: &str, format: &str, out: &Path, extra: &[&str]) {
    run_ok(
        tsmedia()
            .args(["-q", "create", "--profile", profile, "--format", format])
            .args(extra)
            .arg("--output")
            .arg(out),
    );
}

pub fn sha256_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Every regular file under `dir`, as (relative path, absolute path), sorted.
pub fn files_under(dir: &Path) -> Vec<(String, PathBuf)> {
    fn go(base: &Path, d: &Path, out: &mut Vec<(String, PathBuf)>) {
        let mut ents: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        ents.sort();
        for p in ents {
            if p.is_dir() {
                go(base, &p, out);
            } else {
                let rel = p
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, p));
            }
        }
    }
    let mut v = Vec::new();
    go(dir, dir, &mut v);
    v
}

/// A scratch folder under target/, removed when dropped.
pub fn scratch(name: &str) -> tempfile::TempDir {
    let base = root().join("target/test-scratch");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(base)
        .unwrap()
}

/// Deterministic, incompressible bytes (xorshift) that differ per seed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes `bytes` to `root/rel`, creating its folders.
pub fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// The files a manifest lists: path -> (size, SHA-256).
pub fn manifest_listing(
    manifest: &serde_json::Value,
) -> std::collections::BTreeMap<String, (u64, String)> {
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["size"].as_u64().unwrap(),
                    f["sha256"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// The decrypted text of a settings envelope (`Variables.dat`, `Policy.xml`).
#[allow(dead_code)]
pub fn settings_text(file: &Path, password: &str) -> String {
    let b = std::fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let (_, plain) = tsmedia::configmgr::envelope::open(&b, password)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    tsmedia::configmgr::envelope::decode_text(&plain).expect("UTF-16 text")
}

/// The decrypted `Policy.xml` of a medium (a folder): its password is the
/// `_SMSMediaGuid` of `Variables.dat`, opened with the default password.
#[allow(dead_code)]
pub fn policy_text(medium: &Path) -> String {
    let vars = settings_text(&medium.join("SMS/data/Variables.dat"), DEFAULT_PASSWORD);
    let guid = vars
        .split("<var name=\"_SMSMediaGuid\"><![CDATA[")
        .nth(1)
        .and_then(|r| r.split("]]>").next())
        .expect("Variables.dat names the media GUID")
        .to_string();
    settings_text(&medium.join("SMS/data/Policy.xml"), &guid)
}

/// The product's default password of `Variables.dat`.
#[allow(dead_code)]
pub const DEFAULT_PASSWORD: &str = tsmedia::configmgr::envelope::DEFAULT_PASSWORD;

/// QEMU and OVMF are present (under CI=true, their absence fails the test).
pub fn boot_tools() -> bool {
    have_tool("qemu-system-x86_64", "qemu-system-x86") & {
        let ok = Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd").exists();
        if !ok {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("OVMF is missing: install the Debian package ovmf (CI=true requires it)");
            }
            eprintln!("SKIPPED: no OVMF (Debian package ovmf)");
        }
        ok
    }
}

/// Boots a USB disk image with tests/boot/bootcheck.sh (MODE bios-hdd or
/// uefi-hdd), attached over `bus` (ide or usb); Ok when the boot payload
/// printed the firmware's banner and then `marker`.
pub fn boot_disk(mode: &str, img: &Path, marker: &str, bus: &str) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(root().join("tests/boot/bootcheck.sh"))
        .arg(mode)
        .arg(img)
        .arg(marker)
        .env("BOOTCHECK_BUS", bus)
        .output()
        .map_err(|e| format!("running bootcheck.sh: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{mode} boot of {} over {bus} failed:\n{text}",
            img.display()
        ))
    }
}
