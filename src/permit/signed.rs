//! The trust network's signed documents (SPEC §9), pure.
//!
//! Every document that travels between a ward and the city, or from the city to the
//! checkpoints, is a JSON file sent as a mail attachment beside a `.sig` file: a
//! detached Ed25519 signature over the document's exact bytes, naming the key that made
//! it. What is signed is the file as it travels, never a re-serialisation, so a reader
//! checks the bytes it received and parses them only once they verify.
//!
//! | file | what | signed by |
//! |---|---|---|
//! | `trust-<ward>.json` | a [`TrustList`] of the ward's keys: the new key at enrolment, the new and the retired one at a rotation | the new key itself (enrolment, proof of possession) or the ward's active key (rotation) |
//! | `activation-<ward>.json` | an [`Activation`]: the city's code for one account, and the ward's answer (the same bytes, returned signed) | the announced key |
//! | `revocations-<ward>.json` | a [`WardRevocations`]: the ward's whole revocation list, numbered | the ward's active key |
//! | `trust-list.json`, `revocations.json` | the city's merged lists | the city key |
//!
//! A document of one kind cannot be taken for another: the ones defined here carry a
//! `type`, and every reader refuses unknown fields. This module must not read files,
//! the clock or the network.

use super::payload;
use super::trust::{RevocationList, TrustList};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The only version of these documents this build reads and writes.
pub const VERSION: u32 = 1;

/// What a detached signature's file name adds to the document's.
pub const SIG_SUFFIX: &str = ".sig";

/// The city's merged trust list, as mailed to checkpoints.
pub const CITY_TRUST_FILE: &str = "trust-list.json";
/// The city's merged revocation list, as mailed to checkpoints.
pub const CITY_REVOCATIONS_FILE: &str = "revocations.json";

/// `trust-<ward>.json`: the ward's keys, at enrolment or rotation.
pub fn trust_file(ward: &str) -> String {
    format!("trust-{ward}.json")
}

/// `activation-<ward>.json`: an activation code and its signed answer.
pub fn activation_file(ward: &str) -> String {
    format!("activation-{ward}.json")
}

/// `revocations-<ward>.json`: the ward's revocation list for the city.
pub fn revocations_file(ward: &str) -> String {
    format!("revocations-{ward}.json")
}

/// The file that carries the signature of `file`.
pub fn sig_file(file: &str) -> String {
    format!("{file}{SIG_SUFFIX}")
}

/// Why a signed document was refused. Each names what a log line or an admin needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("the mail has no {0} attachment")]
    Missing(String),
    #[error("the signature file {file} is not a qrca signature: {detail}")]
    BadSigFile { file: String, detail: String },
    #[error("{file} is signed by key {found}, but key {expected} was expected")]
    WrongKey {
        file: String,
        expected: String,
        found: String,
    },
    #[error(
        "the signature of {file} by key {kid} does not verify: the file was changed or signed with another key"
    )]
    BadSignature { file: String, kid: String },
    #[error("{file} is not a valid {what}: {detail}")]
    BadDocument {
        file: String,
        what: &'static str,
        detail: String,
    },
}

/// A `.sig` file: `{"version":1,"kid":"…","signature":"<base64url of 64 bytes>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detached {
    pub version: u32,
    /// The signing key's id (as in the trust list; for the city key, its own kid).
    pub kid: String,
    pub signature: String,
}

impl Detached {
    /// Signs `bytes` with `key`, whose id is `kid`.
    pub fn sign(kid: &str, key: &SigningKey, bytes: &[u8]) -> Self {
        Detached {
            version: VERSION,
            kid: kid.to_string(),
            signature: BASE64URL_NOPAD.encode(&key.sign(bytes).to_bytes()),
        }
    }

    /// The `.sig` file's bytes (one line of JSON and a newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads the `.sig` file `file`: version 1, a well-formed kid, 64 signature bytes.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, SignedError> {
        let bad = |detail: String| SignedError::BadSigFile {
            file: file.to_string(),
            detail,
        };
        let sig: Detached = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if sig.version != VERSION {
            return Err(bad(format!(
                "version {}; this qrca reads version {VERSION}",
                sig.version
            )));
        }
        if !payload::is_valid_kid(&sig.kid) {
            return Err(bad(format!("{:?} is not a key id", sig.kid)));
        }
        if sig.signature_bytes().is_none() {
            return Err(bad("the signature is not 64 bytes of base64url".into()));
        }
        Ok(sig)
    }

    fn signature_bytes(&self) -> Option<Signature> {
        let bytes = BASE64URL_NOPAD.decode(self.signature.as_bytes()).ok()?;
        let bytes: [u8; 64] = bytes.try_into().ok()?;
        Some(Signature::from_bytes(&bytes))
    }

    /// Whether this signature over `bytes` verifies with `key` (strict RFC 8032).
    pub fn verifies(&self, key: &VerifyingKey, bytes: &[u8]) -> bool {
        self.signature_bytes()
            .is_some_and(|sig| key.verify_strict(bytes, &sig).is_ok())
    }

    /// Checks that the signature is by `kid` and verifies over `bytes` with `key`.
    pub fn check(
        &self,
        file: &str,
        kid: &str,
        key: &VerifyingKey,
        bytes: &[u8],
    ) -> Result<(), SignedError> {
        if self.kid != kid {
            return Err(SignedError::WrongKey {
                file: file.to_string(),
                expected: kid.to_string(),
                found: self.kid.clone(),
            });
        }
        if !self.verifies(key, bytes) {
            return Err(SignedError::BadSignature {
                file: file.to_string(),
                kid: kid.to_string(),
            });
        }
        Ok(())
    }
}

/// A document and its detached signature, as found among a mail's attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFile<'a> {
    pub name: String,
    pub bytes: &'a [u8],
    pub sig: Detached,
}

/// Finds `name` and `name.sig` among `(file name, bytes)` attachments and reads the
/// signature file; the signature itself is checked by the caller, who knows the key.
pub fn find<'a>(
    attachments: impl IntoIterator<Item = (&'a str, &'a [u8])> + Clone,
    name: &str,
) -> Result<SignedFile<'a>, SignedError> {
    let sig_name = sig_file(name);
    let get = |wanted: &str| {
        attachments
            .clone()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
            .map(|(_, b)| b)
    };
    let bytes = get(name).ok_or_else(|| SignedError::Missing(name.to_string()))?;
    let sig_bytes = get(&sig_name).ok_or_else(|| SignedError::Missing(sig_name.clone()))?;
    Ok(SignedFile {
        name: name.to_string(),
        bytes,
        sig: Detached::parse(&sig_name, sig_bytes)?,
    })
}

/// The `type` of each document defined here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocType {
    Activation,
    WardRevocations,
}

/// `activation-<ward>.json`: the city's code for one of the ward's accounts and the key
/// it activates. The ward returns these exact bytes signed by `kid`: whoever holds the
/// key also reads the account the code went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub version: u32,
    #[serde(rename = "type")]
    pub doc_type: DocType,
    pub ward: String,
    pub kid: String,
    /// The ward account the code was mailed to.
    pub account: String,
    /// At least 128 random bits, base32; single use.
    pub code: String,
    pub issued_at: Timestamp,
}

/// `revocations-<ward>.json`: the ward's whole revocation list, numbered so that an
/// older list never replaces a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardRevocations {
    pub version: u32,
    #[serde(rename = "type")]
    pub doc_type: DocType,
    pub ward: String,
    /// Grows by one with each list the ward sends.
    pub sequence: u64,
    pub issued_at: Timestamp,
    pub list: RevocationList,
}

impl Activation {
    pub fn new(ward: &str, kid: &str, account: &str, code: &str, issued_at: Timestamp) -> Self {
        Activation {
            version: VERSION,
            doc_type: DocType::Activation,
            ward: ward.to_string(),
            kid: kid.to_string(),
            account: account.to_string(),
            code: code.to_string(),
            issued_at,
        }
    }

    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, SignedError> {
        let doc: Activation = parse_doc(file, "activation", bytes)?;
        expect_type(
            file,
            "activation",
            doc.version,
            doc.doc_type,
            DocType::Activation,
        )?;
        Ok(doc)
    }
}

impl WardRevocations {
    pub fn new(ward: &str, sequence: u64, issued_at: Timestamp, list: RevocationList) -> Self {
        WardRevocations {
            version: VERSION,
            doc_type: DocType::WardRevocations,
            ward: ward.to_string(),
            sequence,
            issued_at,
            list,
        }
    }

    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, SignedError> {
        let doc: WardRevocations = parse_doc(file, "ward revocation list", bytes)?;
        expect_type(
            file,
            "ward revocation list",
            doc.version,
            doc.doc_type,
            DocType::WardRevocations,
        )?;
        // Re-read the inner list through its own checks (version, kids).
        let inner = serde_json::to_string(&doc.list).unwrap_or_default();
        RevocationList::from_json(&inner).map_err(|e| SignedError::BadDocument {
            file: file.to_string(),
            what: "ward revocation list",
            detail: e.to_string(),
        })?;
        Ok(doc)
    }
}

/// Reads a ward's `trust-<ward>.json` (the trust list's own checks).
pub fn parse_trust(file: &str, bytes: &[u8]) -> Result<TrustList, SignedError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SignedError::BadDocument {
        file: file.to_string(),
        what: "trust list",
        detail: e.to_string(),
    })?;
    TrustList::from_json(text).map_err(|e| SignedError::BadDocument {
        file: file.to_string(),
        what: "trust list",
        detail: e.to_string(),
    })
}

/// Serialises a document as the bytes that travel (indented, with a final newline).
pub fn to_bytes<T: Serialize>(doc: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(doc).unwrap_or_default();
    out.push(b'\n');
    out
}

fn parse_doc<T: for<'de> Deserialize<'de>>(
    file: &str,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, SignedError> {
    serde_json::from_slice(bytes).map_err(|e| SignedError::BadDocument {
        file: file.to_string(),
        what,
        detail: e.to_string(),
    })
}

fn expect_type(
    file: &str,
    what: &'static str,
    version: u32,
    found: DocType,
    wanted: DocType,
) -> Result<(), SignedError> {
    let bad = |detail: String| SignedError::BadDocument {
        file: file.to_string(),
        what,
        detail,
    };
    if version != VERSION {
        return Err(bad(format!(
            "version {version}; this qrca reads version {VERSION}"
        )));
    }
    if found != wanted {
        return Err(bad(format!("its type is {found:?}, not {wanted:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permit::trust::{Revoked, TrustedKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signature_verifies_over_the_exact_bytes_only() {
        let k = key(1);
        let kid = payload::kid("THD", &k.verifying_key());
        let bytes = b"{\"a\":1}\n";
        let sig = Detached::sign(&kid, &k, bytes);
        let back = Detached::parse("x.sig", &sig.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, sig);
        assert!(back.check("x", &kid, &k.verifying_key(), bytes).is_ok());
        // One byte more (a re-serialisation, a trailing space) is another document.
        assert!(matches!(
            back.check("x", &kid, &k.verifying_key(), b"{\"a\":1} \n"),
            Err(SignedError::BadSignature { .. })
        ));
        // Another key, even named as the right one, does not verify.
        let other = key(2);
        assert!(matches!(
            back.check("x", &kid, &other.verifying_key(), bytes),
            Err(SignedError::BadSignature { .. })
        ));
        assert!(matches!(
            back.check("x", "THD-other", &k.verifying_key(), bytes),
            Err(SignedError::WrongKey { .. })
        ));
    }

    #[test]
    fn a_bad_signature_file_is_named() {
        for (bytes, needle) in [
            (&b"not json"[..], "x.sig"),
            (br#"{"version":2,"kid":"A","signature":""}"#, "version 2"),
            (br#"{"version":1,"kid":"a b","signature":""}"#, "key id"),
            (br#"{"version":1,"kid":"A","signature":"AAAA"}"#, "64 bytes"),
            (
                br#"{"version":1,"kid":"A","signature":"","extra":1}"#,
                "unknown field",
            ),
        ] {
            let err =
                Detached::parse("x.sig", bytes).map_or_else(|e| e.to_string(), |_| String::new());
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn documents_find_their_pairs_and_keep_their_types() {
        let k = key(3);
        let kid = payload::kid("THD", &k.verifying_key());
        let doc = Activation::new(
            "hk.thd",
            &kid,
            "qrca.hk.thd1@example.org",
            "ABCD",
            at("2026-12-05T10:00:00Z"),
        );
        let name = activation_file("hk.thd");
        let bytes = to_bytes(&doc);
        let sig = Detached::sign(&kid, &k, &bytes).to_bytes();
        let sig_name = sig_file(&name);
        let files = [(name.as_str(), &bytes[..]), (sig_name.as_str(), &sig[..])];
        let found = find(files.iter().copied(), &name).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            found
                .sig
                .check(&name, &kid, &k.verifying_key(), found.bytes)
                .is_ok()
        );
        assert_eq!(Activation::parse(&name, found.bytes).ok(), Some(doc));
        // An activation is not a revocation list, and the other way round.
        assert!(WardRevocations::parse(&name, &bytes).is_err());
        let list = RevocationList::new(vec![Revoked {
            permit: "THD-T-0001-0001".into(),
            at: at("2026-12-05T09:00:00Z"),
            reason: "mất".into(),
        }]);
        let rev = WardRevocations::new("hk.thd", 7, at("2026-12-05T10:00:00Z"), list);
        let rev_bytes = to_bytes(&rev);
        assert_eq!(WardRevocations::parse("r", &rev_bytes).ok(), Some(rev));
        assert!(Activation::parse("r", &rev_bytes).is_err());
        let missing = find(files[..1].iter().copied(), &name);
        assert!(matches!(missing, Err(SignedError::Missing(n)) if n.ends_with(".sig")));
    }

    #[test]
    fn a_ward_trust_file_is_a_trust_list() {
        let k = key(4);
        let kid = payload::kid("THD", &k.verifying_key());
        let day = jiff::civil::date(2026, 12, 5);
        let list = TrustList::new(vec![TrustedKey::for_key(
            &kid,
            "hk.thd",
            "Phường Trần Hưng Đạo",
            "Quận Hoàn Kiếm",
            &k.verifying_key(),
            day,
            None,
        )]);
        let bytes = list.to_json_pretty().into_bytes();
        assert_eq!(parse_trust("t", &bytes).ok(), Some(list));
        assert!(parse_trust("t", b"{}").is_err());
    }
}
