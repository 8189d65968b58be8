//! `qrca permit sample --ward CODE --out FILE.pdf`: a permit for a made-up person,
//! signed with the ward's real key, to check the labels, the printer and checkpoints'
//! scanners before the first real batch (SPEC §6).
//!
//! Owns the sample person. Its permit id has serial 0000, which no real case uses.

use super::load_config;
use crate::permit::issue::{self, Signer};
use crate::workflow::{Case, Kind, Organisation, Permit, Row};
use anyhow::Context;
use std::path::Path;
use std::path::PathBuf;

pub fn sample(ward: &str, out: &Path, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, false)?;
    let Some(w) = config.ward(ward) else {
        anyhow::bail!(super::no_such_ward(&config, ward));
    };
    let signer = Signer::load(w)?;
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let (case, person, permit) = sample_person(w.rules.short.as_str(), w.code(), today, {
        w.rules.validity.last_day(today)
    });
    let claims = issue::claims(
        &case,
        &person,
        &permit,
        &signer.kid,
        config.permits.max_valid_days,
    );
    let payload = signer.sign(&claims)?;
    let renderer = issue::renderer(&config)?;
    let pdf = renderer.permit(&issue::face(&claims, &person, w, payload.clone()))?;
    std::fs::write(out, &pdf).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "qrca: wrote a sample permit ({} bytes) to {}; its QR says:",
        pdf.len(),
        out.display()
    );
    println!("{payload}");
    Ok(0)
}

/// A realistic person of an organisation (kind T), with the long names and accents
/// a real roster has.
fn sample_person(
    short: &str,
    ward: &str,
    from: jiff::civil::Date,
    until: jiff::civil::Date,
) -> (Case, Row, Permit) {
    let now = jiff::Timestamp::now();
    let code = format!("{short}-T-0000");
    let case = Case {
        code: code.clone(),
        ward: ward.to_owned(),
        kind: Kind::T,
        serial: 0,
        opened_at: now,
        updated_at: now,
        opened_by: String::new(),
        organisation: Some(Organisation {
            name: "Công ty TNHH Thực phẩm và Dịch vụ Hậu cần Bình Minh".into(),
            ..Organisation::default()
        }),
        area_police: Vec::new(),
        batches: Vec::new(),
        tokens: Vec::new(),
        last_holder: 1,
        revision: 0,
    };
    let person = Row {
        stt: 1,
        sheet_row: 2,
        name: Some("Nguyễn Thị Ngọc Ánh".into()),
        id_number: Some("001190012345".into()),
        birth_date: jiff::civil::Date::new(1990, 5, 17).ok(),
        position: Some("Nhân viên kho".into()),
        route: Some("Số 5 Tràng Tiền → Kho Long Biên".into()),
        vehicle: Some("Xe máy 29-B1 123.45".into()),
        ..Row::default()
    };
    let permit = Permit {
        id: format!("{code}-0001").into(),
        valid_from: from,
        valid_until: until,
        issued_at: now,
        stamped_by: "sample".into(),
    };
    (case, person, permit)
}
