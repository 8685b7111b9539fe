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
