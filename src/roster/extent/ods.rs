//! .ods: `content.xml`, walked as calamine 0.38's `parse_content` and `read_table` walk
//! it: each table's rows and cells with their repeat counts, what calamine stores for a
//! cell (value and formula) and the text it copies, counted by a `Tally`.

use super::{Extent, MAX_SHEETS, Tally, Unreadable, Window};

/// calamine's own caps on an .ods table.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLUMNS: u64 = 16_384;

/// Measures every table of an .ods's `content.xml`. `Err` where calamine would fail.
pub fn scan_ods<R: std::io::BufRead>(xml: R, window: Window) -> Result<Vec<Extent>, Unreadable> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Start(e) if e.name().as_ref() == "table:table" => {
                let Some(name) = attr(&e, "table:name") else {
                    continue;
                };
                out.push(ods_table(&mut reader, Tally::new(window, name))?);
                if out.len() > MAX_SHEETS {
                    return Ok(out);
                }
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .map(|a| a.value.into_owned())
}

fn parse_count(value: Option<String>) -> Result<u64, Unreadable> {
    match value {
        None => Ok(1),
        Some(v) => v
            .parse::<usize>()
            .map(|n| n as u64)
            .map_err(|_| Unreadable::Fails),
    }
}

fn ods_table<R: std::io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
    mut tally: Tally,
) -> Result<Extent, Unreadable> {
    use quick_xml::events::Event;
    let mut buf = Vec::new();
    let mut row_at = 0u64; // the sheet row of the next row element, repeats counted
    let mut pushed = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Start(e) if e.name().as_ref() == "table:table-row" => {
                let repeats = parse_count(attr(&e, "table:number-rows-repeated"))?;
                let repeats = repeats.min(ODS_MAX_ROWS.saturating_sub(row_at));
                let cells = ods_row(reader, &mut tally, row_at, repeats)?;
                pushed = pushed.saturating_add(cells);
                row_at += repeats;
            }
            Event::End(e) if e.name().as_ref() == "table:table" => break,
            Event::Eof => return Err(Unreadable::Fails),
            _ => {}
        }
    }
    // Each stored cell is a value and a formula text; so is each slot of the two ranges,
    // and the first sheet's range is cloned when asked for.
    let area = tally.area();
    tally.extent.cells = pushed
        .saturating_mul(2)
        .saturating_add(area.saturating_mul(3));
    Ok(tally.extent)
}

/// One row element; returns the cells calamine pushes for it (once, whatever its repeats).
fn ods_row<R: std::io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
    tally: &mut Tally,
    row: u64,
    repeats: u64,
) -> Result<u64, Unreadable> {
    use quick_xml::events::Event;
    let mut buf = Vec::new();
    let mut col = 0u64; // cells pushed so far
    let mut pending_empty = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Start(e)
                if matches!(
                    e.name().as_ref(),
                    "table:table-cell" | "table:covered-table-cell"
                ) =>
            {
                let span = parse_count(attr(&e, "table:number-columns-repeated"))?;
                // As calamine's `get_datatype`: the first value attribute wins, and the
                // content is read only for a string (or error) cell without one.
                let mut value_set = false;
                let mut is_string = false;
                let mut is_error = false;
                let mut empty_string_value = false;
                let mut has_formula = false;
                let mut text = 0u64;
                for a in e.attributes().with_checks(false).flatten() {
                    match a.key.as_ref() {
                        "office:value" | "office:boolean-value" if !value_set => value_set = true,
                        k @ ("office:string-value" | "office:date-value" | "office:time-value")
                            if !value_set =>
                        {
                            value_set = true;
                            empty_string_value = k == "office:string-value" && a.value.is_empty();
                            text = text.saturating_add(a.value.len() as u64);
                        }
                        "office:value-type" if !value_set => {
                            is_string = a.value.as_ref() == "string"
                        }
                        "calcext:value-type" => is_error = a.value.as_ref() == "error",
                        "table:formula" => {
                            text = text.saturating_add(a.value.len() as u64);
                            has_formula |= !a.value.is_empty();
                        }
                        _ => {}
                    }
                }
                let name = e.name().as_ref().to_owned();
                let valued = if (!value_set && is_string) || (is_error && empty_string_value) {
                    text = text.saturating_add(ods_cell_text(reader)?);
                    true
                } else {
                    reader
                        .read_to_end_into(quick_xml::name::QName(&name), &mut Vec::new())
                        .map_err(|_| Unreadable::Fails)?;
                    value_set
                };
                let value = valued || has_formula;
                let empties = pending_empty.min(ODS_MAX_COLUMNS.saturating_sub(col));
                let span = span.min(ODS_MAX_COLUMNS.saturating_sub(col + empties));
                if value {
                    col += empties;
                    pending_empty = 0;
                    let (r, c) = (clamp(row), clamp(col));
                    tally.block(r, c, clamp(repeats), clamp(span));
                    let copies = span.saturating_mul(repeats.saturating_add(1));
                    tally.extent.text = tally
                        .extent
                        .text
                        .saturating_add(text.saturating_mul(copies));
                    col += span;
                } else {
                    pending_empty = empties + span;
                    // calamine caps the pending run when the next cell comes.
                }
            }
            Event::End(e) if e.name().as_ref() == "table:table-row" => return Ok(col),
            _ => return Err(Unreadable::Fails), // calamine: "expected table-cell"
        }
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The text calamine collects from a string cell's content, up to the first end of a
/// cell as it does; `text:s text:c="N"` alone makes N spaces.
fn ods_cell_text<R: std::io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
) -> Result<u64, Unreadable> {
    use quick_xml::events::Event;
    let mut buf = Vec::new();
    let mut bytes = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Text(t) => bytes = bytes.saturating_add(t.len() as u64),
            Event::GeneralRef(r) => bytes = bytes.saturating_add(r.len() as u64 + 4),
            Event::End(e)
                if matches!(
                    e.name().as_ref(),
                    "table:table-cell" | "table:covered-table-cell"
                ) =>
            {
                return Ok(bytes);
            }
            Event::Start(e) if e.name().as_ref() == "office:annotation" => loop {
                buf.clear();
                match reader
                    .read_event_into(&mut buf)
                    .map_err(|_| Unreadable::Fails)?
                {
                    Event::End(e) if e.name().as_ref() == "office:annotation" => break,
                    Event::Eof => return Err(Unreadable::Fails),
                    _ => {}
                }
            },
            Event::Start(e) if e.name().as_ref() == "text:s" => {
                let n = parse_count(attr(&e, "text:c"))?;
                bytes = bytes.saturating_add(n);
            }
            Event::Start(_) => bytes = bytes.saturating_add(1),
            Event::Eof => return Err(Unreadable::Fails),
            _ => {}
        }
    }
}
