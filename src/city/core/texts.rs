//! The words of the mails the city's core queues (Vietnamese, for the ward's staff and
//! its daemon). Must not decide who gets a mail; the callers do.
//!
//! TODO: move these into `templates/city/` with the other mail templates when
//! `qrca city run` renders through `outbound`.

use super::Ctx;
use crate::city::model::{OutFile, OutMail, WardEntry};

/// The activation code for one account of a ward: the ward's daemon returns the file,
/// unchanged, signed by the announced key.
pub(super) fn activation(
    ward: &WardEntry,
    kid: &str,
    account: &str,
    ctx: &Ctx<'_>,
    file: OutFile,
) -> OutMail {
    let subject = format!("Mã kích hoạt khóa ký {kid} — {}", ward.name);
    let body = format!(
        "{city} đã nhận khóa ký {kid} của {name} ({district}) từ cả ba địa chỉ của phường.\n\n\
         Tệp đính kèm {file} chứa mã kích hoạt dành riêng cho địa chỉ {account}. \
         Phần mềm qrca của phường sẽ tự trả lời thư này, gửi lại đúng tệp đó kèm chữ ký \
         bằng khóa {kid}. Khi cả ba địa chỉ đã trả lời, khóa được kích hoạt và các trạm \
         kiểm soát sẽ chấp nhận giấy đi đường do phường ký.\n\n\
         Mã có hiệu lực {hours} giờ và chỉ dùng được một lần. Nếu phường không gửi khóa này, \
         xin báo ngay cho bộ phận quản trị của thành phố.\n",
        city = ctx.rules.city_name,
        name = ward.name,
        district = ward.district,
        file = file.name,
        hours = ctx.rules.code_valid_hours,
    );
    OutMail {
        to: vec![account.to_owned()],
        subject,
        body,
        attachments: vec![file],
        in_reply_to: None,
    }
}
