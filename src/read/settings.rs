//! The product's settings files on a medium, read through [`Medium`]:
//! `SMS/data/TsmBootstrap.ini`, `MediaLabel.txt`, `Variables.dat` (opened
//! with the media password, else the product's default password) and
//! `Policy.xml` (the media password, else the `_SMSMediaGuid` text). Media
//! the product made are read the same way as tsmedia's own.

use std::io::Read;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use super::{path_key, Medium};
use crate::configmgr::certificate;
use crate::configmgr::envelope::{self, EnvelopeError, DEFAULT_PASSWORD};
use crate::configmgr::files::{parse_media_label, BootstrapIni};
use crate::configmgr::media_vars::MediaVars;
use crate::configmgr::policy::TaskSequencePolicy;
use crate::configmgr::{BOOTSTRAP_PATH, LABEL_PATH, POLICY_PATH, VARIABLES_PATH};

/// Largest settings file read (the product's are kilobytes; a PFX makes
/// `Variables.dat` a few more).
const MAX_SETTINGS: u64 = 16 << 20;

/// A problem found in the settings files.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SettingsProblem {
    pub path: String,
    pub expected: String,
    pub found: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct CertificateView {
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub sha1_thumbprint: Option<String>,
    pub self_signed: Option<bool>,
    /// Bytes of the PKCS#12 in `_SMSTSMediaPFX`.
    pub pfx_bytes: usize,
    /// Why the PFX could not be opened, when it could not.
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageView {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskSequenceView {
    pub id: String,
    pub name: String,
    pub advertisement_id: String,
    pub steps: Option<usize>,
    pub packages: Vec<PackageView>,
}

/// What the settings files say.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SettingsView {
    /// `[MediaInfo]` of `TsmBootstrap.ini`.
    pub media_type: Option<String>,
    pub password_required: Option<bool>,
    pub unattended: Option<bool>,
    pub media_label: Option<String>,
    /// `opened with the default password`, `opened with the media password`,
    /// `locked (give the media password)`, `missing`, or why it could not be read.
    pub variables: String,
    pub variables_cipher: Option<String>,
    pub policy: Option<String>,
    pub policy_cipher: Option<String>,
    pub media_guid: Option<String>,
    pub variables_media_type: Option<String>,
    pub standalone: Option<bool>,
    pub site_code: Option<String>,
    pub management_points: Vec<String>,
    /// `site-based` (`SMSTSMP`) or `dynamic` (`SMSTSLocationMPs`).
    pub mode: Option<String>,
    pub unknown_computer_support: Option<bool>,
    pub unknown_machine_guids: Vec<String>,
    pub user_device_affinity: Option<String>,
    pub validity_start: Option<String>,
    pub validity_expiry: Option<String>,
    pub certificate: Option<CertificateView>,
    pub root_certificates: usize,
    /// Names of every media variable (values stay on the medium: they can be secrets).
    pub variable_names: Vec<String>,
    pub task_sequence: Option<TaskSequenceView>,
    pub problems: Vec<SettingsProblem>,
}

fn read_small(m: &dyn Medium, path: &str) -> Option<std::io::Result<Vec<u8>>> {
    let key = path_key(path);
    let f = m.files().into_iter().find(|f| path_key(&f.path) == key)?;
    if f.size > MAX_SETTINGS {
        return Some(Err(std::io::Error::other(format!(
            "{} bytes is more than a settings file holds",
            f.size
        ))));
    }
    let mut b = Vec::new();
    Some(
        m.open(&f.path)
            .and_then(|r| r.take(MAX_SETTINGS).read_to_end(&mut b))
            .map(|_| b),
    )
}

fn rfc(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Reads the settings files of `m`; `password` is the media password, if known.
pub fn read(m: &dyn Medium, password: Option<&str>) -> SettingsView {
    let mut v = SettingsView::default();
    let problem = |v: &mut SettingsView, path: &str, expected: &str, found: String| {
        v.problems.push(SettingsProblem {
            path: path.into(),
            expected: expected.into(),
            found,
        })
    };

    match read_small(m, BOOTSTRAP_PATH) {
        None => problem(
            &mut v,
            BOOTSTRAP_PATH,
            "the media's TsmBootstrap.ini",
            "no such file".into(),
        ),
        Some(Err(e)) => problem(&mut v, BOOTSTRAP_PATH, "a readable file", e.to_string()),
        Some(Ok(b)) => match BootstrapIni::parse(&b) {
            Ok(ini) => {
                v.media_type = Some(ini.media_type);
                v.password_required = Some(ini.password_required);
                v.unattended = Some(ini.unattended);
            }
            Err(e) => problem(&mut v, BOOTSTRAP_PATH, "[MediaInfo] settings", e),
        },
    }
    if let Some(Ok(b)) = read_small(m, LABEL_PATH) {
        v.media_label = parse_media_label(&b);
    }

    // Variables.dat: the media password first, then the default.
    v.variables = "missing".into();
    let vars = match read_small(m, VARIABLES_PATH) {
        None => {
            problem(
                &mut v,
                VARIABLES_PATH,
                "the media variables",
                "no such file".into(),
            );
            None
        }
        Some(Err(e)) => {
            v.variables = format!("unreadable: {e}");
            problem(&mut v, VARIABLES_PATH, "a readable file", e.to_string());
            None
        }
        Some(Ok(b)) => {
            v.variables_cipher = envelope::alg_of(&b).ok().map(|a| a.name().to_string());
            let mut tries: Vec<(&str, &str)> = Vec::new();
            if let Some(p) = password {
                tries.push((p, "opened with the media password"));
            }
            tries.push((DEFAULT_PASSWORD, "opened with the default password"));
            let mut got = None;
            let mut last = EnvelopeError::WrongPassword;
            for (pw, how) in tries {
                match envelope::open(&b, pw) {
                    Ok((_, plain)) => {
                        got = Some((plain, how));
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            match got {
                Some((plain, how)) => match MediaVars::from_plaintext(&plain) {
                    Ok(vars) => {
                        v.variables = how.into();
                        Some(vars)
                    }
                    Err(e) => {
                        v.variables = format!("decrypted, but unreadable: {e}");
                        problem(&mut v, VARIABLES_PATH, "a <MediaVarList> document", e);
                        None
                    }
                },
                None => match last {
                    EnvelopeError::WrongPassword => {
                        if password.is_some() {
                            v.variables = "does not open with the password given".into();
                            problem(
                                &mut v,
                                VARIABLES_PATH,
                                "a file the media password opens",
                                "it does not decrypt with it (wrong password, or damaged)".into(),
                            );
                        } else {
                            v.variables = "locked (give the media password)".into();
                            if v.password_required == Some(false) {
                                problem(
                                    &mut v,
                                    VARIABLES_PATH,
                                    "a file the default password opens (TsmBootstrap.ini: PasswordRequired=false)",
                                    "it does not decrypt with it".into(),
                                );
                            }
                        }
                        None
                    }
                    e => {
                        v.variables = format!("unreadable: {e}");
                        problem(
                            &mut v,
                            VARIABLES_PATH,
                            "an encrypted media variables file",
                            e.to_string(),
                        );
                        None
                    }
                },
            }
        }
    };

    if let Some(vars) = &vars {
        fill_from_vars(&mut v, vars);
    }

    // Policy.xml: the media password, then the media GUID.
    if let Some(r) = read_small(m, POLICY_PATH) {
        match r {
            Err(e) => {
                v.policy = Some(format!("unreadable: {e}"));
                problem(&mut v, POLICY_PATH, "a readable file", e.to_string());
            }
            Ok(b) => {
                v.policy_cipher = envelope::alg_of(&b).ok().map(|a| a.name().to_string());
                let mut tries: Vec<(String, &str)> = Vec::new();
                if let Some(p) = password {
                    tries.push((p.to_string(), "opened with the media password"));
                }
                if let Some(g) = &v.media_guid {
                    tries.push((g.clone(), "opened with the media GUID"));
                }
                let mut opened = None;
                let mut last = EnvelopeError::WrongPassword;
                for (pw, how) in &tries {
                    match envelope::open(&b, pw) {
                        Ok((_, plain)) => {
                            opened = Some((plain, *how));
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                match opened {
                    Some((plain, how)) => match TaskSequencePolicy::from_plaintext(&plain) {
                        Ok(pol) => {
                            v.policy = Some(how.into());
                            v.task_sequence = Some(TaskSequenceView {
                                id: pol.package_id.clone(),
                                name: pol.name.clone(),
                                advertisement_id: pol.advertisement_id.clone(),
                                steps: pol.step_count().ok(),
                                packages: pol
                                    .packages
                                    .iter()
                                    .map(|p| PackageView {
                                        id: p.id.clone(),
                                        name: p.name.clone(),
                                        kind: p.kind.as_str(),
                                        path: p.path.clone(),
                                    })
                                    .collect(),
                            });
                        }
                        Err(e) => {
                            v.policy = Some(format!("decrypted, but unreadable: {e}"));
                            problem(&mut v, POLICY_PATH, "a task sequence policy", e);
                        }
                    },
                    None if matches!(last, EnvelopeError::WrongPassword) => {
                        if tries.is_empty() {
                            v.policy = Some("locked (give the media password)".into());
                        } else if password.is_some() || v.password_required == Some(false) {
                            v.policy = Some("does not open".into());
                            problem(
                                &mut v,
                                POLICY_PATH,
                                "a policy the media password or the media GUID opens",
                                "it decrypts with neither".into(),
                            );
                        } else {
                            v.policy = Some("locked (give the media password)".into());
                        }
                    }
                    None => {
                        v.policy = Some(format!("unreadable: {last}"));
                        problem(
                            &mut v,
                            POLICY_PATH,
                            "an encrypted policy file",
                            last.to_string(),
                        );
                    }
                }
            }
        }
    }
    v
}

fn fill_from_vars(v: &mut SettingsView, vars: &MediaVars) {
    let get = |n: &str| vars.get(n).map(str::to_string);
    v.variable_names = vars.vars.iter().map(|(n, _)| n.clone()).collect();
    v.media_guid = get("_SMSMediaGuid");
    v.variables_media_type = get("_SMSTSMediaType");
    v.standalone = get("_SMSTSStandAloneMedia").map(|s| s.eq_ignore_ascii_case("true"));
    v.site_code = get("_SMSTSSiteCode");
    if let Some(mp) = get("SMSTSMP").filter(|s| !s.is_empty()) {
        v.management_points = vec![mp];
        v.mode = Some("site-based".into());
    } else if let Some(mps) = get("SMSTSLocationMPs") {
        v.management_points = mps
            .split('*')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        v.mode = Some("dynamic".into());
    }
    v.unknown_machine_guids = ["_SMSTSx64UnknownMachineGUID", "_SMSTSx86UnknownMachineGUID"]
        .iter()
        .filter_map(|n| get(n))
        .filter(|s| !s.is_empty())
        .collect();
    v.unknown_computer_support = get("_SMSTSUnknownComputerSupport")
        .map(|s| s.eq_ignore_ascii_case("true"))
        .or((!v.unknown_machine_guids.is_empty()).then_some(true));
    v.user_device_affinity = get("_SMSTSUserDeviceAffinity");
    v.validity_start = get("_SMSTSMediaStart");
    v.validity_expiry = get("_SMSTSMediaExpiry");
    v.root_certificates = get("_SMSTSRootCACerts")
        .map(|s| s.split('|').filter(|x| !x.is_empty()).count())
        .unwrap_or(0);
    if let Some(hexpfx) = get("_SMSTSMediaPFX") {
        let mut c = CertificateView::default();
        match hex::decode(hexpfx.trim()) {
            Err(e) => c.unreadable = Some(format!("_SMSTSMediaPFX is not hex: {e}")),
            Ok(pfx) => {
                c.pfx_bytes = pfx.len();
                let pw = certificate::pfx_password(v.media_guid.as_deref().unwrap_or(""));
                match certificate::read_pfx(&pfx, &pw) {
                    Ok(info) => {
                        c.subject = Some(info.subject);
                        c.issuer = Some(info.issuer);
                        c.not_before = Some(rfc(info.not_before));
                        c.not_after = Some(rfc(info.not_after));
                        c.sha1_thumbprint = Some(info.sha1_thumbprint);
                        c.self_signed = Some(info.self_signed);
                    }
                    Err(e) => c.unreadable = Some(format!("{e:#}")),
                }
            }
        }
        v.certificate = Some(c);
    }
}
