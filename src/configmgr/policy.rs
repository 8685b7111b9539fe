//! The task sequence policy of standalone media (`SMS/data/Policy.xml`,
//! inside the envelope of [`super::envelope`]): a `<Policy>` whose
//! `CCM_TaskSequence` instance carries `PKG_Name`, `ADV_AdvertisementID`,
//! `TS_Sequence` (the task sequence's `<sequence>` XML as text) and the
//! packages it references. Written without an XML declaration: readers
//! hand the decoded text to parsers that refuse one.

use super::{cdata, envelope, xml_escape};

/// What a package on the medium is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageKind {
    OsImage,
    Package,
    Application,
    Driver,
}

impl PackageKind {
    /// `SMS_TaskSequenceReferencesInfo.ReferencePackageType` (the product's
    /// package type numbers, `SMS_PackageBaseclass.PackageType`).
    pub fn type_code(self) -> u32 {
        match self {
            PackageKind::Package => 0,
            PackageKind::Driver => 3,
            PackageKind::OsImage => 257,
            PackageKind::Application => 512,
        }
    }

    pub fn from_type_code(c: u32) -> Option<PackageKind> {
        Some(match c {
            0 => PackageKind::Package,
            3 => PackageKind::Driver,
            257 => PackageKind::OsImage,
            512 => PackageKind::Application,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::OsImage => "os-image",
            PackageKind::Package => "package",
            PackageKind::Application => "application",
            PackageKind::Driver => "driver",
        }
    }
}

/// A package the policy lists, and the medium folder holding its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOnMedium {
    pub id: String,
    pub name: String,
    pub kind: PackageKind,
    /// Medium folder, `/`-separated, without a leading `/` (`SMS/PKG/ID`).
    pub path: String,
}

/// The standalone policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSequencePolicy {
    /// Task sequence package ID (`PKG_PackageID`).
    pub package_id: String,
    /// Task sequence name (`PKG_Name`).
    pub name: String,
    /// Deployment ID (`ADV_AdvertisementID`).
    pub advertisement_id: String,
    /// The `<sequence ...>...</sequence>` XML (`TS_Sequence`).
    pub sequence: String,
    pub packages: Vec<PackageOnMedium>,
}

const SEQ_OPEN: &str = "<sequence";
const SEQ_CLOSE: &str = "</sequence>";

/// The `<sequence>` element of a task sequence export (an exported
/// `SmsTaskSequencePackage`, or a bare `<sequence>` document).
pub fn extract_sequence(xml: &str) -> Option<&str> {
    let start = xml.find(SEQ_OPEN)?;
    let rest = &xml[start..];
    let end = rest
        .rfind(SEQ_CLOSE)
        .map(|e| e + SEQ_CLOSE.len())
        .or_else(|| {
            // A self-closing empty sequence.
            let gt = rest.find("/>")?;
            (!rest[..gt].contains('>')).then_some(gt + 2)
        })?;
    Some(&rest[..end])
}

fn prop(s: &mut String, name: &str, value: &str) {
    s.push_str(&format!(
        "<property name=\"{name}\" type=\"8\"><value>{}</value></property>",
        xml_escape(value)
    ));
}

impl TaskSequencePolicy {
    /// The deployment ID media use: the task sequence ID (the product
    /// leaves `_SMSTSAdvertID` undefined on standalone media; see docs).
    pub fn media_advertisement_id(package_id: &str) -> String {
        package_id.to_string()
    }

    pub fn to_xml(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "<Policy PolicyID=\"{}-{}\" PolicyVersion=\"1.00\" PolicyType=\"Machine\" PolicySource=\"Media\">",
            xml_escape(&self.advertisement_id),
            xml_escape(&self.package_id)
        ));
        s.push_str(&format!(
            "<PolicyRule PolicyRuleID=\"{}\"><PolicyAction PolicyActionType=\"WMI-XML\">",
            xml_escape(&self.package_id)
        ));
        s.push_str("<instance class=\"CCM_TaskSequence\">");
        prop(&mut s, "ADV_AdvertisementID", &self.advertisement_id);
        prop(&mut s, "PKG_PackageID", &self.package_id);
        prop(&mut s, "PKG_Name", &self.name);
        s.push_str(&format!(
            "<property name=\"TS_Sequence\" type=\"8\"><value>{}</value></property>",
            cdata(&self.sequence)
        ));
        s.push_str("<property name=\"TS_References\" type=\"8\" array=\"true\">");
        for p in &self.packages {
            s.push_str(&format!("<value>{}</value>", xml_escape(&p.id)));
        }
        s.push_str("</property></instance>");
        for p in &self.packages {
            s.push_str("<instance class=\"SMS_TaskSequenceReferencesInfo\">");
            prop(&mut s, "PackageID", &self.package_id);
            prop(&mut s, "ReferencePackageID", &p.id);
            prop(&mut s, "ReferenceName", &p.name);
            prop(
                &mut s,
                "ReferencePackageType",
                &p.kind.type_code().to_string(),
            );
            prop(&mut s, "ReferenceSourcePath", &p.path);
            s.push_str("</instance>");
        }
        s.push_str("</PolicyAction></PolicyRule></Policy>");
        s
    }

    pub fn to_plaintext(&self) -> Vec<u8> {
        envelope::encode_text(&self.to_xml())
    }

    /// Reads a policy the way public readers do: the first element named
    /// `PKG_Name`, `ADV_AdvertisementID`, `TS_Sequence` (by `name`
    /// attribute) anywhere in the document, and its `value` child.
    pub fn parse(xml: &str) -> Result<TaskSequencePolicy, String> {
        let doc = super::parse_xml(xml).map_err(|e| format!("not XML: {e}"))?;
        let values = |name: &str| -> Vec<String> {
            doc.descendants()
                .filter(|n| n.is_element() && n.attribute("name") == Some(name))
                .take(1)
                .flat_map(|n| n.children().filter(|c| c.has_tag_name("value")))
                .map(|v| {
                    v.children()
                        .filter(|c| c.is_text())
                        .filter_map(|c| c.text())
                        .collect::<String>()
                })
                .collect()
        };
        let one = |name: &str| -> Result<String, String> {
            values(name)
                .into_iter()
                .next()
                .ok_or_else(|| format!("the policy has no {name}"))
        };
        let name = one("PKG_Name")?;
        let advertisement_id = one("ADV_AdvertisementID")?;
        let sequence = one("TS_Sequence")?;
        let package_id = one("PKG_PackageID").unwrap_or_default();
        let mut packages = Vec::new();
        for inst in doc
            .descendants()
            .filter(|n| n.has_tag_name("instance"))
            .filter(|n| n.attribute("class") == Some("SMS_TaskSequenceReferencesInfo"))
        {
            let get = |pname: &str| -> String {
                inst.children()
                    .filter(|c| c.attribute("name") == Some(pname))
                    .flat_map(|c| c.children().filter(|v| v.has_tag_name("value")))
                    .flat_map(|v| v.children().filter_map(|t| t.text()))
                    .collect()
            };
            packages.push(PackageOnMedium {
                id: get("ReferencePackageID"),
                name: get("ReferenceName"),
                kind: get("ReferencePackageType")
                    .parse()
                    .ok()
                    .and_then(PackageKind::from_type_code)
                    .unwrap_or(PackageKind::Package),
                path: get("ReferenceSourcePath"),
            });
        }
        if packages.is_empty() {
            for id in values("TS_References") {
                packages.push(PackageOnMedium {
                    path: format!("SMS/PKG/{id}"),
                    id,
                    name: String::new(),
                    kind: PackageKind::Package,
                });
            }
        }
        Ok(TaskSequencePolicy {
            package_id,
            name,
            advertisement_id,
            sequence,
            packages,
        })
    }

    pub fn from_plaintext(plain: &[u8]) -> Result<TaskSequencePolicy, String> {
        let text = envelope::decode_text(plain).ok_or("the plaintext is not UTF-16 text")?;
        TaskSequencePolicy::parse(&text)
    }

    /// Steps of the sequence: its `step` elements, at any depth.
    pub fn step_count(&self) -> Result<usize, String> {
        let doc =
            super::parse_xml(&self.sequence).map_err(|e| format!("TS_Sequence is not XML: {e}"))?;
        Ok(doc.descendants().filter(|n| n.has_tag_name("step")).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TaskSequencePolicy {
        TaskSequencePolicy {
            package_id: "TSM00010".into(),
            name: "Deploy <Windows> & more".into(),
            advertisement_id: "TSM00010".into(),
            sequence: "<sequence version=\"3.10\"><group name=\"g\"><step name=\"a\"/><step name=\"b\"/></group><step name=\"c ]]> d\"><action>x &amp; y</action></step></sequence>".into(),
            packages: vec![PackageOnMedium {
                id: "TSM00001".into(),
                name: "Windows".into(),
                kind: PackageKind::OsImage,
                path: "SMS/PKG/TSM00001".into(),
            }],
        }
    }

    #[test]
    fn round_trip() {
        let p = sample();
        let xml = p.to_xml();
        assert!(xml.starts_with("<Policy "), "no declaration");
        let back = TaskSequencePolicy::from_plaintext(&p.to_plaintext()).unwrap();
        assert_eq!(back, p);
        assert!(back.sequence.starts_with("<sequence"));
        assert_eq!(back.step_count().unwrap(), 3);
    }

    #[test]
    fn sequence_is_taken_from_an_export() {
        let export = "<?xml version=\"1.0\"?><SmsTaskSequencePackage><SequenceData><sequence version=\"3.10\"><step/></sequence></SequenceData></SmsTaskSequencePackage>";
        assert_eq!(
            extract_sequence(export),
            Some("<sequence version=\"3.10\"><step/></sequence>")
        );
        assert_eq!(extract_sequence("<sequence/>"), Some("<sequence/>"));
        assert_eq!(extract_sequence("<other/>"), None);
    }

    #[test]
    fn missing_properties_are_errors() {
        assert!(TaskSequencePolicy::parse("<Policy/>").is_err());
        assert!(TaskSequencePolicy::parse("not xml").is_err());
    }
}
