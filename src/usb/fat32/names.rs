//! File names on FAT: which long names FAT can hold, and the short (8.3)
//! name each entry of a directory gets.
//!
//! Short names follow Windows: a name that already is a valid 8.3 name in one
//! case per part (`setup.cmd`, `BOOT`, `bcd`) is stored as is, with the NT
//! case flags saying which parts are lower case, and needs no long name. A
//! name that fits 8.3 but mixes case (`Setup.cmd`) gets its upper-case form
//! plus a long name. Any other name (too long, or changed by the conversion:
//! spaces, extra dots, characters 8.3 names cannot hold) gets a numeric tail:
//! the first up-to-six characters, `~N`, and the first three characters of
//! the extension (`Program Files` -> `PROGRA~1`), plus a long name.
//!
//! Tails are handed out per (basis, extension) from a counter, and taken
//! names are kept in a hash set, so a directory of n names costs O(n) even
//! when all of them share a prefix (`file-00001.bin` ... `file-10000.bin`).

use std::collections::{HashMap, HashSet};

use super::disk::{CASE_LOWER_BASE, CASE_LOWER_EXT};

/// Longest long name, in UTF-16 units.
pub const MAX_LONG_NAME: usize = 255;

/// Why a name cannot be a FAT file name (checked at plan time).
pub fn invalid_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| (c as u32) < 0x20 || "\"*/:<>?\\|\u{7f}".contains(c))
    {
        return Some(format!(
            "the name holds {c:?}, which FAT file names cannot contain"
        ));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("the name ends with a dot or a space, which Windows cannot open".into());
    }
    let units = name.encode_utf16().count();
    if units > MAX_LONG_NAME {
        return Some(format!(
            "the name is {units} characters long; FAT allows at most {MAX_LONG_NAME}"
        ));
    }
    None
}

/// The names one directory entry gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Upper-case 8.3 name, space padded (8 + 3).
    pub short: [u8; 11],
    /// NT case flags for the short name.
    pub case: u8,
    /// The long name (UTF-16), when the short name alone cannot show the name.
    pub long: Option<Vec<u16>>,
}

impl Names {
    /// Directory entries these names take (long-name entries + the short one).
    pub fn entry_count(&self) -> usize {
        1 + self
            .long
            .as_ref()
            .map_or(0, |l| super::disk::lfn_count(l.len()))
    }
}

fn short_char_ok(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || b"$%'-_@~`!(){}^#&".contains(&c)
}

/// A name converted toward 8.3.
struct Basis {
    base: Vec<u8>,
    ext: Vec<u8>,
    /// The conversion dropped or replaced something (not just case).
    lossy: bool,
    /// Both parts fit 8.3 without truncation.
    fits: bool,
    /// Case flags, or `None` when a part mixes upper and lower case.
    case: Option<u8>,
}

fn convert(part: &str, lossy: &mut bool) -> (Vec<u8>, Option<bool>) {
    // Returns the upper-cased bytes and whether the letters were all lower
    // (Some(true)), all upper (Some(false)) or mixed (None).
    let mut out = Vec::with_capacity(part.len());
    let (mut lower, mut upper) = (false, false);
    for c in part.chars() {
        if c == ' ' || c == '.' {
            *lossy = true;
            continue;
        }
        if !c.is_ascii() {
            *lossy = true;
            out.push(b'_');
            continue;
        }
        let b = c as u8;
        if b.is_ascii_lowercase() {
            lower = true;
            out.push(b.to_ascii_uppercase());
        } else if short_char_ok(b) {
            upper |= b.is_ascii_uppercase();
            out.push(b);
        } else {
            *lossy = true;
            out.push(b'_');
        }
    }
    let case = match (lower, upper) {
        (true, true) => None,
        (true, false) => Some(true),
        _ => Some(false),
    };
    (out, case)
}

fn basis(name: &str) -> Basis {
    let mut lossy = false;
    let trimmed = name.trim_start_matches('.');
    if trimmed.len() != name.len() {
        lossy = true;
    }
    let (b, e) = match trimmed.rfind('.') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (trimmed, ""),
    };
    let (mut base, bcase) = convert(b, &mut lossy);
    let (ext, ecase) = convert(e, &mut lossy);
    if base.is_empty() {
        base.push(b'_');
        lossy = true;
    }
    let fits = base.len() <= 8 && ext.len() <= 3;
    let case = match (bcase, ecase) {
        (Some(b), Some(e)) => {
            Some(if b { CASE_LOWER_BASE } else { 0 } | if e { CASE_LOWER_EXT } else { 0 })
        }
        _ => None,
    };
    Basis {
        base,
        ext,
        lossy,
        fits,
        case,
    }
}

fn pack(base: &[u8], ext: &[u8]) -> [u8; 11] {
    let mut s = [b' '; 11];
    s[..base.len().min(8)].copy_from_slice(&base[..base.len().min(8)]);
    s[8..8 + ext.len().min(3)].copy_from_slice(&ext[..ext.len().min(3)]);
    s
}

/// Gives every name of one directory its short name and long name. `names`
/// must be unique ignoring case (the plan guarantees it). The result is in
/// the same order.
pub fn assign(names: &[&str]) -> Vec<Names> {
    let bases: Vec<Basis> = names.iter().map(|n| basis(n)).collect();
    let mut used: HashSet<[u8; 11]> = HashSet::with_capacity(names.len());
    let mut out: Vec<Option<Names>> = vec![None; names.len()];
    // First the names that are their own short name, so generated tails
    // never take one of them.
    for (i, b) in bases.iter().enumerate() {
        if b.lossy || !b.fits {
            continue;
        }
        let short = pack(&b.base, &b.ext);
        if !used.insert(short) {
            continue;
        }
        out[i] = Some(match b.case {
            Some(case) => Names {
                short,
                case,
                long: None,
            },
            None => Names {
                short,
                case: 0,
                long: Some(names[i].encode_utf16().collect()),
            },
        });
    }
    // Then numeric tails, from a counter per (six-character basis, extension).
    let mut next: HashMap<[u8; 11], u32> = HashMap::new();
    for (i, b) in bases.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let key = pack(&b.base[..b.base.len().min(6)], &b.ext);
        let n = next.entry(key).or_insert(1);
        let short = loop {
            let tail = format!("~{n}");
            *n += 1;
            let keep = b.base.len().min(8 - tail.len());
            let mut base = b.base[..keep].to_vec();
            base.extend_from_slice(tail.as_bytes());
            let cand = pack(&base, &b.ext);
            if used.insert(cand) {
                break cand;
            }
        };
        out[i] = Some(Names {
            short,
            case: 0,
            long: Some(names[i].encode_utf16().collect()),
        });
    }
    out.into_iter()
        .map(|n| n.expect("every name assigned"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(n: &Names) -> String {
        String::from_utf8_lossy(&n.short).into_owned()
    }

    #[test]
    fn plain_83_names_need_no_long_name() {
        let r = assign(&["setup.cmd", "BOOT", "bcd", "Boot.ini", "README.txt"]);
        assert_eq!(short(&r[0]), "SETUP   CMD");
        assert_eq!(r[0].case, CASE_LOWER_BASE | CASE_LOWER_EXT);
        assert!(r[0].long.is_none());
        assert_eq!(short(&r[1]), "BOOT       ");
        assert_eq!(r[1].case, 0);
        assert!(r[2].long.is_none());
        assert_eq!(r[2].case, CASE_LOWER_BASE);
        // Mixed case in one part: upper-case short name plus a long name.
        assert_eq!(short(&r[3]), "BOOT    INI");
        assert!(r[3].long.is_some());
        // Upper base, lower extension: flags say so.
        assert_eq!(r[4].case, CASE_LOWER_EXT);
        assert!(r[4].long.is_none());
    }

    #[test]
    fn tails_count_up_and_shrink_the_base() {
        let names: Vec<String> = (1..=120).map(|i| format!("file-{i:05}.bin")).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let r = assign(&refs);
        assert_eq!(short(&r[0]), "FILE-0~1BIN");
        assert_eq!(short(&r[9]), "FILE-~10BIN");
        assert_eq!(short(&r[99]), "FILE~100BIN");
        let set: HashSet<_> = r.iter().map(|n| n.short).collect();
        assert_eq!(set.len(), r.len());
        assert!(r.iter().all(|n| n.long.is_some()));
    }

    #[test]
    fn lossy_names_get_tails() {
        let r = assign(&[
            "Program Files",
            "a.b.c",
            ".hidden",
            "Überprüfung – Ünïcode.txt",
            "x+y.txt",
            "PROGRA~1",
        ]);
        // PROGRA~1 is a real name, so the generated one moves on to ~2.
        assert_eq!(short(&r[5]), "PROGRA~1   ");
        assert_eq!(short(&r[0]), "PROGRA~2   ");
        assert_eq!(short(&r[1]), "AB~1    C  ");
        assert_eq!(short(&r[2]), "HIDDEN~1   ");
        assert_eq!(short(&r[3]), "_BERPR~1TXT");
        assert_eq!(short(&r[4]), "X_Y~1   TXT");
        assert!(r[..5].iter().all(|n| n.long.is_some()));
    }

    #[test]
    fn ten_thousand_names_are_fast_and_unique() {
        let names: Vec<String> = (0..10_000)
            .map(|i| format!("same-prefix-{i}.dat"))
            .collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let t = std::time::Instant::now();
        let r = assign(&refs);
        assert!(t.elapsed().as_millis() < 2000);
        let set: HashSet<_> = r.iter().map(|n| n.short).collect();
        assert_eq!(set.len(), 10_000);
    }

    #[test]
    fn invalid_names() {
        assert!(invalid_name("a:b").is_some());
        assert!(invalid_name("trailing.").is_some());
        assert!(invalid_name(&"x".repeat(256)).is_some());
        assert!(invalid_name("fine name.txt").is_none());
    }
}
