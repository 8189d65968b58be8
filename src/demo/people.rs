//! Generated Vietnamese sample people for `qrca demo`: deterministic, plausible, and
//! nobody real (ID numbers start with Hà Nội's 001 but the rest is made up).

use crate::workflow::Row;
use jiff::civil::{Date, date};

const FAMILY: [&str; 16] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
const MIDDLE_M: [&str; 6] = ["Văn", "Đức", "Quốc", "Minh", "Hữu", "Thành"];
const MIDDLE_F: [&str; 5] = ["Thị", "Ngọc", "Thu", "Thanh", "Mỹ"];
const GIVEN_M: [&str; 14] = [
    "An", "Bảo", "Cường", "Dũng", "Hùng", "Khánh", "Long", "Nam", "Phúc", "Quân", "Sơn", "Thắng",
    "Tuấn", "Việt",
];
const GIVEN_F: [&str; 15] = [
    "Anh",
    "Bích",
    "Chi",
    "Dung",
    "Hà",
    "Hằng",
    "Hương",
    "Lan",
    "Linh",
    "Mai",
    "Ngọc Ánh",
    "Nhung",
    "Thảo",
    "Trang",
    "Yến",
];
const STREETS: [&str; 8] = [
    "phố Trần Hưng Đạo",
    "phố Hàng Bài",
    "phố Lý Thường Kiệt",
    "phố Phan Chu Trinh",
    "phố Quán Sứ",
    "phố Lê Thánh Tông",
    "ngõ Thọ Xương",
    "phố Bà Triệu",
];
const POSITIONS: [&str; 6] = [
    "Nhân viên kho",
    "Lái xe",
    "Dược sĩ",
    "Kế toán",
    "Nhân viên giao hàng",
    "Bảo vệ",
];
const REASONS: [&str; 4] = [
    "Làm việc tại bệnh viện Việt Đức",
    "Chăm sóc người thân ốm",
    "Tình nguyện viên tại điểm tiêm chủng",
    "Cung ứng lương thực thiết yếu",
];
const MARKETS: [&str; 3] = ["Chợ Hàng Da", "Siêu thị WinMart Bà Triệu", "Chợ Hôm"];

/// A small linear congruential generator: reproducible sample data, not security.
pub struct Sampler(u64);

impl Sampler {
    pub fn new(seed: u64) -> Sampler {
        Sampler(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    /// One person's identity: name, 12-digit CCCD, date of birth.
    fn identity(&mut self) -> (String, String, Date) {
        let female = self.below(2) == 1;
        let year = 1960 + self.below(44) as i16;
        let birth = date(year, 1 + self.below(12) as i8, 1 + self.below(28) as i8);
        let name = if female {
            format!(
                "{} {} {}",
                self.pick(&FAMILY),
                self.pick(&MIDDLE_F),
                self.pick(&GIVEN_F)
            )
        } else {
            format!(
                "{} {} {}",
                self.pick(&FAMILY),
                self.pick(&MIDDLE_M),
                self.pick(&GIVEN_M)
            )
        };
        // CCCD: province 001 (Hà Nội), sex and century, year of birth, six digits.
        let century = u8::from(year >= 2000) * 2 + u8::from(female);
        let id = format!("001{century}{:02}{}", year % 100, self.digits(6));
        (name, id, birth)
    }

    fn address(&mut self) -> String {
        format!("Số {} {}", 1 + self.below(120), self.pick(&STREETS))
    }

    /// An organisation's staff list.
    pub fn staff(&mut self, n: u32) -> Vec<Row> {
        (1..=n)
            .map(|stt| {
                let (name, id, birth) = self.identity();
                Row {
                    stt,
                    sheet_row: stt + 4,
                    name: Some(name),
                    id_number: Some(id),
                    birth_date: Some(birth),
                    phone: Some(format!("09{}", self.digits(8))),
                    position: Some(self.pick(&POSITIONS).to_string()),
                    address: Some(self.address()),
                    route: Some("Nơi ở → 12 Trần Hưng Đạo (trụ sở công ty)".into()),
                    ..Row::default()
                }
            })
            .collect()
    }

    /// Individuals an area police registers; every other one has an email.
    pub fn individuals(&mut self, n: u32) -> Vec<Row> {
        (1..=n)
            .map(|stt| {
                let (name, id, birth) = self.identity();
                Row {
                    stt,
                    sheet_row: stt + 1,
                    name: Some(name),
                    id_number: Some(id),
                    birth_date: Some(birth),
                    reason: Some(self.pick(&REASONS).to_string()),
                    address: Some(self.address()),
                    email: (stt % 2 == 1).then(|| format!("nguoidan{stt}@example.vn")),
                    ..Row::default()
                }
            })
            .collect()
    }

    /// Households and their market days.
    pub fn households(&mut self, n: u32) -> Vec<Row> {
        (1..=n)
            .map(|stt| {
                let (name, id, birth) = self.identity();
                let days = if stt % 2 == 0 {
                    "Thứ 2, 4, 6"
                } else {
                    "Thứ 3, 5, 7"
                };
                Row {
                    stt,
                    sheet_row: stt + 2,
                    name: Some(name),
                    id_number: Some(id),
                    birth_date: Some(birth),
                    address: Some(self.address()),
                    household_size: Some(1 + self.below(6) as u32),
                    market_days: Some(days.into()),
                    market: Some(self.pick(&MARKETS).to_string()),
                    ..Row::default()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_people_are_plausible_and_reproducible() {
        let a = Sampler::new(7).staff(50);
        let b = Sampler::new(7).staff(50);
        assert_eq!(a, b);
        for row in &a {
            let id = row.id_number.as_deref().unwrap_or_default();
            assert_eq!(id.len(), 12, "{id}");
            assert!(id.starts_with("001"));
            let name = row.name.as_deref().unwrap_or_default();
            assert!(!name.chars().any(|c| c.is_ascii_digit()), "{name}");
            assert!(name.split(' ').count() >= 3, "{name}");
        }
        let mut ids: Vec<_> = a.iter().map(|r| r.id_number.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50, "sample ID numbers must not repeat");
    }
}
