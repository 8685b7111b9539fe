//! Several images forming one ISO 9660 volume set.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use super::tree::FileEntry;
use super::{IsoImage, ReadError};
use crate::io::read_full;
use crate::read::{path_key, BootEntry, Medium, MediumFile, Problems, StructureProblem};

/// A volume set: each file comes from one volume. Two kinds are read:
///
/// * numbered sets (ECMA-119 6.6): volumes are ordered by their volume
///   sequence numbers; a file listed by several volumes is taken from the
///   last (the most recent hierarchy), and a record may name another volume
///   of the set as the holder of its data;
/// * sets of independent volumes, as tsmedia writes them (each image says
///   "volume 1 of 1", so every system mounts it on its own; Linux refuses
///   ISO 9660 volumes of larger sets): the images share a volume set
///   identifier and are taken in the order given. A file may be on several
///   of them only with identical content (the manifest is on each).
#[derive(Debug)]
pub struct IsoVolumeSet {
    volumes: Vec<IsoImage>,
    /// The number of each volume: its sequence number, or its place in an
    /// independent set.
    numbers: Vec<u16>,
    /// (volume holding the record, index of the file in its main tree,
    /// volume holding the data), sorted by path.
    files: Vec<(usize, usize, usize)>,
    by_path: HashMap<String, usize>,
    problems: Problems,
}

impl IsoVolumeSet {
    pub fn open(paths: &[PathBuf]) -> Result<IsoVolumeSet, ReadError> {
        if paths.is_empty() {
            return Err(ReadError::NotAnIso {
                why: "a volume set of no images".into(),
            });
        }
        let mut volumes = paths
            .iter()
            .map(|p| IsoImage::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut problems = Problems::new();
        let n = volumes.len();
        let independent = n > 1
            && volumes
                .iter()
                .all(|v| v.volume_set_size() == 1 && v.volume_sequence() == 1);
        let mut seqs: Vec<u16> = volumes.iter().map(|v| v.volume_sequence()).collect();
        seqs.sort_unstable();
        let expected: Vec<u16> = (1..=n).map(|i| i.min(u16::MAX as usize) as u16).collect();
        let numbered = !independent && seqs == expected;
        if numbered {
            volumes.sort_by_key(|v| v.volume_sequence());
        } else if !independent {
            problems.push(
                "volume set",
                format!("volume sequence numbers 1 to {n}"),
                format!("{seqs:?} (the images are taken in the order given)"),
            );
        }
        let numbers: Vec<u16> = if independent {
            (1..=n).map(|i| i.min(u16::MAX as usize) as u16).collect()
        } else {
            volumes.iter().map(|v| v.volume_sequence()).collect()
        };
        for (v, &no) in volumes.iter().zip(&numbers) {
            if !independent && usize::from(v.volume_set_size()) != n {
                problems.push(
                    format!("volume {no} ({})", v.name),
                    format!("volume set size {n}"),
                    format!("{}", v.volume_set_size()),
                );
            }
            if v.volume_set_id() != volumes[0].volume_set_id() {
                problems.push(
                    format!("volume {no} ({})", v.name),
                    format!("volume set identifier {:?}", volumes[0].volume_set_id()),
                    format!("{:?}", v.volume_set_id()),
                );
            }
        }
        let index_of_seq: HashMap<u16, usize> = volumes
            .iter()
            .enumerate()
            .map(|(i, v)| (v.volume_sequence(), i))
            .collect();
        let mut chosen: HashMap<String, (usize, usize, usize)> = HashMap::new();
        for (vi, v) in volumes.iter().enumerate() {
            for (fi, f) in v.main_files().iter().enumerate() {
                // Records name the volume holding their extent; when the
                // set is not numbered 1..n those numbers mean nothing.
                let named = index_of_seq.get(&f.volume).filter(|_| numbered);
                let data = match named {
                    Some(&d) => d,
                    None => {
                        if numbered && f.volume != 0 {
                            problems.push(
                                format!("file {} in volume {}", f.path, numbers[vi]),
                                "a volume sequence number of the set",
                                format!("{} (taken as its own volume)", f.volume),
                            );
                        }
                        vi
                    }
                };
                let key = path_key(&f.path);
                if let Some(&(pv, pf, pd)) = chosen.get(&key) {
                    let prev: &FileEntry = &volumes[pv].main_files()[pf];
                    let same = if independent {
                        prev.size == f.size
                            && same_content(&volumes[pd], prev, &volumes[data], f).unwrap_or(false)
                    } else {
                        pd == data && prev.pieces == f.pieces && prev.size == f.size
                    };
                    if !same {
                        problems.push(
                            format!("file {}", f.path),
                            "one file of that name in the volume set",
                            format!(
                                "one in volume {} and one in volume {}{} (the latter is used)",
                                numbers[pd],
                                numbers[data],
                                if independent { " that differ" } else { "" }
                            ),
                        );
                    }
                }
                chosen.insert(key, (vi, fi, data));
            }
        }
        let mut files: Vec<(usize, usize, usize)> = chosen.into_values().collect();
        files.sort_by(|a, b| {
            volumes[a.0].main_files()[a.1]
                .path
                .cmp(&volumes[b.0].main_files()[b.1].path)
        });
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, &(v, f, _))| (path_key(&volumes[v].main_files()[f].path), i))
            .collect();
        Ok(IsoVolumeSet {
            volumes,
            numbers,
            files,
            by_path,
            problems,
        })
    }

    /// The images, in volume sequence order.
    pub fn volumes(&self) -> &[IsoImage] {
        &self.volumes
    }

    /// The volume sequence number of the volume holding a file's data.
    pub fn volume_of(&self, path: &str) -> Option<u16> {
        let &(_, _, d) = self.files.get(*self.by_path.get(&path_key(path))?)?;
        Some(self.numbers[d])
    }

    /// Where a file's bytes lie (see [`IsoImage::file_data`]): in the
    /// volume that holds its data.
    pub fn file_data(&self, path: &str) -> Option<Result<super::FileData, String>> {
        let &(v, f, d) = self.files.get(*self.by_path.get(&path_key(path))?)?;
        Some(self.volumes[d].data_of(&self.volumes[v].main_files()[f]))
    }

    /// Every file, with the volume sequence number of the volume holding it.
    pub fn files_with_volume(&self) -> Vec<(MediumFile, u16)> {
        self.files
            .iter()
            .map(|&(v, f, d)| {
                let e = &self.volumes[v].main_files()[f];
                (
                    MediumFile {
                        path: e.path.clone(),
                        size: e.size,
                    },
                    self.numbers[d],
                )
            })
            .collect()
    }
}

/// Whether two files (of equal size) hold the same bytes.
fn same_content(va: &IsoImage, a: &FileEntry, vb: &IsoImage, b: &FileEntry) -> io::Result<bool> {
    let mut ra = va.reader(a)?;
    let mut rb = vb.reader(b)?;
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let n = read_full(&mut *ra, &mut ba)?;
        let m = read_full(&mut *rb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

impl Medium for IsoVolumeSet {
    fn describe(&self) -> String {
        let first = &self.volumes[0];
        format!(
            "{} volume set{}, {} volume{}",
            first.format_parts(),
            first.boot_text(),
            self.volumes.len(),
            if self.volumes.len() == 1 { "" } else { "s" }
        )
    }

    fn files(&self) -> Vec<MediumFile> {
        self.files_with_volume()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    fn open(&self, path: &str) -> io::Result<Box<dyn io::Read + '_>> {
        let not_found = || {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{path}: no such file in the volume set"),
            )
        };
        let i = *self.by_path.get(&path_key(path)).ok_or_else(not_found)?;
        let &(v, f, d) = self.files.get(i).ok_or_else(not_found)?;
        self.volumes[d].reader(&self.volumes[v].main_files()[f])
    }

    fn check(&self) -> Vec<StructureProblem> {
        let mut p = self.problems.clone();
        for (v, no) in self.volumes.iter().zip(&self.numbers) {
            for q in v.check() {
                p.add(StructureProblem::new(
                    format!("volume {no}: {}", q.what),
                    q.expected,
                    q.found,
                ));
            }
        }
        p.into_vec()
    }

    fn boot_entries(&self) -> Vec<BootEntry> {
        // Firmware boots from the first volume.
        self.volumes[0].boot_entries()
    }

    fn label(&self) -> Option<String> {
        self.volumes[0].label()
    }
}
