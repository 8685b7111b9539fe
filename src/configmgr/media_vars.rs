//! The media-variables document inside `Variables.dat`:
//! `<MediaVarList Version="..."><var name="NAME"><![CDATA[value]]></var>...`,
//! UTF-16LE, no BOM, followed by a UTF-16 NUL (see [`super::envelope`]).

use super::{cdata, envelope, xml_escape};

/// `Version` attribute written on `<MediaVarList>` (the product's value is
/// not public; readers do not look at it).
pub const LIST_VERSION: &str = "1.00";
/// Largest number of variables a reader accepts.
pub const MAX_VARS: usize = 100_000;

/// An ordered list of media variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaVars {
    pub vars: Vec<(String, String)>,
}

impl MediaVars {
    pub fn new() -> MediaVars {
        MediaVars::default()
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(v) = self.vars.iter_mut().find(|(n, _)| n == name) {
            v.1 = value;
        } else {
            self.vars.push((name.to_string(), value));
        }
    }

    /// A variable's value (names compare case-insensitively, as the task
    /// sequence environment does).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The XML text (without the UTF-16 encoding).
    pub fn to_xml(&self) -> String {
        let mut s = String::new();
        s.push_str("<?xml version=\"1.0\" encoding=\"utf-16\"?>");
        s.push_str(&format!("<MediaVarList Version=\"{LIST_VERSION}\">"));
        for (n, v) in &self.vars {
            s.push_str(&format!(
                "<var name=\"{}\">{}</var>",
                xml_escape(n),
                cdata(v)
            ));
        }
        s.push_str("</MediaVarList>");
        s
    }

    /// The plaintext of `Variables.dat`.
    pub fn to_plaintext(&self) -> Vec<u8> {
        envelope::encode_text(&self.to_xml())
    }

    /// Reads the XML text: every `var` element with a `name`, anywhere
    /// under the root, in document order.
    pub fn parse(xml: &str) -> Result<MediaVars, String> {
        let doc = super::parse_xml(xml).map_err(|e| format!("not XML: {e}"))?;
        let root = doc.root_element();
        if root.tag_name().name() != "MediaVarList" {
            return Err(format!(
                "root element is <{}>, not <MediaVarList>",
                root.tag_name().name()
            ));
        }
        let mut out = MediaVars::new();
        for n in root.descendants().filter(|n| n.has_tag_name("var")) {
            let Some(name) = n.attribute("name") else {
                continue;
            };
            if out.vars.len() >= MAX_VARS {
                return Err(format!("more than {MAX_VARS} variables"));
            }
            let value: String = n
                .children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect();
            out.vars.push((name.to_string(), value));
        }
        Ok(out)
    }

    /// Reads a decrypted plaintext.
    pub fn from_plaintext(plain: &[u8]) -> Result<MediaVars, String> {
        let text = envelope::decode_text(plain).ok_or("the plaintext is not UTF-16 text")?;
        MediaVars::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_awkward_values() {
        let mut v = MediaVars::new();
        v.set("_SMSMediaGuid", "{0000}");
        v.set("A", "x ]]> y <&> \"'");
        v.set("B", "");
        let xml = v.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-16\"?><MediaVarList"));
        assert!(
            !xml.contains('\n'),
            "one line: some readers drop control characters"
        );
        v.set("C", "line1\nline2");
        let back = MediaVars::from_plaintext(&v.to_plaintext()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.get("_smsmediaguid"), Some("{0000}"));
    }

    #[test]
    fn rejects_other_documents() {
        assert!(MediaVars::parse("<Other/>").is_err());
        assert!(MediaVars::parse("<MediaVarList>").is_err());
        assert!(MediaVars::parse("<!DOCTYPE x [<!ENTITY a \"b\">]><MediaVarList/>").is_err());
    }
}
