//! Test fixtures for the core: a ward, sample people, and a `World` that plays the
//! role of the edge (clock, tokens, serials) deterministically.

use super::*;
use jiff::civil::date;
use std::sync::Arc;

pub const OFFICER: &str = "canbo1.thd@example.gov.vn";
pub const OFFICER2: &str = "canbo2.thd@example.gov.vn";
pub const POLICE: &str = "congan.thd@example.gov.vn";
pub const CSKV: &str = "cskv1.thd@example.gov.vn";
pub const CSKV2: &str = "cskv2.thd@example.gov.vn";
pub const ORG: &str = "nhansu@hoaphat.example.vn";
pub const STRANGER: &str = "ke.gia.mao@example.com";

pub fn ward() -> WardRules {
    WardRules {
        code: "hoankiem.tranhungdao".into(),
        short: "THD".into(),
        name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        officers: vec![OFFICER.into(), OFFICER2.into()],
        police: vec![POLICE.into()],
        area_police: vec![CSKV.into(), CSKV2.into()],
        validity: Validity::Days(14),
        max_valid_days: 30,
        require_auth: true,
        print_kinds: Vec::new(),
    }
}

pub fn organisation() -> Organisation {
    Organisation {
        name: "Công ty TNHH Thép Hoà Phát Hà Nội".into(),
        email: ORG.into(),
        tax_code: Some("0101234567".into()),
        address: Some("12 Trần Hưng Đạo, Hoàn Kiếm".into()),
        contact: Some("Nguyễn Thị Ngọc Ánh".into()),
        phone: Some("0912345678".into()),
        sector: Some("Sản xuất".into()),
    }
}

const NAMES: [&str; 8] = [
    "Nguyễn Văn An",
    "Trần Thị Bích Ngọc",
    "Lê Hoàng Minh",
    "Phạm Thị Thu Hà",
    "Đặng Quốc Bảo",
    "Vũ Thị Lan Anh",
    "Bùi Đức Thắng",
    "Hoàng Thị Mỹ Linh",
];

/// Valid rows; `first_id` makes the ID numbers of different rosters differ or match.
pub fn rows(n: u32, first_id: u64) -> Vec<Row> {
    (1..=n)
        .map(|stt| Row {
            stt,
            sheet_row: stt + 3,
            name: Some(NAMES[(stt as usize - 1) % NAMES.len()].into()),
            id_number: Some(format!("{:012}", first_id + u64::from(stt))),
            birth_date: Some(date(
                1980 + (stt % 20) as i16,
                1 + (stt % 12) as i8,
                1 + (stt % 28) as i8,
            )),
            email: (stt % 2 == 1).then(|| format!("nguoi{stt}@example.vn")),
            ..Row::default()
        })
        .collect()
}

pub fn submission(n: u32, first_id: u64) -> RosterSubmission {
    RosterSubmission {
        file_name: "danh_sach.xlsx".into(),
        roster: Roster {
            rows: rows(n, first_id).into_iter().map(Arc::new).collect(),
            errors: vec![],
            warnings: vec![],
        },
        documents: vec![],
    }
}

pub fn invalid_submission() -> RosterSubmission {
    let mut s = submission(3, 0);
    s.roster.errors.push(RosterIssue {
        row: Some(5),
        column: Some("CCCD/CMND".into()),
        message: "số CCCD phải có 12 chữ số".into(),
    });
    s
}

pub fn pass() -> AuthEvidence {
    AuthEvidence::Pass {
        authserv_id: "mx.google.com".into(),
        method: "dmarc".into(),
        domain: "example.gov.vn".into(),
    }
}

/// The edge, played deterministically: a clock, a token counter, serials.
pub struct World {
    pub ward: WardRules,
    pub now: jiff::Timestamp,
    pub today: jiff::civil::Date,
    pub serial: u32,
    pub tokens: u64,
    pub messages: u64,
}

impl Default for World {
    fn default() -> Self {
        World {
            ward: ward(),
            now: "2021-09-08T03:15:00Z".parse().unwrap_or_default(),
            today: date(2021, 9, 8),
            serial: 1,
            tokens: 0,
            messages: 0,
        }
    }
}

impl World {
    pub fn event(&mut self, sender: &str, body: EventBody) -> Event {
        self.messages += 1;
        Event {
            sender: sender.into(),
            message_id: format!("<m{}@example.gov.vn>", self.messages),
            auth: pass(),
            body,
        }
    }

    pub fn step(
        &mut self,
        case: Option<&Case>,
        event: &Event,
    ) -> Result<(Case, Vec<Effect>), Refusal> {
        let mut counter = self.tokens;
        let mut fresh = || {
            counter += 1;
            ReplyToken(format!("t{counter:025}"))
        };
        let mut ctx = Ctx {
            now: self.now,
            today: self.today,
            ward: &self.ward,
            next_serial: self.serial,
            fresh_token: &mut fresh,
        };
        let out = step(case.cloned(), event, &mut ctx);
        self.tokens = counter;
        if let Ok((c, _)) = &out
            && case.is_none()
        {
            self.serial = c.serial + 1;
        }
        out
    }

    /// Steps and insists on success; for building scenarios.
    pub fn ok(
        &mut self,
        case: Option<&Case>,
        sender: &str,
        body: EventBody,
    ) -> (Case, Vec<Effect>) {
        let ev = self.event(sender, body);
        match self.step(case, &ev) {
            Ok(out) => out,
            Err(r) => panic!("step refused {ev:?}: {r}"),
        }
    }

    pub fn open_t(&mut self) -> Case {
        self.ok(
            None,
            OFFICER,
            EventBody::RegisterOrganisation(organisation()),
        )
        .0
    }

    /// A T case with one batch of `n` rows in review.
    pub fn t_review(&mut self, n: u32) -> Case {
        let case = self.open_t();
        self.ok(Some(&case), ORG, EventBody::Roster(submission(n, 0)))
            .0
    }

    pub fn reply(
        &mut self,
        case: &Case,
        sender: &str,
        commands: Vec<Command>,
    ) -> Result<(Case, Vec<Effect>), Refusal> {
        let token = live_token(case, sender);
        let ev = self.event(
            sender,
            EventBody::Reply {
                token,
                commands,
                unreadable: vec![],
            },
        );
        self.step(Some(case), &ev)
    }

    /// A T case of `n` rows whose review approved `approved` and rejected the rest.
    pub fn t_stamp(&mut self, n: u32, approved: &[u32]) -> Case {
        let case = self.t_review(n);
        let mut commands = vec![Command::Approve(Rows::List(approved.to_vec()))];
        if approved.len() < n as usize {
            commands.push(Command::Reject {
                rows: Rows::All,
                reason: "không thuộc diện được cấp".into(),
            });
        }
        match self.reply(&case, OFFICER, commands) {
            Ok((c, _)) => c,
            Err(r) => panic!("review refused: {r}"),
        }
    }

    /// A T case of `n` rows, all approved and stamped.
    pub fn t_closed(&mut self, n: u32) -> Case {
        let all: Vec<u32> = (1..=n).collect();
        let case = self.t_stamp(n, &all);
        match self.reply(&case, POLICE, vec![Command::Stamp(Rows::All)]) {
            Ok((c, _)) => c,
            Err(r) => panic!("stamp refused: {r}"),
        }
    }
}

/// The live token addressed to `who`, if any.
pub fn live_token(case: &Case, who: &str) -> Option<ReplyToken> {
    case.tokens
        .iter()
        .find(|g| g.live && g.addressee == who)
        .map(|g| g.token.clone())
}

pub fn mails(effects: &[Effect]) -> Vec<(Template, Vec<String>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SendMail(m) => Some((m.template, m.to.clone())),
            _ => None,
        })
        .collect()
}

pub fn audits(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Audit(_)))
        .count()
}

pub fn stages(case: &Case) -> Vec<BatchStage> {
    case.batches.iter().map(|b| b.stage).collect()
}
