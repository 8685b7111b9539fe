//! A medium that is a plain folder (a staging folder, or a copied stick).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{path_key, BootEntry, Medium, MediumFile, StructureProblem};

pub struct FolderMedium {
    root: PathBuf,
    files: Vec<MediumFile>,
    by_key: HashMap<String, String>,
    problems: Vec<StructureProblem>,
}

impl FolderMedium {
    pub fn open(root: &Path) -> std::io::Result<FolderMedium> {
        std::fs::read_dir(root)?;
        let w = crate::plan::walk::walk(root);
        let mut files = Vec::new();
        let mut by_key = HashMap::new();
        for f in w.files {
            by_key.insert(path_key(&f.rel), f.rel.clone());
            files.push(MediumFile {
                path: f.rel,
                size: f.size,
            });
        }
        let problems = w
            .problems
            .into_iter()
            .map(|p| StructureProblem::new("folder", "regular files and folders only", p))
            .collect();
        Ok(FolderMedium {
            root: root.to_path_buf(),
            files,
            by_key,
            problems,
        })
    }
}

impl Medium for FolderMedium {
    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }

    fn files(&self) -> Vec<MediumFile> {
        self.files.clone()
    }

    fn open(&self, path: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let rel = self.by_key.get(&path_key(path)).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{path} is not on the medium"),
            )
        })?;
        Ok(Box::new(crate::write::open_noatime(&self.root.join(rel))?))
    }

    fn check(&self) -> Vec<StructureProblem> {
        self.problems.clone()
    }

    fn boot_entries(&self) -> Vec<BootEntry> {
        Vec::new()
    }

    fn label(&self) -> Option<String> {
        None
    }
}
