//! Names in the three trees of the image:
//! * ISO 9660 (primary): d-characters (`A-Z 0-9 _`), at most 30 characters
//!   for files (`NAME.EXT;1`) and 31 for folders, made unique per folder;
//! * Joliet: UCS-2, cut at 64 characters as the Joliet specification
//!   allows, keeping the extension, made unique per folder;
//! * UDF: the full name (up to 255 bytes of OSTA compressed Unicode),
//!   which is what Windows reads.

use std::collections::HashSet;

/// Characters a Joliet name keeps.
pub const JOLIET_MAX: usize = 64;
/// Characters of an ISO 9660 file identifier without its `;1`.
const ISO_FILE_MAX: usize = 30;
const ISO_DIR_MAX: usize = 31;
const ISO_EXT_MAX: usize = 8;

fn d_char(c: char) -> char {
    let u = c.to_ascii_uppercase();
    if u.is_ascii_uppercase() || u.is_ascii_digit() || u == '_' {
        u
    } else {
        '_'
    }
}

fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i + 1 < name.len() => (&name[..i], &name[i + 1..]),
        Some(i) => (&name[..i], ""),
        None => (name, ""),
    }
}

/// Makes `stem` unique in `taken` by replacing its end with `~N`, keeping
/// the stem within `max` units (`len` counts units).
fn unique<F: Fn(&str) -> String>(
    stem: &[char],
    max: usize,
    taken: &mut HashSet<String>,
    full: F,
) -> String {
    let first: String = stem.iter().take(max).collect();
    let name = full(&first);
    if taken.insert(name.to_uppercase()) {
        return name;
    }
    for n in 1u64.. {
        let suffix = format!("~{n}");
        let keep = max.saturating_sub(suffix.chars().count());
        let s: String = stem.iter().take(keep).collect::<String>() + &suffix;
        let name = full(&s);
        if taken.insert(name.to_uppercase()) {
            return name;
        }
    }
    unreachable!("a free suffix always exists")
}

/// ISO 9660 identifiers for the children of one folder, in the order given.
/// Files get `NAME.EXT;1`, folders `NAME`.
pub fn iso_names(children: &[(&str, bool)]) -> Vec<Vec<u8>> {
    let mut taken = HashSet::new();
    children
        .iter()
        .map(|&(name, is_dir)| {
            if is_dir {
                let stem: Vec<char> = name.chars().map(d_char).collect();
                let stem = if stem.is_empty() { vec!['_'] } else { stem };
                unique(&stem, ISO_DIR_MAX, &mut taken, |s| s.to_string()).into_bytes()
            } else {
                let (stem, ext) = split_ext(name);
                let ext: String = ext.chars().map(d_char).take(ISO_EXT_MAX).collect();
                let stem: Vec<char> = stem.chars().map(d_char).collect();
                let max = ISO_FILE_MAX - 1 - ext.len();
                let mut id = unique(&stem, max, &mut taken, |s| format!("{s}.{ext}"));
                id.push_str(";1");
                id.into_bytes()
            }
        })
        .collect()
}

fn joliet_char(c: char) -> char {
    match c {
        '\0'..='\u{1f}' | '*' | '/' | ':' | ';' | '?' | '\\' => '_',
        c => c,
    }
}

/// UTF-16 units of a string.
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Joliet identifiers (UCS-2 big-endian bytes) for the children of one
/// folder, in the order given; names longer than 64 characters are cut,
/// keeping their extension.
pub fn joliet_names(children: &[(&str, bool)]) -> Vec<Vec<u8>> {
    let mut taken = HashSet::new();
    children
        .iter()
        .map(|&(name, is_dir)| {
            let mapped: String = name.chars().map(joliet_char).collect();
            let (stem, ext) = if is_dir {
                (mapped.as_str(), "")
            } else {
                let (s, e) = split_ext(&mapped);
                if units(e) < 16 && !e.is_empty() {
                    (s, e)
                } else {
                    (mapped.as_str(), "")
                }
            };
            let ext_units = if ext.is_empty() { 0 } else { units(ext) + 1 };
            // Cut by characters, counting the units each takes.
            let stem_chars: Vec<char> = stem.chars().collect();
            let budget = JOLIET_MAX - ext_units;
            let mut fit = 0;
            let mut used = 0;
            for c in &stem_chars {
                if used + c.len_utf16() > budget {
                    break;
                }
                used += c.len_utf16();
                fit += 1;
            }
            let extra = used - fit; // surrogate pairs count twice
            let max = fit.min(budget.saturating_sub(extra));
            let full = |s: &str| {
                if ext.is_empty() {
                    s.to_string()
                } else {
                    format!("{s}.{ext}")
                }
            };
            let name = if fit == stem_chars.len() && taken.insert(full(stem).to_uppercase()) {
                full(stem)
            } else {
                unique(&stem_chars, max, &mut taken, full)
            };
            name.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
        })
        .collect()
}

/// The ISO 9660 volume identifier (d-characters, 32 at most).
pub fn iso_volume_id(label: &str) -> String {
    label.chars().map(d_char).take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> String {
        String::from_utf8(v.to_vec()).unwrap()
    }

    fn j(v: &[u8]) -> String {
        let u: Vec<u16> = v
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        String::from_utf16(&u).unwrap()
    }

    #[test]
    fn iso_names_are_d_characters_and_unique() {
        let n = iso_names(&[
            ("a-b.txt", false),
            ("a_b.txt", false),
            ("Über Ordner", true),
            ("noext", false),
            (&"x".repeat(200), false),
        ]);
        assert_eq!(s(&n[0]), "A_B.TXT;1");
        assert_eq!(s(&n[1]), "A_B~1.TXT;1");
        assert_eq!(s(&n[2]), "_BER_ORDNER");
        assert_eq!(s(&n[3]), "NOEXT.;1");
        assert_eq!(n[4].len(), 30 + 2);
    }

    #[test]
    fn joliet_cuts_at_64_and_keeps_the_extension() {
        let long = format!("{}.txt", "é".repeat(100));
        let long2 = format!("{}X.txt", "é".repeat(99));
        let n = joliet_names(&[(&long, false), (&long2, false), ("a:b", false)]);
        let a = j(&n[0]);
        let b = j(&n[1]);
        assert_eq!(a.encode_utf16().count(), 64);
        assert!(a.ends_with(".txt"));
        assert_ne!(a, b);
        assert!(b.ends_with("~1.txt"), "{b}");
        assert_eq!(j(&n[2]), "a_b");
    }

    #[test]
    fn joliet_never_splits_a_surrogate_pair() {
        let name = "😀".repeat(40);
        let n = joliet_names(&[(&name, true)]);
        let back = j(&n[0]);
        assert_eq!(back, "😀".repeat(32));
    }
}
