//! The command line (clap derive). The public contract: add freely, don't rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::profile::{MediaType, OutputFormat};
use crate::usb::partition::TableKind;

#[derive(Debug, Parser)]
#[command(
    name = "tsmedia",
    version,
    about = "Build operating-system deployment media (capture, bootable, prestaged, standalone) from a JSON profile",
    after_help = "Exit codes: 0 success, 1 runtime failure, 2 invalid input, 3 verification failed."
)]
pub struct Cli {
    /// Print nothing but errors (and --json output); no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Say more about what is being done.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a medium from a profile.
    Create(CreateArgs),
    /// Show everything that would be written, and every problem, without writing.
    Plan(PlanArgs),
    /// Start, check or describe profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The media profile (JSON).
    #[arg(long, short = 'p', value_name = "P.json")]
    pub profile: PathBuf,
    /// Media type (overrides the profile's `type`).
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub media_type: Option<MediaTypeArg>,
    /// Output format (overrides the profile's `output.format`; default folder).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Where to write the medium (overrides the profile's `output.path`).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing output.
    #[arg(long)]
    pub force: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Partition table of USB media (usb-image, usb-device).
    #[arg(long, value_enum, default_value = "mbr", value_name = "TABLE")]
    pub partition_table: TableKind,
    /// Size of a USB image, like 8G or 700M (K/M/G/T are powers of 1024).
    /// Default: the content plus 10% (at least 16 MiB) free, at least 64 MiB.
    #[arg(long, value_name = "SIZE", value_parser = crate::usb::parse_size)]
    pub size: Option<u64>,
    /// Write a USB drive that does not report itself as removable (USB hard
    /// disks, some card readers).
    #[arg(long)]
    pub allow_non_removable: bool,
    /// Erase the USB drive without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Do not read a written USB drive back to compare every file.
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The media profile (JSON).
    #[arg(long, short = 'p', value_name = "P.json")]
    pub profile: PathBuf,
    /// Media type (overrides the profile's `type`).
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub media_type: Option<MediaTypeArg>,
    /// Output format whose limits to check (overrides the profile's `output.format`).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Print a commented starting profile for a media type.
    Init {
        #[arg(long = "type", value_enum, value_name = "TYPE")]
        media_type: MediaTypeArg,
    },
    /// Check a profile: syntax, keys, sources, dates.
    Validate {
        /// The media profile (JSON).
        profile: PathBuf,
        /// Media type (overrides the profile's `type`).
        #[arg(long = "type", value_enum, value_name = "TYPE")]
        media_type: Option<MediaTypeArg>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of profiles.
    Schema,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MediaTypeArg {
    Capture,
    Bootable,
    Prestaged,
    Standalone,
}

impl From<MediaTypeArg> for MediaType {
    fn from(a: MediaTypeArg) -> Self {
        match a {
            MediaTypeArg::Capture => MediaType::Capture,
            MediaTypeArg::Bootable => MediaType::Bootable,
            MediaTypeArg::Prestaged => MediaType::Prestaged,
            MediaTypeArg::Standalone => MediaType::Standalone,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Folder,
    Iso,
    UsbImage,
    UsbDevice,
    Wim,
}

impl From<FormatArg> for OutputFormat {
    fn from(a: FormatArg) -> Self {
        match a {
            FormatArg::Folder => OutputFormat::Folder,
            FormatArg::Iso => OutputFormat::Iso,
            FormatArg::UsbImage => OutputFormat::UsbImage,
            FormatArg::UsbDevice => OutputFormat::UsbDevice,
            FormatArg::Wim => OutputFormat::Wim,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
