//! The folder writer: the plan as a plain folder tree (a staging folder).

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::output::{check_space, TempOutput};
use super::{copy_entry, Hashes, Report, WriteOptions};
use crate::io::Progress;
use crate::plan::{Plan, Source};

/// Writes `plan` as a folder at `dest`.
pub fn write(plan: &Plan, dest: &Path, opts: &WriteOptions) -> Result<Report> {
    let out = TempOutput::new(dest, opts.force)?;
    check_space(dest, plan.total_size())?;
    let root = out.path().to_path_buf();
    std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    for d in plan.dirs() {
        let p = root.join(&d);
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
    }
    let progress = Progress::bytes(plan.total_size(), "writing", opts.quiet);
    let mut hashes = Hashes::new();
    for (i, e) in plan.entries.iter().enumerate() {
        if matches!(e.source, Source::Manifest) {
            continue;
        }
        let target = root.join(&e.path);
        // copy_entry writes in chunks of its own buffer: no second buffer
        // (a 1 MiB one per file cost more than small files themselves).
        let mut f = std::fs::File::create(&target)
            .with_context(|| format!("creating {}", target.display()))?;
        let h = copy_entry(e, &mut f, &progress)?;
        hashes.insert(i, h);
    }
    let mpath = root.join(crate::manifest::MANIFEST_PATH);
    let f =
        std::fs::File::create(&mpath).with_context(|| format!("creating {}", mpath.display()))?;
    let mut w = BufWriter::with_capacity(crate::io::BUF_SIZE, f);
    let (_, manifest_sha256) = plan
        .write_manifest(|i| hashes.get(i), &mut w)
        .and_then(|r| w.flush().map(|_| r))
        .and_then(|r| w.get_ref().sync_all().map(|_| r))
        .with_context(|| format!("writing {}", mpath.display()))?;
    progress.finish();
    out.commit()?;
    Ok(Report {
        output: dest.to_path_buf(),
        format: "folder".into(),
        media_type: plan.media_type.as_str().into(),
        files: plan.entries.len(),
        content_bytes: plan.total_size(),
        output_bytes: plan.total_size(),
        manifest_sha256: hex::encode(manifest_sha256),
        output_sha256: None,
        dedup_saved_bytes: None,
        volumes: Vec::new(),
        volume_sha256: Vec::new(),
    })
}
