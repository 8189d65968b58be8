//! `Authentication-Results` (RFC 8601): what the receiving server said about DMARC and
//! DKIM. Only the topmost header from a trusted server counts: every server on the path
//! adds its header on top, so anything below the receiving server's own was written by
//! someone earlier on the path — possibly the sender, forging a pass.

use serde::{Deserialize, Serialize};

use crate::workflow::AuthEvidence;

/// One method's verdict: `dmarc=pass header.from=hoankiem.hanoi.gov.vn` →
/// `{ result: "pass", domain: "hoankiem.hanoi.gov.vn" }`. Both lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCheck {
    pub result: String,
    pub domain: Option<String>,
}

impl AuthCheck {
    fn passes_for(&self, domain: &str) -> bool {
        self.result == "pass"
            && self
                .domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// What the topmost trusted `Authentication-Results` header says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResult {
    /// Whether the config trusts any server at all (if not, nothing is required).
    pub required: bool,
    /// The trusted server whose header was read; `None` when there was none.
    pub authserv_id: Option<String>,
    pub dmarc: Option<AuthCheck>,
    pub dkim: Vec<AuthCheck>,
}

impl AuthResult {
    /// Reads the headers' values, topmost first, keeping the first from a trusted server.
    pub fn from_headers(values: &[String], trusted: &[String]) -> AuthResult {
        let mut result = AuthResult {
            required: !trusted.is_empty(),
            ..AuthResult::default()
        };
        let Some((id, methods)) = values.iter().find_map(|v| {
            let (id, methods) = parse_header(v)?;
            trusted
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case(&id))
                .then_some((id, methods))
        }) else {
            return result;
        };
        result.authserv_id = Some(id);
        for (method, check) in methods {
            match method.as_str() {
                "dmarc" if result.dmarc.is_none() => result.dmarc = Some(check),
                "dkim" => result.dkim.push(check),
                _ => {}
            }
        }
        result
    }

    /// Whether a trusted server vouches for mail from `from_domain`: `dmarc=pass` for it,
    /// or `dkim=pass` with a signature of that very domain.
    pub fn vouches_for(&self, from_domain: &str) -> bool {
        self.authserv_id.is_some() && self.method_for(from_domain).is_some()
    }

    fn method_for(&self, from_domain: &str) -> Option<&'static str> {
        if self
            .dmarc
            .as_ref()
            .is_some_and(|c| c.passes_for(from_domain))
        {
            Some("dmarc")
        } else if self.dkim.iter().any(|c| c.passes_for(from_domain)) {
            Some("dkim")
        } else {
            None
        }
    }

    /// The evidence the audit trail records for a sender in `from_domain`.
    pub fn evidence(&self, from_domain: Option<&str>) -> AuthEvidence {
        if !self.required {
            return AuthEvidence::NotRequired;
        }
        let Some(authserv_id) = &self.authserv_id else {
            return AuthEvidence::Fail {
                detail: "no Authentication-Results from a trusted server".into(),
            };
        };
        let domain = from_domain.unwrap_or("");
        if let Some(method) = self.method_for(domain).filter(|_| !domain.is_empty()) {
            return AuthEvidence::Pass {
                authserv_id: authserv_id.clone(),
                method: method.into(),
                domain: domain.to_lowercase(),
            };
        }
        let show = |m: &str, c: &AuthCheck| match &c.domain {
            Some(d) => format!("{m}={} ({d})", c.result),
            None => format!("{m}={}", c.result),
        };
        let mut said: Vec<String> = self.dmarc.iter().map(|c| show("dmarc", c)).collect();
        said.extend(self.dkim.iter().map(|c| show("dkim", c)));
        let said = if said.is_empty() {
            "no dmarc or dkim result".to_owned()
        } else {
            said.join(", ")
        };
        AuthEvidence::Fail {
            detail: format!("{authserv_id} said {said} for From domain {domain:?}"),
        }
    }
}

/// `mx.google.com; dkim=pass header.i=@a.vn header.s=s1; dmarc=pass (p=REJECT) header.from=a.vn`
/// → `("mx.google.com", [("dkim", pass a.vn), ("dmarc", pass a.vn)])`.
fn parse_header(value: &str) -> Option<(String, Vec<(String, AuthCheck)>)> {
    let value = strip_comments(value);
    let mut sections = value.split(';');
    // The authserv-id may be followed by a version number: `mx.example 1; …`.
    let id = sections
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    let mut methods = Vec::new();
    for section in sections {
        let mut words = section.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        // `dkim/1=pass`: a method may carry a version.
        let method = method
            .split('/')
            .next()
            .unwrap_or(method)
            .to_ascii_lowercase();
        let mut check = AuthCheck {
            result: result.to_ascii_lowercase(),
            domain: None,
        };
        let mut from_i = None;
        for word in words {
            let Some((prop, val)) = word.split_once('=') else {
                continue;
            };
            let val = val.trim_matches('"');
            match prop.to_ascii_lowercase().as_str() {
                "header.from" | "header.d" => check.domain = Some(val.to_ascii_lowercase()),
                // `header.i=@a.vn` or `header.i=user@a.vn`: the signing identity's domain.
                "header.i" => {
                    from_i = Some(val.rsplit('@').next().unwrap_or(val).to_ascii_lowercase())
                }
                _ => {}
            }
        }
        if check.domain.is_none() {
            check.domain = from_i.filter(|d| !d.is_empty());
        }
        methods.push((method, check));
    }
    Some((id, methods))
}

/// Removes RFC 5322 comments (nested parentheses) and the quotes around quoted strings,
/// so `(p=REJECT sp=REJECT dis=NONE)` cannot be read as a property.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> Vec<String> {
        vec!["mx.google.com".into()]
    }

    #[test]
    fn gmail_header_reads() {
        let h = "mx.google.com; dkim=pass header.i=@hoankiem.hanoi.gov.vn header.s=s1 header.b=abc; \
                 spf=pass (google.com: domain of a@hoankiem.hanoi.gov.vn designates 1.2.3.4 as permitted sender) smtp.mailfrom=a@hoankiem.hanoi.gov.vn; \
                 dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=hoankiem.hanoi.gov.vn";
        let r = AuthResult::from_headers(&[h.into()], &trusted());
        assert_eq!(r.authserv_id.as_deref(), Some("mx.google.com"));
        assert!(r.vouches_for("hoankiem.hanoi.gov.vn"));
        assert!(!r.vouches_for("gmail.com"));
        assert_eq!(
            r.evidence(Some("hoankiem.hanoi.gov.vn")),
            AuthEvidence::Pass {
                authserv_id: "mx.google.com".into(),
                method: "dmarc".into(),
                domain: "hoankiem.hanoi.gov.vn".into()
            }
        );
    }

    #[test]
    fn only_the_topmost_trusted_header_counts() {
        let real = "mx.google.com; dmarc=fail (p=NONE) header.from=a.vn".to_owned();
        let forged = "mx.google.com; dmarc=pass header.from=a.vn".to_owned();
        let r = AuthResult::from_headers(&[real, forged], &trusted());
        assert!(!r.vouches_for("a.vn"));
        let untrusted = "evil.example; dmarc=pass header.from=a.vn".to_owned();
        let r = AuthResult::from_headers(&[untrusted], &trusted());
        assert_eq!(r.authserv_id, None);
        assert!(!r.evidence(Some("a.vn")).passes());
        assert_eq!(
            AuthResult::from_headers(&[], &[]).evidence(Some("a.vn")),
            AuthEvidence::NotRequired
        );
    }
}
