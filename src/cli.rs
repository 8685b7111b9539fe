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
    /// Check a medium against its manifest and its structure (exit 3 on problems).
    Verify(VerifyArgs),
    /// Say what a medium is: type, label, dates, site, boot entries, encryption.
    Inspect(InspectArgs),
    /// Restore the plaintext tree of a password-protected medium.
    Decrypt(DecryptArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the manual page, or write every page (one per subcommand) into a folder.
    Man(ManArgs),
    /// Write an ISO (tsmedia's, the product's, any Windows or WinPE ISO) to a
    /// USB drive or disk image, laid out as `create --format usb-*` does.
    Write(WriteArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "To install, see \"Shell completions and manual pages\" in README.md; e.g. for bash:\n  \
    tsmedia completions bash > ~/.local/share/bash-completion/completions/tsmedia"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    tsmedia man > tsmedia.1                      the main page\n  \
    tsmedia man profile init                     the page of `tsmedia profile init`\n  \
    tsmedia man --dir /usr/local/share/man/man1  every page: tsmedia.1, tsmedia-create.1, ...")]
pub struct ManArgs {
    /// The subcommand whose page to print (e.g. `create`, or `profile init`);
    /// none for the main page tsmedia(1).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub subcommand: Vec<String>,
    /// Write every page into DIR (created when missing) instead: tsmedia.1 and
    /// one tsmedia-NAME.1 per subcommand.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The ISO image; for a volume set, every volume (or the first, NAME-1.iso).
    #[arg(required = true, value_name = "SOURCE.iso")]
    pub sources: Vec<PathBuf>,
    /// A whole USB drive (/dev/sdX) or a disk image file to create.
    #[arg(long, short = 'o', value_name = "DEVICE|IMAGE")]
    pub output: PathBuf,
    /// Partition table: mbr boots BIOS and UEFI machines, gpt UEFI only.
    #[arg(long, value_enum, default_value = "mbr", value_name = "TABLE")]
    pub partition_table: TableKind,
    /// Size of a disk image, like 8G or 700M (K/M/G/T are powers of 1024).
    /// Default: the content plus 10% (at least 16 MiB) free, at least 64 MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub size: Option<u64>,
    /// Erase the USB drive without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Write a drive that does not report itself as removable (USB hard disks).
    #[arg(long)]
    pub allow_non_removable: bool,
    /// Do not read the written drive or image back to compare every file.
    #[arg(long)]
    pub no_verify: bool,
    /// Replace an existing image file.
    #[arg(long)]
    pub force: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where a password comes from (never the command line itself).
#[derive(Debug, Args, Clone)]
pub struct PasswordArgs {
    /// Read the media password from the first line of FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,
    /// Read the media password from the environment variable VAR.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

impl PasswordArgs {
    pub fn source(&self) -> crate::crypto::password::PasswordSource {
        crate::crypto::password::PasswordSource {
            file: self.password_file.clone(),
            env: self.password_env.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The medium: an ISO (all volumes of a set), USB image or device, folder or WIM.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// With a password, encrypted files are decrypted and checked too.
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub secure_boot: DbxArgs,
    /// Warnings (such as Secure Boot warnings) fail the check too (exit 3).
    #[arg(long)]
    pub strict: bool,
}

/// The DBX data boot files are compared with.
#[derive(Debug, Args, Clone, Default)]
pub struct DbxArgs {
    /// Compare boot files with this dbx_info_msft_latest.json (from
    /// microsoft/secureboot_objects) instead of the built-in copy.
    #[arg(long, value_name = "FILE")]
    pub dbx: Option<PathBuf>,
}

/// `--boot-manager`: which signed boot manager a medium carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BootManagerArg {
    /// The `_EX` boot files, signed under Windows UEFI CA 2023.
    #[value(name = "2023")]
    Ca2023,
    /// The boot files signed under Microsoft Windows Production PCA 2011.
    #[value(name = "2011")]
    Pca2011,
}

impl From<BootManagerArg> for crate::profile::BootManager {
    fn from(a: BootManagerArg) -> Self {
        match a {
            BootManagerArg::Ca2023 => crate::profile::BootManager::Ca2023,
            BootManagerArg::Pca2011 => crate::profile::BootManager::Pca2011,
        }
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The medium: an ISO (or the volumes of a set), USB image or device, folder or WIM.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The media password opens password-protected settings.
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub secure_boot: DbxArgs,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The medium (repeat for the volumes of an ISO set).
    #[arg(long, required = true, value_name = "PATH")]
    pub medium: Vec<PathBuf>,
    /// Folder to restore the plaintext tree into.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
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
    /// A password (from a file or a variable) protects the medium's
    /// settings (`Variables.dat`, `Policy.xml`).
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Also encrypt the package content with the password (a medium for
    /// transport, restored with `tsmedia decrypt` before use).
    #[arg(long)]
    pub encrypt_content: bool,
    /// WIM compression (wim format).
    #[arg(long, value_enum, default_value = "xpress")]
    pub compression: CompressionArg,
    /// Split the WIM into .swm parts of at most SIZE (e.g. 4000M, 2G; wim format).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub split: Option<u64>,
    /// Partition table of USB media (usb-image, usb-device).
    #[arg(long, value_enum, default_value = "mbr", value_name = "TABLE")]
    pub partition_table: TableKind,
    /// Size of a USB image, like 8G or 700M (K/M/G/T are powers of 1024).
    /// Default: the content plus 10% (at least 16 MiB) free, at least 64 MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
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
    /// Boot manager to take from the boot image (overrides the profile's
    /// `boot_image.boot_manager`; default: 2023 when the boot image has the
    /// `_EX` files, else 2011).
    #[arg(long, value_enum, value_name = "YEAR")]
    pub boot_manager: Option<BootManagerArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompressionArg {
    None,
    Xpress,
    Lzx,
}

impl From<CompressionArg> for crate::wim::CaptureCompression {
    fn from(a: CompressionArg) -> Self {
        match a {
            CompressionArg::None => crate::wim::CaptureCompression::None,
            CompressionArg::Xpress => crate::wim::CaptureCompression::Xpress,
            CompressionArg::Lzx => crate::wim::CaptureCompression::Lzx,
        }
    }
}

/// Parses a size: a number of bytes, or a number with K, M, G or T (powers
/// of 1024; `KiB`, `MB`... are read the same way), e.g. `8G`, `700M`, `1.5G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let mult: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => {
            return Err(format!(
                "`{s}` is not a size: use a number with K, M, G or T, like 8G or 700M"
            ))
        }
    };
    let v: f64 = num.parse().map_err(|_| {
        format!("`{s}` is not a size: use a number with K, M, G or T, like 8G or 700M")
    })?;
    let bytes = v * mult as f64;
    if !(bytes.is_finite() && (1.0..1.8e19).contains(&bytes)) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(bytes as u64)
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
    /// Partition table of USB media (usb-image, usb-device): how they boot.
    #[arg(long, value_enum, default_value = "mbr", value_name = "TABLE")]
    pub partition_table: TableKind,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Boot manager to take from the boot image (overrides the profile's
    /// `boot_image.boot_manager`; default: 2023 when the boot image has the
    /// `_EX` files, else 2011).
    #[arg(long, value_enum, value_name = "YEAR")]
    pub boot_manager: Option<BootManagerArg>,
    #[command(flatten)]
    pub secure_boot: DbxArgs,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Print a commented starting profile for a media type.
    Init {
        /// Media type of the profile.
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
    fn sizes() {
        assert_eq!(parse_size("700M"), Ok(700 << 20));
        assert_eq!(parse_size("4g"), Ok(4 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("big").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
