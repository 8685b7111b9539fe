//! Replays the fuzz corpora and kept findings through the fuzz entry points,
//! then runs a bounded, seeded mutation of each seed: a small fuzzer that
//! runs in every CI run. A panic anywhere fails the test.

use std::io::Read;
use std::path::{Path, PathBuf};

use tsmedia::fuzz_targets;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 12] = [
    ("profile", fuzz_targets::profile),
    ("decrypt", fuzz_targets::decrypt),
    ("key_header", fuzz_targets::key_header),
    ("manifest", fuzz_targets::manifest),
    ("iso", fuzz_targets::iso),
    ("disk", fuzz_targets::disk),
    ("task_sequence", fuzz_targets::task_sequence),
    ("content_library_ini", fuzz_targets::content_library_ini),
    ("authenticode", fuzz_targets::authenticode),
    ("fat", fuzz_targets::fat),
    ("media_pfx", fuzz_targets::media_pfx),
    ("settings", fuzz_targets::settings),
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
                    );
                    let mut out = Vec::new();
                    r.read_to_end(&mut out).unwrap();
                    out
                })
                .collect()
        }
        "media_pfx" => {
            // A fresh media PFX under the password the target uses.
            let t = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
            let req = tsmedia::configmgr::certificate::SelfSignedRequest {
                subject_cn: "fuzz",
                site_code: Some("FZZ"),
                media_guid: "{00000000-0000-0000-0000-000000000000}",
                not_before: t,
                not_after: t + time::Duration::days(1),
                key_pem: None,
            };
            vec![
                tsmedia::configmgr::certificate::self_signed(&req, "fuzz")
                    .unwrap()
                    .pfx,
            ]
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
        if name == "iso" || name == "disk" {
            continue; // whole images: see the tests below
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
        for _ in 0..rounds {
            let s = &seeds[rng.below(seeds.len())];
            let m = mutate(&mut rng, s);
            f(&m);
        }
    }
}

/// Builds a small medium with the tsmedia binary (the fixtures must exist).
fn build_medium(format: &str, out: &Path) {
    let fx = root().join("fixtures/make-fixtures.sh");
    let ok = std::process::Command::new("bash")
        .arg(&fx)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "fixtures");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tsmedia"))
        .current_dir(root())
        .args([
            "-q",
            "create",
            "--profile",
            "examples/capture.json",
            "--format",
            format,
            "--output",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Seeded damage to the metadata areas of real images never panics the readers.
#[test]
fn damaged_images_never_panic_the_readers() {
    let rounds: usize = std::env::var("TSMEDIA_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
        / 10;
    let dir = tempfile::tempdir().unwrap();
    // ISO: damage anywhere in the first 64 sectors and the directory area.
    let iso = dir.path().join("m.iso");
    build_medium("iso", &iso);
    let seed = std::fs::read(&iso).unwrap();
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..rounds {
        let mut v = seed.clone();
        for _ in 0..=rng.below(8) {
            let at = rng.below((v.len()).min(600 * 2048));
            v[at] ^= 1 << rng.below(8);
        }
        if rng.below(10) == 0 {
            let n = rng.below(v.len());
            v.truncate(n);
        }
        fuzz_targets::iso(&v);
    }
    // USB: damage the partition table, boot sectors, FATs and directories
    // of a copy, in place (the image is large and sparse).
    let img = dir.path().join("m.img");
    build_medium("usb-image", &img);
    let work = dir.path().join("w.img");
    std::fs::copy(&img, &work).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&work)
        .unwrap();
    use std::os::unix::fs::FileExt;
    for _ in 0..rounds {
        let mut saved = Vec::new();
        for _ in 0..=rng.below(6) {
            let at = match rng.below(3) {
                0 => rng.below(4096) as u64,
                1 => (1 << 20) + rng.below(64 * 1024) as u64,
                _ => (1 << 20) + rng.below(3 << 20) as u64,
            };
            let mut b = [0u8; 1];
            f.read_exact_at(&mut b, at).unwrap();
            saved.push((at, b[0]));
            f.write_all_at(&[b[0] ^ (1 << rng.below(8))], at).unwrap();
        }
        if let Ok(m) = tsmedia::read::disk::DiskMedium::open(&work) {
            let _ = tsmedia::read::Medium::check(&m);
            for file in tsmedia::read::Medium::files(&m).into_iter().take(50) {
                if let Ok(mut r) = tsmedia::read::Medium::open(&m, &file.path) {
                    let _ = std::io::copy(&mut r.by_ref().take(1 << 20), &mut std::io::sink());
                }
            }
        }
        for (at, b) in saved.into_iter().rev() {
            f.write_all_at(&[b], at).unwrap();
        }
    }
}
