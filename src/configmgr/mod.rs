//! The product's own file formats: structures and parsers, apart from the
//! I/O that finds and reads the files. Used by the plan and by readers.

pub mod certificate;
pub mod content_library;
pub mod task_sequence;
