//! The ISO writer: ISO 9660 + Joliet + El Torito (BIOS and UEFI) with a
//! UDF 2.01 bridge over the same file data, as `oscdimg -m -o -u2
//! -bootdata:2#p0,e,b…#pEF,e,b…` makes Windows media; volume sets when the
//! plan spreads files over several volumes.
//!
//! * [`layout`] computes every sector of a volume from the plan (all sizes
//!   are known, the manifest's too) and renders metadata on demand;
//! * [`records`], [`eltorito`] and [`udf`] build the on-disk structures;
//! * [`names`] makes the ISO 9660, Joliet and UDF names;
//! * [`dedup`] finds identical files so they are stored once;
//! * [`write`] streams each volume once, in sector order, hashing as it goes.
//!
//! The manifest is the last file of every volume. Each volume is written up
//! to it; once every file of every volume is hashed, the manifest (listing
//! all files and their volumes) is rendered and each volume finished.

pub mod dedup;
pub mod eltorito;
pub mod layout;
pub mod names;
pub mod records;
pub mod udf;
pub mod write;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::io::Progress;
use crate::plan::{Plan, Source};
use crate::write::output::{check_space, TempOutput};
use crate::write::{open_source, Report, WriteOptions};
use layout::{Blob, Layout, VolumeFile, VolumeInput};

/// ISO sector size.
pub const SECTOR: usize = 2048;

/// Blob source index of the manifest.
const MANIFEST: usize = usize::MAX;

/// The file names of a volume set: `media.iso` gives `media-1.iso`, `media-2.iso`, …
pub fn volume_paths(dest: &Path, count: u32) -> Vec<PathBuf> {
    if count <= 1 {
        return vec![dest.to_path_buf()];
    }
    let stem = dest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = dest
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..=count)
        .map(|v| dest.with_file_name(format!("{stem}-{v}{ext}")))
        .collect()
}

/// The volume set identifier: 16 hex digits derived from the medium's GUID
/// (UDF wants the first 16 characters unique), then the label.
fn volume_set_id(plan: &Plan) -> String {
    let h = Sha256::digest(plan.media_guid.as_bytes());
    format!("{}_{}", hex::encode_upper(&h[..8]), plan.label)
}

/// Reads file data for the writer and keeps the hash of each content.
struct PlanSources<'a> {
    plan: &'a Plan,
    dedup: &'a dedup::Dedup,
    /// Per content: its SHA-256 once copied.
    hashes: RefCell<Vec<Option<[u8; 32]>>>,
    /// The same, once every file is copied: the manifest is rendered from it.
    done: std::sync::OnceLock<Vec<Option<[u8; 32]>>>,
}

impl PlanSources<'_> {
    /// The SHA-256 of every plan entry, for the manifest (empty files
    /// are never copied).
    fn entry_hash(&self) -> Result<impl Fn(usize) -> Option<[u8; 32]> + Clone + Send + '_> {
        let done = self.done.get().context("the manifest is written last")?;
        let empty: [u8; 32] = Sha256::digest([]).into();
        let (plan, dedup) = (self.plan, self.dedup);
        Ok(move |i: usize| {
            done[dedup.content_of[i]].or_else(|| (plan.entries[i].size == 0).then_some(empty))
        })
    }
}

impl write::Sources for PlanSources<'_> {
    fn open(&self, source: usize) -> Result<Box<dyn Read + Send + '_>> {
        if source == MANIFEST {
            return Ok(Box::new(self.plan.manifest_stream(self.entry_hash()?)));
        }
        let e = &self.plan.entries[self.dedup.contents[source].entry];
        open_source(e)
    }

    fn describe(&self, source: usize) -> String {
        if source == MANIFEST {
            return format!("the manifest to /{}", crate::manifest::MANIFEST_PATH);
        }
        let e = &self.plan.entries[self.dedup.contents[source].entry];
        format!("{} to /{}", e.origin(), e.path)
    }

    fn copied(&self, source: usize, sha256: [u8; 32]) -> Result<()> {
        if source == MANIFEST {
            return Ok(());
        }
        let c = &self.dedup.contents[source];
        crate::write::check_expected(&self.plan.entries[c.entry], &sha256)?;
        if let Some(expected) = c.expected {
            if expected != sha256 {
                let e = &self.plan.entries[c.entry];
                bail!(
                    "{} changed during the build (its content differs from when duplicates were looked for); run the build again once the source is stable",
                    e.origin()
                );
            }
        }
        let mut h = self.hashes.borrow_mut();
        if let Some(old) = h[source] {
            if old != sha256 {
                let e = &self.plan.entries[c.entry];
                bail!(
                    "{} changed during the build (two volumes got different bytes); run the build again once the source is stable",
                    e.origin()
                );
            }
        }
        h[source] = Some(sha256);
        Ok(())
    }
}

/// The inputs of volume `v` (1-based).
fn volume_input<'a>(
    plan: &'a Plan,
    d: &dedup::Dedup,
    v: u32,
    count: u32,
) -> (VolumeInput<'a>, u64) {
    let mut files = Vec::new();
    let mut blobs: Vec<Blob> = Vec::new();
    let mut local: HashMap<usize, usize> = HashMap::new();
    let mut saved = 0u64;
    let mut manifest = None;
    // Data in plan order, except bytes still being computed: those go
    // last (before the manifest), so writing does not wait for them.
    let late = |e: &&crate::plan::Entry| matches!(e.source, Source::Deferred(_));
    let entries = plan.entries.iter().enumerate();
    let ordered = entries
        .clone()
        .filter(|(_, e)| !late(e))
        .chain(entries.filter(|(_, e)| late(e)));
    for (i, e) in ordered {
        if matches!(e.source, Source::Manifest) {
            manifest = Some(e);
            continue;
        }
        if e.volume != v {
            continue;
        }
        let c = d.content_of[i];
        let b = match local.get(&c) {
            Some(&b) => {
                saved += e.size;
                b
            }
            None => {
                blobs.push(Blob {
                    size: e.size,
                    source: c,
                });
                local.insert(c, blobs.len() - 1);
                blobs.len() - 1
            }
        };
        files.push(VolumeFile {
            path: &e.path,
            size: e.size,
            blob: b,
        });
    }
    if let Some(m) = manifest {
        blobs.push(Blob {
            size: m.size,
            source: MANIFEST,
        });
        files.push(VolumeFile {
            path: &m.path,
            size: m.size,
            blob: blobs.len() - 1,
        });
    }
    files.sort_by(|a, b| crate::plan::sort_key(a.path).cmp(&crate::plan::sort_key(b.path)));
    let boot = match (&plan.boot.bios, &plan.boot.uefi) {
        (Some(b), Some(u)) if v == 1 => Some((b.clone(), u.clone())),
        _ => None,
    };
    let label = if count > 1 && v > 1 {
        let mut l: String = plan.label.chars().take(28).collect();
        l.push_str(&format!("_{v}"));
        l
    } else {
        plan.label.clone()
    };
    (
        VolumeInput {
            files,
            blobs,
            empty_dirs: if v == 1 {
                plan.empty_dirs.clone()
            } else {
                Vec::new()
            },
            label,
            volume_set_id: volume_set_id(plan),
            created: plan.created,
            boot,
        },
        saved,
    )
}

/// Writes `plan` as an ISO image at `dest` (or a numbered volume set).
pub fn write(plan: &Plan, dest: &Path, opts: &WriteOptions) -> Result<Report> {
    let count = plan.volume_count();
    let paths = volume_paths(dest, count);
    let mut outs = Vec::new();
    for p in &paths {
        outs.push(TempOutput::new(p, opts.force)?);
    }
    let d = dedup::find(plan).context("looking for identical files")?;
    let mut layouts = Vec::new();
    let mut saved = 0u64;
    for v in 1..=count {
        let (input, s) = volume_input(plan, &d, v, count);
        saved += s;
        layouts.push(Layout::new(input).with_context(|| format!("laying out volume {v}"))?);
    }
    let total: u64 = layouts.iter().map(|l| l.total_bytes()).sum();
    check_space(dest, total)?;
    let data: u64 = layouts
        .iter()
        .flat_map(|l| l.blobs().iter().map(|b| b.size))
        .sum();
    let progress = Progress::bytes(data, "writing", opts.quiet);
    let sources = PlanSources {
        plan,
        dedup: &d,
        done: std::sync::OnceLock::new(),
        hashes: RefCell::new(vec![None; d.contents.len()]),
    };

    // Every volume up to its manifest.
    let mut suspended = Vec::new();
    for (layout, out) in layouts.iter().zip(&outs) {
        let sink = write::Sink::create(out.path(), opts.hash_output)?;
        let manifest_blob = layout
            .blobs()
            .iter()
            .position(|b| b.source == MANIFEST)
            .unwrap_or(usize::MAX);
        let stop = write::part_of_blob(layout, manifest_blob);
        suspended.push(write::write_parts(
            layout, sink, 0, stop, &sources, &progress,
        )?);
    }

    // The manifest, now that every file is hashed.
    let _ = sources
        .done
        .set(std::mem::take(&mut *sources.hashes.borrow_mut()));
    // Files stored once are read once: every entry expecting a hash (content
    // library files) is checked against the content it shares.
    if let Some(done) = sources.done.get() {
        for (i, e) in plan.entries.iter().enumerate() {
            if let (Some(_), Some(h)) = (e.sha256, done[d.content_of[i]]) {
                crate::write::check_expected(e, &h)?;
            }
        }
    }
    let (manifest_len, manifest_sha256) = plan.manifest_digest(sources.entry_hash()?);
    let planned = plan
        .entries
        .iter()
        .find(|e| matches!(e.source, Source::Manifest))
        .map(|e| e.size)
        .unwrap_or(0);
    if manifest_len != planned {
        bail!(
            "internal error: the manifest is {} bytes, {} were planned",
            manifest_len,
            planned
        );
    }

    let mut shas = Vec::new();
    let mut bytes = 0u64;
    for (layout, s) in layouts.iter().zip(suspended) {
        let s = write::write_parts(
            layout,
            s.sink,
            s.next,
            layout.parts().len(),
            &sources,
            &progress,
        )?;
        let (sha, n) = s.sink.finish()?;
        shas.push(sha.map(hex::encode));
        bytes += n;
    }
    progress.finish();
    for out in outs {
        out.commit()?;
    }
    Ok(Report {
        output: paths[0].clone(),
        format: "iso".into(),
        media_type: plan.media_type.as_str().into(),
        files: plan.entries.len(),
        content_bytes: plan.total_size(),
        output_bytes: bytes,
        manifest_sha256: hex::encode(manifest_sha256),
        output_sha256: if count == 1 { shas[0].clone() } else { None },
        dedup_saved_bytes: Some(saved),
        volumes: if count > 1 { paths } else { Vec::new() },
        volume_sha256: if count > 1 {
            shas.into_iter().flatten().collect()
        } else {
            Vec::new()
        },
    })
}
