//! The task sequence document (`<sequence>`, as the product exports it):
//! its steps, the groups they sit in, and the content each step references.
//! Parsing only; deciding what a medium needs is the plan's job.
//!
//! A step references content
//! - in its `<defaultVarList>` variables whose `property` the product's
//!   step classes mark as a package reference ([`PACKAGE_PROPERTIES`]),
//! - in its `<action>` command line (`smsswd.exe /pkg:ID` or `/run:ID`,
//!   `osddriverclient.exe /install:ID`, `OSDApplyOS.exe /image:ID,...`),
//! - and, for application steps, by application model name
//!   (`ApplicationName`, a comma-separated list).
//!
//! The sequence's own `<referenceList><reference package="ID"/>` counts too.
//! docs/task-sequences.md lists the step types and the sources.

use std::fmt;

/// `<variable property=...>` names that hold a package ID.
pub const PACKAGE_PROPERTIES: &[&str] = &[
    "PackageID",
    "ImagePackageID",
    "InstallPackageID",
    "DriverPackageID",
    "ClientPackageID",
    "ClientPreProductionPackageID",
    "SysprepPackageID",
    "ConfigFilePackage",
];

/// Command-line switches whose value is a package ID (up to a `,`).
const SWITCHES: &[&str] = &["/pkg:", "/run:", "/install:", "/image:"];

/// Largest document accepted.
pub const MAX_SIZE: usize = 64 << 20;

/// What kind of content a step's reference is, so content pulled for it
/// gets the right kind on the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A driver package (Apply Driver Package).
    Driver,
    /// An OS image or upgrade package.
    Image,
    /// Any other package.
    Package,
}

/// One package a step references, and where the step says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRef {
    pub id: String,
    pub kind: RefKind,
    /// `property ImagePackageID`, `command line /pkg:`, ...
    pub via: String,
}

/// Why the product cannot run a step from standalone media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// Auto Apply Drivers needs the site's driver catalog.
    AutoApplyDrivers,
    /// Download Package Content downloads from distribution points.
    DownloadPackageContent,
    /// A package or application list read from variables at run time.
    BaseVariable(String),
    /// Run Task Sequence: a child task sequence, whose content tsmedia does not follow.
    ChildTaskSequence,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::AutoApplyDrivers => f.write_str(
                "Auto Apply Drivers picks drivers from the site's driver catalog, which standalone media cannot reach",
            ),
            Unsupported::DownloadPackageContent => f.write_str(
                "Download Package Content downloads from distribution points, which standalone media cannot reach",
            ),
            Unsupported::BaseVariable(v) => write!(
                f,
                "it installs a list named by the base variable `{v}` at run time, so the content cannot be known in advance"
            ),
            Unsupported::ChildTaskSequence => f.write_str(
                "Run Task Sequence runs a child task sequence, whose content tsmedia cannot resolve",
            ),
        }
    }
}

/// A step of the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// The product's class name, e.g. `SMS_TaskSequence_ApplyDriverPackageAction`.
    pub step_type: String,
    /// The step, or a group it sits in, has `disable="true"`.
    pub disabled: bool,
    /// Names of the groups around the step, outermost first.
    pub groups: Vec<String>,
    pub packages: Vec<PackageRef>,
    /// Application model names (Install Application).
    pub applications: Vec<String>,
    pub unsupported: Option<Unsupported>,
}

/// A parsed task sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSequence {
    /// Every step in document order, groups flattened.
    pub steps: Vec<Step>,
    /// `<referenceList>` package IDs of the sequence itself.
    pub reference_list: Vec<String>,
}

/// Why a task sequence could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Package IDs look like `ABC00012`; values with `%` (variables) or spaces
/// are not IDs.
pub fn looks_like_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn kind_for(step_type: &str, property: &str) -> RefKind {
    let p = property.to_ascii_lowercase();
    if p == "driverpackageid"
        || step_type.eq_ignore_ascii_case("SMS_TaskSequence_ApplyDriverPackageAction")
    {
        RefKind::Driver
    } else if p == "imagepackageid" || p == "installpackageid" {
        RefKind::Image
    } else {
        RefKind::Package
    }
}

fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Parses a task sequence document (UTF-8, or UTF-16 with a byte order mark).
pub fn parse(bytes: &[u8]) -> Result<TaskSequence, ParseError> {
    if bytes.len() > MAX_SIZE {
        return Err(ParseError(format!(
            "is {} bytes long; at most {MAX_SIZE} are read",
            bytes.len()
        )));
    }
    let text = crate::configmgr::content_library::decode(bytes)
        .map_err(|e| ParseError(format!("cannot be decoded: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    let opt = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 4_000_000,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opt)
        .map_err(|e| ParseError(format!("is not well-formed XML: {e}")))?;
    let root = doc.root_element();
    if !root.has_tag_name("sequence") {
        return Err(ParseError(format!(
            "has root element <{}>, not the task sequence's <sequence>",
            root.tag_name().name()
        )));
    }
    let mut ts = TaskSequence::default();
    for child in root.children().filter(|n| n.is_element()) {
        if child.has_tag_name("referenceList") {
            for r in child.children().filter(|n| n.has_tag_name("reference")) {
                if let Some(p) = r.attribute("package").map(str::trim) {
                    if looks_like_id(p)
                        && !ts.reference_list.iter().any(|x| x.eq_ignore_ascii_case(p))
                    {
                        ts.reference_list.push(p.to_string());
                    }
                }
            }
        }
    }
    walk(root, &mut Vec::new(), false, &mut ts.steps, 0)?;
    Ok(ts)
}

fn walk(
    node: roxmltree::Node<'_, '_>,
    groups: &mut Vec<String>,
    disabled: bool,
    out: &mut Vec<Step>,
    depth: usize,
) -> Result<(), ParseError> {
    if depth > 64 {
        return Err(ParseError("nests groups more than 64 deep".into()));
    }
    for child in node.children().filter(|n| n.is_element()) {
        match child.tag_name().name() {
            "group" => {
                groups.push(child.attribute("name").unwrap_or("").to_string());
                let d = disabled || is_true(child.attribute("disable"));
                walk(child, groups, d, out, depth + 1)?;
                groups.pop();
            }
            "step" => out.push(step(child, groups, disabled)),
            _ => {}
        }
    }
    Ok(())
}

fn step(node: roxmltree::Node<'_, '_>, groups: &[String], disabled: bool) -> Step {
    let step_type = node.attribute("type").unwrap_or("").to_string();
    let mut s = Step {
        name: node.attribute("name").unwrap_or("").to_string(),
        disabled: disabled || is_true(node.attribute("disable")),
        groups: groups.to_vec(),
        packages: Vec::new(),
        applications: Vec::new(),
        unsupported: None,
        step_type,
    };
    let add = |s: &mut Step, id: &str, kind: RefKind, via: String| {
        let id = id.trim();
        if looks_like_id(id) && !s.packages.iter().any(|p| p.id.eq_ignore_ascii_case(id)) {
            s.packages.push(PackageRef {
                id: id.to_string(),
                kind,
                via,
            });
        }
    };
    let mut base_variable = None;
    for vars in node.children().filter(|n| n.has_tag_name("defaultVarList")) {
        for v in vars.children().filter(|n| n.has_tag_name("variable")) {
            let prop = v.attribute("property").unwrap_or("");
            let value = v.text().unwrap_or("").trim();
            if PACKAGE_PROPERTIES
                .iter()
                .any(|p| p.eq_ignore_ascii_case(prop))
            {
                let kind = kind_for(&s.step_type, prop);
                add(&mut s, value, kind, format!("property {prop}"));
            } else if prop.eq_ignore_ascii_case("ApplicationName") {
                for app in value.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                    if !s.applications.iter().any(|a| a.eq_ignore_ascii_case(app)) {
                        s.applications.push(app.to_string());
                    }
                }
            } else if prop.eq_ignore_ascii_case("BaseVariableName") && !value.is_empty() {
                base_variable = Some(value.to_string());
            }
        }
    }
    for action in node.children().filter(|n| n.has_tag_name("action")) {
        let line = action.text().unwrap_or("");
        for token in line.split_whitespace() {
            let t = token.trim_matches('"');
            for sw in SWITCHES {
                if t.len() > sw.len()
                    && t.is_char_boundary(sw.len())
                    && t[..sw.len()].eq_ignore_ascii_case(sw)
                {
                    let value = t[sw.len()..].split(',').next().unwrap_or("");
                    let kind = match *sw {
                        "/install:" => RefKind::Driver,
                        "/image:" => RefKind::Image,
                        _ => kind_for(&s.step_type, ""),
                    };
                    add(&mut s, value, kind, format!("command line {sw}"));
                }
            }
        }
    }
    let ty = s.step_type.to_ascii_lowercase();
    s.unsupported = match ty.as_str() {
        "sms_tasksequence_autoapplyaction" => Some(Unsupported::AutoApplyDrivers),
        "sms_tasksequence_downloadpackagecontentaction" => {
            Some(Unsupported::DownloadPackageContent)
        }
        "sms_tasksequence_runtasksequenceaction" => Some(Unsupported::ChildTaskSequence),
        "sms_tasksequence_installsoftwareaction" | "sms_tasksequence_installapplicationaction" => {
            base_variable.map(Unsupported::BaseVariable)
        }
        _ => None,
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<sequence version="3.10">
  <referenceList><reference package="ABC00001"/><reference package="abc00001"/><reference package="%X%"/></referenceList>
  <group name="Outer">
    <group name="Inner" disable="true">
      <step type="SMS_TaskSequence_InstallSoftwareAction" name="Off">
        <action>smsswd.exe /pkg:ABC00009 /install</action>
      </step>
    </group>
    <step type="SMS_TaskSequence_ApplyOperatingSystemAction" name="Apply OS">
      <action>OSDApplyOS.exe /image:ABC00001,1 /config:ABC00005,unattend.xml</action>
      <defaultVarList>
        <variable name="OSDImagePackageId" property="ImagePackageID">ABC00001</variable>
        <variable name="OSDConfigFilePackage" property="ConfigFilePackage">ABC00005</variable>
      </defaultVarList>
    </step>
  </group>
  <step type="SMS_TaskSequence_ApplyDriverPackageAction" name="Drivers">
    <action>osddriverclient.exe /install:ABC00004 /unsigned:false</action>
  </step>
  <step type="SMS_TaskSequence_InstallApplicationAction" name="Apps">
    <defaultVarList>
      <variable name="ApplicationName" property="ApplicationName">ScopeId_1/Application_2, ScopeId_1/Application_3</variable>
    </defaultVarList>
  </step>
  <step type="SMS_TaskSequence_InstallSoftwareAction" name="Dynamic" disable="false">
    <defaultVarList><variable name="BaseVariableName" property="BaseVariableName">PKGS</variable></defaultVarList>
  </step>
  <step type="SMS_TaskSequence_AutoApplyAction" name="Auto"/>
  <step type="SMS_TaskSequence_RunCommandLineAction" name="Cmd">
    <action>cmd.exe /c echo /pkg:%VAR%</action>
  </step>
</sequence>"#;

    #[test]
    fn steps_references_and_groups() {
        let ts = parse(DOC.as_bytes()).unwrap();
        assert_eq!(ts.reference_list, ["ABC00001"]);
        let names: Vec<&str> = ts.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["Off", "Apply OS", "Drivers", "Apps", "Dynamic", "Auto", "Cmd"]
        );
        let off = &ts.steps[0];
        assert!(off.disabled);
        assert_eq!(off.groups, ["Outer", "Inner"]);
        assert_eq!(off.packages[0].id, "ABC00009");
        let os = &ts.steps[1];
        assert!(!os.disabled);
        let ids: Vec<(&str, RefKind)> = os
            .packages
            .iter()
            .map(|p| (p.id.as_str(), p.kind))
            .collect();
        assert_eq!(
            ids,
            [("ABC00001", RefKind::Image), ("ABC00005", RefKind::Package)]
        );
        assert_eq!(ts.steps[2].packages[0].kind, RefKind::Driver);
        assert_eq!(
            ts.steps[3].applications,
            ["ScopeId_1/Application_2", "ScopeId_1/Application_3"]
        );
        assert_eq!(
            ts.steps[4].unsupported,
            Some(Unsupported::BaseVariable("PKGS".into()))
        );
        assert_eq!(ts.steps[5].unsupported, Some(Unsupported::AutoApplyDrivers));
        assert!(ts.steps[6].packages.is_empty(), "variables are not IDs");
    }

    #[test]
    fn utf16_documents_and_errors() {
        let mut v = vec![0xFF, 0xFE];
        for u in "<sequence><step name=\"x\" type=\"t\"/></sequence>".encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(parse(&v).unwrap().steps.len(), 1);
        assert!(parse(b"<policy/>").unwrap_err().0.contains("<sequence>"));
        assert!(parse(b"<sequence>").unwrap_err().0.contains("well-formed"));
        assert!(parse(b"<!DOCTYPE x [<!ENTITY a \"b\">]><sequence/>").is_err());
    }
}
