//! The USB writers: a raw disk image (`usb-image`) or a removable drive
//! (`usb-device`), both an MBR or GPT disk with one FAT32 partition.

use std::path::Path;

use anyhow::{Context, Result};

use super::output::{check_space, human_bytes, TempOutput};
use super::{Report, WriteOptions};
use crate::error::{UsageError, VerifyFailed};
use crate::io::direct::DirectFile;
use crate::io::Progress;
use crate::plan::Plan;
use crate::profile::{InvalidProfile, Problem};
use crate::usb::{self, device, partition::TableKind, Medium, PlaceError};

/// Options of the USB writers.
#[derive(Debug, Clone)]
pub struct UsbOptions {
    pub table: TableKind,
    /// Image size in bytes (`--size`); `None` for the default.
    pub size: Option<u64>,
    pub allow_non_removable: bool,
    pub yes: bool,
    /// Read every file back after writing a device.
    pub verify: bool,
    /// Read every file back after writing an image too (`tsmedia write` of
    /// a medium without a manifest).
    pub verify_image: bool,
}

fn tree(plan: &Plan) -> Result<usb::fat32::Tree> {
    usb::tree(plan).map_err(|errs| {
        InvalidProfile {
            file: plan.profile_file.clone(),
            problems: errs
                .into_iter()
                .map(|e| Problem {
                    path: String::new(),
                    line: None,
                    message: e.to_string(),
                    fix: "rename or shrink the file, or use --format iso".into(),
                })
                .collect(),
        }
        .into()
    })
}

fn too_small(what: String, tree: &usb::fat32::Tree, kind: TableKind, fix: &str) -> anyhow::Error {
    let min = usb::fitting_disk_bytes(tree, kind, 0, 0);
    UsageError::new(
        format!(
            "{what} is too small: the medium needs at least {} ({min} bytes)",
            human_bytes(min)
        ),
        fix,
    )
    .into()
}

fn place(
    plan: &Plan,
    tree: usb::fat32::Tree,
    kind: TableKind,
    bytes: u64,
    what: String,
    fix: &str,
) -> Result<Medium> {
    let t2 = tree.clone();
    usb::place(plan, tree, kind, bytes).map_err(|e| match e {
        PlaceError::NoSpace(_) | PlaceError::Geometry(_) | PlaceError::Other(_) => {
            too_small(what, &t2, kind, fix)
        }
    })
}

fn report(plan: &Plan, dest: &Path, format: &str, bytes: u64, manifest: &[u8; 32]) -> Report {
    Report {
        output: dest.to_path_buf(),
        format: format.into(),
        media_type: plan.media_type.as_str().into(),
        files: plan.entries.len(),
        content_bytes: plan.total_size(),
        output_bytes: bytes,
        manifest_sha256: hex::encode(manifest),
        output_sha256: None,
        dedup_saved_bytes: None,
        volume_sha256: Vec::new(),
        volumes: Vec::new(),
    }
}

/// Writes `plan` as a raw disk image at `dest`.
pub fn write_image(
    plan: &Plan,
    dest: &Path,
    opts: &WriteOptions,
    usb_opts: &UsbOptions,
) -> Result<Report> {
    let tree = tree(plan)?;
    let kind = usb_opts.table;
    let bytes = match usb_opts.size {
        Some(s) => s / 512 * 512,
        None => usb::default_disk_bytes(&tree, kind),
    };
    let medium = place(
        plan,
        tree,
        kind,
        bytes,
        format!("--size {}", human_bytes(bytes)),
        "give a larger --size, or leave --size out for the content plus 10% (at least 16 MiB) free",
    )?;
    let out = TempOutput::new(dest, opts.force)?;
    check_space(dest, plan.total_size())?;
    let f = std::fs::File::create(out.path())
        .with_context(|| format!("creating {}", out.path().display()))?;
    f.set_len(bytes)
        .with_context(|| format!("sizing {}", out.path().display()))?;
    let mut f = DirectFile::new(f);
    let progress = Progress::bytes(plan.total_size(), "writing", opts.quiet);
    let (hashes, manifest) = usb::write_medium(&mut f, &medium, plan, &progress)
        .with_context(|| format!("writing {}", dest.display()))?;
    f.sync_all()
        .with_context(|| format!("flushing {}", out.path().display()))?;
    progress.finish();
    drop(f);
    if usb_opts.verify_image {
        let f = std::fs::File::open(out.path())
            .with_context(|| format!("opening {}", out.path().display()))?;
        let progress = Progress::bytes(plan.total_size(), "verifying", opts.quiet);
        let res = usb::verify(&f, &medium, plan, &hashes, &manifest, &progress)
            .with_context(|| format!("reading {} back", out.path().display()))?;
        progress.finish();
        if let Err(why) = res {
            return Err(VerifyFailed(format!(
                "{}: {why}; nothing was left behind",
                dest.display()
            ))
            .into());
        }
    }
    out.commit()?;
    Ok(report(plan, dest, "usb-image", bytes, &manifest))
}

/// Writes `plan` to the removable drive `dev` (the whole disk).
pub fn write_device(
    plan: &Plan,
    dev: &Path,
    opts: &WriteOptions,
    usb_opts: &UsbOptions,
) -> Result<Report> {
    if usb_opts.size.is_some() {
        return Err(UsageError::new(
            "--size is for --format usb-image: a drive is always used whole",
            "leave --size out",
        )
        .into());
    }
    let tree = tree(plan)?;
    let kind = usb_opts.table;
    let info = device::inspect(dev, usb_opts.allow_non_removable)?;
    let medium = place(
        plan,
        tree,
        kind,
        info.bytes,
        format!("{} ({})", dev.display(), human_bytes(info.bytes)),
        "use a larger drive",
    )?;
    device::confirm(&info, usb_opts.yes)?;
    let mut file = device::open_exclusive(dev)?;
    let mut guard = device::WipeGuard::new(&mut file, info.bytes);
    device::wipe(guard.file(), info.bytes)
        .with_context(|| format!("erasing the partition table of {}", dev.display()))?;
    let progress = Progress::bytes(plan.total_size(), "writing", opts.quiet);
    let mut direct = DirectFile::new(
        guard
            .file()
            .try_clone()
            .with_context(|| format!("opening {} again", dev.display()))?,
    );
    let (hashes, manifest) = usb::write_medium(&mut direct, &medium, plan, &progress)
        .with_context(|| format!("writing {}", dev.display()))?;
    drop(direct);
    progress.finish();
    guard
        .file()
        .sync_all()
        .with_context(|| format!("flushing {}", dev.display()))?;
    if let Some(w) = device::reread_partitions(
        guard.file(),
        &info,
        (medium.disk.part_offset(), medium.disk.part_bytes()),
    ) {
        if !opts.quiet {
            eprintln!("warning: {w}");
        }
    }
    if usb_opts.verify {
        device::drop_cache(guard.file())
            .with_context(|| format!("dropping cached blocks of {}", dev.display()))?;
        let progress = Progress::bytes(plan.total_size(), "verifying", opts.quiet);
        let res = usb::verify(guard.file(), &medium, plan, &hashes, &manifest, &progress)
            .with_context(|| format!("reading {} back", dev.display()))?;
        progress.finish();
        if let Err(why) = res {
            return Err(
                VerifyFailed(format!("{}: {why}; the drive was wiped", dev.display())).into(),
            );
        }
    }
    guard.disarm();
    Ok(report(plan, dev, "usb-device", info.bytes, &manifest))
}
