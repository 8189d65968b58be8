//! The ward's permit register, as `qrca permits export` writes it (SPEC §6): every
//! permit the ward has issued, as a workbook the ward office can sort, filter and
//! print.
//!
//! Owns which permits the register lists (every issued or revoked row of the ward's
//! cases, by permit id) and the summary line; the layout is `outbound::xlsx`'s. It
//! hands back the workbook's bytes: the command line writes the file (the daemon may
//! write only its state directory).

use crate::config::Config;
use crate::outbound::xlsx::{RegisterLine, permit_register, register_status};
use crate::store::Store;
use crate::workflow::RowState;
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;

/// The register of `ward` on an open store: its summary printed to `out`, problems to
/// `err`; the exit code and the workbook's bytes. The daemon runs the same through its
/// control socket.
pub fn execute(
    store: &Store,
    config: &Config,
    ward: &str,
    on: Option<jiff::civil::Date>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<(u8, Option<Vec<u8>>)> {
    let Some(ward) = config.ward(ward) else {
        writeln!(err, "qrca: {}", super::no_such_ward(config, ward))?;
        return Ok((2, None));
    };
    let tz = &config.service.timezone;
    let now = jiff::Timestamp::now();
    let day = on.unwrap_or_else(|| now.to_zoned_datetime(tz.clone()).date());
    let cases: Vec<_> = store
        .cases()?
        .into_iter()
        .filter(|c| c.ward == ward.code())
        .collect();
    // By permit id: a case's permits in holder order, cases in code order.
    let mut lines = BTreeMap::new();
    for case in &cases {
        for row in case.batches.iter().flat_map(|b| b.rows.iter()) {
            let (permit, revoked) = match &row.state {
                RowState::Issued(permit) => (permit, None),
                RowState::Revoked {
                    permit,
                    by,
                    at,
                    reason,
                } => (permit, Some((*at, &**by, &**reason))),
                _ => continue,
            };
            lines.insert(
                permit.id.clone(),
                RegisterLine {
                    case,
                    person: &row.person,
                    permit,
                    revoked,
                },
            );
        }
    }
    let lines: Vec<RegisterLine<'_>> = lines.into_values().collect();
    let bytes = permit_register(&ward.rules.name, &lines, day, tz, now)
        .context("cannot make the workbook")?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &lines {
        *counts.entry(register_status(line, day)).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    writeln!(
        out,
        "{} permit(s) of {} ({}), as they stand on {day}{}{}",
        lines.len(),
        ward.rules.name,
        ward.code(),
        if counts.is_empty() { "" } else { ": " },
        counts.join(", ")
    )?;
    Ok((0, Some(bytes)))
}
