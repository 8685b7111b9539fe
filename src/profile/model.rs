//! The media profile as it is written in JSON. Unknown keys are errors.
//!
//! These types only describe the shape of the document; what the values mean
//! together (which keys a media type allows, whether files exist, dates are
//! in order) is checked in [`super::validate`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The four kinds of task sequence media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MediaType {
    /// Boot image and a capture task sequence, to capture a reference computer.
    Capture,
    /// Boot image and the settings to reach a management point.
    Bootable,
    /// A WIM holding everything, applied to a disk at the factory.
    Prestaged,
    /// Everything to deploy offline: task sequence and all its content.
    Standalone,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [
        MediaType::Capture,
        MediaType::Bootable,
        MediaType::Prestaged,
        MediaType::Standalone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Capture => "capture",
            MediaType::Bootable => "bootable",
            MediaType::Prestaged => "prestaged",
            MediaType::Standalone => "standalone",
        }
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a medium is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// A plain folder (staging folder).
    Folder,
    /// A bootable ISO 9660 / Joliet / UDF image.
    Iso,
    /// A raw disk image for USB sticks.
    UsbImage,
    /// A removable drive written directly.
    UsbDevice,
    /// A prestaged-media WIM.
    Wim,
}

impl OutputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Folder => "folder",
            OutputFormat::Iso => "iso",
            OutputFormat::UsbImage => "usb-image",
            OutputFormat::UsbDevice => "usb-device",
            OutputFormat::Wim => "wim",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A media profile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Media type.
    #[serde(rename = "type")]
    pub media_type: MediaType,
    /// Free-text name of the profile; recorded in the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Volume label: 1 to 32 characters of A-Z, a-z, 0-9, `_` and `-`.
    pub label: String,
    /// The WinPE boot image (`boot.wim`) and the image index to use.
    pub boot_image: BootImage,
    /// The operating system image (prestaged, standalone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_image: Option<OsImage>,
    /// The task sequence (standalone: required; prestaged: optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_sequence: Option<TaskSequence>,
    /// Applications, packages and driver packages (prestaged, standalone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    /// Places where packages are found by ID, searched in order: content
    /// libraries of distribution points and folders of package folders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_sources: Vec<ContentSource>,
    /// A command run before the task sequence starts, and its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prestart: Option<Prestart>,
    /// Media variables (task sequence variables set by the medium).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// How a booted machine reaches its site (bootable, prestaged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Site>,
    /// Media options.
    #[serde(default)]
    pub media: MediaOptions,
    /// Capture settings (capture media only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<Capture>,
    /// Image metadata of a prestaged-media WIM (prestaged only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prestaged: Option<PrestagedInfo>,
    /// Files or folders copied onto the medium.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_files: Vec<ExtraFile>,
    /// A folder of Configuration Manager binaries (a site's OSD `bin/x64`,
    /// with TSMBAutorun.exe), copied to `SMS/bin/x64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_binaries: Option<String>,
    /// Default output; `--format` and `--output` override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BootImage {
    /// Path of the boot image WIM; without it, `id` names a boot image
    /// package found in `content_sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Package ID of the boot image, taken from `content_sources` when
    /// `path` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 1-based image index inside the WIM.
    #[serde(default = "one")]
    pub index: u32,
    /// The boot manager the medium starts with: `"2023"` (the `_EX` boot
    /// files signed under Windows UEFI CA 2023) or `"2011"` (signed under
    /// Microsoft Windows Production PCA 2011). Absent: 2023 when the boot
    /// image has the `_EX` files, else 2011.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_manager: Option<BootManager>,
}

/// Which signed boot manager a medium carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum BootManager {
    /// `bootmgfw_EX.efi` and friends, signed under Windows UEFI CA 2023.
    #[serde(rename = "2023")]
    Ca2023,
    /// `bootmgfw.efi` and friends, signed under Microsoft Windows Production PCA 2011.
    #[serde(rename = "2011")]
    Pca2011,
}

impl BootManager {
    pub fn as_str(self) -> &'static str {
        match self {
            BootManager::Ca2023 => "2023",
            BootManager::Pca2011 => "2011",
        }
    }
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OsImage {
    /// Package ID of the OS image (e.g. `TSM00001`).
    pub id: String,
    /// Path of the OS image WIM; without it, the package `id` is taken
    /// from `content_sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based image index the task sequence applies.
    #[serde(default = "one")]
    pub index: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSequence {
    /// Task sequence ID (e.g. `TSM00010`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Path of the task sequence XML.
    pub path: String,
}

/// Kind of package content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PackageKind {
    Application,
    Package,
    Driver,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Application => "application",
            PackageKind::Package => "package",
            PackageKind::Driver => "driver",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Package ID (e.g. `TSM00002`): 1 to 32 characters of A-Z, 0-9, `_` and `-`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// application, package or driver.
    pub kind: PackageKind,
    /// Folder (or single file) holding the package content; without it,
    /// the package is taken from `content_sources` by its ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Content ID in a content library (application content is stored
    /// as `Content_<GUID>.<n>`); default: the package's newest content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Application model name (`ScopeId_.../Application_...`) that
    /// Install Application steps use to name this application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
}

/// A place packages are found by ID: exactly one of the two keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentSource {
    /// A distribution point's content library (`SCCMContentLib`, holding
    /// `PkgLib`, `DataLib` and `FileLib`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_library: Option<String>,
    /// A folder holding one subfolder per package ID (an exported content
    /// folder, or the `SMS/PKG` folder of another medium).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prestart {
    /// The command line run before the task sequence starts.
    pub command: String,
    /// Folder whose content is available to the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
}

/// How clients find a management point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SiteMode {
    /// Any management point of the hierarchy may redirect the client.
    Dynamic,
    /// Only the listed management points are used.
    SiteBased,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Three-character site code.
    pub code: String,
    /// Management point URLs (`http://` or `https://`).
    pub management_points: Vec<String>,
    /// dynamic or site-based.
    #[serde(default = "dynamic")]
    pub mode: SiteMode,
    /// Trusted root CA certificates (DER or PEM files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_certificates: Vec<String>,
    /// The certificate the medium authenticates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_certificate: Option<MediaCertificate>,
    /// The GUIDs of the site's "x64 Unknown Computer" and "x86 Unknown
    /// Computer" objects (unknown computer support), written as given to
    /// `_SMSTSx64UnknownMachineGUID` / `_SMSTSx86UnknownMachineGUID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_computer_guids: Option<UnknownComputerGuids>,
}

/// The site's unknown-computer object GUIDs, per architecture.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownComputerGuids {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x86: Option<String>,
}

fn dynamic() -> SiteMode {
    SiteMode::Dynamic
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MediaCertificate {
    /// A PKCS#12 file and the environment variable holding its password.
    Pfx(PfxCertificate),
    /// A self-signed certificate valid between two dates.
    SelfSigned(SelfSignedCertificate),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PfxCertificate {
    /// Path of the PKCS#12 (.pfx) file.
    pub pfx: String,
    /// Name of the environment variable holding the PFX password.
    pub password_env: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfSignedCertificate {
    pub self_signed: Validity,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// Start: `YYYY-MM-DD` or RFC 3339.
    pub start: String,
    /// Expiry: `YYYY-MM-DD` or RFC 3339.
    pub expiry: String,
    /// A PEM file holding the RSA private key to use (for reproducible
    /// builds); without it a new key comes from the system's random source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Cipher of the encrypted settings files (`Variables.dat`, `Policy.xml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SettingsCipher {
    /// AES-128 (CryptoAPI `CALG_AES_128`).
    #[default]
    #[serde(rename = "aes-128")]
    Aes128,
    /// AES-256 (CryptoAPI `CALG_AES_256`).
    #[serde(rename = "aes-256")]
    Aes256,
}

impl SettingsCipher {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsCipher::Aes128 => "aes-128",
            SettingsCipher::Aes256 => "aes-256",
        }
    }
}

/// Whether users may be associated with the device being deployed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UserDeviceAffinity {
    #[default]
    None,
    AllowWithManualApproval,
    AllowWithAutoApproval,
}

impl UserDeviceAffinity {
    pub fn as_str(self) -> &'static str {
        match self {
            UserDeviceAffinity::None => "none",
            UserDeviceAffinity::AllowWithManualApproval => "allow-with-manual-approval",
            UserDeviceAffinity::AllowWithAutoApproval => "allow-with-auto-approval",
        }
    }
}

/// Media size; content larger than one volume is written as a volume set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MediaSize {
    /// 650 MiB.
    Cd,
    /// 4.7 GB.
    Dvd,
    /// 8.5 GB.
    DvdDl,
    /// One volume, whatever its size.
    #[default]
    Unlimited,
}

impl MediaSize {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaSize::Cd => "cd",
            MediaSize::Dvd => "dvd",
            MediaSize::DvdDl => "dvd-dl",
            MediaSize::Unlimited => "unlimited",
        }
    }

    /// Capacity in bytes of one volume, None for unlimited.
    pub fn capacity(self) -> Option<u64> {
        match self {
            MediaSize::Cd => Some(650 * 1024 * 1024),
            MediaSize::Dvd => Some(4_700_000_000),
            MediaSize::DvdDl => Some(8_500_000_000),
            MediaSize::Unlimited => None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaOptions {
    /// Start the task sequence without user interaction.
    #[serde(default)]
    pub unattended: bool,
    /// Allow deployment to computers the site does not know (bootable, prestaged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_computer_support: Option<bool>,
    /// User device affinity (bootable, prestaged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_device_affinity: Option<UserDeviceAffinity>,
    /// The medium may not be used before this date (`YYYY-MM-DD` or RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The medium may not be used after this date (`YYYY-MM-DD` or RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// cd, dvd, dvd-dl or unlimited (ISO output).
    #[serde(default)]
    pub size: MediaSize,
    /// Protect the medium with a password: `Variables.dat` and `Policy.xml`
    /// are encrypted with it, and booting asks for it.
    #[serde(default)]
    pub password_protected: bool,
    /// Also encrypt the package content (for transport: a medium so
    /// protected must be restored with `tsmedia decrypt` before use).
    /// Needs a password.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypt_content: bool,
    /// aes-128 (default) or aes-256: cipher of `Variables.dat` and `Policy.xml`.
    #[serde(default)]
    pub cipher: SettingsCipher,
    /// Write an `autorun.inf` that starts the media from within Windows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub autorun: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// Where the captured image goes: a UNC path or a local path on the reference computer.
    pub destination: String,
    /// Name of the captured image.
    pub image_name: String,
    /// Description of the captured image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_description: Option<String>,
    /// Environment variable that holds the account name used to write to the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_variable: Option<String>,
    /// Environment variable that holds that account's password (never the password itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_variable: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrestagedInfo {
    /// Image name in the WIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Image description in the WIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// "Created by" (at most 50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Version (at most 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Comment (at most 127 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraFile {
    /// A file or folder to copy.
    pub source: String,
    /// Folder on the medium (`/` is the root); the source keeps its name.
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// folder, iso, usb-image, usb-device or wim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    /// Where to write the medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}
