//! From a case to what is signed and printed: a ward's signer (its key and key id), the
//! claims and the printed face of one issued row, and the trust and revocation lists
//! built from the config and the cases (SPEC §5).
//!
//! Owns the mapping of roster fields onto payload fields (which field is `o=`, `r=`,
//! `m=`, `y=` for each kind). It reads key files through `keys`, and must not render
//! or send anything.

use super::payload::{self, Claims, PayloadError};
use super::pdf::{Labels, Paper, PdfError, PermitFace, Renderer};
use super::trust::{RevocationList, Revoked, RevokedKey, TrustList, TrustedKey};
use crate::config::{Config, Ward};
use crate::keys::{self, KeyError};
use crate::workflow::{Case, Kind, Permit, Row, RowState, capped_until};
use ed25519_dalek::{SigningKey, VerifyingKey};
use unicode_normalization::UnicodeNormalization;

/// A ward's current signing key and what the permits it signs say about the ward.
pub struct Signer {
    /// `THD-k3m9x2ab`: the ward's short code and a digest of the public key.
    pub kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads the ward's key file (owner-only PKCS#8 PEM).
    pub fn load(ward: &Ward) -> Result<Signer, KeyError> {
        let key = keys::load(&ward.signing_key)?;
        Ok(Signer::new(&ward.rules.short, key))
    }

    pub fn new(short: &str, key: SigningKey) -> Signer {
        Signer {
            kid: payload::kid(short, &key.verifying_key()),
            key,
        }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// A detached signature over a trust network document's exact bytes (SPEC §9).
    pub fn detached(&self, bytes: &[u8]) -> super::signed::Detached {
        super::signed::Detached::sign(&self.kid, &self.key, bytes)
    }

    /// The QR payload of one permit.
    pub fn sign(&self, claims: &Claims) -> Result<String, PayloadError> {
        payload::sign(claims, &self.key)
    }
}

/// The file under `templates_dir` that overrides the built-in permit labels.
pub const LABELS_FILE: &str = "permit.toml";

/// The renderer the config asks for: its paper, and the labels of
/// `<templates_dir>/permit.toml` when that file exists, else the built-in ones.
pub fn renderer(config: &Config) -> Result<Renderer, PdfError> {
    let custom = config
        .service
        .templates_dir
        .as_ref()
        .map(|dir| dir.join(LABELS_FILE))
        .filter(|path| path.exists());
    let labels = match custom {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| PdfError::Labels {
                file: name.clone(),
                problem: e.to_string(),
            })?;
            Labels::from_toml(&text, &name)?
        }
        None => Labels::builtin()?,
    };
    let paper = match config.permits.paper {
        crate::config::Paper::A6 => Paper::A6,
        crate::config::Paper::A5 => Paper::A5,
    };
    Renderer::new(labels, paper)
}

/// What the QR code says about `person`'s permit on `case`.
///
/// `o=` is the organisation for kind T and the person's address for C and H; `r=`
/// and `v=` are the route and vehicle (T, C); `m=` and `y=` the market and its days (H).
///
/// Text is made NFC here (rosters are read as NFC already; this holds for any other
/// source too), so the claims are exactly what is signed and printed.
///
/// The last day is capped to `max_valid_days` (`[permits] max_valid_days`) from the
/// first, whatever the roster row or `valid_until` asked: no longer permit is signed.
pub fn claims(
    case: &Case,
    person: &Row,
    permit: &Permit,
    kid: &str,
    max_valid_days: u32,
) -> Claims {
    let nfc = |text: Option<&String>| text.map(|t| t.nfc().collect::<String>());
    let organisation = match case.kind {
        Kind::T => nfc(case.organisation.as_ref().map(|o| &o.name)),
        Kind::C | Kind::H => nfc(person.address.as_ref()),
    };
    let (route, vehicle, market, days) = match case.kind {
        Kind::T | Kind::C => (
            nfc(person.route.as_ref()),
            nfc(person.vehicle.as_ref()),
            None,
            None,
        ),
        Kind::H => (
            None,
            None,
            nfc(person.market.as_ref()),
            nfc(person.market_days.as_ref()),
        ),
    };
    Claims {
        kid: kid.to_owned(),
        id: permit.id.to_string(),
        kind: case.kind,
        name: nfc(person.name.as_ref()).unwrap_or_default(),
        birth_year: person.birth_date.map(|d| d.year()),
        masked_id: payload::mask_id(person.id_number.as_deref().unwrap_or_default()),
        valid_from: permit.valid_from,
        valid_until: capped_until(permit.valid_from, permit.valid_until, max_valid_days),
        ward: case.ward.clone(),
        organisation,
        route,
        vehicle,
        market,
        days,
    }
}

/// What is printed on the permit whose QR `payload` was signed from `claims`.
pub fn face(claims: &Claims, person: &Row, ward: &Ward, payload: String) -> PermitFace {
    PermitFace {
        kind: claims.kind,
        id: claims.id.clone(),
        name: claims.name.clone(),
        birth_date: person.birth_date,
        masked_id: claims.masked_id.clone(),
        organisation_or_address: claims.organisation.clone(),
        route: claims.route.clone(),
        vehicle: claims.vehicle.clone(),
        market: claims.market.clone(),
        days: claims.days.clone(),
        valid_from: claims.valid_from,
        valid_until: claims.valid_until,
        ward_name: ward.rules.name.clone(),
        district: ward.rules.district.clone(),
        stamp_role: stamp_role(&ward.rules.name),
        payload,
    }
}

/// "Công an phường Trần Hưng Đạo" from "Phường Trần Hưng Đạo": the ward police sign.
pub fn stamp_role(ward_name: &str) -> String {
    let mut words = ward_name.splitn(2, ' ');
    let first = words.next().unwrap_or_default().to_lowercase();
    match words.next() {
        Some(rest) => format!("Công an {first} {rest}"),
        None => format!("Công an {first}"),
    }
}

/// The issued rows of `case` whose permit ids are listed, in roster order (batch by
/// batch, row by row), with their permits.
pub fn issued<'a>(case: &'a Case, permits: &[impl AsRef<str>]) -> Vec<(&'a Row, &'a Permit)> {
    let wanted: std::collections::HashSet<&str> = permits.iter().map(AsRef::as_ref).collect();
    case.batches
        .iter()
        .flat_map(|batch| batch.rows.iter())
        .filter_map(|row| match &row.state {
            RowState::Issued(permit) if wanted.contains(&*permit.id) => {
                Some((&*row.person, permit))
            }
            _ => None,
        })
        .collect()
}

/// `qrca keys trust-list`: every ward's current key (from its key file; its first day
/// is `signing_key_since`, else the day the file was written) and retired keys.
pub fn trust_list(config: &Config) -> Result<TrustList, KeyError> {
    let mut keys = Vec::new();
    for ward in &config.wards {
        let r = &ward.rules;
        let current = keys::load(&ward.signing_key)?.verifying_key();
        let since = match ward.signing_key_since {
            Some(day) => day,
            None => keys::written_on(&ward.signing_key, &config.service.timezone)?,
        };
        keys.push(TrustedKey::for_key(
            payload::kid(&r.short, &current),
            &r.code,
            &r.name,
            &r.district,
            &current,
            since,
            None,
        ));
        for retired in &ward.retired_keys {
            // Checked to be a valid point when the config was loaded.
            let Ok(key) = VerifyingKey::from_bytes(&retired.public_key) else {
                continue;
            };
            keys.push(TrustedKey::for_key(
                payload::kid(&r.short, &key),
                &r.code,
                &r.name,
                &r.district,
                &key,
                retired.since,
                Some(retired.until),
            ));
        }
    }
    Ok(TrustList::new(keys))
}

/// The ward's current key as its trust list entry (`trust-<ward>.json`, SPEC §9), and
/// its signer: what `qrca accounts enroll` sends the city, signed by that key itself.
pub fn current_entry(config: &Config, ward: &Ward) -> Result<(TrustedKey, Signer), KeyError> {
    let signer = Signer::load(ward)?;
    let since = match ward.signing_key_since {
        Some(day) => day,
        None => keys::written_on(&ward.signing_key, &config.service.timezone)?,
    };
    let r = &ward.rules;
    let entry = TrustedKey::for_key(
        &signer.kid,
        &r.code,
        &r.name,
        &r.district,
        &signer.verifying_key(),
        since,
        None,
    );
    Ok((entry, signer))
}

/// The keys the config says were compromised (`[[ward.retired_key]]` with
/// `compromised_from`), for the revocation list's `revoked_keys`, by kid.
pub fn revoked_keys(config: &Config) -> Vec<RevokedKey> {
    let mut revoked: Vec<RevokedKey> = config
        .wards
        .iter()
        .flat_map(|ward| {
            ward.retired_keys.iter().filter_map(|retired| {
                let compromise = retired.compromised.as_ref()?;
                // Checked to be a valid point when the config was loaded.
                let key = VerifyingKey::from_bytes(&retired.public_key).ok()?;
                Some(RevokedKey {
                    kid: payload::kid(&ward.rules.short, &key),
                    from: compromise.from,
                    reason: compromise.reason.clone(),
                })
            })
        })
        .collect();
    revoked.sort_by(|a, b| a.kid.cmp(&b.kid));
    revoked.dedup_by(|a, b| a.kid == b.kid);
    revoked
}

/// `qrca keys revocations`: every revoked permit of these cases, oldest first.
pub fn revocations(cases: &[Case]) -> RevocationList {
    let mut revoked: Vec<Revoked> = cases
        .iter()
        .flat_map(|case| case.batches.iter())
        .flat_map(|batch| batch.rows.iter())
        .filter_map(|row| match &row.state {
            RowState::Revoked {
                permit, at, reason, ..
            } => Some(Revoked {
                permit: permit.id.to_string(),
                at: *at,
                reason: reason.to_string(),
            }),
            _ => None,
        })
        .collect();
    revoked.sort_by(|a, b| (a.at, &a.permit).cmp(&(b.at, &b.permit)));
    RevocationList::new(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_police_of_the_ward_stamp() {
        assert_eq!(
            stamp_role("Phường Trần Hưng Đạo"),
            "Công an phường Trần Hưng Đạo"
        );
        assert_eq!(stamp_role("Xã Đông Anh"), "Công an xã Đông Anh");
        assert_eq!(stamp_role("Phường"), "Công an phường");
    }

    #[test]
    fn validity_is_capped_from_the_first_day() {
        let d = |m, day| jiff::civil::date(2021, m, day);
        for (until, max, capped) in [
            (d(9, 21), 30, d(9, 21)),
            (d(10, 7), 30, d(10, 7)),
            (d(10, 8), 30, d(10, 7)),
            (d(12, 31), 30, d(10, 7)),
            (d(9, 21), 14, d(9, 21)),
            (d(9, 22), 14, d(9, 21)),
            (d(9, 9), 1, d(9, 8)),
            (d(9, 9), 0, d(9, 8)),
        ] {
            assert_eq!(capped_until(d(9, 8), until, max), capped, "{until} {max}");
        }
    }
}
