//! A FAT32 file system writer (and reader) made for media: the whole volume
//! is laid out from the list of files before anything is written, then
//! written in one pass.
//!
//! [`disk`] holds the on-disk structures, [`names`] short/long names,
//! [`layout`] the tree and cluster allocation; [`writer`] and [`reader`] do
//! the I/O.

pub mod disk;
pub mod layout;
pub mod names;
pub mod reader;
pub mod writer;

pub use disk::{FatTime, Geometry, MAX_FILE_SIZE};
pub use layout::{fat_label, FileSpec, Layout, Tree, TreeError};
pub use reader::Volume;
pub use writer::write_volume;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn content(i: usize, size: u64) -> Vec<u8> {
        (0..size).map(|k| (k as usize * 31 + i * 7) as u8).collect()
    }

    #[test]
    fn written_volume_reads_back() {
        let files: Vec<FileSpec> = [
            ("a/b/Long File Name.txt", 5000u64),
            ("a/SETUP.CMD", 10),
            ("a/setup2.cmd", 0),
            ("Überprüfung – Ünïcode.txt", 70_000),
            ("last.json", 3),
        ]
        .iter()
        .map(|(p, s)| FileSpec {
            path: p.to_string(),
            size: *s,
        })
        .chain((0..300).map(|i| FileSpec {
            path: format!("many/file-{i:04}.bin"),
            size: i,
        }))
        .collect();
        let tree = Tree::build(files, &["empty/dir".to_string()], Some(4)).unwrap();
        let g = Geometry::new(80_000, 2048).unwrap();
        let layout =
            Layout::new(tree, g, 0xDEAD_BEEF, fat_label("Test"), FatTime::default()).unwrap();
        let mut disk: Vec<u8> = Vec::new();
        let mut order = Vec::new();
        let digests = write_volume(&mut disk, 4096, &layout, |i, w| {
            order.push(i);
            // Even files are hashed on the way.
            if i % 2 == 0 {
                w.begin_file(i);
            }
            w.write_all(&content(i, layout.tree.files[i].size))?;
            w.end_file();
            Ok(())
        })
        .unwrap();
        assert_eq!(digests.len(), layout.tree.files.len().div_ceil(2));
        for (i, d) in &digests {
            use sha2::Digest;
            let want: [u8; 32] =
                sha2::Sha256::digest(content(*i, layout.tree.files[*i].size)).into();
            assert_eq!(*d, want, "digest of file {i}");
        }
        assert_eq!(*order.last().unwrap(), 4, "the last file is written last");
        let vol = Volume::open(&disk, 4096).unwrap();
        assert_eq!(vol.serial, 0xDEAD_BEEF);
        assert_eq!(&vol.label, b"TEST       ");
        for (i, f) in layout.tree.files.iter().enumerate() {
            let e = vol
                .lookup(&f.path)
                .unwrap()
                .unwrap_or_else(|| panic!("{}", f.path));
            assert_eq!(e.size as u64, f.size);
            let mut got = Vec::new();
            vol.read_file(&e, &mut got).unwrap();
            assert_eq!(got, content(i, f.size), "{}", f.path);
        }
        // Names come back as written, case included.
        let a = vol
            .read_dir(vol.lookup("a").unwrap().unwrap().cluster)
            .unwrap();
        let names: Vec<&str> = a.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b", "SETUP.CMD", "setup2.cmd"]);
        assert!(vol.lookup("empty/dir").unwrap().unwrap().is_dir);
    }
}
