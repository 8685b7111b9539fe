//! The product's own file formats on a medium (Configuration Manager task
//! sequence media): on-disk structures apart from I/O, shared by the plan
//! (which writes them) and the readers (`inspect`, `verify`). Sources for
//! every field are in docs/configmgr.md.

pub mod certificate;
pub mod content_library;
pub mod envelope;
pub mod files;
pub mod media_vars;
pub mod policy;
pub mod task_sequence;

/// Where the settings files sit on a medium.
pub const VARIABLES_PATH: &str = "SMS/data/Variables.dat";
pub const POLICY_PATH: &str = "SMS/data/Policy.xml";
pub const BOOTSTRAP_PATH: &str = "SMS/data/TsmBootstrap.ini";
pub const LABEL_PATH: &str = "MediaLabel.txt";
pub const AUTORUN_PATH: &str = "autorun.inf";
/// Where `client_binaries` are copied.
pub const CLIENT_BIN_PATH: &str = "SMS/bin/x64";

/// `_SMSTSMediaType` / `MediaType` of each kind of media.
pub const BOOT_MEDIA: &str = "BootMedia";
pub const FULL_MEDIA: &str = "FullMedia";
pub const OEM_MEDIA: &str = "OEMMedia";
pub const CAPTURE_MEDIA: &str = "CaptureMedia";

/// Parses XML from a medium or a site: no DTDs (no entity expansion).
pub fn parse_xml(xml: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            ..Default::default()
        },
    )
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// A CDATA section holding `s` (a `]]>` inside is split across two sections).
pub fn cdata(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|&c| c >= ' ' || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
}
