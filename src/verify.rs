//! Checking a medium against the manifest it carries: every file's presence,
//! size and SHA-256 (and, with the password, its decrypted content), files
//! the manifest does not know, the manifest's own checksum, and the
//! structure problems the medium's reader finds.

use std::collections::HashMap;
use std::io::Read;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::crypto::format::KeyHeader;
use crate::crypto::Key;
use crate::io::{HashingReader, Progress};
use crate::manifest::{Manifest, MANIFEST_PATH};
use crate::read::{path_key, Medium};

/// One problem: where, what was expected, what was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub expected: String,
    pub found: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub medium: String,
    pub files_checked: usize,
    pub bytes_checked: u64,
    pub encrypted_files: usize,
    /// Whether encrypted files were decrypted and checked too.
    pub decrypted: bool,
    /// Whether the medium carries a tsmedia manifest (media the product
    /// made have none: then files are read, not compared).
    pub tsmedia_manifest: bool,
    /// How `Variables.dat` opened.
    pub variables: String,
    /// How `Policy.xml` opened, when there is one.
    pub policy: Option<String>,
    pub problems: Vec<Finding>,
}

/// Reads the manifest of a medium; `Err` holds the finding when it is missing or damaged.
pub fn read_manifest(m: &dyn Medium) -> std::result::Result<Manifest, Finding> {
    let mut bytes = Vec::new();
    let r = m
        .open(MANIFEST_PATH)
        .and_then(|r| r.take(64 << 20).read_to_end(&mut bytes));
    if let Err(e) = r {
        return Err(Finding {
            path: MANIFEST_PATH.into(),
            expected: "the manifest (written last)".into(),
            found: format!("none ({e}): the medium was not finished, or is not a tsmedia medium"),
        });
    }
    match Manifest::from_bytes(&bytes) {
        Ok(man) if man.format != crate::manifest::FORMAT => Err(Finding {
            path: MANIFEST_PATH.into(),
            expected: format!("format {}", crate::manifest::FORMAT),
            found: man.format,
        }),
        Ok(man) if !man.checksum_ok() => Err(Finding {
            path: MANIFEST_PATH.into(),
            expected: format!("checksum {}", man.checksum),
            found: "other content: the manifest itself is damaged".into(),
        }),
        Ok(man) => Ok(man),
        Err(e) => Err(Finding {
            path: MANIFEST_PATH.into(),
            expected: "a readable manifest".into(),
            found: format!("damaged JSON ({e})"),
        }),
    }
}

/// Opens the medium's key header with the password.
pub fn open_key(m: &dyn Medium, man: &Manifest, password: &str) -> Result<Key> {
    let enc = man
        .encryption
        .as_ref()
        .context("the medium's content is not encrypted (only media built with --encrypt-content need `tsmedia decrypt`; its settings files open with `inspect --password-*`)")?;
    let mut b = Vec::new();
    m.open(&enc.key_header)
        .and_then(|r| r.take(4096).read_to_end(&mut b))
        .with_context(|| format!("reading {}", enc.key_header))?;
    let h = KeyHeader::parse(&b, &enc.key_header)?;
    Ok(h.open(password.as_bytes())?)
}

/// Verifies `m`. `key` (from [`open_key`]) also checks decrypted content;
/// `password` opens password-protected settings files.
pub fn verify(
    m: &dyn Medium,
    key: Option<&Key>,
    password: Option<&str>,
    quiet: bool,
) -> Result<Outcome> {
    let mut problems = Vec::new();
    for p in m.check() {
        problems.push(Finding {
            path: p.what,
            expected: p.expected,
            found: p.found,
        });
    }
    let settings = crate::read::settings::read(m, password);
    for p in &settings.problems {
        problems.push(Finding {
            path: p.path.clone(),
            expected: p.expected.clone(),
            found: p.found.clone(),
        });
    }
    let on_medium: HashMap<String, crate::read::MediumFile> = m
        .files()
        .into_iter()
        .map(|f| (path_key(&f.path), f))
        .collect();
    let mut out = Outcome {
        medium: m.describe(),
        files_checked: 0,
        bytes_checked: 0,
        encrypted_files: 0,
        decrypted: key.is_some(),
        tsmedia_manifest: true,
        variables: settings.variables.clone(),
        policy: settings.policy.clone(),
        problems: Vec::new(),
    };
    let man = match read_manifest(m) {
        Ok(man) => man,
        Err(f) => {
            let product_media = settings.media_type.is_some() || settings.media_guid.is_some();
            if f.found.starts_with("none") && product_media {
                // Made by the product: structure, settings, and every file readable.
                out.tsmedia_manifest = false;
                read_all(m, &mut out, &mut problems, quiet)?;
            } else {
                problems.push(f);
            }
            out.problems = problems;
            return Ok(out);
        }
    };
    // A volume set's manifest lists every volume's files: check those of
    // the volumes given, and say which are missing.
    let volumes_total = man.files.iter().filter_map(|f| f.volume).max().unwrap_or(1);
    let present: std::collections::BTreeSet<u32> = man
        .files
        .iter()
        .filter(|f| on_medium.contains_key(&path_key(&f.path)))
        .map(|f| f.volume.unwrap_or(1))
        .collect();
    let wanted = |v: Option<u32>| volumes_total == 1 || present.contains(&v.unwrap_or(1));
    for v in 1..=volumes_total {
        if volumes_total > 1 && !present.contains(&v) {
            problems.push(Finding {
                path: format!("volume {v} of {volumes_total}"),
                expected: "every volume of the set".into(),
                found: "not given (pass all volumes to check the whole set)".into(),
            });
        }
    }
    let total: u64 = man
        .files
        .iter()
        .filter(|f| wanted(f.volume))
        .map(|f| f.size)
        .sum();
    let progress = Progress::bytes(total, "verifying", quiet);
    let mut buf = vec![0u8; crate::io::BUF_SIZE];
    for rec in man.files.iter().filter(|f| wanted(f.volume)) {
        let Some(f) = on_medium.get(&path_key(&rec.path)) else {
            problems.push(Finding {
                path: rec.path.clone(),
                expected: format!("a file of {} bytes", rec.size),
                found: "no such file".into(),
            });
            continue;
        };
        if f.size != rec.size {
            problems.push(Finding {
                path: rec.path.clone(),
                expected: format!("{} bytes", rec.size),
                found: format!("{} bytes", f.size),
            });
            continue;
        }
        crate::io::cancel::check()?;
        let r = match m.open(&f.path) {
            Ok(r) => r,
            Err(e) => {
                problems.push(Finding {
                    path: rec.path.clone(),
                    expected: "a readable file".into(),
                    found: format!("read error: {e}"),
                });
                continue;
            }
        };
        let counted = Counted {
            inner: r,
            progress: &progress,
        };
        let mut hr = HashingReader::new(counted);
        let mut plain: Option<std::result::Result<u64, String>> = None;
        let res: std::io::Result<()> = match (&rec.encrypted, key) {
            (Some(_), Some(k)) => {
                out.encrypted_files += 1;
                match crate::crypto::stream::decrypt(
                    &mut hr,
                    std::io::sink(),
                    k,
                    &rec.path,
                    rec.size,
                ) {
                    Ok(h) => {
                        plain = Some(Ok(h));
                        Ok(())
                    }
                    Err(crate::crypto::stream::StreamError::Decrypt(e)) => {
                        plain = Some(Err(e.to_string()));
                        // Hash the rest so the ciphertext check still runs.
                        std::io::copy(&mut hr, &mut std::io::sink()).map(|_| ())
                    }
                    Err(crate::crypto::stream::StreamError::Io(e)) => Err(e),
                }
            }
            (enc, _) => {
                if enc.is_some() {
                    out.encrypted_files += 1;
                }
                loop {
                    match hr.read(&mut buf) {
                        Ok(0) => break Ok(()),
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                }
            }
        };
        if let Err(e) = res {
            problems.push(Finding {
                path: rec.path.clone(),
                expected: "a readable file".into(),
                found: format!("read error: {e}"),
            });
            continue;
        }
        out.files_checked += 1;
        out.bytes_checked += rec.size;
        let got = hex::encode(hr.finish());
        if got != rec.sha256 {
            problems.push(Finding {
                path: rec.path.clone(),
                expected: format!("SHA-256 {}", rec.sha256),
                found: format!("SHA-256 {got}"),
            });
        }
        if let Some(Err(why)) = plain {
            problems.push(Finding {
                path: rec.path.clone(),
                expected: "content that decrypts".into(),
                found: why,
            });
        }
    }
    progress.finish();
    let listed: std::collections::HashSet<String> =
        man.files.iter().map(|f| path_key(&f.path)).collect();
    let mut extra: Vec<&String> = on_medium
        .iter()
        .filter(|(k, _)| !listed.contains(*k) && **k != path_key(MANIFEST_PATH))
        .map(|(_, f)| &f.path)
        .collect();
    extra.sort();
    for p in extra {
        problems.push(Finding {
            path: p.clone(),
            expected: "only the files the manifest lists".into(),
            found: "a file the manifest does not list".into(),
        });
    }
    out.problems = problems;
    Ok(out)
}

/// Reads every file of a medium without a manifest: each must read to its end.
fn read_all(
    m: &dyn Medium,
    out: &mut Outcome,
    problems: &mut Vec<Finding>,
    quiet: bool,
) -> Result<()> {
    let files = m.files();
    let total: u64 = files.iter().map(|f| f.size).sum();
    let progress = Progress::bytes(total, "reading", quiet);
    for f in &files {
        crate::io::cancel::check()?;
        let res = m.open(&f.path).and_then(|r| {
            let mut c = Counted {
                inner: r,
                progress: &progress,
            };
            std::io::copy(&mut c, &mut std::io::sink())
        });
        match res {
            Ok(n) if n == f.size => {
                out.files_checked += 1;
                out.bytes_checked += n;
            }
            Ok(n) => problems.push(Finding {
                path: f.path.clone(),
                expected: format!("{} bytes", f.size),
                found: format!("{n} bytes read"),
            }),
            Err(e) => problems.push(Finding {
                path: f.path.clone(),
                expected: "a readable file".into(),
                found: format!("read error: {e}"),
            }),
        }
    }
    progress.finish();
    Ok(())
}

struct Counted<'a, R> {
    inner: R,
    progress: &'a Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}
