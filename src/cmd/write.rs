//! `tsmedia write`: an ISO image -> plan of its files -> USB writer.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::Global;
use crate::cli::WriteArgs;
use crate::error::UsageError;
use crate::plan::from_image;
use crate::profile::InvalidProfile;
use crate::write::{self, WriteOptions};

pub fn run(g: &Global, a: WriteArgs) -> Result<i32> {
    let device = is_device(&a.output);
    check_output_against_sources(&a.output, &a.sources)?;
    let ip = from_image::from_iso(&a.sources, g.quiet).map_err(explain_limits)?;
    let plan = &ip.plan;
    let has_bootmgr = plan.boot.bios.is_some();
    let (warn, note) = crate::usb::boot::boot_note(a.partition_table, has_bootmgr);
    if !g.quiet && warn {
        eprintln!("warning: {note}");
    } else if g.verbose > 0 && !g.quiet {
        eprintln!("{note}");
    }
    if g.verbose > 0 && !g.quiet {
        eprintln!(
            "source: {} ({}), {} files, {}; {}",
            a.sources[0].display(),
            ip.description,
            plan.entries.len(),
            write::output::human_bytes(plan.total_size()),
            if ip.has_manifest {
                "checked against its tsmedia manifest while copying"
            } else {
                "no tsmedia manifest: every file is read back and compared"
            }
        );
    }
    let opts = WriteOptions {
        force: a.force,
        quiet: g.quiet,
        hash_output: false,
    };
    let usb_opts = write::usb::UsbOptions {
        table: a.partition_table,
        size: a.size,
        allow_non_removable: a.allow_non_removable,
        yes: a.yes,
        verify: !a.no_verify,
        verify_image: !a.no_verify && !ip.has_manifest,
    };
    let report = if device {
        write::usb::write_device(plan, &a.output, &opts, &usb_opts)?
    } else {
        write::usb::write_image(plan, &a.output, &opts, &usb_opts)?
    };
    let split: Vec<&str> = plan
        .entries
        .iter()
        .filter(|e| e.path.to_ascii_lowercase().ends_with(".swm"))
        .map(|e| e.path.as_str())
        .collect();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["format"] = if device { "usb-device" } else { "usb-image" }.into();
        v["sources"] = a
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .into();
        v["partition_table"] = a.partition_table.as_str().into();
        v["manifest_checked"] = ip.has_manifest.into();
        v["bios_boot"] =
            (a.partition_table == crate::usb::partition::TableKind::Mbr && has_bootmgr).into();
        v["swm_parts"] = split.into();
        if ip.has_manifest {
            v["manifest_sha256"] = manifest_sha256(plan)?.into();
        } else {
            v["media_type"] = serde_json::Value::Null;
            v["manifest_sha256"] = serde_json::Value::Null;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if !g.quiet {
        eprintln!(
            "wrote {} to {} ({} files, {})",
            a.sources[0].display(),
            report.output.display(),
            report.files,
            write::output::human_bytes(report.output_bytes)
        );
    }
    Ok(0)
}

/// SHA-256 of the manifest as written (copied or restated).
fn manifest_sha256(plan: &crate::plan::Plan) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let Some(e) = plan
        .entries
        .iter()
        .find(|e| e.path == crate::manifest::MANIFEST_PATH)
    else {
        return Ok(String::new());
    };
    let mut b = Vec::new();
    write::open_source(e)?.read_to_end(&mut b)?;
    Ok(hex::encode(Sha256::digest(&b)))
}

/// A drive when the path is a block device or under /dev (the device
/// checks then refuse anything that is not a whole removable drive).
fn is_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    p.starts_with("/dev") || std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device())
}

/// FAT32 problems of the source come back as profile problems from the
/// planner; for `write` they are problems of the ISO.
fn explain_limits(e: anyhow::Error) -> anyhow::Error {
    let Some(inv) = e.downcast_ref::<InvalidProfile>() else {
        return e;
    };
    let n = inv.problems.len();
    let mut msg = format!(
        "{} cannot be written to a FAT32 USB medium ({n} problem{})",
        inv.file.display(),
        if n == 1 { "" } else { "s" }
    );
    for p in &inv.problems {
        msg.push_str(&format!("\n  {}", p.message));
    }
    UsageError::new(
        msg,
        "FAT32 holds files up to 4 GiB - 1 byte, and only WIMs can be split into .swm parts; boot this ISO from a DVD or virtual drive instead",
    )
    .into()
}

/// Refuses an output that is one of the sources (or a folder holding one).
fn check_output_against_sources(output: &Path, sources: &[PathBuf]) -> Result<()> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let out = canon(output);
    for s in sources {
        let src = canon(s);
        if out == src || src.starts_with(&out) {
            return Err(UsageError::new(
                format!(
                    "the output {} is the source {}: writing it would destroy the source",
                    output.display(),
                    s.display()
                ),
                "write to another drive or image file",
            )
            .into());
        }
    }
    Ok(())
}
