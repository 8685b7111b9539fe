//! Which packages go on the medium and where their content comes from: the
//! profile's `packages`, the task sequence's references (pulled from the
//! `content_sources` when the profile does not list them), content
//! libraries and folders of package folders. Every package on the medium
//! gets a [`PackageRecord`] (origin, steps that reference it) for `plan`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::configmgr::content_library::{self as cl, FileIni, PackageIni};
use crate::configmgr::task_sequence::{self, RefKind, TaskSequence};
use crate::profile::{MediaType, PackageKind, ValidProfile};

pub use crate::configmgr::policy::PackageOnMedium;

impl From<PackageKind> for crate::configmgr::policy::PackageKind {
    fn from(k: PackageKind) -> Self {
        match k {
            PackageKind::Application => Self::Application,
            PackageKind::Package => Self::Package,
            PackageKind::Driver => Self::Driver,
        }
    }
}

/// What `plan` shows of a package on the medium.
#[derive(Debug, Clone, Serialize)]
pub struct PackageRecord {
    pub id: String,
    pub name: String,
    /// application, package, driver, or os-image.
    pub kind: String,
    /// Medium folder (for the OS image: its WIM).
    pub path: String,
    /// `profile folder PATH`, `content library PATH, content ID`, `folder source PATH`.
    pub origin: String,
    /// Names of the steps that reference it; empty: not referenced.
    pub referenced_by: Vec<String>,
}

/// One file of a content library package.
#[derive(Debug, Clone)]
pub struct LibraryFile {
    /// Path inside the package, `/`-separated.
    pub rel: String,
    pub size: u64,
    pub sha256: [u8; 32],
    /// The bytes: `FileLib/<4>/<HASH>`.
    pub path: PathBuf,
}

/// Where a package's files are.
#[derive(Debug, Clone)]
pub enum Content {
    /// A folder (or one file) on disk, walked as it is.
    Tree(PathBuf),
    /// Files of a content library package.
    Library {
        files: Vec<LibraryFile>,
        empty_dirs: Vec<String>,
    },
}

/// A package resolved to its content.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub medium: PackageOnMedium,
    /// JSON path problems with its content are reported under.
    pub key: String,
    pub content: Content,
    pub record: PackageRecord,
}

/// The OS or boot image WIM of a package in a content source.
#[derive(Debug, Clone)]
pub struct ImageFile {
    /// A real file with the WIM's bytes (a FileLib file for a library).
    pub path: PathBuf,
    /// The WIM's name in the package.
    pub name: String,
    pub size: u64,
    pub sha256: Option<[u8; 32]>,
    pub origin: String,
}

/// A problem for the profile: (JSON path, message, fix).
pub type ProblemRow = (String, String, String);

fn problem(key: &str, msg: impl Into<String>, fix: impl Into<String>) -> ProblemRow {
    (key.to_string(), msg.into(), fix.into())
}

/// A content source, with the names in its folders looked up once.
enum Source {
    Library {
        root: PathBuf,
        pkglib: HashMap<String, String>,
        datalib: HashMap<String, String>,
    },
    Folder {
        root: PathBuf,
        names: HashMap<String, String>,
    },
}

/// Upper-cased name -> name, of the entries of a folder.
fn listing(dir: &Path) -> HashMap<String, String> {
    let mut m = HashMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Some(n) = e.file_name().to_str() {
                m.entry(n.to_uppercase()).or_insert_with(|| n.to_string());
            }
        }
    }
    m
}

/// The content sources of a profile, searched in order.
pub struct Sources {
    list: Vec<(String, Source)>,
}

/// A package found in a content source.
struct Found {
    name: Option<String>,
    content: Content,
    origin: String,
}

impl Sources {
    pub fn open(vp: &ValidProfile) -> Sources {
        let mut list = Vec::new();
        for (i, cs) in vp.profile().content_sources.iter().enumerate() {
            if let Some(lib) = &cs.content_library {
                let root = vp.resolve(lib);
                list.push((
                    format!("content_sources[{i}].content_library"),
                    Source::Library {
                        pkglib: listing(&root.join(cl::PKG_LIB)),
                        datalib: listing(&root.join(cl::DATA_LIB)),
                        root,
                    },
                ));
            } else if let Some(dir) = &cs.folder {
                let root = vp.resolve(dir);
                list.push((
                    format!("content_sources[{i}].folder"),
                    Source::Folder {
                        names: listing(&root),
                        root,
                    },
                ));
            }
        }
        Sources { list }
    }

    /// Loads a package from the first source holding it. `Ok(None)`: no
    /// source holds it; `Err`: the source holding it is damaged.
    fn find(&self, id: &str, content_id: Option<&str>) -> Result<Option<Found>, ProblemRow> {
        let up = id.to_uppercase();
        for (key, s) in &self.list {
            match s {
                Source::Library {
                    root,
                    pkglib,
                    datalib,
                } => {
                    let Some(ini_name) = pkglib.get(&format!("{up}.INI")) else {
                        continue;
                    };
                    return load_library(root, key, id, ini_name, datalib, content_id).map(Some);
                }
                Source::Folder { root, names } => {
                    let Some(n) = names.get(&up) else { continue };
                    let dir = root.join(n);
                    if dir.is_dir() {
                        return Ok(Some(Found {
                            name: None,
                            origin: format!("folder source {}", dir.display()),
                            content: Content::Tree(dir),
                        }));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Where package `id` was looked for, for messages.
    fn describe(&self, id: &str) -> String {
        if self.list.is_empty() {
            return "no content sources".into();
        }
        self.list
            .iter()
            .map(|(k, s)| match s {
                Source::Library { root, .. } => format!(
                    "`{k}` has no {}",
                    root.join(cl::PKG_LIB).join(format!("{id}.INI")).display()
                ),
                Source::Folder { root, .. } => {
                    format!("`{k}` has no folder {}", root.join(id).display())
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The one WIM of package `id` (boot or OS image).
    pub fn image(&self, key: &str, id: &str) -> Result<ImageFile, ProblemRow> {
        let Some(found) = self.find(id, None)? else {
            return Err(problem(
                key,
                format!(
                    "package {id} is in none of the content sources ({})",
                    self.describe(id)
                ),
                "add a content source holding it, or give `path` to the WIM",
            ));
        };
        let mut wims: Vec<ImageFile> = Vec::new();
        match &found.content {
            Content::Library { files, .. } => {
                for f in files.iter().filter(|f| is_wim(&f.rel)) {
                    wims.push(ImageFile {
                        path: f.path.clone(),
                        name: f.rel.rsplit('/').next().unwrap_or(&f.rel).to_string(),
                        size: f.size,
                        sha256: Some(f.sha256),
                        origin: format!("{}: {}", found.origin, f.rel),
                    });
                }
            }
            Content::Tree(dir) => {
                let w = super::walk::walk(dir);
                for f in w.files.into_iter().filter(|f| is_wim(&f.rel)) {
                    wims.push(ImageFile {
                        name: f.rel.rsplit('/').next().unwrap_or(&f.rel).to_string(),
                        origin: f.path.display().to_string(),
                        path: f.path,
                        size: f.size,
                        sha256: None,
                    });
                }
            }
        }
        match wims.len() {
            1 => Ok(wims.remove(0)),
            0 => Err(problem(
                key,
                format!("package {id} ({}) holds no .wim file", found.origin),
                "name the package that holds the image, or give `path` to the WIM",
            )),
            _ => Err(problem(
                key,
                format!(
                    "package {id} ({}) holds {} WIM files: {}; which one is meant is unclear",
                    found.origin,
                    wims.len(),
                    wims.iter()
                        .map(|w| w.origin.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "give `path` to the WIM, or keep one WIM in the package",
            )),
        }
    }
}

fn is_wim(rel: &str) -> bool {
    rel.to_ascii_lowercase().ends_with(".wim")
}

/// Reads a package of a content library: its INI in PkgLib, its tree in
/// DataLib, and checks that each file is in FileLib with its size.
fn load_library(
    root: &Path,
    key: &str,
    id: &str,
    ini_name: &str,
    datalib: &HashMap<String, String>,
    content_id: Option<&str>,
) -> Result<Found, ProblemRow> {
    let redistribute = "the content library is damaged or incomplete: redistribute the package to the distribution point (or validate its content there), or take the package from another source";
    let ini_path = root.join(cl::PKG_LIB).join(ini_name);
    let bytes = std::fs::read(&ini_path).map_err(|e| {
        problem(
            key,
            format!("cannot read {}: {e}", ini_path.display()),
            "check the path and its permissions",
        )
    })?;
    let pkg = PackageIni::parse(id, &bytes)
        .map_err(|e| problem(key, format!("{} {e}", ini_path.display()), redistribute))?;
    let cid = pkg.choose(id, content_id).map_err(|e| {
        problem(
            key,
            format!("{} {e}", ini_path.display()),
            "name a content ID the package lists in `content_id`, or remove `content_id`",
        )
    })?;
    let Some(dir_name) = datalib.get(&cid.to_uppercase()) else {
        return Err(problem(
            key,
            format!(
                "{} has no folder {cid} for package {id} (listed in {})",
                root.join(cl::DATA_LIB).display(),
                ini_path.display()
            ),
            redistribute,
        ));
    };
    let data_root = root.join(cl::DATA_LIB).join(dir_name);
    let mut files = Vec::new();
    let mut empty_dirs = Vec::new();
    let mut problems = Vec::new();
    walk_datalib(
        root,
        &data_root,
        "",
        0,
        &mut files,
        &mut empty_dirs,
        &mut problems,
    );
    if let Some(p) = problems.into_iter().next() {
        return Err(problem(key, p, redistribute));
    }
    files.sort_by(|a: &LibraryFile, b| super::sort_key(&a.rel).cmp(&super::sort_key(&b.rel)));
    empty_dirs.sort();
    let name = pkg.name.or_else(|| {
        std::fs::read(root.join(cl::DATA_LIB).join(format!("{dir_name}.INI")))
            .ok()
            .and_then(|b| cl::Ini::parse(&b).ok())
            .and_then(|i| i.get("Info", "Name").map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
    });
    Ok(Found {
        name,
        origin: format!("content library {}, content {cid}", root.display()),
        content: Content::Library { files, empty_dirs },
    })
}

fn walk_datalib(
    root: &Path,
    dir: &Path,
    rel: &str,
    depth: usize,
    files: &mut Vec<LibraryFile>,
    empty_dirs: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    if depth > 128 {
        problems.push(format!(
            "{} nests folders more than 128 deep",
            dir.display()
        ));
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            problems.push(format!("cannot read folder {}: {e}", dir.display()));
            return;
        }
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    let mut any = false;
    for e in entries {
        let path = e.path();
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            problems.push(format!("{} is not named in UTF-8", path.display()));
            continue;
        };
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            any = true;
            walk_datalib(root, &path, &child, depth + 1, files, empty_dirs, problems);
            continue;
        }
        let Some(file_name) = cl::file_name_of_ini(&name) else {
            continue;
        };
        any = true;
        let file_rel = if rel.is_empty() {
            file_name.to_string()
        } else {
            format!("{rel}/{file_name}")
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let fi = match FileIni::parse(&bytes) {
            Ok(f) => f,
            Err(err) => {
                problems.push(format!("{} {err}", path.display()));
                continue;
            }
        };
        let data = root.join(fi.filelib_path());
        match std::fs::metadata(&data) {
            Ok(m) if m.is_file() && m.len() == fi.size => {}
            Ok(m) if m.is_file() => {
                problems.push(format!(
                    "{} is {} bytes, but {} records {} bytes for `{file_rel}`",
                    data.display(),
                    m.len(),
                    path.display(),
                    fi.size
                ));
                continue;
            }
            _ => {
                problems.push(format!(
                    "{} is missing: {} records `{file_rel}` with that hash",
                    data.display(),
                    path.display()
                ));
                continue;
            }
        }
        files.push(LibraryFile {
            rel: file_rel,
            size: fi.size,
            sha256: fi.sha256,
            path: data,
        });
    }
    if !any && !rel.is_empty() {
        empty_dirs.push(rel.to_string());
    }
}

/// Everything [`resolve`] decides.
pub struct Resolution {
    pub packages: Vec<Resolved>,
    /// References (by step name) to the OS image package, for its record.
    pub os_image_referenced_by: Vec<String>,
    pub problems: Vec<ProblemRow>,
}

/// Reads the task sequence (when the profile has one) and resolves every
/// package: the profile's, then references the profile lacks.
pub fn resolve(vp: &ValidProfile, sources: &Sources) -> Resolution {
    let p = vp.profile();
    let mut problems = Vec::new();
    let standalone = p.media_type == MediaType::Standalone;
    let ts: TaskSequence = match &p.task_sequence {
        Some(t) => {
            let path = vp.resolve(&t.path);
            match std::fs::read(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|b| {
                    task_sequence::parse(&b).map_err(|e| format!("{} {e}", path.display()))
                }) {
                Ok(ts) => ts,
                Err(msg) => {
                    problems.push(problem(
                        "task_sequence.path",
                        msg,
                        "export the task sequence as XML from the console (or the SMS Provider) and point `path` at it",
                    ));
                    TaskSequence::default()
                }
            }
        }
        None => TaskSequence::default(),
    };

    // Unsupported steps (standalone media run without a site).
    if standalone {
        for s in ts.steps.iter().filter(|s| !s.disabled) {
            if let Some(why) = &s.unsupported {
                problems.push(problem(
                    "task_sequence.path",
                    format!("step `{}` cannot run from standalone media: {why}", s.name),
                    "replace the step (Apply Driver Package for drivers, Install Package or Install Application with the items listed), or disable it in the task sequence",
                ));
            }
        }
    }

    // Who references what: upper-cased ID -> (steps, kind of the first reference).
    let mut refs: Vec<(String, Vec<String>, RefKind)> = Vec::new();
    let mut note = |id: &str, step: String, kind: RefKind| match refs
        .iter_mut()
        .find(|(i, _, _)| i.eq_ignore_ascii_case(id))
    {
        Some((_, steps, _)) => {
            if !steps.contains(&step) {
                steps.push(step)
            }
        }
        None => refs.push((id.to_string(), vec![step], kind)),
    };
    for s in &ts.steps {
        let label = if s.disabled {
            format!("{} (disabled)", s.name)
        } else {
            s.name.clone()
        };
        for r in &s.packages {
            note(&r.id, label.clone(), r.kind);
        }
    }
    for id in &ts.reference_list {
        note(
            id,
            "(task sequence reference list)".into(),
            RefKind::Package,
        );
    }
    let active = |steps: &[String]| steps.iter().any(|s| !s.ends_with(" (disabled)"));

    let mut out: Vec<Resolved> = Vec::new();
    let steps_for = |id: &str| -> Vec<String> {
        refs.iter()
            .find(|(i, _, _)| i.eq_ignore_ascii_case(id))
            .map(|(_, s, _)| s.clone())
            .unwrap_or_default()
    };

    // The profile's packages.
    for (i, pkg) in p.packages.iter().enumerate() {
        let key = format!("packages[{i}].source");
        let (content, origin) = match &pkg.source {
            Some(src) => {
                let path = vp.resolve(src);
                (
                    Content::Tree(path.clone()),
                    format!("profile folder {}", path.display()),
                )
            }
            None => match sources.find(&pkg.id, pkg.content_id.as_deref()) {
                Ok(Some(f)) => (f.content, f.origin),
                Ok(None) => {
                    problems.push(problem(
                        &key,
                        format!(
                            "package {} is in none of the content sources ({})",
                            pkg.id,
                            sources.describe(&pkg.id)
                        ),
                        "give `source`, or add a content source that holds the package",
                    ));
                    continue;
                }
                Err(pr) => {
                    problems.push((key.clone(), pr.1, pr.2));
                    continue;
                }
            },
        };
        let mut referenced_by = steps_for(&pkg.id);
        if pkg.kind == PackageKind::Application {
            for s in &ts.steps {
                let matches = s.applications.iter().any(|a| app_matches(pkg, a));
                let label = if s.disabled {
                    format!("{} (disabled)", s.name)
                } else {
                    s.name.clone()
                };
                if matches && !referenced_by.contains(&label) {
                    referenced_by.push(label);
                }
            }
        }
        let path = format!("SMS/PKG/{}", pkg.id);
        out.push(Resolved {
            medium: PackageOnMedium {
                id: pkg.id.clone(),
                name: pkg.name.clone(),
                kind: pkg.kind.into(),
                path: path.clone(),
            },
            key,
            content,
            record: PackageRecord {
                id: pkg.id.clone(),
                name: pkg.name.clone(),
                kind: pkg.kind.as_str().into(),
                path,
                origin,
                referenced_by,
            },
        });
    }

    // Applications must be listed by the profile.
    for s in ts.steps.iter().filter(|s| !s.disabled) {
        for a in &s.applications {
            let listed = p
                .packages
                .iter()
                .any(|pkg| pkg.kind == PackageKind::Application && app_matches(pkg, a));
            if !listed && standalone {
                problems.push(problem(
                    "task_sequence.path",
                    format!("step `{}` installs application `{a}`, which `packages` does not list", s.name),
                    "add the application to `packages` with kind `application`, its `model_name` and its content (`source`, or `content_id` in a content library)",
                ));
            }
        }
    }

    // References the profile does not list.
    let os_id = p.os_image.as_ref().map(|o| o.id.clone());
    let boot_id = p.boot_image.id.clone();
    let mut os_refs = Vec::new();
    for (id, steps, kind) in &refs {
        if os_id.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(id)) {
            os_refs = steps.clone();
            continue;
        }
        if boot_id
            .as_deref()
            .is_some_and(|b| b.eq_ignore_ascii_case(id))
            || out.iter().any(|r| r.medium.id.eq_ignore_ascii_case(id))
            || id.eq_ignore_ascii_case(super::PRESTART_ID)
        {
            continue;
        }
        if !active(steps) {
            continue;
        }
        match sources.find(id, None) {
            Ok(Some(f)) => {
                let kind = match kind {
                    RefKind::Driver => PackageKind::Driver,
                    _ => PackageKind::Package,
                };
                let name = f.name.unwrap_or_else(|| id.clone());
                let path = format!("SMS/PKG/{id}");
                out.push(Resolved {
                    medium: PackageOnMedium {
                        id: id.clone(),
                        name: name.clone(),
                        kind: kind.into(),
                        path: path.clone(),
                    },
                    key: "content_sources".into(),
                    content: f.content,
                    record: PackageRecord {
                        id: id.clone(),
                        name,
                        kind: kind.as_str().into(),
                        path,
                        origin: f.origin,
                        referenced_by: steps.clone(),
                    },
                });
            }
            Ok(None) if standalone => {
                let list = steps
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(problem(
                    "task_sequence.path",
                    format!(
                        "package {id}, referenced by {list}, is in no package of the profile and in no content source ({})",
                        sources.describe(id)
                    ),
                    format!("add {id} to `packages` with its `source`, add a content source that holds it, or remove the reference from the task sequence"),
                ));
            }
            Ok(None) => {}
            Err(pr) => problems.push(pr),
        }
    }
    Resolution {
        packages: out,
        os_image_referenced_by: os_refs,
        problems,
    }
}

/// An application step's model name names this package: its
/// `model_name`, else its ID or name (case-insensitively).
fn app_matches(pkg: &crate::profile::Package, name: &str) -> bool {
    match &pkg.model_name {
        Some(m) => m.eq_ignore_ascii_case(name),
        None => pkg.id.eq_ignore_ascii_case(name) || pkg.name.eq_ignore_ascii_case(name),
    }
}
