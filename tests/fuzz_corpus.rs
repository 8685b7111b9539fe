//! Replays the fuzz corpora and kept findings through the fuzz entry points,
//! then runs a bounded, seeded mutation of each seed: a small fuzzer that
//! runs in every CI run. A panic anywhere fails the test.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tsmedia::fuzz_targets;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("profile", fuzz_targets::profile),
    ("decrypt", fuzz_targets::decrypt),
    ("key_header", fuzz_targets::key_header),
    ("manifest", fuzz_targets::manifest),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Seeds made in memory: an encrypted file under the key the decrypt target uses.
fn generated_seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "decrypt" => {
            let key = zeroize::Zeroizing::new([0x42u8; 32]);
            [0usize, 10, 70_000]
                .iter()
                .map(|&n| {
                    let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
                    let mut r = tsmedia::crypto::stream::EncryptReader::new(
                        Box::new(std::io::Cursor::new(data)),
                        &key,
                        tsmedia::crypto::stream::FileParams::random(),
                        "SMS/PKG/FUZZ/file.bin",
                        n as u64,
                        Arc::new(OnceLock::new()),
                    );
                    let mut out = Vec::new();
                    r.read_to_end(&mut out).unwrap();
                    out
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => {
                let n = rng.below(v.len() + 1);
                v.truncate(n);
            }
            3 => {
                let i = rng.below(v.len() + 1);
                let b = [b'{', b'}', b'"', b'[', b']', b',', b':', 0, 0xff, b'\\'][rng.below(10)];
                v.insert(i, b);
            }
            _ if v.len() > 1 => {
                let a = rng.below(v.len());
                let b = rng.below(v.len());
                v.swap(a, b);
            }
            _ => {}
        }
    }
    v
}

#[test]
fn corpora_and_findings_replay_without_panics() {
    for (name, f) in TARGETS {
        let mut n = 0;
        for dir in ["fuzz/corpus", "fuzz/regressions"] {
            for p in files(&root().join(dir).join(name)) {
                let data = std::fs::read(&p).unwrap();
                f(&data);
                n += 1;
            }
        }
        assert!(
            n > 0 || name == "manifest" || name == "decrypt",
            "{name}: the corpus is empty"
        );
    }
}

#[test]
fn seeded_mutations_never_panic() {
    let rounds: usize = std::env::var("TSMEDIA_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for (name, f) in TARGETS {
        let mut seeds: Vec<Vec<u8>> = files(&root().join("fuzz/corpus").join(name))
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        seeds.extend(generated_seeds(name));
        if seeds.is_empty() {
            continue;
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
        for _ in 0..rounds {
            let s = &seeds[rng.below(seeds.len())];
            let m = mutate(&mut rng, s);
            f(&m);
        }
    }
}
