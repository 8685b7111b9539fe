//! Writing a real drive: the checks that refuse the wrong device, the
//! confirmation prompt, exclusive opening, and the block-device system calls
//! (re-reading the partition table, dropping cached blocks, wiping).
//!
//! Linux only: everything comes from /sys, /proc and block-device ioctls.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::blockio::BlockIo;
use super::partition::MIB;
use crate::error::UsageError;
use crate::write::output::human_bytes;

// Block-device ioctls (linux/fs.h).
const BLKROGET: libc::c_ulong = 0x125E;
const BLKRRPART: libc::c_ulong = 0x125F;
const BLKFLSBUF: libc::c_ulong = 0x1261;
const BLKPG: libc::c_ulong = 0x1269;
const BLKPG_ADD_PARTITION: libc::c_int = 1;
const BLKPG_DEL_PARTITION: libc::c_int = 2;

/// A device number as (major, minor).
pub type DevNum = (u32, u32);

fn split_dev(dev: u64) -> DevNum {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

fn parse_devnum(s: &str) -> Option<DevNum> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A partition of the disk, from sysfs.
#[derive(Debug, Clone)]
pub struct PartInfo {
    pub name: String,
    pub dev: DevNum,
    pub bytes: u64,
    pub sys: PathBuf,
    /// Partition number.
    pub number: i32,
}

/// What tsmedia knows about the target disk.
#[derive(Debug, Clone)]
pub struct DiskInfo {
    pub path: PathBuf,
    /// Kernel name (`sdb`, `loop3`).
    pub name: String,
    pub dev: DevNum,
    pub sys: PathBuf,
    pub bytes: u64,
    pub model: String,
    pub removable: bool,
    pub partitions: Vec<PartInfo>,
}

fn usage(message: String, fix: impl Into<String>) -> anyhow::Error {
    UsageError::new(message, fix).into()
}

/// Looks the device up and refuses anything that must not be overwritten:
/// not a block device, a partition, the disk holding `/`, mounted, swap,
/// held by another device (LVM, RAID, encryption), read-only, not
/// removable (unless allowed).
pub fn inspect(path: &Path, allow_non_removable: bool) -> Result<DiskInfo> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        usage(
            format!("cannot use {shown} as a USB drive: {e}"),
            "give the whole-disk device of the drive, for example /dev/sdb (see `lsblk`)",
        )
    })?;
    if !meta.file_type().is_block_device() {
        let what = if meta.is_file() {
            "a regular file"
        } else if meta.is_dir() {
            "a folder"
        } else if meta.file_type().is_char_device() {
            "a character device"
        } else {
            "not a disk"
        };
        return Err(usage(
            format!("{shown} is not a block device (it is {what})"),
            "give the whole-disk device of the USB drive (for example /dev/sdb); to write a disk image file use --format usb-image",
        ));
    }
    let dev = split_dev(meta.rdev());
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{}:{}", dev.0, dev.1))
        .with_context(|| format!("finding {shown} in /sys/dev/block"))?;
    let name = sys
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if sys.join("partition").exists() {
        let disk = sys
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(usage(
            format!("{shown} is a partition ({name}) of /dev/{disk}, not a whole disk"),
            format!("give the whole disk: --output /dev/{disk} (its partition table is rewritten)"),
        ));
    }
    let mut partitions = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&sys) {
        for e in rd.flatten() {
            let p = e.path();
            if p.join("partition").exists() {
                let pdev = read_trim(&p.join("dev")).and_then(|s| parse_devnum(&s));
                let sectors: u64 = read_trim(&p.join("size"))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if let Some(pdev) = pdev {
                    partitions.push(PartInfo {
                        name: e.file_name().to_string_lossy().into_owned(),
                        dev: pdev,
                        bytes: sectors * 512,
                        number: read_trim(&p.join("partition"))
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0),
                        sys: p,
                    });
                }
            }
        }
    }
    partitions.sort_by(|a, b| a.name.cmp(&b.name));
    let sectors: u64 = read_trim(&sys.join("size"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let info = DiskInfo {
        path: path.to_path_buf(),
        name: name.clone(),
        dev,
        bytes: sectors * 512,
        model: model(&sys),
        removable: read_trim(&sys.join("removable")).as_deref() == Some("1"),
        partitions,
        sys: sys.clone(),
    };

    // Everything built on this disk: itself, its partitions, and whatever
    // holds them (device mapper, md), transitively.
    let mut own: Vec<(String, DevNum, PathBuf)> = vec![(name.clone(), dev, sys.clone())];
    own.extend(
        info.partitions
            .iter()
            .map(|p| (p.name.clone(), p.dev, p.sys.clone())),
    );
    let mut holders: Vec<(String, DevNum)> = Vec::new();
    let mut queue: Vec<PathBuf> = own.iter().map(|o| o.2.clone()).collect();
    let mut seen = BTreeSet::new();
    while let Some(s) = queue.pop() {
        if let Ok(rd) = std::fs::read_dir(s.join("holders")) {
            for h in rd.flatten() {
                let hname = h.file_name().to_string_lossy().into_owned();
                if !seen.insert(hname.clone()) {
                    continue;
                }
                let hsys = PathBuf::from(format!("/sys/class/block/{hname}"));
                if let Some(hdev) = read_trim(&hsys.join("dev")).and_then(|s| parse_devnum(&s)) {
                    holders.push((hname, hdev));
                }
                queue.push(hsys);
            }
        }
    }
    let all: Vec<(String, DevNum)> = own
        .iter()
        .map(|o| (o.0.clone(), o.1))
        .chain(holders.iter().cloned())
        .collect();
    let find = |d: DevNum| all.iter().find(|a| a.1 == d).map(|a| a.0.clone());

    if let Ok(m) = std::fs::metadata("/") {
        if let Some(n) = find(split_dev(m.dev())) {
            return Err(usage(
                format!("{shown} holds the running system's root file system (on {n})"),
                "this is the computer's own disk: choose the USB drive instead (see `lsblk`)",
            ));
        }
    }
    let mounts = mounted(&find);
    if !mounts.is_empty() {
        let list = mounts
            .iter()
            .map(|(n, at)| format!("{at} ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        let cmd = mounts
            .iter()
            .map(|(_, at)| format!("umount {at}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(usage(
            format!("{shown} is in use: mounted at {list}"),
            format!("unmount it first ({cmd}), or choose another drive"),
        ));
    }
    if let Some(n) = swap(&find) {
        return Err(usage(
            format!("{shown} is in use as swap ({n})"),
            format!("turn the swap off first (swapoff /dev/{n}), or choose another drive"),
        ));
    }
    if !holders.is_empty() {
        let list = holders
            .iter()
            .map(|h| h.0.clone())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(usage(
            format!("{shown} is in use by {list} (device mapper, RAID or encryption built on it)"),
            "stop what holds it first (for example `dmsetup remove`, `cryptsetup close`, `mdadm --stop`, `vgchange -an`), or choose another drive",
        ));
    }
    let ro_sys = read_trim(&sys.join("ro")).as_deref() == Some("1");
    if ro_sys || ioctl_ro(path) {
        return Err(usage(
            format!("{shown} is read-only"),
            "check the drive's write-protect switch (or `blockdev --setrw`), or choose another drive",
        ));
    }
    let lbs = read_trim(&sys.join("queue/logical_block_size")).unwrap_or_else(|| "512".into());
    if lbs != "512" {
        return Err(usage(
            format!("{shown} has {lbs}-byte sectors; tsmedia writes 512-byte-sector media"),
            "use a drive with 512-byte sectors (nearly all USB sticks), or write --format usb-image",
        ));
    }
    if !info.removable && !allow_non_removable {
        return Err(usage(
            format!(
                "{shown} ({}, {}) is not a removable drive ({}/removable is 0)",
                info.model,
                human_bytes(info.bytes),
                info.sys.display()
            ),
            "make sure this is the drive you mean to erase; if it is (a USB hard disk or card reader that reports a fixed disk), add --allow-non-removable",
        ));
    }
    Ok(info)
}

fn model(sys: &Path) -> String {
    if let Some(b) = read_trim(&sys.join("loop/backing_file")) {
        return format!("loop device on {b}");
    }
    let v = read_trim(&sys.join("device/vendor")).unwrap_or_default();
    let m = read_trim(&sys.join("device/model")).unwrap_or_default();
    let s = format!("{v} {m}").trim().to_string();
    if s.is_empty() {
        "unknown model".into()
    } else {
        s
    }
}

/// Unescapes the octal escapes (`\040`) of /proc/self/mountinfo and /proc/swaps.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn rdev_of(path: &str) -> Option<DevNum> {
    let m = std::fs::metadata(path).ok()?;
    m.file_type().is_block_device().then(|| split_dev(m.rdev()))
}

/// (device name, mount point) of every mount on the disk.
fn mounted(find: &dyn Fn(DevNum) -> Option<String>) -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 5 {
            continue;
        }
        let at = unescape(f[4]);
        let source = f
            .iter()
            .position(|x| *x == "-")
            .and_then(|i| f.get(i + 2))
            .map(|s| unescape(s));
        let hit = parse_devnum(f[2])
            .and_then(find)
            .or_else(|| source.as_deref().and_then(rdev_of).and_then(find));
        if let Some(n) = hit {
            out.push((n, at));
        }
    }
    out
}

fn swap(find: &dyn Fn(DevNum) -> Option<String>) -> Option<String> {
    let text = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|p| rdev_of(&unescape(p)))
        .find_map(find)
}

fn ioctl_ro(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut ro: libc::c_int = 0;
    // SAFETY: BLKROGET writes one int through a valid pointer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKROGET as _, &mut ro) };
    r == 0 && ro != 0
}

/// Asks on the terminal before erasing, unless `yes`. Refuses when there is
/// no terminal to ask on.
pub fn confirm(info: &DiskInfo, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let shown = info.path.display();
    if !std::io::stdin().is_terminal() {
        return Err(usage(
            format!(
                "refusing to erase {shown} without confirmation: standard input is not a terminal"
            ),
            "pass --yes to confirm that everything on the drive may be erased",
        ));
    }
    let mut msg = format!(
        "tsmedia is about to ERASE EVERYTHING on {shown}:\n  model:      {}\n  size:       {} ({} bytes)\n",
        info.model,
        human_bytes(info.bytes),
        info.bytes
    );
    if info.partitions.is_empty() {
        msg.push_str("  partitions: none\n");
    } else {
        for (i, p) in info.partitions.iter().enumerate() {
            msg.push_str(&format!(
                "  {}{} ({})\n",
                if i == 0 {
                    "partitions: "
                } else {
                    "            "
                },
                p.name,
                human_bytes(p.bytes)
            ));
        }
    }
    msg.push_str("Type yes to continue: ");
    eprint!("{msg}");
    let _ = std::io::stderr().flush();
    let answer = read_line_cancellable()?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(usage(
            format!("not confirmed: nothing was written to {shown}"),
            "type yes at the prompt, or pass --yes",
        ))
    }
}

/// A line from stdin, giving up when Ctrl-C is pressed.
fn read_line_cancellable() -> Result<String> {
    let mut line = Vec::new();
    loop {
        crate::io::cancel::check()?;
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, 200) };
        if r <= 0 {
            continue;
        }
        let mut b = [0u8; 1];
        // SAFETY: reads at most one byte into a valid buffer.
        let n = unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) };
        if n <= 0 || b[0] == b'\n' {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        line.push(b[0]);
    }
}

/// Opens the disk for writing, exclusively (O_EXCL: fails while anything
/// has it mounted or claimed).
pub fn open_exclusive(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_EXCL | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EBUSY) {
                usage(
                    format!(
                        "{} is busy: another program has it open exclusively (or it is mounted)",
                        path.display()
                    ),
                    "close what uses the drive (file managers, automounters) and try again",
                )
            } else {
                anyhow::Error::new(e).context(format!("opening {} for writing", path.display()))
            }
        })
}

/// Writes zeros over the first and last MiB (the partition tables, and
/// the GPT backup), so the drive no longer looks like a complete medium.
pub fn wipe(f: &mut File, disk_bytes: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; MIB as usize];
    let first = MIB.min(disk_bytes) as usize;
    f.write_all_at(&zeros[..first], 0)?;
    if disk_bytes > MIB {
        let from = disk_bytes.saturating_sub(MIB).max(MIB);
        f.write_all_at(&zeros[..(disk_bytes - from) as usize], from)?;
    }
    f.sync_all()
}

/// Wipes the drive when dropped unless disarmed: an error or Ctrl-C never
/// leaves a half-written drive that looks valid.
pub struct WipeGuard<'a> {
    file: &'a mut File,
    disk_bytes: u64,
    armed: bool,
}

impl<'a> WipeGuard<'a> {
    pub fn new(file: &'a mut File, disk_bytes: u64) -> Self {
        WipeGuard {
            file,
            disk_bytes,
            armed: true,
        }
    }

    pub fn file(&mut self) -> &mut File {
        self.file
    }

    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for WipeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = wipe(self.file, self.disk_bytes) {
                eprintln!("warning: could not wipe the partition table after the failure: {e}");
            }
        }
    }
}

/// Makes later reads go to the drive, not to cached blocks.
pub fn drop_cache(f: &File) -> std::io::Result<()> {
    f.sync_all()?;
    // SAFETY: BLKFLSBUF takes no argument; fd is a block device.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKFLSBUF as _, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: plain advice on a valid fd.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    Ok(())
}

#[repr(C)]
struct BlkpgPartition {
    start: libc::c_longlong,
    length: libc::c_longlong,
    pno: libc::c_int,
    devname: [libc::c_char; 64],
    volname: [libc::c_char; 64],
}

#[repr(C)]
struct BlkpgIoctlArg {
    op: libc::c_int,
    flags: libc::c_int,
    datalen: libc::c_int,
    data: *mut libc::c_void,
}

fn blkpg(f: &File, op: libc::c_int, pno: i32, start: u64, length: u64) -> std::io::Result<()> {
    let mut part = BlkpgPartition {
        start: start as i64,
        length: length as i64,
        pno,
        devname: [0; 64],
        volname: [0; 64],
    };
    let mut arg = BlkpgIoctlArg {
        op,
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as libc::c_int,
        data: (&mut part as *mut BlkpgPartition).cast(),
    };
    // SAFETY: arg and part are valid for the call, laid out as linux/blkpg.h.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKPG as _, &mut arg) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Partitions the kernel currently has for the disk: (number, start
/// sector, sectors).
fn kernel_partitions(sys: &Path) -> Vec<(i32, u64, u64)> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(sys) {
        for e in rd.flatten() {
            let p = e.path();
            let num = read_trim(&p.join("partition")).and_then(|s| s.parse().ok());
            let start = read_trim(&p.join("start")).and_then(|s| s.parse().ok());
            let size = read_trim(&p.join("size")).and_then(|s| s.parse().ok());
            if let (Some(n), Some(a), Some(b)) = (num, start, size) {
                v.push((n, a, b));
            }
        }
    }
    v.sort();
    v
}

/// Has the kernel re-read the partition table (BLKRRPART, retried while
/// busy). When that fails, or leaves the kernel without the new partition
/// (kernels built without the table's parser), sets the partitions
/// directly with BLKPG. Returns a warning when neither worked.
pub fn reread_partitions(f: &File, info: &DiskInfo, part: (u64, u64)) -> Option<String> {
    let want = (1, part.0 / 512, part.1 / 512);
    let mut why = String::new();
    for _ in 0..20 {
        // SAFETY: BLKRRPART takes no argument.
        let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKRRPART as _, 0) };
        if r == 0 {
            if kernel_partitions(&info.sys) == [want] {
                return None;
            }
            why = "BLKRRPART found no partition".into();
            break;
        }
        let e = std::io::Error::last_os_error();
        why = format!("BLKRRPART: {e}");
        if e.raw_os_error() != Some(libc::EBUSY) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut failed = Vec::new();
    for (n, _, _) in kernel_partitions(&info.sys) {
        if let Err(e) = blkpg(f, BLKPG_DEL_PARTITION, n, 0, 0) {
            failed.push(format!("removing partition {n}: {e}"));
        }
    }
    if let Err(e) = blkpg(f, BLKPG_ADD_PARTITION, 1, part.0, part.1) {
        failed.push(format!("adding the partition: {e}"));
    }
    if failed.is_empty() && kernel_partitions(&info.sys) == [want] {
        return None;
    }
    Some(format!(
        "the kernel did not take the new partition table of {} ({why}; BLKPG: {}): unplug and replug the drive before using it",
        info.path.display(),
        if failed.is_empty() { "no effect".to_string() } else { failed.join(", ") }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnums_and_escapes() {
        assert_eq!(split_dev(0x0801), (8, 1));
        assert_eq!(split_dev((259u64 << 8) | 3), (259, 3));
        assert_eq!(parse_devnum("7:12"), Some((7, 12)));
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
    }
}
