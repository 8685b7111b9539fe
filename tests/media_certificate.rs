//! The media certificate, checked with tools nobody here wrote: OpenSSL
//! (`openssl pkcs12`, `openssl x509`) and Python `cryptography`.

mod common;

use std::path::Path;
use std::process::Command;

use time::macros::datetime;
use time::OffsetDateTime;
use tsmedia::configmgr::certificate::{
    import_pfx, pfx_password, read_pfx, self_signed, MediaCertificate, SelfSignedRequest,
};

const GUID: &str = "{8D2C7DC2-2A47-4A4C-9D6A-0B7E1F3C5A11}";
const NOT_BEFORE: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);
// After 2049: GeneralizedTime (RFC 5280 4.1.2.5); the start is a UTCTime.
const NOT_AFTER: OffsetDateTime = datetime!(2050-06-30 12:34:56 UTC);

fn request(key_pem: Option<&[u8]>) -> SelfSignedRequest<'_> {
    SelfSignedRequest {
        subject_cn: "tsmedia media certificate",
        site_code: Some("PS1"),
        media_guid: GUID,
        not_before: NOT_BEFORE,
        not_after: NOT_AFTER,
        key_pem,
    }
}

fn have_openssl() -> bool {
    common::have_tool("openssl", "openssl")
}

fn have_python_cryptography() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import cryptography.hazmat.primitives.serialization.pkcs12",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("python3 cryptography is missing: install the Debian package python3-cryptography (CI=true requires it)");
        }
        eprintln!(
            "SKIPPED: python3 cryptography not installed (Debian package python3-cryptography)"
        );
    }
    ok
}

/// Runs openssl; panics with its stderr on failure.
fn openssl(args: &[&str]) -> Vec<u8> {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn openssl_fails(args: &[&str]) -> String {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(
        !o.status.success(),
        "openssl {args:?} unexpectedly succeeded"
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap()
}

/// A new RSA 2048 key as PEM: PKCS #8 (`openssl genrsa` of OpenSSL 3) or
/// PKCS #1 (`-traditional`).
fn openssl_key(dir: &Path, name: &str, pkcs1: bool) -> Vec<u8> {
    let p = dir.join(name);
    let mut args = vec!["genrsa", "-out", s(&p)];
    if pkcs1 {
        args.push("-traditional");
    }
    args.push("2048");
    openssl(&args);
    std::fs::read(&p).unwrap()
}

/// The certificate and key openssl takes out of a PFX, as DER.
fn openssl_unpack(dir: &Path, pfx: &[u8], password: &str) -> (Vec<u8>, Vec<u8>) {
    let f = dir.join("unpack.pfx");
    std::fs::write(&f, pfx).unwrap();
    let pass = format!("pass:{password}");
    let cert_pem = dir.join("unpack-cert.pem");
    openssl(&[
        "pkcs12",
        "-in",
        s(&f),
        "-passin",
        &pass,
        "-nokeys",
        "-clcerts",
        "-out",
        s(&cert_pem),
    ]);
    let cert = openssl(&["x509", "-in", s(&cert_pem), "-outform", "DER"]);
    let key_pem = dir.join("unpack-key.pem");
    openssl(&[
        "pkcs12",
        "-in",
        s(&f),
        "-passin",
        &pass,
        "-nocerts",
        "-nodes",
        "-out",
        s(&key_pem),
    ]);
    let key = openssl(&["pkey", "-in", s(&key_pem), "-outform", "DER"]);
    (cert, key)
}

fn pem_key_der(dir: &Path, pem: &[u8]) -> Vec<u8> {
    let p = dir.join("key-in.pem");
    std::fs::write(&p, pem).unwrap();
    openssl(&["pkey", "-in", s(&p), "-outform", "DER"])
}

#[test]
fn openssl_opens_the_pfx_with_the_guid_password_and_shows_the_requested_certificate() {
    if !have_openssl() {
        return;
    }
    let dir = common::scratch("media-cert-openssl");
    let pw = pfx_password(GUID);
    assert_eq!(pw, "{8D2C7DC2-2A47-4A4C-9D6A-0B7E1F");
    let mc = self_signed(&request(None), &pw).unwrap();
    let pfx = dir.path().join("media.pfx");
    std::fs::write(&pfx, &mc.pfx).unwrap();
    let pass = format!("pass:{pw}");

    // The encryption and MAC chosen (docs/media-certificate.md).
    let info = String::from_utf8_lossy(
        &Command::new("openssl")
            .args([
                "pkcs12",
                "-in",
                s(&pfx),
                "-passin",
                &pass,
                "-info",
                "-noout",
            ])
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(info.contains("MAC: sha256, Iteration 2048"), "{info}");
    assert!(
        info.contains(
            "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"
        ),
        "{info}"
    );
    assert!(
        info.contains(
            "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"
        ),
        "{info}"
    );

    let (cert_der, key_der) = openssl_unpack(dir.path(), &mc.pfx, &pw);
    assert_eq!(cert_der, mc.der, "the PFX holds the certificate returned");
    let cer = dir.path().join("media.cer");
    std::fs::write(&cer, &mc.der).unwrap();
    let dates = text(openssl(&[
        "x509",
        "-in",
        s(&cer),
        "-inform",
        "DER",
        "-noout",
        "-dates",
    ]));
    assert_eq!(
        dates,
        "notBefore=Jan  1 00:00:00 2026 GMT\nnotAfter=Jun 30 12:34:56 2050 GMT\n"
    );
    let subject = text(openssl(&[
        "x509",
        "-in",
        s(&cer),
        "-inform",
        "DER",
        "-noout",
        "-subject",
    ]));
    assert_eq!(
        subject,
        format!("subject=OU = Site PS1, OU = Media {GUID}, CN = tsmedia media certificate\n")
    );
    let t = text(openssl(&[
        "x509",
        "-in",
        s(&cer),
        "-inform",
        "DER",
        "-noout",
        "-text",
    ]));
    for want in [
        "Public-Key: (2048 bit)",
        "Signature Algorithm: sha256WithRSAEncryption",
        "X509v3 Extended Key Usage: \n                TLS Web Client Authentication",
        "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment",
        "X509v3 Basic Constraints: critical\n                CA:FALSE",
        "Exponent: 65537",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    // The certificate verifies under its own key (self-signed).
    let cert_pem = dir.path().join("media.pem");
    openssl(&[
        "x509",
        "-in",
        s(&cer),
        "-inform",
        "DER",
        "-out",
        s(&cert_pem),
    ]);
    openssl(&["verify", "-CAfile", s(&cert_pem), s(&cert_pem)]);

    // The private key belongs to the certificate.
    let key = dir.path().join("key.der");
    std::fs::write(&key, &key_der).unwrap();
    let m1 = openssl(&[
        "x509",
        "-in",
        s(&cer),
        "-inform",
        "DER",
        "-noout",
        "-modulus",
    ]);
    let m2 = openssl(&[
        "rsa",
        "-in",
        s(&key),
        "-inform",
        "DER",
        "-noout",
        "-modulus",
    ]);
    assert_eq!(m1, m2);

    // A wrong password fails.
    let e = openssl_fails(&[
        "pkcs12",
        "-in",
        s(&pfx),
        "-passin",
        "pass:{8D2C7DC2-2A47-4A4C-9D6A-0B7E1",
        "-nokeys",
    ]);
    assert!(
        e.contains("Mac verify error") || e.contains("invalid password"),
        "{e}"
    );
    let e = read_pfx(&mc.pfx, "wrong").unwrap_err().to_string();
    assert!(e.contains("wrong password"), "{e}");
    let e = import_pfx(&mc.pfx, "wrong", "x").err().unwrap().to_string();
    assert!(e.contains("wrong password"), "{e}");
}

#[test]
fn python_cryptography_opens_the_pfx() {
    if !have_python_cryptography() {
        return;
    }
    let dir = common::scratch("media-cert-python");
    let pw = pfx_password(GUID);
    let mc = self_signed(&request(None), &pw).unwrap();
    let pfx = dir.path().join("media.pfx");
    std::fs::write(&pfx, &mc.pfx).unwrap();
    let script = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12, Encoding
data = open(sys.argv[1], "rb").read()
key, cert, extra = pkcs12.load_key_and_certificates(data, sys.argv[2].encode())
assert key.public_key().public_numbers() == cert.public_key().public_numbers()
print(key.key_size)
print(cert.not_valid_before_utc.isoformat())
print(cert.not_valid_after_utc.isoformat())
print(cert.signature_hash_algorithm.name)
eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
print(",".join(o.dotted_string for o in eku))
print(cert.subject.rfc4514_string())
print(len(extra))
sys.stdout.flush()
open(sys.argv[3], "wb").write(cert.public_bytes(Encoding.DER))
try:
    pkcs12.load_key_and_certificates(data, b"wrong")
    print("wrong password accepted")
except ValueError:
    print("wrong password refused")
"#;
    let out_cert = dir.path().join("py.der");
    let o = Command::new("python3")
        .args(["-c", script, s(&pfx), &pw, s(&out_cert)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!(
            "2048\n2026-01-01T00:00:00+00:00\n2050-06-30T12:34:56+00:00\nsha256\n1.3.6.1.5.5.7.3.2\n\
             CN=tsmedia media certificate,OU=Media {GUID},OU=Site PS1\n0\nwrong password refused\n"
        )
    );
    assert_eq!(std::fs::read(&out_cert).unwrap(), mc.der);
}

#[test]
fn a_key_pem_makes_identical_bytes_and_no_key_makes_new_ones() {
    if !have_openssl() {
        return;
    }
    let dir = common::scratch("media-cert-repro");
    let pw = pfx_password(GUID);
    for (name, pkcs1) in [("pkcs8.pem", false), ("pkcs1.pem", true)] {
        let pem = openssl_key(dir.path(), name, pkcs1);
        let a = self_signed(&request(Some(&pem)), &pw).unwrap();
        let b = self_signed(&request(Some(&pem)), &pw).unwrap();
        assert_eq!(a.der, b.der, "{name}: certificate");
        assert_eq!(a.pfx, b.pfx, "{name}: PFX");
        assert_eq!(a.info, b.info);
        // The certificate carries the given key.
        let (_, key_der) = openssl_unpack(dir.path(), &a.pfx, &pw);
        assert_eq!(key_der, pem_key_der(dir.path(), &pem), "{name}: key");
        // Another input, other bytes (serial and salts derive from all inputs).
        let mut other = request(Some(&pem));
        other.media_guid = "{00000000-0000-0000-0000-000000000001}";
        let c = self_signed(&other, &pw).unwrap();
        assert_ne!(a.pfx, c.pfx);
    }
    let a = self_signed(&request(None), &pw).unwrap();
    let b = self_signed(&request(None), &pw).unwrap();
    assert_ne!(a.der, b.der);
    assert_ne!(a.pfx, b.pfx);

    // A key of another size is refused with the way to make a right one.
    let p = dir.path().join("small.pem");
    openssl(&["genrsa", "-out", s(&p), "1024"]);
    let small = std::fs::read(&p).unwrap();
    let e = self_signed(&request(Some(&small)), &pw)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("1024 bits") && e.contains("openssl genrsa"),
        "{e}"
    );
    let e = self_signed(&request(Some(b"junk")), &pw)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("PEM"), "{e}");
}

#[test]
fn read_pfx_returns_the_certificate_facts() {
    if !have_openssl() {
        return;
    }
    let dir = common::scratch("media-cert-read");
    let pw = pfx_password(GUID);
    let mc = self_signed(&request(None), &pw).unwrap();
    let info = read_pfx(&mc.pfx, &pw).unwrap();
    assert_eq!(info, mc.info);
    assert_eq!(
        info.subject,
        format!("CN=tsmedia media certificate,OU=Media {GUID},OU=Site PS1")
    );
    assert_eq!(info.issuer, info.subject);
    assert_eq!(info.not_before, NOT_BEFORE);
    assert_eq!(info.not_after, NOT_AFTER);
    assert!(info.self_signed);
    let cer = dir.path().join("m.cer");
    std::fs::write(&cer, &mc.der).unwrap();
    let fp = text(openssl(&[
        "x509",
        "-in",
        s(&cer),
        "-inform",
        "DER",
        "-noout",
        "-fingerprint",
        "-sha1",
    ]));
    let fp = fp.trim().rsplit('=').next().unwrap().replace(':', "");
    assert_eq!(info.sha1_thumbprint, fp);
}

/// An administrator's PKI certificate: a leaf issued by a CA, exported by
/// openssl with the chain.
fn admin_pki(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let p = |n: &str| dir.join(n);
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        s(&p("ca.key")),
        "-out",
        s(&p("ca.pem")),
        "-subj",
        "/CN=Contoso Issuing CA",
        "-days",
        "3650",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        s(&p("leaf.key")),
        "-out",
        s(&p("leaf.csr")),
        "-subj",
        "/CN=Boot media client",
    ]);
    std::fs::write(
        p("ext.cnf"),
        "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        s(&p("leaf.csr")),
        "-CA",
        s(&p("ca.pem")),
        "-CAkey",
        s(&p("ca.key")),
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        s(&p("ext.cnf")),
        "-out",
        s(&p("leaf.pem")),
    ]);
    (p("leaf.pem"), p("leaf.key"), p("ca.pem"))
}

#[test]
fn import_keeps_an_openssl_made_certificate_and_key() {
    if !have_openssl() {
        return;
    }
    let dir = common::scratch("media-cert-import");
    let d = dir.path();
    let (leaf, key, ca) = admin_pki(d);
    let leaf_der = openssl(&["x509", "-in", s(&leaf), "-outform", "DER"]);
    let ca_der = openssl(&["x509", "-in", s(&ca), "-outform", "DER"]);
    let key_der = openssl(&["pkey", "-in", s(&key), "-outform", "DER"]);
    let new_pw = pfx_password(GUID);

    // OpenSSL 3 defaults (PBES2 AES-256, SHA-256 MAC), the legacy defaults of
    // OpenSSL 1.x (RC2-40 certificates, 3DES key, SHA-1 MAC) and 3DES throughout.
    let variants: [(&str, &[&str]); 3] = [
        ("default", &[]),
        ("legacy", &["-legacy"]),
        (
            "3des",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
    ];
    for (name, extra) in variants {
        let f = d.join(format!("{name}.pfx"));
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            s(&leaf),
            "-inkey",
            s(&key),
            "-certfile",
            s(&ca),
            "-passout",
            "pass:Admin pw 1",
            "-out",
            s(&f),
        ];
        args.extend_from_slice(extra);
        openssl(&args);
        let admin = std::fs::read(&f).unwrap();

        let mc: MediaCertificate =
            import_pfx(&admin, "Admin pw 1", &new_pw).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(mc.der, leaf_der, "{name}: the leaf is kept as it is");
        assert!(!mc.info.self_signed);
        assert_eq!(mc.info.subject, "CN=Boot media client");
        assert_eq!(mc.info.issuer, "CN=Contoso Issuing CA");
        assert_eq!(read_pfx(&admin, "Admin pw 1").unwrap(), mc.info);

        // Re-protected: opens with the new password only, same certificate and key.
        let (cert_out, key_out) = openssl_unpack(d, &mc.pfx, &new_pw);
        assert_eq!(cert_out, leaf_der, "{name}");
        assert_eq!(key_out, key_der, "{name}");
        let out = d.join("out.pfx");
        std::fs::write(&out, &mc.pfx).unwrap();
        let all = text(openssl(&[
            "pkcs12",
            "-in",
            s(&out),
            "-passin",
            &format!("pass:{new_pw}"),
            "-nokeys",
        ]));
        assert_eq!(
            all.matches("BEGIN CERTIFICATE").count(),
            2,
            "{name}: chain kept"
        );
        let ca_pem = text(openssl(&["x509", "-in", s(&ca)]));
        assert!(all.contains(ca_pem.trim()), "{name}: CA certificate kept");
        assert!(read_pfx(&mc.pfx, "Admin pw 1").is_err());
        assert_eq!(read_pfx(&mc.pfx, &new_pw).unwrap(), mc.info);
        let _ = &ca_der;

        // Identical input, identical output.
        let again = import_pfx(&admin, "Admin pw 1", &new_pw).unwrap();
        assert_eq!(again.pfx, mc.pfx, "{name}: reproducible");

        // A wrong password is named as such.
        let e = import_pfx(&admin, "Admin pw 2", &new_pw)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("wrong password"), "{name}: {e}");
    }

    // What is not supported says so.
    let f = d.join("nokey.pfx");
    openssl(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        s(&leaf),
        "-passout",
        "pass:x",
        "-out",
        s(&f),
    ]);
    let e = import_pfx(&std::fs::read(&f).unwrap(), "x", &new_pw)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no private key"), "{e}");
    let f = d.join("ec.pfx");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&d.join("ec.key")),
        "-out",
        s(&d.join("ec.pem")),
        "-subj",
        "/CN=ec",
        "-days",
        "30",
    ]);
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        s(&d.join("ec.pem")),
        "-inkey",
        s(&d.join("ec.key")),
        "-passout",
        "pass:x",
        "-out",
        s(&f),
    ]);
    let e = import_pfx(&std::fs::read(&f).unwrap(), "x", &new_pw)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not RSA"), "{e}");
    let f = d.join("nomac.pfx");
    openssl(&[
        "pkcs12",
        "-export",
        "-nomac",
        "-in",
        s(&leaf),
        "-inkey",
        s(&key),
        "-passout",
        "pass:x",
        "-out",
        s(&f),
    ]);
    let e = import_pfx(&std::fs::read(&f).unwrap(), "x", &new_pw)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no password MAC"), "{e}");
    // A hostile work factor is refused before any work.
    let f = d.join("slow.pfx");
    openssl(&[
        "pkcs12",
        "-export",
        "-iter",
        "1000001",
        "-in",
        s(&leaf),
        "-inkey",
        s(&key),
        "-passout",
        "pass:x",
        "-out",
        s(&f),
    ]);
    let e = import_pfx(&std::fs::read(&f).unwrap(), "x", &new_pw)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("1000001") && e.contains("iterations"), "{e}");
}
