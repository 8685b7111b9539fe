//! Writers: each turns a [`crate::plan::Plan`] into one kind of output.

pub mod folder;
pub mod output;
pub mod usb;
pub mod wim;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::Digest as _;

use crate::io::Progress;
use crate::plan::{Entry, Source};

/// Options every writer takes.
#[derive(Clone)]
pub struct WriteOptions {
    /// Replace an existing output.
    pub force: bool,
    /// Hide progress.
    pub quiet: bool,
    /// Compute the SHA-256 of single-file outputs (ISO, WIM) for the
    /// report; it costs a pass over every byte, so only `--json` asks.
    pub hash_output: bool,
}

/// What a writer reports when done (printed by `create --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub output: PathBuf,
    pub format: String,
    pub media_type: String,
    /// Files on the medium, manifest included.
    pub files: usize,
    /// Bytes of file content.
    pub content_bytes: u64,
    /// Bytes written to the output (image size for images).
    pub output_bytes: u64,
    pub manifest_sha256: String,
    /// SHA-256 of the whole output, for single-file outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// Bytes saved by storing identical files once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup_saved_bytes: Option<u64>,
    /// Output volumes (volume sets), when more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<PathBuf>,
    /// SHA-256 of each volume of a volume set, in the order of `volumes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_sha256: Vec<String>,
}

/// Opens an entry's content for streaming. The manifest has no stream of its
/// own: writers render it once every other file is written.
pub fn open_source(e: &Entry) -> Result<Box<dyn Read + Send>> {
    match &e.source {
        Source::File(p) => {
            let f = open_noatime(p).with_context(|| format!("opening {}", p.display()))?;
            Ok(Box::new(f))
        }
        Source::Bytes(b) => Ok(Box::new(std::io::Cursor::new(b.clone()))),
        Source::Deferred(d) => Ok(Box::new(std::io::Cursor::new(d.get()?))),
        Source::Manifest => anyhow::bail!("the manifest is rendered, not read"),
        Source::ImageFile(x) => {
            let f = std::fs::File::open(&x.image)
                .with_context(|| format!("opening {}", x.image.display()))?;
            Ok(Box::new(crate::read::extent::ExtentReader::new(
                f,
                x.image_len,
                x.pieces.clone(),
                x.size,
                &e.origin().to_string(),
            )))
        }
        Source::Encrypted(x) => {
            let inner = Entry {
                path: e.path.clone(),
                size: x.plain_size,
                source: x.inner.clone(),
                note: e.note.clone(),
                group: e.group.clone(),
                volume: e.volume,
                sha256: None,
            };
            let mut r = open_source(&inner)?;
            if let Some(want) = e.sha256 {
                // The expected hash is of the plaintext: check it as it is read.
                r = Box::new(VerifyingReader {
                    inner: r,
                    hasher: sha2::Sha256::new(),
                    done: 0,
                    size: x.plain_size,
                    want,
                    what: mismatch_context(e),
                });
            }
            Ok(Box::new(crate::crypto::stream::EncryptReader::new(
                r,
                &x.media_key,
                x.params,
                &e.path,
                x.plain_size,
            )))
        }
    }
}

/// Opens a file for reading without updating its access time where allowed
/// (files we own): building a medium should not change its sources, and a
/// WIM records access times.
pub fn open_noatime(p: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(p)
    {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => std::fs::File::open(p),
        r => r,
    }
}

/// Copies one entry into `w`, returning its SHA-256; errors name the source.
pub fn copy_entry<W: std::io::Write + ?Sized>(
    e: &Entry,
    w: &mut W,
    progress: &Progress,
) -> Result<[u8; 32]> {
    let r = open_source(e)?;
    let h = crate::io::copy_exact(r, w, e.size, progress)
        .with_context(|| format!("copying {} to /{}", e.origin(), e.path))?;
    check_expected(e, &h)?;
    Ok(h)
}

/// Fails when a file's computed SHA-256 differs from the one the plan
/// expects (content from a content library, whose INI records the hash).
/// Encrypted entries are checked on their plaintext while it is read.
pub fn check_expected(e: &Entry, computed: &[u8; 32]) -> Result<()> {
    if matches!(e.source, Source::Encrypted(_)) {
        return Ok(());
    }
    match e.sha256 {
        // A file of an image being copied: its medium's manifest names the hash.
        Some(want) if want != *computed && matches!(e.source, Source::ImageFile(_)) => {
            Err(crate::error::VerifyFailed(format!(
                "/{} ({}) has SHA-256 {}, but the manifest of its source says {}: the source is damaged",
                e.path,
                e.origin(),
                hex::encode(computed),
                hex::encode(want)
            ))
            .into())
        }
        Some(want) if want != *computed => Err(anyhow::anyhow!(
            "{}: it has SHA-256 {}, but the content library records {}",
            mismatch_context(e),
            hex::encode_upper(computed),
            hex::encode_upper(want)
        )),
        _ => Ok(()),
    }
}

fn mismatch_context(e: &Entry) -> String {
    let pkg = match &e.group {
        crate::plan::Group::Package(id) => format!("package {id}, "),
        _ => String::new(),
    };
    format!(
        "{pkg}file /{} ({}) is damaged in the content library; redistribute the content to the distribution point (or validate it there) and build again",
        e.path,
        e.origin()
    )
}

/// Hashes what passes and fails the read that completes `size` bytes when
/// the hash differs from `want`.
struct VerifyingReader {
    inner: Box<dyn Read + Send>,
    hasher: sha2::Sha256,
    done: u64,
    size: u64,
    want: [u8; 32],
    what: String,
}

impl Read for VerifyingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        let before = self.done;
        self.hasher.update(&buf[..n]);
        self.done += n as u64;
        if before < self.size && self.done >= self.size {
            let got: [u8; 32] = self.hasher.clone().finalize().into();
            if got != self.want {
                return Err(std::io::Error::other(format!(
                    "{}: it has SHA-256 {}, but the content library records {}",
                    self.what,
                    hex::encode_upper(got),
                    hex::encode_upper(self.want)
                )));
            }
        }
        Ok(n)
    }
}

pub use crate::plan::Hashes;
