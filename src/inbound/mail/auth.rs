//! `Authentication-Results` (RFC 8601): what the receiving server said about DMARC,
//! DKIM and SPF. Only the topmost header from a trusted server counts: every server on
//! the path adds its header on top, so anything below the receiving server's own was
//! written by someone earlier on the path — possibly the sender, forging a pass.
//!
//! The header is read by RFC 8601's grammar, in one pass: quoted strings and comments
//! (nested) are single tokens, so a `;` or a `dkim=pass` inside them — a quoted
//! `smtp.mailfrom` local part is the sender's to choose — never starts a result or a
//! property. What counts for a From domain is what DMARC itself would count: the
//! server's `dmarc=pass` for it, or, where the domain publishes no DMARC verdict, a
//! `dkim=pass` whose `header.d` or an `spf=pass` whose `smtp.mailfrom` domain is in the
//! same organisational domain (RFC 7489 §3.1 relaxed alignment, with the Public Suffix
//! List compiled in by the `psl` crate). Many government and company domains have SPF
//! and nothing else, and Gmail writes no `dmarc=` for them.
//!
//! Bounded: the header is walked once (no quadratic step however long it is), and at
//! most [`MAX_RESINFOS`] results of one header are read.

use serde::{Deserialize, Serialize};

use crate::workflow::AuthEvidence;

/// At most this many results (`method=result …` between `;`s) of one header are read;
/// a receiving server writes a handful, so anything past this is noise or an attack.
pub const MAX_RESINFOS: usize = 64;

/// What the refusal says a domain that proves nothing would need.
const ADVICE: &str = "a domain without DKIM or SPF cannot be authenticated: use a Gmail address, or add DKIM/SPF to the domain";

/// One method's verdict: `dmarc=pass header.from=hoankiem.hanoi.gov.vn` →
/// `{ result: "pass", domain: "hoankiem.hanoi.gov.vn" }`. Both lower-cased. The domain
/// is `header.from` for DMARC, `header.d` (else `header.i`'s domain) for DKIM and
/// `smtp.mailfrom`'s domain for SPF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCheck {
    pub result: String,
    pub domain: Option<String>,
}

impl AuthCheck {
    fn passes(&self) -> bool {
        self.result == "pass"
    }

    /// A pass for exactly `domain` (DMARC's `header.from` is the From domain itself).
    fn passes_for(&self, domain: &str) -> bool {
        self.passes()
            && self
                .domain
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(domain))
    }

    /// A pass for a domain aligned with `domain` in DMARC's relaxed mode.
    fn passes_aligned(&self, domain: &str) -> bool {
        self.passes() && self.domain.as_deref().is_some_and(|d| aligned(d, domain))
    }
}

/// DMARC's relaxed alignment (RFC 7489 §3.1.1): the same domain, or two domains under
/// one organisational domain (the registrable domain of the Public Suffix List). A
/// public suffix itself (`gov.vn`) aligns only with itself.
pub fn aligned(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim_end_matches('.').to_ascii_lowercase();
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    match (psl::domain_str(&a), psl::domain_str(&b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
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
    #[serde(default)]
    pub spf: Vec<AuthCheck>,
}

impl AuthResult {
    /// Reads the headers' values, topmost first, keeping the first from a trusted server.
    pub fn from_headers(values: &[String], trusted: &[String]) -> AuthResult {
        let mut result = AuthResult {
            required: !trusted.is_empty(),
            ..AuthResult::default()
        };
        let is_trusted = |id: &str| trusted.iter().any(|t| t.trim().eq_ignore_ascii_case(id));
        let Some((id, methods)) = values.iter().find_map(|v| parse_header(v, &is_trusted)) else {
            return result;
        };
        result.authserv_id = Some(id);
        for (method, check) in methods {
            match method.as_str() {
                "dmarc" if result.dmarc.is_none() => result.dmarc = Some(check),
                "dkim" => result.dkim.push(check),
                "spf" => result.spf.push(check),
                _ => {}
            }
        }
        result
    }

    /// Whether a trusted server vouches for mail from `from_domain` (see [`Self::evidence`]).
    pub fn vouches_for(&self, from_domain: &str) -> bool {
        self.authserv_id.is_some() && self.method_for(from_domain).is_some()
    }

    /// `dmarc=pass` for the From domain; else, unless the domain's own DMARC policy said
    /// `fail` (its owner chose stricter alignment than ours), a `dkim=pass` or an
    /// `spf=pass` for a domain aligned with it.
    fn method_for(&self, from_domain: &str) -> Option<&'static str> {
        if from_domain.is_empty() {
            return None;
        }
        let dmarc = self
            .dmarc
            .as_ref()
            .filter(|c| c.domain.as_deref().is_some_and(|d| aligned(d, from_domain)));
        match dmarc {
            Some(c) if c.passes_for(from_domain) => return Some("dmarc"),
            Some(c) if c.result == "fail" => return None,
            _ => {}
        }
        if self.dkim.iter().any(|c| c.passes_aligned(from_domain)) {
            Some("dkim")
        } else if self.spf.iter().any(|c| c.passes_aligned(from_domain)) {
            Some("spf")
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
        if let Some(method) = self.method_for(domain) {
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
        said.extend(self.spf.iter().map(|c| show("spf", c)));
        let said = if said.is_empty() {
            "no dmarc, dkim or spf result".to_owned()
        } else {
            said.join(", ")
        };
        // Where the domain's own DMARC said fail, the domain can prove its mail and this
        // one was not it; otherwise the domain may simply have nothing to prove it with.
        let own_verdict = self.dmarc.as_ref().is_some_and(|c| {
            c.result == "fail" && c.domain.as_deref().is_some_and(|d| aligned(d, domain))
        });
        let advice = if own_verdict {
            String::new()
        } else {
            format!("; {ADVICE}")
        };
        AuthEvidence::Fail {
            detail: format!("{authserv_id} said {said} for From domain {domain:?}{advice}"),
        }
    }
}

// ---- the header's grammar (RFC 8601 §2.2) ----

/// A run of text with no white space, comment, or `;` in it: `header.d=a.vn`, or
/// `smtp.mailfrom="x;y"@a.vn` (parts: `smtp.mailfrom=` plain, `x;y` quoted, `@a.vn`
/// plain). Quoted parts keep their meaning as data: they never hold syntax.
#[derive(Debug, Default, PartialEq, Eq)]
struct Word {
    parts: Vec<(String, bool)>,
}

impl Word {
    fn push(&mut self, c: char, quoted: bool) {
        match self.parts.last_mut() {
            Some((text, q)) if *q == quoted => text.push(c),
            _ => self.parts.push((c.to_string(), quoted)),
        }
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The whole word when none of it is quoted.
    fn plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [(text, false)] => Some(text),
            _ => None,
        }
    }

    fn starts_with_eq(&self) -> bool {
        matches!(self.parts.first(), Some((t, false)) if t.starts_with('='))
    }

    fn ends_with_eq(&self) -> bool {
        matches!(self.parts.last(), Some((t, false)) if t.ends_with('='))
    }

    /// The word up to its first unquoted `=` (which must come before any quoted part),
    /// and the rest: `header.d=a.vn` → `("header.d", "a.vn")`.
    fn split_eq(mut self) -> Option<(String, Word)> {
        let (first, quoted) = self.parts.first_mut()?;
        if *quoted {
            return None;
        }
        let at = first.find('=')?;
        let rest = first.split_off(at + 1);
        first.pop();
        let key = std::mem::replace(first, rest);
        if first.is_empty() {
            self.parts.remove(0);
        }
        Some((key, self))
    }

    /// The domain a property value names: the value itself (`header.d=a.vn`,
    /// `header.d="a.vn"`), or what follows the last unquoted `@` of an address
    /// (`smtp.mailfrom=x@a.vn`, `smtp.mailfrom="x;y"@a.vn`, `header.i=@a.vn`). A value
    /// whose domain part is quoted, or holds anything a domain cannot, names none.
    fn domain(&self) -> Option<String> {
        let tail: &str = match self.parts.as_slice() {
            [(text, _)] => text.rsplit('@').next().unwrap_or(text),
            [.., (text, false)] if text.contains('@') => text.rsplit('@').next().unwrap_or(text),
            _ => return None,
        };
        let domain = tail.trim_end_matches('.').to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        valid.then_some(domain)
    }
}

/// One token of the header: a word, or an unquoted, uncommented `;`.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(Word),
    Semicolon,
}

/// Walks a header value once, giving words and `;`s. White space and comments (nested,
/// with quoted pairs) separate words and vanish; a quoted string is part of the word it
/// is written against. An unterminated comment or quoted string runs to the end.
struct Tokens<'a> {
    chars: std::str::Chars<'a>,
    /// A `;` read while finishing a word, handed out next.
    pending: bool,
}

impl<'a> Tokens<'a> {
    fn new(value: &'a str) -> Self {
        Tokens {
            chars: value.chars(),
            pending: false,
        }
    }

    fn skip_comment(&mut self) {
        let mut depth = 1usize;
        while let Some(c) = self.chars.next() {
            match c {
                '\\' => {
                    self.chars.next();
                }
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn quoted(&mut self, word: &mut Word) {
        while let Some(c) = self.chars.next() {
            match c {
                '\\' => {
                    if let Some(c) = self.chars.next() {
                        word.push(c, true);
                    }
                }
                '"' => {
                    // `""`: an empty quoted string is still a quoted part.
                    if word.parts.last().is_none_or(|(_, q)| !q) {
                        word.parts.push((String::new(), true));
                    }
                    return;
                }
                c => word.push(c, true),
            }
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if std::mem::take(&mut self.pending) {
            return Some(Token::Semicolon);
        }
        let mut word = Word::default();
        while let Some(c) = self.chars.next() {
            match c {
                ';' if word.is_empty() => return Some(Token::Semicolon),
                ';' => {
                    self.pending = true;
                    return Some(Token::Word(word));
                }
                '(' => {
                    self.skip_comment();
                    if !word.is_empty() {
                        return Some(Token::Word(word));
                    }
                }
                '"' => self.quoted(&mut word),
                c if c.is_whitespace() => {
                    if !word.is_empty() {
                        return Some(Token::Word(word));
                    }
                }
                c => word.push(c, false),
            }
        }
        (!word.is_empty()).then_some(Token::Word(word))
    }
}

/// `mx.google.com; dkim=pass header.i=@a.vn header.s=s1; dmarc=pass (p=REJECT) header.from=a.vn`
/// → `("mx.google.com", [("dkim", pass a.vn), ("dmarc", pass a.vn)])`, when
/// `is_trusted` accepts the authserv-id (the rest of an untrusted header is not read).
fn parse_header(
    value: &str,
    is_trusted: &dyn Fn(&str) -> bool,
) -> Option<(String, Vec<(String, AuthCheck)>)> {
    let mut tokens = Tokens::new(value);
    // authserv-id [ CFWS authres-version ]: a value, so it may be quoted.
    let id = match tokens.next()? {
        Token::Word(w) if w.parts.len() == 1 => w.parts.into_iter().next()?.0,
        _ => return None,
    }
    .to_ascii_lowercase();
    if !is_trusted(&id) {
        return None;
    }
    // Anything before the first `;` (the version) is skipped.
    let mut methods = Vec::new();
    let mut resinfo: Vec<Word> = Vec::new();
    let mut started = false;
    let mut read = 0usize;
    for token in tokens {
        match token {
            Token::Semicolon => {
                if started {
                    read += 1;
                    methods.extend(resinfo_check(std::mem::take(&mut resinfo)));
                    if read == MAX_RESINFOS {
                        return Some((id, methods));
                    }
                }
                started = true;
            }
            Token::Word(w) if started => resinfo.push(w),
            Token::Word(_) => {}
        }
    }
    if started {
        methods.extend(resinfo_check(resinfo));
    }
    Some((id, methods))
}

/// One `methodspec [reasonspec] *propspec`, as words: the method's verdict and the
/// domain its property names, or `None` when it is not one.
fn resinfo_check(words: Vec<Word>) -> Option<(String, AuthCheck)> {
    let mut words = join_around_eq(words).into_iter();
    let (method, result) = words.next()?.split_eq()?;
    let result = result.plain()?.to_ascii_lowercase();
    // `dkim/1=pass`: a method may carry a version.
    let method = method
        .split('/')
        .next()
        .unwrap_or(&method)
        .trim()
        .to_ascii_lowercase();
    let wanted: &[&str] = match method.as_str() {
        "dmarc" => &["header.from"],
        "dkim" => &["header.d", "header.i"],
        "spf" => &["smtp.mailfrom"],
        _ => &[],
    };
    let mut found: Vec<Option<Word>> = wanted.iter().map(|_| None).collect();
    for word in words {
        let Some((property, value)) = word.split_eq() else {
            continue;
        };
        let property = property.to_ascii_lowercase();
        if let Some(i) = wanted.iter().position(|w| *w == property)
            && let Some(slot) = found.get_mut(i)
            && slot.is_none()
        {
            *slot = Some(value);
        }
    }
    // The first wanted property that is there names the domain (`header.d` before
    // `header.i`, even where `header.d` names none).
    let domain = found.into_iter().flatten().next().and_then(|v| v.domain());
    Some((method, AuthCheck { result, domain }))
}

/// `dkim = pass` and `header.d= a.vn`: CFWS may stand around `=`, so a word ending in
/// `=` takes the next, and one starting with `=` joins the previous.
fn join_around_eq(words: Vec<Word>) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::with_capacity(words.len());
    for word in words {
        match out.last_mut() {
            Some(last) if last.ends_with_eq() || word.starts_with_eq() => {
                for (text, quoted) in word.parts {
                    match last.parts.last_mut() {
                        Some((t, q)) if *q == quoted && !quoted => t.push_str(&text),
                        _ => last.parts.push((text, quoted)),
                    }
                }
            }
            _ => out.push(word),
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

    fn read(header: &str) -> AuthResult {
        AuthResult::from_headers(&[header.into()], &trusted())
    }

    const GMAIL: &str = "mx.google.com; dkim=pass header.i=@hoankiem.hanoi.gov.vn header.s=s1 header.b=abc; \
                 spf=pass (google.com: domain of a@hoankiem.hanoi.gov.vn designates 1.2.3.4 as permitted sender) smtp.mailfrom=a@hoankiem.hanoi.gov.vn; \
                 dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=hoankiem.hanoi.gov.vn";

    #[test]
    fn gmail_header_reads() {
        let r = read(GMAIL);
        assert_eq!(r.authserv_id.as_deref(), Some("mx.google.com"));
        assert!(r.vouches_for("hoankiem.hanoi.gov.vn"));
        assert!(!r.vouches_for("gmail.com"));
        assert_eq!(
            r.spf,
            [AuthCheck {
                result: "pass".into(),
                domain: Some("hoankiem.hanoi.gov.vn".into())
            }]
        );
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

    /// The officer's domain of the tests below: SPF only, no DKIM, no DMARC record.
    const OFFICER_DOMAIN: &str = "hoankiem.hanoi.gov.vn";

    #[test]
    fn a_quoted_local_part_cannot_smuggle_a_result() {
        let h = format!(
            "mx.google.com; spf=pass smtp.mailfrom=\"x;dkim=pass header.d={OFFICER_DOMAIN}\"@attacker.example; dmarc=none header.from={OFFICER_DOMAIN}"
        );
        let r = read(&h);
        assert_eq!(r.dkim, [], "{r:?}");
        assert_eq!(r.spf[0].domain.as_deref(), Some("attacker.example"));
        assert!(!r.vouches_for(OFFICER_DOMAIN), "{r:?}");
        // Escaped quotes inside the quoted string do not end it.
        let h = format!(
            "mx.google.com; spf=pass smtp.mailfrom=\"x\\\";dkim=pass header.d={OFFICER_DOMAIN}\"@attacker.example"
        );
        assert!(!read(&h).vouches_for(OFFICER_DOMAIN));
        // A quoted local part whose domain is the officer's is the officer's domain.
        let h = format!("mx.google.com; spf=pass smtp.mailfrom=\"a b\"@{OFFICER_DOMAIN}");
        assert!(read(&h).vouches_for(OFFICER_DOMAIN));
    }

    #[test]
    fn a_comment_cannot_smuggle_a_property() {
        let h = format!(
            "mx.google.com; dmarc=pass (header.from={OFFICER_DOMAIN}) header.from=attacker.example"
        );
        assert!(!read(&h).vouches_for(OFFICER_DOMAIN));
        let h = format!(
            "mx.google.com; dmarc=pass ((nested) header.from={OFFICER_DOMAIN} \\) ;dkim=pass header.d={OFFICER_DOMAIN}) header.from=attacker.example"
        );
        let r = read(&h);
        assert!(!r.vouches_for(OFFICER_DOMAIN), "{r:?}");
        assert_eq!(r.dkim, []);
        // A comment where the domain would be names nothing.
        let h = format!("mx.google.com; dmarc=pass header.from=(x){OFFICER_DOMAIN}");
        assert!(read(&h).dmarc.is_some());
        let h = "mx.google.com; dmarc=pass (header.from=hoankiem.hanoi.gov.vn)";
        assert_eq!(read(h).dmarc.and_then(|c| c.domain), None);
    }

    #[test]
    fn dkim_of_another_domain_does_not_count() {
        let h = "mx.google.com; dkim=pass header.d=mailgun.example header.i=@hoankiem.hanoi.gov.vn";
        assert!(
            !read(h).vouches_for(OFFICER_DOMAIN),
            "header.d wins over header.i"
        );
        let h = "mx.google.com; dkim=pass header.d=hanoi.gov.vn.attacker.example";
        assert!(!read(h).vouches_for(OFFICER_DOMAIN));
        let h = "mx.google.com; dkim=pass header.d=gov.vn";
        assert!(!read(h).vouches_for(OFFICER_DOMAIN), "a public suffix");
        let h = "mx.google.com; dkim=fail header.d=hoankiem.hanoi.gov.vn";
        assert!(!read(h).vouches_for(OFFICER_DOMAIN));
    }

    #[test]
    fn relaxed_alignment_is_dmarcs() {
        // The organisational domain of hoankiem.hanoi.gov.vn is hanoi.gov.vn.
        assert!(aligned("mail.hanoi.gov.vn", OFFICER_DOMAIN));
        assert!(aligned("HOANKIEM.hanoi.gov.vn.", OFFICER_DOMAIN));
        assert!(aligned("bounce.congty.com.vn", "congty.com.vn"));
        assert!(!aligned("khac.com.vn", "congty.com.vn"));
        assert!(!aligned("gov.vn", OFFICER_DOMAIN));
        assert!(!aligned("com.vn", "com.vn.attacker.example"));
        assert!(!aligned("", OFFICER_DOMAIN));
        assert!(aligned("gmail.com", "gmail.com"));
        assert!(!aligned("googlemail.com", "gmail.com"));
    }

    #[test]
    fn an_aligned_spf_pass_counts_where_the_domain_has_no_dkim_or_dmarc() {
        let h = "mx.google.com; spf=pass (google.com: domain of canbo@congty.com.vn designates 1.2.3.4 as permitted sender) smtp.mailfrom=bounce@mail.congty.com.vn";
        let r = read(h);
        assert_eq!(
            r.evidence(Some("congty.com.vn")),
            AuthEvidence::Pass {
                authserv_id: "mx.google.com".into(),
                method: "spf".into(),
                domain: "congty.com.vn".into()
            }
        );
        assert!(!r.vouches_for("khac.com.vn"));
        // Relaxed alignment applies to DKIM too.
        let h = "mx.google.com; dkim=pass header.d=mail.congty.com.vn; dmarc=none header.from=congty.com.vn";
        assert!(read(h).vouches_for("congty.com.vn"));
        // Where the domain's own DMARC said fail, its owner's verdict stands.
        let h = "mx.google.com; spf=pass smtp.mailfrom=a@mail.congty.com.vn; dmarc=fail header.from=congty.com.vn";
        assert!(!read(h).vouches_for("congty.com.vn"));
        // A softfail or neutral SPF is no pass.
        let h = "mx.google.com; spf=softfail smtp.mailfrom=a@congty.com.vn";
        assert!(!read(h).vouches_for("congty.com.vn"));
    }

    #[test]
    fn a_refusal_says_what_a_domain_with_neither_needs() {
        let h = "mx.google.com; dkim=none; spf=none smtp.mailfrom=canbo@congty.com.vn; dmarc=none";
        let AuthEvidence::Fail { detail } = read(h).evidence(Some("congty.com.vn")) else {
            panic!("nothing here counts")
        };
        assert!(
            detail.contains("use a Gmail address, or add DKIM/SPF to the domain"),
            "{detail}"
        );
        assert!(detail.contains("spf=none (congty.com.vn)"), "{detail}");
    }

    #[test]
    fn cfws_around_the_grammar_is_read() {
        let h = "mx.google.com 1 ; dkim/1 = pass (ok) header.d = congty.com.vn ; spf=pass smtp.mailfrom=\"quoted\"@congty.com.vn";
        let r = read(h);
        assert_eq!(r.dkim[0].domain.as_deref(), Some("congty.com.vn"), "{r:?}");
        assert_eq!(r.spf[0].domain.as_deref(), Some("congty.com.vn"));
        let h = "\"mx.google.com\"; dmarc=pass header.from=\"congty.com.vn\"";
        assert!(read(h).vouches_for("congty.com.vn"));
        assert_eq!(
            read("mx.google.com; none").authserv_id.as_deref(),
            Some("mx.google.com")
        );
    }

    #[test]
    fn at_most_max_resinfos_are_read() {
        let mut h = "mx.google.com".to_owned();
        for _ in 0..MAX_RESINFOS {
            h.push_str("; dkim=fail header.d=congty.com.vn");
        }
        h.push_str("; dkim=pass header.d=congty.com.vn");
        let r = read(&h);
        assert_eq!(r.dkim.len(), MAX_RESINFOS);
        assert!(!r.vouches_for("congty.com.vn"));
    }

    /// A megabyte of each shape the tokenizer has (words, semicolons, quotes, nested
    /// comments, `=` to join) reads in linear time: well under a second even unoptimised.
    #[test]
    fn a_one_megabyte_header_reads_quickly() {
        const MB: usize = 1 << 20;
        let shapes = [
            format!("mx.google.com; dkim=pass header.d={}", "a".repeat(MB)),
            format!("mx.google.com; spf=pass {}", "x=y ".repeat(MB / 4)),
            format!("mx.google.com; dkim=pass {}", "= ".repeat(MB / 2)),
            format!(
                "mx.google.com; spf=pass smtp.mailfrom=\"{}\"@a.vn",
                "\\;".repeat(MB / 2)
            ),
            format!("mx.google.com; dmarc=pass {}", "(".repeat(MB)),
            format!("mx.google.com{}", ";".repeat(MB)),
            format!("mx.google.com; dkim=pass {}", "\"\"".repeat(MB / 2)),
        ];
        for h in &shapes {
            let started = std::time::Instant::now();
            let r = read(h);
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{} bytes took {:?}",
                h.len(),
                started.elapsed()
            );
            assert!(r.dkim.len() + r.spf.len() <= MAX_RESINFOS);
        }
    }

    #[test]
    fn tokens_keep_quoted_strings_and_drop_comments() {
        let words: Vec<Token> = Tokens::new("a (b; c) \"d;e\"@f; g").collect();
        assert_eq!(
            words,
            [
                Token::Word(Word {
                    parts: vec![("a".into(), false)]
                }),
                Token::Word(Word {
                    parts: vec![("d;e".into(), true), ("@f".into(), false)]
                }),
                Token::Semicolon,
                Token::Word(Word {
                    parts: vec![("g".into(), false)]
                }),
            ]
        );
    }
}
