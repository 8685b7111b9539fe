//! Semantic checks of a parsed profile: which keys belong to the media type,
//! whether every source exists and can be read, identifiers, dates, targets.
//! Every problem is collected (not just the first) with its JSON path, line
//! and a fix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::{InvalidProfile, LoadedProfile, MediaCertificate, MediaType, Problems, Profile};

/// Longest volume label (ISO 9660 allows 32 characters).
pub const MAX_LABEL: usize = 32;

/// Dates from the profile, parsed.
#[derive(Debug, Clone, Default)]
pub struct Dates {
    pub media_start: Option<OffsetDateTime>,
    pub media_expiry: Option<OffsetDateTime>,
    pub cert_start: Option<OffsetDateTime>,
    pub cert_expiry: Option<OffsetDateTime>,
}

/// A profile that passed every check, with the effective media type.
#[derive(Debug, Clone)]
pub struct ValidProfile {
    pub loaded: LoadedProfile,
    pub dates: Dates,
}

impl ValidProfile {
    pub fn profile(&self) -> &Profile {
        &self.loaded.profile
    }

    pub fn media_type(&self) -> MediaType {
        self.loaded.profile.media_type
    }

    /// Resolves a path from the profile against the profile's folder.
    pub fn resolve(&self, p: &str) -> PathBuf {
        resolve(&self.loaded.base_dir, p)
    }
}

pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// Which optional sections a media type accepts, and which it requires.
struct Rules {
    os_image: Allowed,
    task_sequence: Allowed,
    packages: Allowed,
    prestart: Allowed,
    site: Allowed,
    capture: Allowed,
    prestaged: Allowed,
    affinity: bool,
    validity: bool,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Allowed {
    No,
    Optional,
    Required,
}

fn rules(t: MediaType) -> Rules {
    use Allowed::*;
    match t {
        MediaType::Capture => Rules {
            os_image: No,
            task_sequence: No,
            packages: No,
            prestart: No,
            site: No,
            capture: Required,
            prestaged: No,
            affinity: false,
            validity: false,
        },
        MediaType::Bootable => Rules {
            os_image: No,
            task_sequence: No,
            packages: No,
            prestart: Optional,
            site: Required,
            capture: No,
            prestaged: No,
            affinity: true,
            validity: true,
        },
        MediaType::Prestaged => Rules {
            os_image: Required,
            task_sequence: Optional,
            packages: Optional,
            prestart: Optional,
            site: Required,
            capture: No,
            prestaged: Optional,
            affinity: true,
            validity: true,
        },
        MediaType::Standalone => Rules {
            os_image: Required,
            task_sequence: Required,
            packages: Optional,
            prestart: Optional,
            site: No,
            capture: No,
            prestaged: No,
            affinity: false,
            validity: true,
        },
    }
}

fn section(p: &mut Problems, t: MediaType, key: &str, present: bool, allowed: Allowed) {
    match (allowed, present) {
        (Allowed::No, true) => p.add(
            key,
            format!("`{key}` does not belong on {t} media"),
            format!("remove `{key}`, or change `type` to a media type that uses it"),
        ),
        (Allowed::Required, false) => p.add(
            key,
            format!("{t} media needs `{key}`"),
            format!("add `{key}`; `tsmedia profile init --type {t}` shows an example"),
        ),
        _ => {}
    }
}

/// What a path in the profile must name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    File,
    Dir,
    Either,
}

fn check_source(p: &mut Problems, base: &Path, key: &str, value: &str, want: Want) -> bool {
    if value.trim().is_empty() {
        p.add(key, "is empty", "give the path of the source");
        return false;
    }
    let path = resolve(base, value);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            p.add(
                key,
                format!("{} does not exist", path.display()),
                "correct the path (relative paths start at the profile's folder)",
            );
            return false;
        }
        Err(e) => {
            p.add(
                key,
                format!("cannot read {}: {e}", path.display()),
                "check the path and its permissions",
            );
            return false;
        }
    };
    match want {
        Want::File if !meta.is_file() => {
            p.add(
                key,
                format!("{} is a folder, not a file", path.display()),
                "point it at a file",
            );
            return false;
        }
        Want::Dir if !meta.is_dir() => {
            p.add(
                key,
                format!("{} is not a folder", path.display()),
                "point it at a folder",
            );
            return false;
        }
        _ => {}
    }
    if meta.is_file() {
        if let Err(e) = std::fs::File::open(&path) {
            p.add(
                key,
                format!("cannot read {}: {e}", path.display()),
                "check the file's permissions",
            );
            return false;
        }
    } else if let Err(e) = std::fs::read_dir(&path) {
        p.add(
            key,
            format!("cannot read folder {}: {e}", path.display()),
            "check the folder's permissions",
        );
        return false;
    }
    true
}

fn check_wim(p: &mut Problems, base: &Path, key: &str, value: &str, index: u32) {
    if !check_source(p, base, &format!("{key}.path"), value, Want::File) {
        return;
    }
    let path = resolve(base, value);
    match crate::wim::Wim::open(&path) {
        Ok(w) => {
            let count = w.image_count();
            if index == 0 || index > count {
                p.add(
                    format!("{key}.index"),
                    format!(
                        "{} has {count} image{}; there is no image {index}",
                        path.display(),
                        if count == 1 { "" } else { "s" }
                    ),
                    format!("set `index` between 1 and {count} (wimlib-imagex info shows them)"),
                );
            }
        }
        Err(e) => p.add(
            format!("{key}.path"),
            format!("{e}"),
            "point it at a valid WIM file (a truncated copy fails this way; copy it again)",
        ),
    }
}

fn check_id(p: &mut Problems, key: &str, id: &str) {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        p.add(
            key,
            format!("`{id}` is not a valid ID"),
            "use 1 to 32 characters of A-Z, 0-9, `_` and `-`, like TSM00012",
        );
    }
}

fn check_date(p: &mut Problems, key: &str, value: &str) -> Option<OffsetDateTime> {
    let d = parse_date(value);
    if d.is_none() {
        p.add(
            key,
            format!("`{value}` is not a date"),
            "write it as YYYY-MM-DD or RFC 3339 (2027-01-31T18:00:00Z)",
        );
    }
    d
}

fn check_window(
    p: &mut Problems,
    start_key: &str,
    expiry_key: &str,
    start: Option<&String>,
    expiry: Option<&String>,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let s = start.and_then(|v| check_date(p, start_key, v));
    let e = expiry.and_then(|v| check_date(p, expiry_key, v));
    if let (Some(s), Some(e)) = (s, e) {
        if e <= s {
            p.add(
                expiry_key,
                "expiry is not after start",
                "set the expiry later than the start, or swap the two dates",
            );
        }
    }
    (s, e)
}

/// Checks a medium-relative target folder like `/` or `/Tools/Scripts`.
pub fn normalize_target(target: &str) -> Result<String, &'static str> {
    let t = target.replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for comp in t.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err("escapes the medium (`..`)"),
            c if c.contains(':') => return Err("contains `:` (a drive letter?)"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Checks a loaded profile; `media_type` overrides the profile's `type`.
pub fn validate(
    mut loaded: LoadedProfile,
    media_type: Option<MediaType>,
) -> Result<ValidProfile, InvalidProfile> {
    if let Some(t) = media_type {
        loaded.profile.media_type = t;
    }
    let lines = loaded.lines.clone();
    let mut p = Problems::new(&lines);
    let base = loaded.base_dir.clone();
    let pr = &loaded.profile;
    let t = pr.media_type;
    let r = rules(t);
    let mut dates = Dates::default();

    // Label.
    let label_ok = !pr.label.is_empty()
        && pr.label.len() <= MAX_LABEL
        && pr
            .label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !label_ok {
        p.add(
            "label",
            format!("`{}` is not a usable volume label", pr.label),
            format!("use 1 to {MAX_LABEL} characters of A-Z, a-z, 0-9, `_` and `-` (no spaces)"),
        );
    }
    if let Some(name) = &pr.name {
        if name.chars().any(|c| c.is_control()) {
            p.add("name", "contains control characters", "use plain text");
        }
    }

    // Sections by media type.
    section(&mut p, t, "os_image", pr.os_image.is_some(), r.os_image);
    section(
        &mut p,
        t,
        "task_sequence",
        pr.task_sequence.is_some(),
        r.task_sequence,
    );
    section(&mut p, t, "packages", !pr.packages.is_empty(), r.packages);
    section(&mut p, t, "prestart", pr.prestart.is_some(), r.prestart);
    section(&mut p, t, "site", pr.site.is_some(), r.site);
    section(&mut p, t, "capture", pr.capture.is_some(), r.capture);
    section(&mut p, t, "prestaged", pr.prestaged.is_some(), r.prestaged);

    // Content sources.
    for (i, cs) in pr.content_sources.iter().enumerate() {
        let key = format!("content_sources[{i}]");
        match (&cs.content_library, &cs.folder) {
            (Some(lib), None) => {
                let k = format!("{key}.content_library");
                if check_source(&mut p, &base, &k, lib, Want::Dir) {
                    let root = resolve(&base, lib);
                    for sub in [
                        crate::configmgr::content_library::PKG_LIB,
                        crate::configmgr::content_library::DATA_LIB,
                        crate::configmgr::content_library::FILE_LIB,
                    ] {
                        if !root.join(sub).is_dir() {
                            p.add(
                                &k,
                                format!(
                                    "{} is not a content library: it has no {sub} folder",
                                    root.display()
                                ),
                                "point it at the SCCMContentLib folder of a distribution point (it holds PkgLib, DataLib and FileLib), or use `folder` for a folder of package folders",
                            );
                            break;
                        }
                    }
                }
            }
            (None, Some(dir)) => {
                check_source(&mut p, &base, &format!("{key}.folder"), dir, Want::Dir);
            }
            _ => p.add(
                &key,
                "must have exactly one of `content_library` and `folder`",
                "write {\"content_library\": PATH} or {\"folder\": PATH}, one per entry",
            ),
        }
    }
    let sources = !pr.content_sources.is_empty();
    let need_sources = |p: &mut Problems, key: &str, what: &str| {
        if !sources {
            p.add(
                key,
                format!("is missing, and there are no `content_sources` to take {what} from"),
                format!("give `{key}`, or add `content_sources` holding {what}"),
            );
        }
    };

    // Boot image.
    match (&pr.boot_image.path, &pr.boot_image.id) {
        (Some(path), _) => check_wim(&mut p, &base, "boot_image", path, pr.boot_image.index),
        (None, Some(id)) => {
            check_id(&mut p, "boot_image.id", id);
            need_sources(
                &mut p,
                "boot_image.path",
                &format!("boot image package {id}"),
            );
        }
        (None, None) => p.add(
            "boot_image",
            "names no boot image",
            "give `path` (a boot.wim), or `id` (a boot image package in `content_sources`)",
        ),
    }

    // Package IDs share the SMS/PKG namespace, which is case-insensitive.
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut claim_id = |p: &mut Problems, key: String, id: &str| {
        let k = id.to_ascii_uppercase();
        if let Some(first) = ids.get(&k) {
            p.add(
                key,
                format!("ID `{id}` is already used by `{first}`"),
                "give every package and the OS image its own ID",
            );
        } else {
            ids.insert(k, key);
        }
    };

    if let Some(os) = &pr.os_image {
        check_id(&mut p, "os_image.id", &os.id);
        claim_id(&mut p, "os_image.id".into(), &os.id);
        if r.os_image != Allowed::No {
            match &os.path {
                Some(path) => check_wim(&mut p, &base, "os_image", path, os.index),
                None => need_sources(
                    &mut p,
                    "os_image.path",
                    &format!("OS image package {}", os.id),
                ),
            }
        }
    }
    if let Some(ts) = &pr.task_sequence {
        check_id(&mut p, "task_sequence.id", &ts.id);
        if ts.name.trim().is_empty() {
            p.add(
                "task_sequence.name",
                "is empty",
                "give the task sequence a name",
            );
        }
        if check_source(&mut p, &base, "task_sequence.path", &ts.path, Want::File) {
            let path = resolve(&base, &ts.path);
            match std::fs::read(&path) {
                Ok(b) => {
                    let text = String::from_utf8_lossy(&b);
                    let body = text.trim_start_matches('\u{feff}').trim_start();
                    if std::str::from_utf8(&b).is_err() || !body.starts_with('<') {
                        p.add(
                            "task_sequence.path",
                            format!("{} is not a task sequence XML file", path.display()),
                            "export the task sequence as XML (UTF-8) and point `path` at it",
                        );
                    }
                }
                Err(e) => p.add(
                    "task_sequence.path",
                    format!("cannot read {}: {e}", path.display()),
                    "check the file's permissions",
                ),
            }
        }
    }
    for (i, pkg) in pr.packages.iter().enumerate() {
        let key = format!("packages[{i}]");
        check_id(&mut p, &format!("{key}.id"), &pkg.id);
        claim_id(&mut p, format!("{key}.id"), &pkg.id);
        if pkg.name.trim().is_empty() {
            p.add(format!("{key}.name"), "is empty", "give the package a name");
        }
        match &pkg.source {
            Some(src) => {
                check_source(&mut p, &base, &format!("{key}.source"), src, Want::Either);
                if pkg.content_id.is_some() {
                    p.add(
                        format!("{key}.content_id"),
                        "applies only to content taken from a content library",
                        "remove `content_id`, or remove `source` to take the content from `content_sources`",
                    );
                }
            }
            None => need_sources(
                &mut p,
                &format!("{key}.source"),
                &format!("package {}", pkg.id),
            ),
        }
        if let Some(c) = &pkg.content_id {
            if !crate::configmgr::content_library::valid_content_id(c) {
                p.add(
                    format!("{key}.content_id"),
                    format!("`{c}` is not a content ID"),
                    "use the content ID as the library names it, like TSM00012.1 or Content_<GUID>.1",
                );
            }
        }
    }
    if let Some(ps) = &pr.prestart {
        if ps.command.trim().is_empty() {
            p.add(
                "prestart.command",
                "is empty",
                "give the command line to run, or remove `prestart`",
            );
        }
        if let Some(files) = &ps.files {
            check_source(&mut p, &base, "prestart.files", files, Want::Dir);
        }
    }

    for (name, value) in &pr.variables {
        let key = format!("variables.{name}");
        let ok = !name.is_empty()
            && name.len() <= 255
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            p.add(
                &key,
                format!("`{name}` is not a valid variable name"),
                "use letters, digits and `_` only",
            );
        } else if name.starts_with('_') {
            p.add(
                &key,
                format!(
                    "`{name}` is reserved: names starting with `_` are set by the medium itself"
                ),
                "rename the variable",
            );
        }
        if value.contains('\0') {
            p.add(&key, "contains a NUL character", "remove it");
        }
    }

    if let Some(site) = &pr.site {
        if site.code.len() != 3 || !site.code.chars().all(|c| c.is_ascii_alphanumeric()) {
            p.add(
                "site.code",
                format!("`{}` is not a site code", site.code),
                "use the three-character site code, like P01",
            );
        }
        if site.management_points.is_empty() {
            p.add(
                "site.management_points",
                "lists no management point",
                "add at least one URL, like https://mp.corp.example",
            );
        }
        for (i, mp) in site.management_points.iter().enumerate() {
            let rest = mp
                .strip_prefix("https://")
                .or_else(|| mp.strip_prefix("http://"));
            if rest.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
                p.add(
                    format!("site.management_points[{i}]"),
                    format!("`{mp}` is not a management point URL"),
                    "write it as http://host or https://host",
                );
            }
        }
        for (i, c) in site.root_certificates.iter().enumerate() {
            check_source(
                &mut p,
                &base,
                &format!("site.root_certificates[{i}]"),
                c,
                Want::File,
            );
        }
        match &site.media_certificate {
            Some(MediaCertificate::Pfx(pfx)) => {
                check_source(
                    &mut p,
                    &base,
                    "site.media_certificate.pfx",
                    &pfx.pfx,
                    Want::File,
                );
                if pfx.password_env.is_empty() {
                    p.add(
                        "site.media_certificate.password_env",
                        "is empty",
                        "name the environment variable holding the PFX password",
                    );
                } else if std::env::var_os(&pfx.password_env).is_none() {
                    p.add(
                        "site.media_certificate.password_env",
                        format!("environment variable {} is not set", pfx.password_env),
                        format!(
                            "export {}=<the PFX password> before running tsmedia",
                            pfx.password_env
                        ),
                    );
                }
            }
            Some(MediaCertificate::SelfSigned(s)) => {
                let (a, b) = check_window(
                    &mut p,
                    "site.media_certificate.self_signed.start",
                    "site.media_certificate.self_signed.expiry",
                    Some(&s.self_signed.start),
                    Some(&s.self_signed.expiry),
                );
                dates.cert_start = a;
                dates.cert_expiry = b;
                if let Some(key) = &s.self_signed.key {
                    let k = "site.media_certificate.self_signed.key";
                    if check_source(&mut p, &base, k, key, Want::File) {
                        let path = resolve(&base, key);
                        let text = std::fs::read(&path).unwrap_or_default();
                        let text = String::from_utf8_lossy(&text);
                        if !(text.contains("-----BEGIN RSA PRIVATE KEY-----")
                            || text.contains("-----BEGIN PRIVATE KEY-----"))
                        {
                            p.add(
                                k,
                                format!("{} is not a PEM RSA private key", path.display()),
                                "give a PEM file (`-----BEGIN PRIVATE KEY-----`), e.g. from `openssl genrsa 2048`, or remove `key` to have a new key made",
                            );
                        }
                    }
                }
            }
            None => {}
        }
    }

    if let Some(g) = pr
        .site
        .as_ref()
        .and_then(|s| s.unknown_computer_guids.as_ref())
    {
        for (arch, v) in [("x64", &g.x64), ("x86", &g.x86)] {
            if let Some(v) = v {
                if !is_guid(v) {
                    p.add(
                        format!("site.unknown_computer_guids.{arch}"),
                        format!("`{v}` is not a GUID"),
                        "copy the GUID of the site's unknown computer object, like 6b2a1c9e-0d4f-4a53-9e3e-1c2d3e4f5a6b (braces optional)",
                    );
                }
            }
        }
        if pr.media.unknown_computer_support == Some(false) {
            p.add(
                "site.unknown_computer_guids",
                "the media do not support unknown computers (`media.unknown_computer_support` is false)",
                "remove `unknown_computer_guids`, or set `media.unknown_computer_support` to true",
            );
        }
    }

    let m = &pr.media;
    if !r.affinity {
        if m.unknown_computer_support.is_some() {
            p.add(
                "media.unknown_computer_support",
                format!("does not apply to {t} media"),
                "remove it (only bootable and prestaged media contact a site)",
            );
        }
        if m.user_device_affinity.is_some() {
            p.add(
                "media.user_device_affinity",
                format!("does not apply to {t} media"),
                "remove it (only bootable and prestaged media contact a site)",
            );
        }
    }
    if !r.validity && (m.start.is_some() || m.expiry.is_some()) {
        let k = if m.start.is_some() {
            "media.start"
        } else {
            "media.expiry"
        };
        p.add(
            k,
            format!("{t} media has no validity window"),
            "remove `start` and `expiry`",
        );
    } else {
        let (a, b) = check_window(
            &mut p,
            "media.start",
            "media.expiry",
            m.start.as_ref(),
            m.expiry.as_ref(),
        );
        dates.media_start = a;
        dates.media_expiry = b;
    }

    if m.encrypt_content && !m.password_protected {
        p.add(
            "media.encrypt_content",
            "encrypting the content needs a password",
            "set `media.password_protected: true`, or give `--password-file`/`--password-env` to `create`",
        );
    }
    if let Some(dir) = &pr.client_binaries {
        check_source(&mut p, &base, "client_binaries", dir, Want::Dir);
    }

    if let Some(c) = &pr.capture {
        if c.destination.trim().is_empty() {
            p.add(
                "capture.destination",
                "is empty",
                "give the path or share the captured WIM goes to, like \\\\server\\captures\\ref.wim",
            );
        }
        if c.image_name.trim().is_empty() {
            p.add("capture.image_name", "is empty", "name the captured image");
        }
        for (k, v) in [
            ("capture.username_variable", &c.username_variable),
            ("capture.password_variable", &c.password_variable),
        ] {
            if let Some(v) = v {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    p.add(
                        k,
                        format!("`{v}` is not a variable name"),
                        "name the variable (letters, digits, `_`) that holds the value; never the value itself",
                    );
                }
            }
        }
    }
    if let Some(info) = &pr.prestaged {
        for (k, v, max) in [
            ("prestaged.created_by", &info.created_by, 50),
            ("prestaged.version", &info.version, 32),
            ("prestaged.comment", &info.comment, 127),
        ] {
            if let Some(v) = v {
                let n = v.chars().count();
                if n > max {
                    p.add(
                        k,
                        format!("is {n} characters long; at most {max} fit"),
                        "shorten it",
                    );
                }
            }
        }
    }

    for (i, x) in pr.extra_files.iter().enumerate() {
        check_source(
            &mut p,
            &base,
            &format!("extra_files[{i}].source"),
            &x.source,
            Want::Either,
        );
        if let Err(why) = normalize_target(&x.target) {
            p.add(
                format!("extra_files[{i}].target"),
                format!("`{}` {why}", x.target),
                "use a folder on the medium such as `/` or `/Tools`",
            );
        }
    }

    if p.is_empty() {
        Ok(ValidProfile { loaded, dates })
    } else {
        Err(InvalidProfile {
            file: loaded.file.clone(),
            problems: p.into_vec(),
        })
    }
}

/// A GUID as text: 32 hex digits in 8-4-4-4-12 groups, braces optional.
fn is_guid(s: &str) -> bool {
    let s = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(normalize_target("/").unwrap(), "");
        assert_eq!(normalize_target("\\Tools\\x\\").unwrap(), "Tools/x");
        assert!(normalize_target("/a/../../b").is_err());
        assert!(normalize_target("C:/x").is_err());
    }

    #[test]
    fn dates() {
        assert!(parse_date("2026-01-31").is_some());
        assert!(parse_date("2026-01-31T10:00:00Z").is_some());
        assert!(parse_date("31/01/2026").is_none());
        assert!(parse_date("2026-02-30").is_none());
    }
}
