//! `tsmedia decrypt`: restore the plaintext tree of a password-protected
//! medium, checking every file against the manifest.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Global;
use crate::crypto::password::{self, PasswordSource};
use crate::error::VerifyFailed;
use crate::io::{HashingReader, Progress};
use crate::manifest::MANIFEST_PATH;
use crate::write::output::TempOutput;

pub fn run(
    g: &Global,
    paths: &[PathBuf],
    output: &Path,
    pw: PasswordSource,
    force: bool,
    json: bool,
) -> Result<i32> {
    let m = crate::read::open::open(paths)?;
    let man = crate::verify::read_manifest(m.as_ref()).map_err(|f| VerifyFailed(f.to_string()))?;
    let key = if man.encryption.is_some() {
        let p = password::get(&pw, false)?;
        Some(crate::verify::open_key(m.as_ref(), &man, &p)?)
    } else {
        None
    };
    let out = TempOutput::new(output, force)?;
    let root = out.path().to_path_buf();
    std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    let total: u64 = man.files.iter().map(|f| f.size).sum();
    let progress = Progress::bytes(total, "decrypting", g.quiet || json);
    let mut decrypted = 0usize;
    for rec in &man.files {
        crate::io::cancel::check()?;
        // The manifest is untrusted input: its paths must stay inside the output.
        if crate::profile::validate::normalize_target(&rec.path).as_deref() != Ok(rec.path.as_str())
            || rec.path.is_empty()
        {
            return Err(
                VerifyFailed(format!("the manifest lists an unsafe path `{}`", rec.path)).into(),
            );
        }
        let dest = root.join(&rec.path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let r = m
            .open(&rec.path)
            .with_context(|| format!("reading {} from the medium", rec.path))?;
        let f =
            std::fs::File::create(&dest).with_context(|| format!("creating {}", dest.display()))?;
        let mut w = BufWriter::new(f);
        let mut hr = HashingReader::new(r);
        match (&rec.encrypted, &key) {
            (Some(_), Some(k)) => {
                decrypted += 1;
                if let Err(e) =
                    crate::crypto::stream::decrypt(&mut hr, &mut w, k, &rec.path, rec.size)
                {
                    {
                        drop(w);
                        let _ = std::fs::remove_file(&dest);
                        return Err(match e {
                            crate::crypto::stream::StreamError::Decrypt(d) => anyhow::Error::new(d),
                            crate::crypto::stream::StreamError::Io(io) => {
                                anyhow::Error::new(io).context(format!("reading {}", rec.path))
                            }
                        });
                    }
                }
            }
            _ => {
                crate::io::copy_exact(&mut hr, &mut w, rec.size, &progress)
                    .with_context(|| format!("copying {}", rec.path))?;
            }
        }
        w.flush()
            .with_context(|| format!("writing {}", dest.display()))?;
        let stored = hex::encode(hr.finish());
        let bad = |why: String| -> anyhow::Error {
            let _ = std::fs::remove_file(&dest);
            VerifyFailed(format!("{}: {why}", rec.path)).into()
        };
        if stored != rec.sha256 {
            return Err(bad(format!(
                "expected SHA-256 {}, found {stored}",
                rec.sha256
            )));
        }
        if rec.encrypted.is_some() {
            progress.inc(rec.size);
        }
    }
    // The manifest itself, for the record.
    let mut mb = Vec::new();
    m.open(MANIFEST_PATH)?.take(64 << 20).read_to_end(&mut mb)?;
    std::fs::write(root.join(MANIFEST_PATH), mb)?;
    progress.finish();
    out.commit()?;
    if json {
        let v = serde_json::json!({"output": output, "files": man.files.len() + 1, "decrypted": decrypted});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if !g.quiet {
        eprintln!(
            "restored {} files ({} decrypted) to {}; all match the manifest",
            man.files.len() + 1,
            decrypted,
            output.display()
        );
    }
    Ok(0)
}
