//! `qrca keys rotate` without mail servers (`trust_network = false`; what the city is
//! told is tested on real servers in e2e_trust.rs): the config edited with its comments
//! kept, the key files swapped, permits of the old key still valid after a plain
//! rotation and void after a compromise, a dry run that changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

const THD: &str = "hoankiem.tranhungdao";

fn qrca(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        .current_dir(dir)
        .env("QRCA_CONFIG", dir.join("qrca.toml"))
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    all
}

fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "# Cấu hình của phường (kept through rotations)\n[service]\nstate_dir = \"state\"\nadmin_email = \"admin@example.gov.vn\"\ntrust_network = false\n\n[permits]\nvalid_days = 14\n\n[[ward]]\ncode = \"{THD}\"   # Trần Hưng Đạo\nshort = \"THD\"\nname = \"Phường Trần Hưng Đạo\"\ndistrict = \"Quận Hoàn Kiếm\"\nsigning_key = \"keys/{THD}.key\"\nsigning_key_since = \"2021-09-01\"\nofficers = [\"canbo@example.gov.vn\"]\npolice = [\"congan@example.gov.vn\"]\n[[ward.account]]\naddress = \"qrca.thd1@gmail.com\"\npassword_env = \"UNUSED\"\n"
    );
    std::fs::write(dir.path().join("qrca.toml"), toml).unwrap();
    ok(&qrca(dir.path(), &["keys", "generate", "--ward", THD]));
    dir
}

fn trust_kids(dir: &Path) -> Vec<(String, Option<String>)> {
    let out = qrca(dir, &["keys", "trust-list"]);
    let list = qrca::permit::trust::TrustList::from_json(&ok(&out)).unwrap();
    list.keys
        .iter()
        .map(|k| (k.kid.clone(), k.not_after.map(|d| d.to_string())))
        .collect()
}

fn verify(dir: &Path, pdf: &str) -> Output {
    qrca(dir, &["verify", "--pdf", pdf])
}

#[test]
fn a_plain_rotation_keeps_old_permits_valid_and_a_compromise_voids_them() {
    let w = world();
    let dir = w.path();
    let key = dir.join(format!("keys/{THD}.key"));
    let before = trust_kids(dir);
    assert_eq!(before.len(), 1);
    let first = before[0].0.clone();
    ok(&qrca(
        dir,
        &["permit", "sample", "--ward", THD, "--out", "first.pdf"],
    ));
    assert!(ok(&verify(dir, "first.pdf")).contains("VALID"));

    // A dry run says what it would do and changes nothing.
    let config_before = std::fs::read(dir.join("qrca.toml")).unwrap();
    let key_before = std::fs::read(&key).unwrap();
    let said = ok(&qrca(dir, &["keys", "rotate", "--ward", THD, "--dry-run"]));
    assert!(said.contains(&first), "{said}");
    assert_eq!(std::fs::read(dir.join("qrca.toml")).unwrap(), config_before);
    assert_eq!(std::fs::read(&key).unwrap(), key_before);

    // The plain rotation.
    let said = ok(&qrca(dir, &["keys", "rotate", "--ward", THD]));
    assert!(said.contains("the daemon is not running"), "{said}");
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap())
        .date()
        .to_string();
    let after = trust_kids(dir);
    assert_eq!(after.len(), 2, "{after:?}");
    let second = after[0].0.clone();
    assert_ne!(second, first);
    assert!(said.contains(&second), "{said}");
    assert_eq!(after[1], (first.clone(), Some(today.clone())));
    let text = std::fs::read_to_string(dir.join("qrca.toml")).unwrap();
    assert!(text.starts_with("# Cấu hình của phường"), "{text}");
    assert!(text.contains("# Trần Hưng Đạo"), "{text}");
    assert!(
        text.contains(&format!("signing_key_since = \"{today}\"")),
        "{text}"
    );
    let retired = dir.join(format!("keys/{THD}.key.retired-{first}"));
    assert_eq!(std::fs::read(&retired).unwrap(), key_before);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&retired), mode(&key)), (0o600, 0o600));
    // The old key's permit still verifies; a new one is signed by the new key.
    assert!(ok(&verify(dir, "first.pdf")).contains("VALID"));
    ok(&qrca(
        dir,
        &["permit", "sample", "--ward", THD, "--out", "second.pdf"],
    ));
    assert!(ok(&verify(dir, "second.pdf")).contains(&second));

    // The compromise drill: the second key is revoked as a whole.
    let said = ok(&qrca(
        dir,
        &[
            "keys",
            "rotate",
            "--ward",
            THD,
            "--compromised",
            "máy tính bị mất",
            "--dry-run",
        ],
    ));
    assert!(said.contains("would re-issue 0 permits"), "{said}");
    let said = ok(&qrca(
        dir,
        &[
            "keys",
            "rotate",
            "--ward",
            THD,
            "--compromised",
            "máy tính bị mất",
        ],
    ));
    assert!(said.contains("re-issued 0 permits"), "{said}");
    let revocations = ok(&qrca(dir, &["keys", "revocations"]));
    assert!(revocations.contains(&second), "{revocations}");
    assert!(revocations.contains("máy tính bị mất"), "{revocations}");
    std::fs::write(dir.join("revocations.json"), &revocations).unwrap();
    let check = |pdf: &str| {
        qrca(
            dir,
            &["verify", "--pdf", pdf, "--revocations", "revocations.json"],
        )
    };
    let void = check("second.pdf");
    assert_eq!(void.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&void.stdout).contains("revoked"),
        "{}",
        String::from_utf8_lossy(&void.stdout)
    );
    // The first key was retired, not compromised: its permit stays valid.
    assert_eq!(check("first.pdf").status.code(), Some(0));
    assert_eq!(trust_kids(dir).len(), 3);

    // An unfinished rotation is named, not overwritten.
    std::fs::write(dir.join(format!("keys/{THD}.key.next")), b"x").unwrap();
    let stopped = qrca(dir, &["keys", "rotate", "--ward", THD]);
    assert_eq!(stopped.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("stopped half-way"),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
}
