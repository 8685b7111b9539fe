//! A prestaged-media WIM as a medium: its first image's files, read through
//! wimlib (each file extracted to a scratch folder when it is opened), and
//! wimlib's own integrity check as the structure check.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{path_key, BootEntry, Medium, MediumFile, StructureProblem};
use crate::wim::Wim;

pub struct WimMedium {
    path: PathBuf,
    wim: Wim,
    files: Vec<MediumFile>,
    by_key: HashMap<String, String>,
    scratch: tempfile::TempDir,
}

impl WimMedium {
    pub fn open(path: &Path) -> Result<WimMedium, crate::wim::WimError> {
        let wim = Wim::open(path)?;
        let mut files = Vec::new();
        let mut by_key = HashMap::new();
        for e in wim.list(1)? {
            if e.is_dir {
                continue;
            }
            by_key.insert(path_key(&e.path), e.path.clone());
            files.push(MediumFile {
                path: e.path,
                size: e.size,
            });
        }
        let scratch = tempfile::Builder::new()
            .prefix("tsmedia-read-wim-")
            .tempdir()
            .map_err(|e| crate::wim::WimError::Io {
                op: "create a scratch folder for",
                path: path.to_path_buf(),
                source: e,
            })?;
        Ok(WimMedium {
            path: path.to_path_buf(),
            wim,
            files,
            by_key,
            scratch,
        })
    }
}

/// A file extracted for reading, removed once read.
struct Extracted {
    file: std::fs::File,
    path: PathBuf,
}

impl Read for Extracted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl Drop for Extracted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Medium for WimMedium {
    fn describe(&self) -> String {
        let i = self.wim.info();
        format!(
            "WIM {} ({} image{}, {:?} compression)",
            self.path.display(),
            i.image_count,
            if i.image_count == 1 { "" } else { "s" },
            i.compression
        )
    }

    fn files(&self) -> Vec<MediumFile> {
        self.files.clone()
    }

    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let inner = self.by_key.get(&path_key(path)).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{path} is not on the medium"),
            )
        })?;
        let dir = tempfile::Builder::new().tempdir_in(self.scratch.path())?;
        let out = self
            .wim
            .extract_files(1, &[inner.as_str()], dir.path())
            .map_err(std::io::Error::other)?;
        let p = out
            .into_iter()
            .next()
            .ok_or_else(|| std::io::Error::other("nothing extracted"))?;
        let file = std::fs::File::open(&p)?;
        let path = dir.keep().join(p.file_name().unwrap_or_default());
        Ok(Box::new(Extracted { file, path }))
    }

    fn check(&self) -> Vec<StructureProblem> {
        match self.wim.verify() {
            Ok(()) => Vec::new(),
            Err(e) => vec![StructureProblem::new(
                format!("WIM {}", self.path.display()),
                "metadata and data that wimlib verifies",
                e.to_string(),
            )],
        }
    }

    fn boot_entries(&self) -> Vec<BootEntry> {
        Vec::new()
    }

    fn label(&self) -> Option<String> {
        self.wim.image_name(1)
    }
}
