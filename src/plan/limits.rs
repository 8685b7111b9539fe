//! Format limits, checked on the plan before anything is written: volume
//! sizes for ISO volume sets, FAT32's 4 GiB file limit for USB media.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::{Entry, Group, Plan, Source, BOOT_WIM};
use crate::profile::{InvalidProfile, OutputFormat, Problem};
use crate::usb::fat32::{self, TreeError};
use crate::wim::WimError;

/// Largest `.swm` part: 4000 MiB, as the usual `DISM /Split-Image
/// /FileSize:4000` for FAT32 media, safely below FAT32's 4 GiB - 1 byte.
pub const SWM_PART_SIZE: u64 = 4000 * 1024 * 1024;

/// Adapts a plan to what `format` can hold, or explains why it cannot.
pub fn apply(plan: Plan, format: OutputFormat) -> Result<Plan> {
    match format {
        OutputFormat::Folder | OutputFormat::Wim => Ok(plan),
        OutputFormat::Iso => iso(plan),
        OutputFormat::UsbImage | OutputFormat::UsbDevice => {
            fat32_limits(plan, fat32::MAX_FILE_SIZE, SWM_PART_SIZE)
        }
    }
}

/// ISO: names must fit UDF's 255-byte file identifiers; content larger than
/// the chosen `media.size` becomes a volume set.
fn iso(plan: Plan) -> Result<Plan> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let names = plan
        .entries
        .iter()
        .flat_map(|e| e.path.split('/').map(move |n| (n, &e.path)))
        .chain(
            plan.empty_dirs
                .iter()
                .flat_map(|d| d.split('/').map(move |n| (n, d))),
        );
    for (name, path) in names {
        let n = crate::iso::udf::name_len(name);
        if n > crate::iso::udf::MAX_NAME_BYTES && seen.insert(name.to_string()) {
            problems.push(Plan::problem(
                "",
                format!(
                    "`{name}` in `/{path}` takes {n} bytes in UDF, which allows {} (names with characters beyond Latin-1 take 2 bytes per character, so at most 127 of them)",
                    crate::iso::udf::MAX_NAME_BYTES
                ),
                "shorten the name",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(InvalidProfile {
            file: plan.profile_file.clone(),
            problems,
        }
        .into());
    }
    match plan.media_size.capacity() {
        Some(cap) => super::volumes::assign(plan, cap),
        None => Ok(plan),
    }
}

/// Whether an entry is a WIM that may go on FAT32 as `.swm` parts: the boot
/// image (`sources/boot.wim`) or a WIM at the top of a package folder (the
/// OS image, `SMS/PKG/<id>/*.wim`).
fn splittable(e: &Entry) -> bool {
    if !matches!(e.source, Source::File(_)) {
        return false;
    }
    if e.path.eq_ignore_ascii_case(BOOT_WIM) {
        return true;
    }
    let parts: Vec<&str> = e.path.split('/').collect();
    parts.len() == 4
        && parts[0].eq_ignore_ascii_case("SMS")
        && parts[1].eq_ignore_ascii_case("PKG")
        && parts[3].to_ascii_lowercase().ends_with(".wim")
}

/// The profile key an entry most likely comes from, for problem messages.
fn key_of(e: &Entry) -> String {
    match &e.group {
        Group::Boot => "boot_image.path".into(),
        Group::Data => String::new(),
        Group::Extra => "extra_files".into(),
        Group::Package(id) if &**id == super::PRESTART_ID => "prestart.files".into(),
        Group::Package(_) if splittable(e) => "os_image.path".into(),
        Group::Package(_) => "packages".into(),
    }
}

/// FAT32 limits with a given largest file and `.swm` part size (tests use
/// small ones): WIMs over the limit are split into `.swm` parts in the
/// plan's scratch folder; any other file over it, names FAT cannot hold and
/// folders with too many entries are problems of the profile.
pub fn fat32_limits(plan: Plan, max_file: u64, part_size: u64) -> Result<Plan> {
    fat32_limits_with(plan, max_file, part_size, splittable)
}

/// Whether a copied medium's entry may go on FAT32 as `.swm` parts: any
/// WIM or ESD (already extracted to a file) anywhere on the medium, as
/// Windows Setup media keep theirs in `sources/`.
fn splittable_copy(e: &Entry) -> bool {
    let name = e.path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    matches!(e.source, Source::File(_)) && (name.ends_with(".wim") || name.ends_with(".esd"))
}

/// FAT32 limits for a copied medium (`tsmedia write`): every WIM or ESD
/// over `max_file` (4 GiB - 1 byte; tests use less), given as a file, is
/// split into `.swm` parts of `part_size`.
pub fn fat32_for_copy(plan: Plan, max_file: u64, part_size: u64) -> Result<Plan> {
    fat32_limits_with(plan, max_file, part_size, splittable_copy)
}

fn fat32_limits_with(
    mut plan: Plan,
    max_file: u64,
    part_size: u64,
    splittable: fn(&Entry) -> bool,
) -> Result<Plan> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut renamed: Vec<(String, String)> = Vec::new();
    let mut entries = Vec::with_capacity(plan.entries.len());
    let old = std::mem::take(&mut plan.entries);
    for e in old {
        if e.size <= max_file {
            entries.push(e);
            continue;
        }
        let limit = if max_file == fat32::MAX_FILE_SIZE {
            "FAT32's limit of 4 GiB - 1 byte per file".to_string()
        } else {
            format!("the limit of {max_file} bytes per file")
        };
        if !splittable(&e) {
            problems.push(Plan::problem(
                &key_of(&e),
                format!(
                    "/{} ({}, {} bytes, from {}) is over {limit}, and only WIM files can be split",
                    e.path,
                    crate::write::output::human_bytes(e.size),
                    e.size,
                    e.origin()
                ),
                "leave the file out or split it yourself, or use --format iso (no such limit)",
            ));
            continue;
        }
        let Source::File(src) = &e.source else {
            unreachable!("splittable entries are files")
        };
        let scratch = match &plan.scratch {
            Some(s) => Arc::clone(s),
            None => {
                let s = Arc::new(
                    tempfile::Builder::new()
                        .prefix("tsmedia-plan-")
                        .tempdir()
                        .context("creating a scratch folder for .swm parts")?,
                );
                plan.scratch = Some(Arc::clone(&s));
                s
            }
        };
        let dir = scratch.path().join(format!("swm-{}", entries.len()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (parent, name) = match e.path.rfind('/') {
            Some(i) => (&e.path[..=i], &e.path[i + 1..]),
            None => ("", e.path.as_str()),
        };
        let stem = match name.rfind('.') {
            Some(d) => &name[..d],
            None => name,
        };
        let first: PathBuf = dir.join(format!("{stem}.swm"));
        match crate::wim::split(src, &first, part_size) {
            Ok(parts) => {
                let n = parts.len();
                for (k, part) in parts.into_iter().enumerate() {
                    let size = std::fs::metadata(&part)
                        .with_context(|| format!("reading the size of {}", part.display()))?
                        .len();
                    let file = part
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let path = format!("{parent}{file}");
                    if k == 0 {
                        renamed.push((e.path.clone(), path.clone()));
                    }
                    entries.push(Entry {
                        path,
                        size,
                        source: Source::File(part),
                        note: super::note(format!("{} (split, part {} of {n})", e.origin(), k + 1)),
                        group: e.group.clone(),
                        volume: e.volume,
                        sha256: None,
                    });
                }
            }
            Err(WimError::ResourceTooLarge { largest, .. }) => problems.push(Plan::problem(
                &key_of(&e),
                format!(
                    "/{} ({} bytes) is over {limit} and cannot be split into .swm parts: it holds one file's data of {largest} bytes, and a WIM resource cannot be divided between parts of {part_size} bytes",
                    e.path, e.size
                ),
                "use --format iso, or rebuild the WIM so that no single file in it is over 4 GiB",
            )),
            Err(err) => problems.push(Plan::problem(
                &key_of(&e),
                format!("/{} is over {limit} and could not be split into .swm parts: {err}", e.path),
                "check the WIM (wimlib-imagex verify), or use --format iso",
            )),
        }
    }
    entries.sort_by(|a, b| super::sort_key(&a.path).cmp(&super::sort_key(&b.path)));
    for w in entries.windows(2) {
        if w[0].path.eq_ignore_ascii_case(&w[1].path) {
            problems.push(Plan::problem(
                &key_of(&w[1]),
                format!(
                    "/{} would be on the medium twice once WIMs are split into .swm parts",
                    w[1].path
                ),
                "rename the existing .swm file",
            ));
        }
    }
    plan.entries = entries;
    // Settings that name a split WIM name its first part instead.
    plan.rename_in_settings(&renamed);
    if problems.is_empty() {
        if let Err(errs) = crate::usb::tree(&plan) {
            for err in errs {
                let fix = match err {
                    TreeError::BadName { .. } => "rename it (FAT names cannot hold \" * / : < > ? \\ | or end with a dot or space)",
                    TreeError::DirTooLarge { .. } => "spread the files over more folders, or shorten their names",
                    TreeError::FileTooLarge { .. } => "use --format iso",
                };
                problems.push(Plan::problem("", err.to_string(), fix));
            }
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(InvalidProfile {
            file: plan.profile_file.clone(),
            problems,
        }
        .into())
    }
}
