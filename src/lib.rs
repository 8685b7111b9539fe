//! tsmedia: build operating-system deployment media from a JSON media profile.
//!
//! Data flows one way: [`profile`] (parse and validate) -> [`plan`] (every
//! path on the medium, its source and size) -> a writer in [`write`] (folder,
//! ISO, USB, WIM) that consumes the plan and knows nothing of profiles.

pub mod cli;
pub mod cmd;
pub mod configmgr;
pub mod crypto;
pub mod error;
pub mod fuzz_targets;
pub mod io;
pub mod iso;
pub mod manifest;
pub mod plan;
pub mod profile;
pub mod read;
pub mod usb;
pub mod verify;
pub mod wim;
pub mod write;
