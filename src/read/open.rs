//! Opens whatever medium a path names: a folder, a WIM, an ISO image (or a
//! volume set), a USB disk image or device.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Medium;
use crate::error::UsageError;

/// What kind of medium a path holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    Wim,
    Iso,
    Disk,
}

pub fn detect(path: &Path) -> Result<Kind> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_dir() {
        return Ok(Kind::Folder);
    }
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut head = vec![0u8; 0x8006];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    head.truncate(n);
    if head.starts_with(b"MSWIM\0\0\0") {
        return Ok(Kind::Wim);
    }
    if head.len() >= 0x8006 && &head[0x8001..0x8006] == b"CD001" {
        return Ok(Kind::Iso);
    }
    if head.len() >= 512 && head[510] == 0x55 && head[511] == 0xAA {
        return Ok(Kind::Disk);
    }
    Err(UsageError::new(
        format!(
            "{} is not a medium tsmedia knows (folder, ISO, USB image or device, WIM)",
            path.display()
        ),
        "give the path of a medium built by tsmedia",
    )
    .into())
}

/// Opens the medium at `paths` (several paths only for ISO volume sets).
pub fn open(paths: &[PathBuf]) -> Result<Box<dyn Medium>> {
    let first = paths.first().context("no medium given")?;
    let kind = detect(first)?;
    if paths.len() > 1 && kind != Kind::Iso {
        return Err(UsageError::new(
            "several paths were given, but only an ISO volume set has several parts",
            "give one medium",
        )
        .into());
    }
    match kind {
        Kind::Folder => Ok(Box::new(
            super::folder::FolderMedium::open(first)
                .with_context(|| format!("reading {}", first.display()))?,
        )),
        Kind::Wim => Ok(Box::new(
            super::wimfile::WimMedium::open(first)
                .with_context(|| format!("reading {}", first.display()))?,
        )),
        Kind::Iso => {
            let paths = expand_volume_set(paths);
            if paths.len() == 1 {
                Ok(Box::new(
                    super::iso::IsoImage::open(&paths[0])
                        .with_context(|| format!("reading {}", paths[0].display()))?,
                ))
            } else {
                Ok(Box::new(
                    super::iso::IsoVolumeSet::open(&paths).with_context(|| {
                        format!("reading the volume set {}", paths[0].display())
                    })?,
                ))
            }
        }
        Kind::Disk => Ok(Box::new(super::disk::DiskMedium::open(first)?)),
    }
}

/// `media-1.iso` alone stands for the whole set `media-1.iso`, `media-2.iso`, ...
/// when those files sit next to it.
pub fn expand_volume_set(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.len() != 1 {
        return paths.to_vec();
    }
    let p = &paths[0];
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(stem) = name.strip_suffix("-1.iso") else {
        return paths.to_vec();
    };
    let mut out = vec![p.clone()];
    for n in 2.. {
        let q = p.with_file_name(format!("{stem}-{n}.iso"));
        if !q.is_file() {
            break;
        }
        out.push(q);
    }
    out
}
