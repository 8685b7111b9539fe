//! A distribution point's content library (`SCCMContentLib`): the INI
//! files that describe it and the paths where its parts live. No I/O here:
//! callers read the files and hand over their bytes.
//!
//! Layout (see docs/content-library.md for the public sources):
//! - `PkgLib/<PKGID>.INI`: the package's content IDs, as keys of its
//!   `[Packages]` section (`<PKGID>.<version>=`); a bare `<PKGID>=` key
//!   takes its version from `[Info] Version`.
//! - `DataLib/<content ID>/`: the package's folder tree, with one
//!   `<file name>.INI` per file (`[File]`: `Size`, `TimeModified`, `Hash`,
//!   `Attributes`).
//! - `FileLib/<first 4 characters of the hash>/<hash>`: the file's bytes,
//!   stored once however many packages hold them.
//!
//! INI files come as ANSI / UTF-8 or as UTF-16 with a byte order mark.

use std::fmt;

/// The three folders of a content library.
pub const PKG_LIB: &str = "PkgLib";
pub const DATA_LIB: &str = "DataLib";
pub const FILE_LIB: &str = "FileLib";

/// Largest INI file accepted (the library's INIs are a few hundred bytes).
pub const MAX_INI: usize = 1 << 20;

/// Why an INI file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError(pub String);

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IniError {}

fn err<T>(msg: impl Into<String>) -> Result<T, IniError> {
    Err(IniError(msg.into()))
}

/// Decodes an INI file's bytes: UTF-16 (little or big endian) with a byte
/// order mark, UTF-8 with or without one, else ANSI (read as Latin-1: the
/// values the library writes are ASCII; names come from the file system).
pub fn decode(bytes: &[u8]) -> Result<String, IniError> {
    if bytes.len() > MAX_INI {
        return err(format!(
            "is {} bytes long; a content library INI file is far smaller",
            bytes.len()
        ));
    }
    let utf16 = |rest: &[u8], le: bool| -> Result<String, IniError> {
        if rest.len() % 2 != 0 {
            return err("is UTF-16 (it starts with a byte order mark) but has an odd length");
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).or_else(|_| err("is not valid UTF-16"))
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// An INI file: sections in order, each with its keys in order. Section and
/// key names compare case-insensitively, as Windows' INI functions do.
#[derive(Debug, Clone, Default)]
pub struct Ini {
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

impl Ini {
    /// Parses INI bytes (any of the encodings [`decode`] reads).
    pub fn parse(bytes: &[u8]) -> Result<Ini, IniError> {
        let text = decode(bytes)?;
        let opt = ini::ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            enabled_indented_mutiline_value: false,
            enabled_preserve_key_leading_whitespace: false,
        };
        let parsed = ini::Ini::load_from_str_opt(&text, opt)
            .or_else(|e| err(format!("is not an INI file: {e}")))?;
        let mut sections = Vec::new();
        for (name, props) in parsed.iter() {
            let Some(name) = name else {
                continue;
            };
            let keys = props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            sections.push((name.to_string(), keys));
        }
        Ok(Ini { sections })
    }

    /// The keys of a section (the first of that name), if present.
    pub fn section(&self, name: &str) -> Option<&[(String, String)]> {
        self.sections
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| k.as_slice())
    }

    /// A key's value in a section.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section)?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// `PkgLib/<PKGID>.INI`: which content IDs hold a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageIni {
    /// Content IDs in the order listed (`<PKGID>.<version>`, or
    /// `Content_<GUID>.<n>` for application content).
    pub content_ids: Vec<String>,
    /// A display name, when the INI carries one (`[Info] Name`).
    pub name: Option<String>,
}

impl PackageIni {
    pub fn parse(package_id: &str, bytes: &[u8]) -> Result<PackageIni, IniError> {
        let ini = Ini::parse(bytes)?;
        let Some(keys) = ini.section("Packages") else {
            return err("has no [Packages] section listing the package's content");
        };
        let version = ini.get("Info", "Version").map(str::trim);
        let mut content_ids = Vec::new();
        for (k, _) in keys {
            let k = k.trim();
            if k.is_empty() {
                continue;
            }
            let id = match version {
                Some(v) if !k.contains('.') && !v.is_empty() => format!("{k}.{v}"),
                _ => k.to_string(),
            };
            if !valid_content_id(&id) {
                return err(format!("lists `{id}`, which is not a content ID"));
            }
            content_ids.push(id);
        }
        if content_ids.is_empty() {
            return err(format!("lists no content for {package_id} in [Packages]"));
        }
        let name = ini
            .get("Info", "Name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        Ok(PackageIni { content_ids, name })
    }

    /// The content ID to use: `wanted` when given (it must be listed), else
    /// the package's own content with the highest version.
    pub fn choose(&self, package_id: &str, wanted: Option<&str>) -> Result<String, IniError> {
        if let Some(w) = wanted {
            return self
                .content_ids
                .iter()
                .find(|c| c.eq_ignore_ascii_case(w))
                .cloned()
                .ok_or_else(|| {
                    IniError(format!(
                        "does not list content `{w}` (it lists {})",
                        self.content_ids.join(", ")
                    ))
                });
        }
        let own: Vec<&String> = self
            .content_ids
            .iter()
            .filter(|c| {
                c.split_once('.')
                    .is_some_and(|(p, _)| p.eq_ignore_ascii_case(package_id))
            })
            .collect();
        let pool: Vec<&String> = if own.is_empty() {
            self.content_ids.iter().collect()
        } else {
            own
        };
        pool.into_iter()
            .max_by_key(|c| version_of(c))
            .cloned()
            .ok_or_else(|| IniError("lists no content".into()))
    }
}

/// The numeric version after the last `.` of a content ID (0 if none).
pub fn version_of(content_id: &str) -> u64 {
    content_id
        .rsplit_once('.')
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Content IDs name folders: no separators, no `..`, printable.
pub fn valid_content_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '{' | '}'))
}

/// `DataLib/<content ID>/.../<file>.INI`: one file of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIni {
    pub size: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
    /// Last write time as a Windows FILETIME (100 ns since 1601), if given.
    pub time_modified: Option<u64>,
    /// Windows file attributes, if given.
    pub attributes: Option<u32>,
}

impl FileIni {
    pub fn parse(bytes: &[u8]) -> Result<FileIni, IniError> {
        let ini = Ini::parse(bytes)?;
        if ini.section("File").is_none() {
            return err("has no [File] section");
        }
        let size = match ini.get("File", "Size").map(str::trim) {
            Some(s) => s
                .parse::<u64>()
                .or_else(|_| err(format!("has Size `{s}`, which is not a number of bytes")))?,
            None => return err("has no Size in [File]"),
        };
        let hash = match ini.get("File", "Hash").map(str::trim) {
            Some(h) => h,
            None => return err("has no Hash in [File]"),
        };
        let sha256 = parse_sha256(hash).ok_or_else(|| {
            IniError(format!(
                "has Hash `{hash}`, which is not a SHA-256 (64 hexadecimal digits)"
            ))
        })?;
        let num = |k: &str| {
            ini.get("File", k)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Ok(FileIni {
            size,
            sha256,
            time_modified: num("TimeModified"),
            attributes: num("Attributes").and_then(|a| u32::try_from(a).ok()),
        })
    }

    /// The file's place in the library, relative to its root:
    /// `FileLib/<first 4 hex digits>/<HASH>`.
    pub fn filelib_path(&self) -> String {
        filelib_path(&self.sha256)
    }
}

/// `FileLib/<first 4 hex digits>/<HASH>` for a SHA-256.
pub fn filelib_path(sha256: &[u8; 32]) -> String {
    let h = hex::encode_upper(sha256);
    format!("{FILE_LIB}/{}/{h}", &h[..4])
}

fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

/// The name of the package file a DataLib entry describes: `<name>.INI`
/// stands for `<name>`; anything else is not a file entry.
pub fn file_name_of_ini(entry: &str) -> Option<&str> {
    let n = entry.len();
    if n > 4 && entry.is_char_boundary(n - 4) && entry[n - 4..].eq_ignore_ascii_case(".ini") {
        Some(&entry[..n - 4])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        let mut v = vec![0xFF, 0xFE];
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    const HASH: &str = "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9";

    #[test]
    fn file_ini_in_every_encoding() {
        let text = format!(
            "[File]\r\nSize=1234\r\nTimeModified=133000000000000000\r\nHash={HASH}\r\nAttributes=32\r\n"
        );
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend_from_slice(text.as_bytes());
        let mut be = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
        }
        for bytes in [text.as_bytes().to_vec(), bom8, utf16(&text), be] {
            let f = FileIni::parse(&bytes).unwrap();
            assert_eq!(f.size, 1234);
            assert_eq!(hex::encode_upper(f.sha256), HASH);
            assert_eq!(f.time_modified, Some(133000000000000000));
            assert_eq!(f.attributes, Some(32));
            assert_eq!(f.filelib_path(), format!("FileLib/0A1B/{HASH}"));
        }
    }

    #[test]
    fn lower_case_keys_and_hash_are_accepted() {
        let text = format!("[file]\nsize=0\nhash={}\n", HASH.to_lowercase());
        let f = FileIni::parse(text.as_bytes()).unwrap();
        assert_eq!(f.size, 0);
        assert_eq!(f.time_modified, None);
    }

    #[test]
    fn file_ini_problems_are_named() {
        assert!(FileIni::parse(b"[File]\nSize=1\n")
            .unwrap_err()
            .0
            .contains("no Hash"));
        assert!(FileIni::parse(b"[File]\nSize=x\nHash=00\n")
            .unwrap_err()
            .0
            .contains("not a number"));
        assert!(FileIni::parse(b"[File]\nSize=1\nHash=00\n")
            .unwrap_err()
            .0
            .contains("not a SHA-256"));
        assert!(FileIni::parse(b"[Other]\n")
            .unwrap_err()
            .0
            .contains("[File]"));
        assert!(FileIni::parse(&[0xFF, 0xFE, 0x41]).is_err(), "odd UTF-16");
    }

    #[test]
    fn ansi_bytes_are_read() {
        let f = decode(b"[Info]\nName=Caf\xe9\n").unwrap();
        assert!(f.contains("Café"));
    }

    #[test]
    fn package_ini_versions() {
        let p = PackageIni::parse("TSM00010", b"[Packages]\nTSM00010.1=\nTSM00010.3=\n").unwrap();
        assert_eq!(p.content_ids, ["TSM00010.1", "TSM00010.3"]);
        assert_eq!(p.choose("TSM00010", None).unwrap(), "TSM00010.3");
        assert_eq!(
            p.choose("tsm00010", Some("tsm00010.1")).unwrap(),
            "TSM00010.1"
        );
        assert!(p.choose("TSM00010", Some("X.1")).is_err());

        let p = PackageIni::parse(
            "TSM00011",
            &utf16("[Info]\r\nVersion=2\r\nName=Drivers\r\n[Packages]\r\nTSM00011=\r\n"),
        )
        .unwrap();
        assert_eq!(p.content_ids, ["TSM00011.2"]);
        assert_eq!(p.name.as_deref(), Some("Drivers"));

        let app = PackageIni::parse(
            "TSM00020",
            b"[Packages]\nContent_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.1=\n",
        )
        .unwrap();
        assert_eq!(
            app.choose("TSM00020", None).unwrap(),
            "Content_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.1"
        );
        assert!(PackageIni::parse("X", b"[Info]\n").is_err());
        assert!(PackageIni::parse("X", b"[Packages]\n..=\n").is_err());
        assert!(PackageIni::parse("X", b"[Packages]\na/b.1=\n").is_err());
    }

    #[test]
    fn data_lib_names() {
        assert_eq!(file_name_of_ini("setup.exe.INI"), Some("setup.exe"));
        assert_eq!(file_name_of_ini("config.ini.ini"), Some("config.ini"));
        assert_eq!(file_name_of_ini(".INI"), None);
        assert_eq!(file_name_of_ini("readme.txt"), None);
        assert_eq!(file_name_of_ini("Ünï.INI"), Some("Ünï"));
    }
}
