//! The prestaged-media writer: the plan as the one image of a WIM, which a
//! factory applies to a new computer's disk (`wimlib-imagex apply X.wim 1 D:`).
//!
//! Nothing is staged by copying: a scratch tree of symbolic links points at
//! every source file (generated files are written there), and wimlib
//! captures it following the links. Files already inside WIMs (the boot
//! image, the OS image) are stored as the files they are, streamed by wimlib.
//!
//! The manifest needs every file's SHA-256, and wimlib reads the sources
//! itself: a second thread hashes them while wimlib captures the tree (the
//! two reads of a file mostly share the page cache), and the manifest is
//! added to the image once both are done.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::output::{check_space, TempOutput};
use super::{copy_entry, Hashes, Report, WriteOptions};
use crate::io::Progress;
use crate::plan::{Plan, Source};
use crate::wim::{CaptureCompression, CaptureOptions};

/// WIM-specific options.
#[derive(Debug, Clone, Copy)]
pub struct WimOptions {
    pub compression: CaptureCompression,
    /// Split into `.swm` parts of at most this many bytes.
    pub split: Option<u64>,
}

pub(crate) fn set_time(p: &Path, unix: i64, follow: bool) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let ts = libc::timespec {
        tv_sec: unix as libc::time_t,
        tv_nsec: 0,
    };
    let times = [ts, ts];
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: valid C string and a two-element timespec array.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), flags) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Builds the scratch tree wimlib captures.
fn stage(plan: &Plan, dir: &Path) -> Result<()> {
    let time = plan.created.unix_timestamp();
    for e in &plan.entries {
        let p = dir.join(&e.path);
        match &e.source {
            Source::File(src) => {
                let abs = src
                    .canonicalize()
                    .with_context(|| format!("resolving {}", src.display()))?;
                std::os::unix::fs::symlink(&abs, &p)
                    .with_context(|| format!("linking {}", p.display()))?;
            }
            Source::Bytes(b) => {
                std::fs::write(&p, b).with_context(|| format!("writing {}", p.display()))?;
                set_time(&p, time, true)?;
            }
            Source::Deferred(d) => {
                std::fs::write(&p, d.get()?).with_context(|| format!("writing {}", p.display()))?;
                set_time(&p, time, true)?;
            }
            // Added once every other file is hashed.
            Source::Manifest => {}
            // Written (as ciphertext) by the hashing pass.
            Source::Encrypted(_) => set_time(&p, time, true)?,
            Source::ImageFile(_) => {
                let mut r = crate::write::open_source(e)?;
                let mut f = std::fs::File::create(&p)
                    .with_context(|| format!("creating {}", p.display()))?;
                std::io::copy(&mut r, &mut f)
                    .with_context(|| format!("writing {}", p.display()))?;
                set_time(&p, time, true)?;
            }
        }
    }
    // Folders last, deepest first, so creating entries does not touch them again.
    let mut dirs = plan.dirs();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    for d in dirs {
        set_time(&dir.join(d), time, true)?;
    }
    set_time(dir, time, true)?;
    Ok(())
}

/// Writes `plan` as a WIM at `dest` (or `.swm` parts next to it).
pub fn write(plan: &Plan, dest: &Path, opts: &WriteOptions, wopts: &WimOptions) -> Result<Report> {
    let out = TempOutput::new(dest, opts.force)?;
    check_space(dest, plan.total_size())?;

    let scratch = tempfile::Builder::new()
        .prefix("tsmedia-wim-")
        .tempdir()
        .context("creating a scratch folder")?;
    let tree = scratch.path().join("root");
    std::fs::create_dir(&tree)?;
    for d in plan.dirs() {
        std::fs::create_dir_all(tree.join(&d))?;
    }

    // 1. Encrypted files only exist once encrypted: write them (hashing
    // them) into the scratch tree, then link or write everything else.
    let total = plan.total_size();
    let progress = Progress::bytes(total * 2, "writing", opts.quiet);
    let mut hashes = Hashes::new();
    for (i, e) in plan.entries.iter().enumerate() {
        if let Source::Encrypted(_) = &e.source {
            let p = tree.join(&e.path);
            let f =
                std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let h = copy_entry(e, &mut w, &progress)?;
            std::io::Write::flush(&mut w).with_context(|| format!("writing {}", p.display()))?;
            hashes.insert(i, h);
        }
    }
    stage(plan, &tree).context("preparing the tree to capture")?;

    let info = plan.image_info.clone().unwrap_or_default();
    let name = info.name.clone().unwrap_or_else(|| plan.label.clone());
    let mut props: Vec<(&str, &str)> = Vec::new();
    if let Some(v) = &info.created_by {
        props.push(("CREATEDBY", v));
    }
    if let Some(v) = &info.version {
        props.push(("VERSION", v));
    }
    if let Some(v) = &info.comment {
        props.push(("COMMENT", v));
    }
    props.push(("MEDIAGUID", &plan.media_guid));
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&Sha256::digest(plan.media_guid.as_bytes())[..16]);
    let wim_tmp = scratch.path().join("out.wim");
    let target = if wopts.split.is_some() {
        wim_tmp.clone()
    } else {
        out.path().to_path_buf()
    };
    let mut last = 0u64;
    let mut on_progress = |done: u64, _total: u64| {
        progress.inc(done.saturating_sub(last));
        last = done;
        !crate::io::cancel::interrupted()
    };
    // 2. Capture, while a second thread hashes the sources for the manifest
    // (and checks they are what the plan says); wimlib reads the same files,
    // so the second read mostly comes from the page cache.
    let (captured, hashed) = std::thread::scope(|scope| {
        let hasher = scope.spawn(|| -> Result<Hashes> {
            let mut h = Hashes::new();
            for (i, e) in plan.entries.iter().enumerate() {
                if matches!(
                    e.source,
                    Source::File(_) | Source::Bytes(_) | Source::Deferred(_)
                ) {
                    h.insert(i, copy_entry(e, &mut std::io::sink(), &progress)?);
                }
            }
            Ok(h)
        });
        let captured = crate::wim::capture(
            &tree,
            &target,
            CaptureOptions {
                compression: wopts.compression,
                name: &name,
                description: info.description.as_deref(),
                properties: &props,
                guid,
                time: plan.created.unix_timestamp(),
                progress: Some(&mut on_progress),
            },
        );
        let hashed = hasher
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the hashing thread failed")));
        (captured, hashed)
    });
    hashes.extend(hashed?);
    captured
        .map_err(|e| {
            if crate::io::cancel::interrupted() {
                anyhow::Error::new(crate::io::cancel::Interrupted)
            } else {
                anyhow::Error::new(e)
            }
        })
        .with_context(|| format!("writing the WIM {}", dest.display()))?;

    // 3. The manifest, now that every hash is known, goes in last.
    let mpath = scratch.path().join("manifest.json");
    let (_, manifest_sha256) = std::fs::File::create(&mpath)
        .map(|f| std::io::BufWriter::with_capacity(crate::io::BUF_SIZE, f))
        .and_then(|mut w| {
            let r = plan.write_manifest(|i| hashes.get(i), &mut w)?;
            std::io::Write::flush(&mut w)?;
            Ok(r)
        })
        .with_context(|| format!("writing {}", mpath.display()))?;
    set_time(&mpath, plan.created.unix_timestamp(), true)?;
    crate::wim::add_files(
        &target,
        &[(mpath, format!("/{}", crate::manifest::MANIFEST_PATH))],
        plan.created.unix_timestamp(),
    )
    .with_context(|| format!("adding the manifest to {}", dest.display()))?;
    progress.finish();

    let mut volumes = Vec::new();
    if let Some(part) = wopts.split {
        // Parts go into a temporary folder, then move next to dest.
        std::fs::create_dir(out.path())?;
        let stem = dest
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "prestaged".into());
        let first = out.path().join(format!("{stem}.swm"));
        let parts = crate::wim::split(&wim_tmp, &first, part)
            .with_context(|| format!("splitting {} into parts of {part} bytes", dest.display()))?;
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        for p in &parts {
            let final_path = parent.join(p.file_name().unwrap());
            if final_path.exists() && !opts.force {
                anyhow::bail!(crate::error::UsageError::new(
                    format!("{} already exists", final_path.display()),
                    "choose another --output, or add --force to replace it",
                ));
            }
            volumes.push(final_path);
        }
        for (p, f) in parts.iter().zip(&volumes) {
            std::fs::rename(p, f).with_context(|| format!("moving {} into place", f.display()))?;
        }
        drop(out);
    } else {
        out.commit()?;
    }
    let (output_bytes, output_sha) = if volumes.is_empty() {
        (
            std::fs::metadata(dest)?.len(),
            opts.hash_output
                .then(|| crate::io::hash::sha256_file(dest))
                .transpose()?,
        )
    } else {
        (
            volumes
                .iter()
                .map(|v| std::fs::metadata(v).map(|m| m.len()).unwrap_or(0))
                .sum(),
            None,
        )
    };
    Ok(Report {
        output: volumes
            .first()
            .cloned()
            .unwrap_or_else(|| dest.to_path_buf()),
        format: "wim".into(),
        media_type: plan.media_type.as_str().into(),
        files: plan.entries.len(),
        content_bytes: total,
        output_bytes,
        manifest_sha256: hex::encode(manifest_sha256),
        output_sha256: output_sha,
        dedup_saved_bytes: None,
        volume_sha256: Vec::new(),
        volumes: if volumes.len() > 1 {
            volumes
        } else {
            Vec::<PathBuf>::new()
        },
    })
}
