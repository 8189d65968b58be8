//! The config the Debian package installs (`packaging/deb/qrca.toml`), as a test uses it:
//! its mail pointed at loopback servers instead of Gmail, its state in the test's dir.
//! `tests/setup_cli.rs` and `tests/guide.rs` start `qrca setup` from it, as an admin
//! does after `apt install`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes `dir/qrca.toml`: the packaged config with `[mail]` at `imap`/`smtp` on
/// 127.0.0.1 without TLS, `authserv_id` trusted, `state_dir = "state"`, and `admin`, when
/// given, as `[service] admin_email` (else the package's comment stays). Mode 0640, as
/// setup must keep it. Panics when the packaged file no longer has those lines.
pub fn packaged_config(
    dir: &Path,
    (imap, smtp): (u16, u16),
    authserv_id: &str,
    admin: Option<&str>,
) -> PathBuf {
    const PACKAGED: &str = include_str!("../../packaging/deb/qrca.toml");
    let mut replaced = 0;
    let text: Vec<String> = PACKAGED
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or_default().trim();
            let new = match (key, admin) {
                ("state_dir", _) => "state_dir = \"state\"".to_owned(),
                ("imap", _) => {
                    format!("imap = {{ host = \"127.0.0.1\", port = {imap}, tls = \"none\" }}")
                }
                ("smtp", _) => {
                    format!("smtp = {{ host = \"127.0.0.1\", port = {smtp}, tls = \"none\" }}")
                }
                ("trusted_authserv_ids", _) => {
                    format!("trusted_authserv_ids = [\"{authserv_id}\"]")
                }
                ("# admin_email", Some(admin)) => format!("admin_email = \"{admin}\""),
                _ => return line.to_owned(),
            };
            replaced += 1;
            new
        })
        .collect();
    assert_eq!(
        replaced,
        4 + usize::from(admin.is_some()),
        "packaging/deb/qrca.toml changed shape"
    );
    let path = dir.join("qrca.toml");
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    path
}
