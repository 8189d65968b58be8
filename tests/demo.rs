//! `qrca demo --out DIR` end to end: the mails the people got in their Maildirs, the
//! permits in them verified against the demo ward's trust list, the refusals that
//! reached nobody, the database the CLI reads, and a second run that sends as many
//! mails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrca::config;
use qrca::inbound::mail::{Mail, parse_mail};
use qrca::permit::{issue, pdf, trust};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ORG: &str = "nhansu@duochatay.example.vn";
const FORGER: &str = "ke.gia.mao@gmail.com";
const OFFICER2: &str = "phochutich.thd@hoankiem.hanoi.gov.vn";

fn demo(out: &Path) -> Output {
    let run = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["demo", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

/// Every message file of a Maildir (`new/` and `cur/`), in name order.
fn messages(maildir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            out.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> Mail {
    parse_mail(&std::fs::read(path).unwrap(), &[]).unwrap()
}

/// Mails per Maildir under `mail/`.
fn counts(world: &Path) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = std::fs::read_dir(world.join("mail"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                messages(&e.path()).len(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_demo_plays_every_flow_as_real_mails() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("one");
    let run = demo(&world);
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(printed.contains("refused it (WrongAddressee)"), "{printed}");
    assert!(
        printed.contains("refused it (NotAuthenticated)"),
        "{printed}"
    );
    assert!(printed.contains("refused it (DeadToken)"), "{printed}");
    // The checkpoint page beside the lists, and the last lines say how to open it.
    let page = std::fs::read_to_string(world.join("kiem-tra.html")).unwrap();
    assert!(page.len() < 1_500_000 && page.contains("connect-src 'none'"));
    assert!(page.contains("\"ward\":\"hoankiem.tranhungdao\""));
    assert!(printed.contains("The checkpoint page: open"), "{printed}");

    // The organisation's Maildir: every mail the daemon sent it, by subject.
    let org: Vec<Mail> = messages(&world.join("mail").join(ORG))
        .iter()
        .map(|p| read(p))
        .collect();
    let subjects: Vec<&str> = org.iter().map(|m| m.subject.as_str()).collect();
    for (what, part) in [
        ("confirmation", "Đã mở hồ sơ THD-T-0001"),
        ("errors mail", "có lỗi"),
        ("rejection", "không được duyệt"),
        ("permits", "đã được cấp"),
        ("revocation", "thu hồi"),
        ("status", "Tình trạng hồ sơ"),
    ] {
        assert!(
            subjects
                .iter()
                .any(|s| s.starts_with("[QRCA THD-T-0001]") && s.contains(part)),
            "no {what} in the organisation's Maildir: {subjects:?}"
        );
    }
    for m in &org {
        let from = m.from.as_ref().unwrap().address.as_str();
        assert!(from.starts_with("qrca.hoankiem.tranhungdao"), "{from}");
    }

    // The permit mail's PDFs verify against the trust list of the demo's config.
    let config = config::load(&world.join("qrca.toml")).unwrap().config;
    let trust_list = issue::trust_list(&config).unwrap();
    let permits = org
        .iter()
        .find(|m| m.subject.contains("đã được cấp"))
        .unwrap();
    let mut verified = Vec::new();
    for a in &permits.attachments {
        if !a.name.ends_with(".pdf") || a.name.contains("-in-") {
            continue;
        }
        let payload = pdf::payload_from_pdf(&a.bytes).expect("a payload in the permit PDF");
        let verdict = trust::check(
            &payload,
            &trust_list,
            None,
            jiff::civil::date(2021, 9, 10),
            qrca::config::DEFAULT_MAX_VALID_DAYS,
        );
        match verdict {
            trust::Verdict::Valid(claims) => {
                assert_eq!(format!("{}.pdf", claims.id), a.name);
                verified.push(claims.id);
            }
            trust::Verdict::NotValid { why, .. } => panic!("{}: {why}", a.name),
        }
    }
    // 8 staff: row 6 rejected, the other 7 issued.
    assert_eq!(verified.len(), 7, "{verified:?}");
    assert!(
        permits
            .attachments
            .iter()
            .any(|a| a.name == "THD-T-0001-in-1.pdf"),
        "no print sheet"
    );

    // The refused mails reached no one: the forger got nothing, nor did the officer
    // whose address was forged get an answer to the forgery or the replay.
    assert!(messages(&world.join("mail").join(FORGER)).is_empty());
    let officer2: Vec<Mail> = messages(&world.join("mail").join(OFFICER2))
        .iter()
        .map(|p| read(p))
        .collect();
    let recorded = officer2
        .iter()
        .filter(|m| m.subject.contains("Đã ghi nhận"))
        .count();
    assert_eq!(
        recorded, 1,
        "only the real approval is answered: {officer2:?}"
    );

    // The ward's accounts took everything in: nothing left in new/.
    for n in 1..=3 {
        let account = world
            .join("mail")
            .join(format!("qrca.hoankiem.tranhungdao{n}@gmail.com"));
        assert_eq!(std::fs::read_dir(account.join("new")).unwrap().count(), 0);
        assert!(!messages(&account).is_empty());
    }

    // The database answers the CLI.
    let cases = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["cases", "--config"])
        .arg(world.join("qrca.toml"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(cases.status.code(), Some(0));
    let listing = String::from_utf8_lossy(&cases.stdout);
    for code in ["THD-T-0001", "THD-C-0001", "THD-H-0001"] {
        assert!(listing.contains(code), "{listing}");
    }

    // It ends by explaining the first refused mail, as `qrca explain` does on the
    // database the demo left.
    let explained = printed
        .split("Why did a reply not count? qrca explain --config")
        .nth(1)
        .unwrap_or_else(|| panic!("no explain section:\n{printed}"));
    for line in [
        &format!("Người gửi (sender): {FORGER}"),
        &format!("cấp cho (issued to) {OFFICER2}"),
        "Kết quả (result): TỪ CHỐI (refused), hồ sơ (case) THD-T-0001",
        "(exit 1)",
    ] {
        assert!(explained.contains(line), "{line:?} not in:\n{explained}");
    }
    let explain = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["explain", "--config"])
        .arg(world.join("qrca.toml"))
        .arg(world.join("refused.eml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&explain.stdout);
    assert_eq!(explain.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Đã xử lý trước đây (already taken in)")
            && text.contains("mã trả lời đã hết hiệu lực (dead token)"),
        "{text}"
    );

    // A second run into another directory sends the same mails to the same people.
    let again = dir.path().join("two");
    demo(&again);
    assert_eq!(counts(&world), counts(&again));
}
