//! .xls, first layer: the compound file (CFB) around the BIFF records, read as calamine
//! 0.38's `cfb.rs` reads it (its sector buffer, its directory order, its mini stream),
//! so that the `Workbook` stream measured is the one calamine will parse. Also the
//! little-endian readers the BIFF scanner shares.

use super::Unreadable;

/// The sectors of a compound file exactly as calamine's `Sectors` sees them: its buffer
/// starts after the header, grows as sectors are asked for, is zero-padded past the end
/// of the file, and the first request that meets the end returns a short sector.
struct Sectors<'a> {
    file: &'a [u8],
    size: usize,
    maxid: u32,
    loaded: usize,
}

impl Sectors<'_> {
    fn byte(&self, at: usize) -> u8 {
        self.file.get(self.size + at).copied().unwrap_or(0)
    }

    fn get(&mut self, id: u32) -> Result<Vec<u8>, Unreadable> {
        if self.maxid < id {
            return Err(Unreadable::Fails);
        }
        let start = id as usize * self.size;
        let end = start + self.size;
        let mut upto = end;
        if end > self.loaded {
            let available = self.file.len().saturating_sub(self.size);
            let reached = available.max(self.loaded).min(end);
            self.loaded = end;
            if reached < end {
                upto = reached;
            }
        }
        if upto < start {
            return Err(Unreadable::Panics); // calamine slices start..upto
        }
        Ok((start..upto).map(|at| self.byte(at)).collect())
    }

    fn chain(&mut self, mut id: u32, fat: &[u32], len: usize) -> Result<Vec<u8>, Unreadable> {
        const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
        let mut out = Vec::new();
        while id != ENDOFCHAIN {
            let sector = self.get(id)?;
            let take = sector.len().min(len - out.len());
            out.extend_from_slice(&sector[..take]);
            if out.len() >= len {
                break;
            }
            // calamine indexes the FAT directly: out of range it panics.
            id = *fat.get(id as usize).ok_or(Unreadable::Panics)?;
        }
        Ok(out)
    }
}

pub(super) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn words(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The `Workbook` (or `Book`) stream of a compound file, read as calamine's `cfb.rs`
/// reads it: the first directory entry of that name in directory order, whatever the
/// directory tree says (a general CFB reader follows the tree, and a crafted file with
/// two entries of the name would show it a different stream than calamine parses).
/// The FAT must already be known to have no loop (`source::cfb_fat_has_cycle`).
pub fn xls_workbook_stream(file: &[u8]) -> Result<Vec<u8>, Unreadable> {
    const RESERVED: u32 = 0xFFFF_FFFA;
    const DIFSECT: u32 = 0xFFFF_FFFC;
    const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
    let header = file.get(..512).ok_or(Unreadable::Fails)?;
    let size = match u16_at(header, 30) {
        Some(9) => 512,
        Some(12) if file.len() >= 4096 => 4096,
        _ => return Err(Unreadable::Fails),
    };
    if u16_at(header, 32) != Some(6) {
        return Err(Unreadable::Fails);
    }
    let version = u16_at(header, 26).ok_or(Unreadable::Fails)?;
    let dir_start = u32_at(header, 48).ok_or(Unreadable::Fails)?;
    let mini_fat_start = u32_at(header, 60).ok_or(Unreadable::Fails)?;
    let mini_fat_len = u32_at(header, 64).ok_or(Unreadable::Fails)? as usize;
    let mut sectors = Sectors {
        file,
        size,
        maxid: u32::try_from(file.len() / size).unwrap_or(u32::MAX),
        loaded: 0,
    };
    let mut difat: Vec<u32> = words(&header[76..512]).collect();
    let mut next = u32_at(header, 68).ok_or(Unreadable::Fails)?;
    let mut steps = 0usize;
    while next < RESERVED {
        steps += 1;
        if steps > sectors.maxid as usize + 1 {
            return Err(Unreadable::Fails);
        }
        difat.extend(words(&sectors.get(next)?));
        next = difat.pop().ok_or(Unreadable::Fails)?;
    }
    let mut fat = Vec::new();
    for id in difat.into_iter().filter(|id| *id < DIFSECT) {
        fat.extend(words(&sectors.get(id)?));
    }
    let dirs = sectors.chain(dir_start, &fat, usize::MAX)?;
    struct Entry {
        name: String,
        start: u32,
        len: usize,
    }
    let entries: Vec<Entry> = dirs
        .chunks_exact(128)
        .map(|d| {
            let units: Vec<u16> = d[..64]
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            let mut name = String::from_utf16_lossy(&units);
            if let Some(nul) = name.find('\0') {
                name.truncate(nul);
            }
            let len = if size == 512 {
                u32_at(d, 120).unwrap_or(0) as usize
            } else {
                d.get(120..128).map_or(0, |b| {
                    usize::try_from(u64::from_le_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ]))
                    .unwrap_or(usize::MAX)
                })
            };
            Entry {
                name,
                start: u32_at(d, 116).unwrap_or(ENDOFCHAIN),
                len,
            }
        })
        .collect();
    let root = entries.first().ok_or(Unreadable::Fails)?;
    if version != 3 && root.start == ENDOFCHAIN {
        return Err(Unreadable::Fails);
    }
    let (mini_fat, mini_stream) = if mini_fat_len > 0 {
        let stream = sectors.chain(root.start, &fat, root.len)?;
        let table = sectors.chain(mini_fat_start, &fat, mini_fat_len.saturating_mul(size))?;
        (words(&table).collect::<Vec<u32>>(), stream)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut stream = |name: &str| -> Result<Vec<u8>, Unreadable> {
        let entry = entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .ok_or(Unreadable::Fails)?;
        if entry.len >= 4096 {
            return sectors.chain(entry.start, &fat, entry.len);
        }
        // A mini stream. calamine reads a mini sector past its loaded mini stream from
        // wherever the file reader happens to be; no real file does that, so it is refused.
        let mut out = Vec::new();
        let mut id = entry.start;
        while id != ENDOFCHAIN {
            let start = id as usize * 64;
            let sector = mini_stream
                .get(start..start + 64)
                .ok_or(Unreadable::Panics)?;
            let take = sector.len().min(entry.len - out.len());
            out.extend_from_slice(&sector[..take]);
            if out.len() >= entry.len {
                break;
            }
            id = *mini_fat.get(id as usize).ok_or(Unreadable::Panics)?;
        }
        Ok(out)
    };
    match stream("Workbook") {
        Err(Unreadable::Fails) => stream("Book"),
        found => found,
    }
}
