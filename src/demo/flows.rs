//! The demo's story: the three flows of SPEC §2 (an organisation's staff list,
//! individuals registered by the area police, households), each person acting on
//! what the daemon sent them, and the summary read back from the database.

use super::*;
use crate::permit::checkpoint;

impl<W: Write> World<W> {
    pub(super) fn organisation(&mut self) -> anyhow::Result<()> {
        self.heading("Organisation (T): registration → staff list → officers' review → police stamp → permits")?;
        let registration = Draft::new(
            OFFICER,
            ACCOUNTS[0],
            "ĐĂNG KÝ TỔ CHỨC: Công ty CP Dược phẩm Hà Tây",
            &format!(
                "Tên tổ chức: Công ty Cổ phần Dược phẩm Hà Tây\nEmail: {}\nMã số thuế: {TAX_CODE}\nĐịa chỉ: 10A Quang Trung, Hà Đông, Hà Nội\nNgười liên hệ: Nguyễn Thị Ngọc Ánh\nĐiện thoại: 0912345678\nLĩnh vực: Phân phối dược phẩm\n\n-- \n{}\nCán bộ UBND phường Trần Hưng Đạo",
                ORG.0, OFFICER.1
            ),
        );
        let taken = self.send(
            registration,
            "the officer enters the registration the area police checked",
        )?;
        let code = opened(&taken)?;

        let staff = self.sampler.staff(8);
        let mut broken = staff.clone();
        broken[3].id_number = Some("0010812345".into());
        let title = "DANH SÁCH NHÂN VIÊN ĐỀ NGHỊ CẤP GIẤY ĐI ĐƯỜNG";
        let document = files::registration_pdf(TAX_CODE);
        let confirmation = self.find(ORG.0, &code, "Đã mở hồ sơ")?;
        let roster = Draft::reply(
            ORG,
            &confirmation,
            "Kính gửi UBND phường,\nCông ty gửi danh sách nhân viên và giấy chứng nhận đăng ký doanh nghiệp.\nTrân trọng.",
        )
        .attach(
            "danh_sach_nhan_vien.xlsx",
            XLSX,
            files::roster_xlsx(Kind::T, title, &broken)?,
        )
        .attach("giay_chung_nhan_dkkd.pdf", PDF, document.clone());
        self.send(
            roster,
            "the organisation replies to the confirmation: 8 staff (row 4's ID number has 10 digits) and a document",
        )?;

        let errors = self.find(ORG.0, &code, "có lỗi")?;
        let corrected = Draft::reply(
            ORG,
            &errors,
            "Công ty xin gửi lại danh sách đã sửa số CCCD ở dòng 4.",
        )
        .attach(
            "danh_sach_nhan_vien_sua.xlsx",
            XLSX,
            files::roster_xlsx(Kind::T, title, &staff)?,
        )
        .attach("giay_chung_nhan_dkkd.pdf", PDF, document);
        self.send(
            corrected,
            "the organisation answers the errors mail with the corrected list",
        )?;

        let review = self.find_request(OFFICER.0, &code, "xét duyệt")?;
        let partial = Draft::reply(
            OFFICER,
            &review,
            "DUYỆT 1-5\nTỪ CHỐI 6: không thuộc danh sách đi làm trực tiếp\n\nBình",
        );
        self.send(
            partial,
            "the first officer decides part of the list, replying Gmail-style on his reply token",
        )?;

        let review2 = self.find_request(OFFICER2.0, &code, "xét duyệt")?;
        let stolen = Draft::reply(FORGER, &review2, "DUYỆT");
        self.send(
            stolen,
            "a stranger who was forwarded the second officer's request replies DUYỆT on its token from his own address",
        )?;
        let forged = Draft::reply(OFFICER2, &review2, "DUYỆT").forged();
        self.send(
            forged,
            "a forged From: the second officer's address, with no trusted Authentication-Results",
        )?;
        let approve = Draft::reply(OFFICER2, &review2, "Duyệt\n\nHà");
        self.send(
            approve,
            "the second officer approves the rest (DUYỆT: every undecided row)",
        )?;
        let replay = Draft::reply(OFFICER2, &review2, "TỪ CHỐI 7: nhầm người");
        self.send(
            replay,
            "the second officer answers the same request again, after the review has ended",
        )?;

        let stamp = self.find_request(POLICE.0, &code, "đóng dấu")?;
        let stamped = Draft::reply(
            POLICE,
            &stamp,
            "ĐÓNG DẤU\n-- \nCông an phường Trần Hưng Đạo",
        );
        self.send(stamped, "the ward police stamp every approved row")?;

        let revoke = Draft::new(
            POLICE,
            ACCOUNTS[0],
            "Thu hồi giấy đi đường",
            &format!(
                "THU HỒI {code}-0003: nhân viên đã nghỉ việc\n-- \nCông an phường Trần Hưng Đạo"
            ),
        );
        self.send(revoke, "the ward police revoke one permit")?;

        let permits = self.find(ORG.0, &code, "đã được cấp")?;
        let status = Draft::reply(ORG, &permits, "TRẠNG THÁI");
        self.send(status, "the organisation asks for the state of its case")?;
        Ok(())
    }

    pub(super) fn individuals(&mut self) -> anyhow::Result<()> {
        self.heading("Individuals (C): the area police's list goes straight to the police stamp")?;
        let people = self.sampler.individuals(5);
        let list = Draft::new(
            CSKV,
            ACCOUNTS[1],
            "ĐĂNG KÝ CÁ NHÂN - tổ dân phố số 5",
            "Đề nghị cấp giấy đi đường cho 5 người trong danh sách kèm theo (đã xác minh).\n\n-- \nCSKV phường Trần Hưng Đạo",
        )
        .attach(
            "danh_sach_ca_nhan.xlsx",
            XLSX,
            files::roster_xlsx(Kind::C, "DANH SÁCH CÁ NHÂN ĐỀ NGHỊ CẤP GIẤY ĐI ĐƯỜNG", &people)?,
        );
        let taken = self.send(
            list,
            "the area police send 5 people they checked, to the ward's second account",
        )?;
        let code = opened(&taken)?;
        let stamp = self.find_request(POLICE.0, &code, "đóng dấu")?;
        let reply = Draft::reply(
            POLICE,
            &stamp,
            "ĐÓNG DẤU 1-4\nTỪ CHỐI 5: đề nghị bổ sung giấy xác nhận nơi làm việc",
        );
        self.send(reply, "the ward police stamp four and refuse one")?;
        Ok(())
    }

    pub(super) fn households(&mut self) -> anyhow::Result<()> {
        self.heading("Households (H): market cards, officers' review then police stamp")?;
        let households = self.sampler.households(6);
        let list = Draft::new(
            CSKV,
            ACCOUNTS[2],
            "THẺ ĐI CHỢ - tổ dân phố số 5",
            "Đề nghị cấp thẻ đi chợ cho 6 hộ gia đình theo danh sách kèm theo.\n\n-- \nCSKV phường Trần Hưng Đạo",
        )
        .attach(
            "the_di_cho_to_5.xlsx",
            XLSX,
            files::roster_xlsx(Kind::H, "DANH SÁCH HỘ GIA ĐÌNH ĐỀ NGHỊ CẤP THẺ ĐI CHỢ", &households)?,
        );
        let taken = self.send(
            list,
            "the area police send 6 households, to the ward's third account",
        )?;
        let code = opened(&taken)?;
        let review = self.find_request(OFFICER.0, &code, "xét duyệt")?;
        self.send(
            Draft::reply(OFFICER, &review, "DUYỆT"),
            "the officer approves every household",
        )?;
        let stamp = self.find_request(POLICE.0, &code, "đóng dấu")?;
        self.send(
            Draft::reply(POLICE, &stamp, "ĐÓNG DẤU"),
            "the ward police stamp the cards",
        )?;
        Ok(())
    }

    pub(super) fn summary(&mut self, config_path: &Path, started: Instant) -> anyhow::Result<()> {
        let g = Arc::clone(&self.generation);
        writeln!(self.out, "\nCases in the database:")?;
        cases::list(&g.store, &mut self.out)?;

        // Every mailbox and what it holds.
        let mut boxes = Vec::new();
        for entry in std::fs::read_dir(self.mailboxes.root())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let maildir = self.mailboxes.mailbox(&name)?;
            let count = maildir.list("new")?.len() + maildir.list("cur")?.len();
            boxes.push((name, count));
        }
        boxes.sort();
        writeln!(
            self.out,
            "\nMaildirs under {}:",
            self.mailboxes.root().display()
        )?;
        for (name, count) in &boxes {
            let role = if ACCOUNTS.contains(&name.as_str()) {
                " (ward account: taken-in mail in cur/)"
            } else {
                ""
            };
            writeln!(self.out, "  {count:>3}  {name}{role}")?;
        }

        // The permits the people saved, checked as a checkpoint would.
        let trust = issue::trust_list(&g.config)?;
        let revoked =
            issue::revocations(&g.store.cases()?).with_keys(issue::revoked_keys(&g.config));
        let today = self
            .clock
            .to_zoned_datetime(g.config.service.timezone.clone())
            .date();
        let (mut valid, mut not_valid) = (0, Vec::new());
        let files = self.dir.join("files");
        let mut seen = HashSet::new();
        for owner in std::fs::read_dir(&files)? {
            for file in std::fs::read_dir(owner?.path())? {
                let path = file?.path();
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let Some(payload) = pdf::payload_from_pdf(&bytes) else {
                    continue;
                };
                if !seen.insert(payload.clone()) {
                    continue;
                }
                match trust::check(
                    &payload,
                    &trust,
                    Some(&revoked),
                    today,
                    g.config.permits.max_valid_days,
                ) {
                    trust::Verdict::Valid(_) => valid += 1,
                    trust::Verdict::NotValid { claims, why } => not_valid.push(format!(
                        "{}: {why}",
                        claims.map(|c| c.id).unwrap_or_default()
                    )),
                }
            }
        }
        let trust_path = self.dir.join("trust-list.json");
        let revoked_path = self.dir.join("revocations.json");
        std::fs::write(&trust_path, trust.to_json_pretty())
            .with_context(|| format!("cannot write {}", trust_path.display()))?;
        std::fs::write(&revoked_path, revoked.to_json_pretty())
            .with_context(|| format!("cannot write {}", revoked_path.display()))?;
        // The checkpoint page runs on the phone's real clock, so it is made now, not at
        // the demo's simulated 2021 morning: its lists are fresh, and the demo's permits
        // (valid in September 2021) show as expired, after every other check has passed.
        let page_path = self.dir.join("kiem-tra.html");
        let page = checkpoint::render(&checkpoint::PageInput {
            keys: trust.keys.clone(),
            revoked: revoked.revoked.clone(),
            revoked_keys: revoked.revoked_keys.clone(),
            generated_at: jiff::Timestamp::now(),
            fresh_hours: checkpoint::DEFAULT_FRESH_HOURS,
            max_valid_days: g.config.permits.max_valid_days,
        });
        std::fs::write(&page_path, &page.html)
            .with_context(|| format!("cannot write {}", page_path.display()))?;
        let refusals = g.store.refusals()?;
        let sent = g
            .store
            .outbox()?
            .iter()
            .filter(|e| matches!(e.status, OutboxStatus::Sent { .. }))
            .count();
        writeln!(
            self.out,
            "\n{} mails taken in, {sent} sent; {} refused attempts logged for the officers' daily report.\n\
             Permits in the PDFs the people saved under {}: {valid} VALID against the trust list{}.",
            self.step,
            refusals.len(),
            files.display(),
            if not_valid.is_empty() {
                String::new()
            } else {
                format!(", not valid: {}", not_valid.join("; "))
            }
        )?;
        let config = config_path.display();
        let org_files = files.join(ORG.0);
        writeln!(
            self.out,
            "Done in {:.1} s. Everything is in {}:\n  \
             mail/<address>/new/   the mails each person received, as .eml files (the ward accounts' taken-in mail: cur/)\n  \
             files/<address>/      what each person saved from them: permit PDFs, print sheets, rosters, documents\n  \
             trust-list.json, revocations.json   what a checkpoint's verifier needs\n  \
             kiem-tra.html         the checkpoint page with those lists inside ({} KB, fingerprint {})\n\
             Try:\n  \
             qrca cases --config {config} show THD-T-0001\n  \
             qrca outbox --config {config} list\n  \
             qrca verify --config {config} --on 2021-09-10 --pdf {}\n  \
             qrca verify --config {config} --on 2021-09-10 --revocations {} --pdf {}\n\
             The checkpoint page: open {} in Chromium, Chrome, Firefox or Safari (file:// works;\n\
             on a phone, send it the file), allow the camera and show it a permit, or use\n\
             \"Chụp ảnh mã QR\" with a permit's picture. It checks on today's real date, so these\n\
             September 2021 permits show KHÔNG HỢP LỆ: hết hạn; THD-T-0001-0003 shows đã thu hồi.",
            started.elapsed().as_secs_f64(),
            self.dir.display(),
            page.html.len() / 1000,
            page.fingerprint,
            org_files.join("THD-T-0001-0001.pdf").display(),
            revoked_path.display(),
            org_files.join("THD-T-0001-0003.pdf").display(),
            page_path.display(),
        )?;
        Ok(())
    }

    /// `qrca explain` on the first mail the daemon refused: the officers' "why didn't
    /// my reply count?", answered from the database, which it leaves as it was.
    pub(super) fn explain_refused(&mut self, config_path: &Path) -> anyhow::Result<()> {
        let Some((account, bytes)) = self.refused.clone() else {
            return Ok(());
        };
        let path = self.dir.join("refused.eml");
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        self.heading(&format!(
            "Why did a reply not count? qrca explain --config {} {}",
            config_path.display(),
            path.display()
        ))?;
        let g = Arc::clone(&self.generation);
        let (text, verdict) =
            crate::daemon::explain::explain(&g.store, &g.config, &account, &bytes, self.clock)?;
        write!(self.out, "{text}")?;
        writeln!(self.out, "(exit {})", verdict.exit_code())?;
        Ok(())
    }
}

/// The case a registration opened.
fn opened(taken: &[Taken]) -> anyhow::Result<String> {
    taken
        .iter()
        .find_map(|t| match t {
            Taken::Processed(Processed::Applied { case, .. }) => Some(case.code.clone()),
            _ => None,
        })
        .context("the daemon opened no case for the registration")
}
