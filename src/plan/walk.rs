//! Walks source folders in a stable order. Symbolic links are followed only
//! when they stay inside the folder being walked; loops, links leading out
//! and special files are reported.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A regular file found under a source folder.
#[derive(Debug, Clone)]
pub struct Found {
    /// Path relative to the walked folder, `/`-separated.
    pub rel: String,
    /// The file to read.
    pub path: PathBuf,
    pub size: u64,
}

/// What a walk found: files, empty folders (relative paths) and problems.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Found>,
    pub empty_dirs: Vec<String>,
    pub problems: Vec<String>,
}

/// Walks `root` (a folder) recursively, names sorted byte-wise.
pub fn walk(root: &Path) -> Walk {
    let mut w = Walk::default();
    let canon_root = match root.canonicalize() {
        Ok(c) => c,
        Err(e) => {
            w.problems
                .push(format!("cannot read {}: {e}", root.display()));
            return w;
        }
    };
    let mut stack = HashSet::new();
    stack.insert(canon_root.clone());
    visit(&canon_root, root, "", &mut stack, &mut w);
    w
}

fn visit(canon_root: &Path, dir: &Path, rel: &str, stack: &mut HashSet<PathBuf>, w: &mut Walk) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            w.problems
                .push(format!("cannot read folder {}: {e}", dir.display()));
            return;
        }
    };
    let mut names: Vec<std::ffi::OsString> = Vec::new();
    for ent in rd {
        match ent {
            Ok(e) => names.push(e.file_name()),
            Err(e) => w
                .problems
                .push(format!("cannot read folder {}: {e}", dir.display())),
        }
    }
    names.sort();
    if names.is_empty() && !rel.is_empty() {
        w.empty_dirs.push(rel.to_string());
    }
    for name in names {
        let path = dir.join(&name);
        let Some(name) = name.to_str() else {
            w.problems.push(format!(
                "{} has a name that is not valid Unicode; rename it",
                path.display()
            ));
            continue;
        };
        let child_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let lmeta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                w.problems
                    .push(format!("cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let mut target_dir = path.clone();
        if lmeta.file_type().is_symlink() {
            let canon = match path.canonicalize() {
                Ok(c) => c,
                Err(_) => {
                    w.problems.push(format!(
                        "{} is a symbolic link to something that does not exist (or a link loop)",
                        path.display()
                    ));
                    continue;
                }
            };
            if !canon.starts_with(canon_root) {
                w.problems.push(format!(
                    "{} is a symbolic link leading out of the source folder (to {}); copy the target in instead",
                    path.display(),
                    canon.display()
                ));
                continue;
            }
            target_dir = canon;
        }
        // Only a link needs a second look (at what it leads to).
        let meta = if lmeta.file_type().is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    w.problems
                        .push(format!("cannot read {}: {e}", path.display()));
                    continue;
                }
            }
        } else {
            lmeta
        };
        if meta.is_dir() {
            let canon = match target_dir.canonicalize() {
                Ok(c) => c,
                Err(e) => {
                    w.problems
                        .push(format!("cannot read {}: {e}", path.display()));
                    continue;
                }
            };
            if !stack.insert(canon.clone()) {
                w.problems.push(format!(
                    "{} leads back into a folder it is inside of (a symbolic link loop)",
                    path.display()
                ));
                continue;
            }
            visit(canon_root, &path, &child_rel, stack, w);
            stack.remove(&canon);
        } else if meta.is_file() {
            if let Err(e) = std::fs::File::open(&path) {
                w.problems
                    .push(format!("cannot read {}: {e}", path.display()));
                continue;
            }
            w.files.push(Found {
                rel: child_rel,
                path,
                size: meta.len(),
            });
        } else {
            w.problems.push(format!(
                "{} is not a regular file or folder (a device, socket or pipe); remove it from the source",
                path.display()
            ));
        }
    }
}
