//! Outputs are built under a temporary sibling name and renamed into place
//! only when complete; until then a guard removes them, so an error or an
//! interrupt leaves nothing half-written at the output path.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::UsageError;

/// A temporary output next to its final path.
pub struct TempOutput {
    tmp: PathBuf,
    dest: PathBuf,
    force: bool,
    done: bool,
}

impl TempOutput {
    /// Refuses an existing `dest` unless `force`; returns the guard. Nothing
    /// is created yet: the caller creates `self.path()` as a file or folder.
    pub fn new(dest: &Path, force: bool) -> Result<TempOutput> {
        if dest.as_os_str().is_empty() {
            return Err(UsageError::new("the output path is empty", "give --output PATH").into());
        }
        if std::fs::symlink_metadata(dest).is_ok() && !force {
            return Err(UsageError::new(
                format!("{} already exists", dest.display()),
                "choose another --output, or add --force to replace it",
            )
            .into());
        }
        let name = dest
            .file_name()
            .with_context(|| format!("{} has no file name", dest.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(UsageError::new(
                format!("the folder {} does not exist", parent.display()),
                "create it first, or choose another --output",
            )
            .into());
        }
        let tmp = parent.join(format!(".{name}.tsmedia-partial-{}", std::process::id()));
        remove_any(&tmp);
        Ok(TempOutput {
            tmp,
            dest: dest.to_path_buf(),
            force,
            done: false,
        })
    }

    /// Where to build.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Renames the finished output into place (replacing an old one when forced).
    pub fn commit(mut self) -> Result<()> {
        crate::io::cancel::check()?;
        if std::fs::symlink_metadata(&self.dest).is_ok() {
            if !self.force {
                return Err(UsageError::new(
                    format!("{} appeared while building", self.dest.display()),
                    "choose another --output, or add --force to replace it",
                )
                .into());
            }
            let old = self.tmp.with_extension("old");
            std::fs::rename(&self.dest, &old)
                .with_context(|| format!("moving the old {} aside", self.dest.display()))?;
            if let Err(e) = std::fs::rename(&self.tmp, &self.dest) {
                let _ = std::fs::rename(&old, &self.dest);
                return Err(e).with_context(|| format!("renaming into {}", self.dest.display()));
            }
            remove_any(&old);
        } else {
            std::fs::rename(&self.tmp, &self.dest)
                .with_context(|| format!("renaming into {}", self.dest.display()))?;
        }
        if let Some(parent) = self.dest.parent() {
            if let Ok(d) = std::fs::File::open(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            }) {
                let _ = d.sync_all();
            }
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.done {
            remove_any(&self.tmp);
        }
    }
}

fn remove_any(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// Free bytes on the file system holding `dir`.
pub fn free_space(dir: &Path) -> Option<u64> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a valid out-pointer.
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if r != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Fails early, with the numbers, when `needed` bytes cannot fit next to `dest`.
pub fn check_space(dest: &Path, needed: u64) -> Result<()> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Some(free) = free_space(parent) {
        if free < needed {
            anyhow::bail!(
                "not enough space for {}: the medium needs {} ({} bytes) but only {} ({} bytes) are free there; free some space or choose another --output",
                dest.display(),
                human_bytes(needed),
                needed,
                human_bytes(free),
                free
            );
        }
    }
    Ok(())
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
