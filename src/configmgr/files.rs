//! The small plain-text files of a medium: `SMS/data/TsmBootstrap.ini`,
//! `MediaLabel.txt` and `autorun.inf`.

/// `TsmBootstrap.ini`'s `[MediaInfo]` and, on prestaged media, the image
/// metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapIni {
    /// `BootMedia`, `FullMedia`, `OEMMedia` or `CaptureMedia`.
    pub media_type: String,
    pub password_required: bool,
    pub unattended: bool,
    /// `[PrestagedMedia]` keys, in order (`Name`, `Description`, ...).
    pub prestaged: Vec<(String, String)>,
}

fn one_line(v: &str) -> String {
    v.replace(['\r', '\n'], " ")
}

impl BootstrapIni {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::from("[MediaInfo]\r\n");
        s.push_str(&format!("MediaType={}\r\n", one_line(&self.media_type)));
        s.push_str(&format!("PasswordRequired={}\r\n", self.password_required));
        s.push_str(&format!("Unattended={}\r\n", self.unattended));
        if !self.prestaged.is_empty() {
            s.push_str("[PrestagedMedia]\r\n");
            for (k, v) in &self.prestaged {
                s.push_str(&format!("{k}={}\r\n", one_line(v)));
            }
        }
        s.into_bytes()
    }

    /// Reads the file: sections and `key=value` lines; keys and section
    /// names ignore case; unknown keys are skipped.
    pub fn parse(bytes: &[u8]) -> Result<BootstrapIni, String> {
        let text = decode_ini(bytes)?;
        let mut out = BootstrapIni::default();
        let mut section = String::new();
        let mut seen_media_info = false;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_ascii_lowercase();
                seen_media_info |= section == "mediainfo";
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("`{line}` is neither a section nor key=value"));
            };
            let (k, v) = (k.trim(), v.trim());
            match (section.as_str(), k.to_ascii_lowercase().as_str()) {
                ("mediainfo", "mediatype") => out.media_type = v.to_string(),
                ("mediainfo", "passwordrequired") => out.password_required = truthy(v),
                ("mediainfo", "unattended") => out.unattended = truthy(v),
                ("prestagedmedia", _) => out.prestaged.push((k.to_string(), v.to_string())),
                _ => {}
            }
        }
        if !seen_media_info {
            return Err("no [MediaInfo] section".into());
        }
        Ok(out)
    }
}

fn truthy(v: &str) -> bool {
    v.eq_ignore_ascii_case("true") || v == "1"
}

/// INI text: UTF-8 (or ASCII), or UTF-16LE with a BOM.
fn decode_ini(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() > 1 << 20 {
        return Err("larger than 1 MiB".into());
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).map_err(|_| "not UTF-16 text".to_string());
    }
    let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(b.to_vec()).map_err(|_| "not UTF-8 text".to_string())
}

/// `MediaLabel.txt`: `label=<label>`.
pub fn media_label(label: &str) -> Vec<u8> {
    format!("label={}\r\n", one_line(label)).into_bytes()
}

/// The label in a `MediaLabel.txt`.
pub fn parse_media_label(bytes: &[u8]) -> Option<String> {
    let text = decode_ini(bytes).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("label")
            .then(|| v.trim().to_string())
    })
}

/// `autorun.inf`: starts the media's launcher from within Windows.
pub fn autorun_inf(label: &str) -> Vec<u8> {
    format!(
        "[autorun]\r\nopen=SMS\\bin\\x64\\TSMBAutorun.exe\r\nicon=SMS\\bin\\x64\\TSMBAutorun.exe,0\r\nlabel={}\r\n",
        one_line(label)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_round_trip() {
        let ini = BootstrapIni {
            media_type: "OEMMedia".into(),
            password_required: true,
            unattended: false,
            prestaged: vec![("Version".into(), "1.0".into())],
        };
        let b = ini.to_bytes();
        assert!(String::from_utf8_lossy(&b).starts_with("[MediaInfo]\r\nMediaType=OEMMedia\r\n"));
        assert_eq!(BootstrapIni::parse(&b).unwrap(), ini);
        assert!(BootstrapIni::parse(b"x").is_err());
        assert!(BootstrapIni::parse(b"[Other]\r\n").is_err());
    }

    #[test]
    fn label() {
        assert_eq!(media_label("TSM"), b"label=TSM\r\n");
        assert_eq!(parse_media_label(b"label=TSM\r\n").as_deref(), Some("TSM"));
    }
}
