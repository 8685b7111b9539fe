//! Failures never leave a half-written medium: interrupts, full disks,
//! sources that change during the build, and symbolic links in sources.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A profile in `dir` whose extra files come from `extra` (a folder).
fn profile_with_extra(dir: &Path, extra: &Path) -> PathBuf {
    let fx = fixtures();
    let text = serde_json::json!({
        "type": "bootable",
        "label": "TSM_RELIABILITY",
        "boot_image": {"path": fx.join("boot.wim"), "index": 1},
        "site": {"code": "TSM", "management_points": ["https://mp.corp.example"]},
        "extra_files": [{"source": extra, "target": "/extra"}]
    });
    let p = dir.join("profile.json");
    std::fs::write(&p, serde_json::to_string_pretty(&text).unwrap()).unwrap();
    p
}

fn nothing_left(dir: &Path, name: &str) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(name))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn interrupt_during_build(signal: i32, format: &str) {
    let tmp = scratch("interrupt");
    let extra = tmp.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    // A large sparse file keeps the build busy for several seconds.
    let big = std::fs::File::create(extra.join("big.bin")).unwrap();
    // Under FAT32's 4 GiB limit, so every format takes it.
    big.set_len((3 << 30) + (1 << 29)).unwrap();
    let prof = profile_with_extra(tmp.path(), &extra);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("medium");
    let mut child = tsmedia()
        .args(["create", "--format", format, "--profile"])
        .arg(&prof)
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until writing has started: the partial output exists and grows.
    let t0 = Instant::now();
    loop {
        let started = std::fs::read_dir(&out_dir).unwrap().count() > 0;
        if started {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the build never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the build ended before the signal"
    );
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
    let sent = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "did not stop after the signal"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    assert!(!status.success(), "exit status after a signal: {status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    assert!(!out.exists(), "no output after an interrupt");
    nothing_left(&out_dir, "medium");
}

#[test]
fn sigint_and_sigterm_stop_a_folder_build_and_remove_it() {
    interrupt_during_build(libc::SIGINT, "folder");
    interrupt_during_build(libc::SIGTERM, "folder");
}

#[test]
fn sigint_and_sigterm_stop_iso_usb_and_wim_builds_and_remove_them() {
    interrupt_during_build(libc::SIGINT, "iso");
    interrupt_during_build(libc::SIGTERM, "usb-image");
    interrupt_during_build(libc::SIGINT, "wim");
}

/// Mounts a small tmpfs; returns None (or fails under CI) when that is not possible.
struct SmallFs {
    dir: PathBuf,
}

impl SmallFs {
    fn new(dir: PathBuf, size: &str) -> Option<SmallFs> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tsmedia-test"])
            .arg(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("cannot mount a tmpfs (the disk-full test needs root)");
            }
            eprintln!("SKIPPED: cannot mount a tmpfs");
            return None;
        }
        Some(SmallFs { dir })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

#[test]
fn a_full_disk_fails_with_the_space_needed_and_leaves_nothing() {
    let tmp = scratch("diskfull");
    let extra = tmp.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    std::fs::write(extra.join("data.bin"), vec![7u8; 12 << 20]).unwrap();
    let prof = profile_with_extra(tmp.path(), &extra);
    let Some(fs) = SmallFs::new(tmp.path().join("small"), "4m") else {
        return;
    };
    for format in ["folder", "wim"] {
        let out = fs.dir.join("medium");
        let o = tsmedia()
            .args(["create", "--format", format, "--profile"])
            .arg(&prof)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{format}: {err}");
        assert!(
            err.contains("needs") && err.contains("bytes"),
            "{format}: says how much is needed: {err}"
        );
        assert_eq!(
            std::fs::read_dir(&fs.dir).unwrap().count(),
            0,
            "{format}: nothing left on the small disk"
        );
    }
}

#[test]
fn a_write_that_runs_out_of_space_midway_says_so() {
    // Two builds start together on a disk that fits one: both see enough
    // free space, then the disk fills while they write.
    let tmp = scratch("diskfull2");
    let extra = tmp.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    std::fs::write(extra.join("data.bin"), vec![7u8; 3 << 20]).unwrap();
    let prof = profile_with_extra(tmp.path(), &extra);
    let Some(fs) = SmallFs::new(tmp.path().join("small"), "8m") else {
        return;
    };
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|n| {
            tsmedia()
                .args(["create", "--format", "folder", "--profile"])
                .arg(&prof)
                .arg("--output")
                .arg(fs.dir.join(n))
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failed = 0;
    for (n, c) in ["a", "b"].iter().zip(children) {
        let o = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            assert!(
                fs.dir
                    .join(n)
                    .join("SMS/data/tsmedia-manifest.json")
                    .exists(),
                "{n}: complete"
            );
        } else {
            failed += 1;
            assert_eq!(o.status.code(), Some(1), "{n}: {err}");
            assert!(
                err.contains("needs") && err.contains("bytes"),
                "{n}: says what is needed: {err}"
            );
            assert!(!fs.dir.join(n).exists(), "{n}: no output");
        }
    }
    assert!(failed >= 1, "the disk cannot hold both media");
    let partial: Vec<_> = std::fs::read_dir(&fs.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(partial.is_empty(), "{partial:?}");
}

fn change_source_during_build(change: impl FnOnce(&Path)) {
    let tmp = scratch("changing");
    let extra = tmp.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    let victim = extra.join("changing.bin");
    std::fs::write(&victim, vec![3u8; 1 << 20]).unwrap();
    let prof = profile_with_extra(tmp.path(), &extra);
    let out = tmp.path().join("medium");
    let mut child = tsmedia()
        .env("TSMEDIA_TEST_PAUSE_MS", "1500")
        .args(["-v", "create", "--format", "folder", "--profile"])
        .arg(&prof)
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("pausing") {
        line.clear();
    }
    change(&victim);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("changed during the build"), "{rest}");
    assert!(rest.contains("changing.bin"), "names the file: {rest}");
    assert!(!out.exists());
    nothing_left(tmp.path(), "medium");
}

#[test]
fn a_source_that_shrinks_or_grows_fails_the_build() {
    change_source_during_build(|p| std::fs::write(p, b"short").unwrap());
    change_source_during_build(|p| std::fs::write(p, vec![4u8; 2 << 20]).unwrap());
}

#[test]
fn symbolic_links_are_followed_only_inside_the_source() {
    let tmp = scratch("symlinks");
    let extra = tmp.path().join("extra");
    std::fs::create_dir_all(extra.join("sub")).unwrap();
    std::fs::write(extra.join("sub/real.txt"), "real").unwrap();
    std::os::unix::fs::symlink("sub/real.txt", extra.join("inside.txt")).unwrap();
    let prof = profile_with_extra(tmp.path(), &extra);
    let out = tmp.path().join("ok");
    run_ok(
        tsmedia()
            .args(["-q", "create", "--format", "folder", "--profile"])
            .arg(&prof)
            .arg("--output")
            .arg(&out),
    );
    assert_eq!(
        std::fs::read_to_string(out.join("extra/inside.txt")).unwrap(),
        "real"
    );

    // A link leading out of the source folder.
    std::fs::write(tmp.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), extra.join("outside.txt")).unwrap();
    let o = tsmedia()
        .args(["create", "--format", "folder", "--profile"])
        .arg(&prof)
        .arg("--output")
        .arg(tmp.path().join("bad1"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("outside.txt") && err.contains("leading out of the source folder"),
        "{err}"
    );
    std::fs::remove_file(extra.join("outside.txt")).unwrap();

    // A loop.
    std::os::unix::fs::symlink("..", extra.join("sub/loop")).unwrap();
    let o = tsmedia()
        .args(["create", "--format", "folder", "--profile"])
        .arg(&prof)
        .arg("--output")
        .arg(tmp.path().join("bad2"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("loop"), "{err}");
    assert!(!tmp.path().join("bad1").exists() && !tmp.path().join("bad2").exists());
}
