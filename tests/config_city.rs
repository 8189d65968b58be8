//! The city's config (issue 13): `[city]` with `[city.account]`, no `[[ward]]`; each
//! error at its line and column.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_support;

use config_support::Fixture;
use qrca::config::AccountAuth;

const CITY: &str = r#"[service]
state_dir = "state"

[mail]
daily_send_limit = 500

[city]
name = "Thành phố Hà Nội"
signing_key = "keys/city.key"
checkpoints = ["kiemtra1@example.gov.vn", "KiemTra2@example.gov.vn"]
publish_at_most_every_minutes = 30

[city.account]
address = "qrca.admin@gmail.com"
password_file = "secrets/thd1"
daily_send_limit = 2000
"#;

fn fixture() -> Fixture {
    let f = Fixture::new();
    f.private_file("keys/city.key");
    f
}

fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = CITY.to_owned();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
        text = text.replace(from, to);
    }
    text
}

#[test]
fn a_city_config_loads_with_its_defaults() {
    let f = fixture();
    let config = f.load(CITY).unwrap_or_else(|e| panic!("{e}")).config;
    assert!(config.wards.is_empty());
    let city = config.city.expect("a [city]");
    assert_eq!(city.name, "Thành phố Hà Nội");
    assert_eq!(city.signing_key, f.root().join("keys/city.key"));
    assert_eq!(
        city.checkpoints,
        ["kiemtra1@example.gov.vn", "kiemtra2@example.gov.vn"]
    );
    assert_eq!(
        (
            city.fresh_hours,
            city.publish_at_most_every_minutes,
            city.publish_at_least_every_hours,
            city.activation_codes_valid_hours
        ),
        (72, 30, 24, 72)
    );
    assert_eq!(city.account.address, "qrca.admin@gmail.com");
    assert_eq!(city.account.mail.daily_send_limit, 2000);
    assert!(matches!(city.account.auth, AccountAuth::PasswordFile(_)));
    // The city is its own admin.
    assert_eq!(config.service.admin_email, "qrca.admin@gmail.com");
    let same = edited(&[(
        "[service]\n",
        "[service]\nadmin_email = \"qrca.admin@gmail.com\"\n",
    )]);
    assert!(f.load(&same).is_ok());
}

/// The edits to `CITY` and the errors they give.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

#[test]
fn each_city_error_is_named_at_its_place() {
    let f = fixture();
    let cases: &[Case] = &[
        (
            &[("name = \"Thành phố Hà Nội\"\n", "")],
            &["7:1: missing key \"name\" in [city]"],
        ),
        (
            &[(
                "signing_key = \"keys/city.key\"",
                "signing_key = \"keys/none.key\"",
            )],
            &[
                "9:15: key \"signing_key\" in [city]: signing key $DIR/keys/none.key does not exist; create it with qrca city keys generate",
            ],
        ),
        (
            &[("\"kiemtra1@example.gov.vn\", ", "\"kiemtra1\", ")],
            &[
                "10:16: item 1 of key \"checkpoints\" in [city]: \"kiemtra1\" is not an email address (missing separator character '@')",
            ],
        ),
        (
            &[(
                "checkpoints = [\"kiemtra1@example.gov.vn\", \"KiemTra2@example.gov.vn\"]",
                "checkpoints = []",
            )],
            &["10:15: key \"checkpoints\" in [city] must list at least one address"],
        ),
        (
            &[(
                "publish_at_most_every_minutes = 30",
                "publish_at_most_every_minutes = -1",
            )],
            &[
                "11:33: key \"publish_at_most_every_minutes\" in [city] must be from 0 to 1440, not -1",
            ],
        ),
        (
            &[(
                "publish_at_most_every_minutes = 30",
                "publish_at_least_every_hours = 96",
            )],
            &[
                "11:32: key \"publish_at_least_every_hours\" in [city] is 96, longer than fresh_hours (72): checkpoints' pages would turn amber before the next one arrives",
            ],
        ),
        (
            &[("password_file = \"secrets/thd1\"\n", "")],
            &[
                "13:1: missing key in [city.account]: set exactly one of password_file, password_env or oauth2",
            ],
        ),
        (
            &[(
                "address = \"qrca.admin@gmail.com\"",
                "address = \"qrca.admin+x@gmail.com\"",
            )],
            &[
                "14:11: key \"address\" in [city.account]: \"qrca.admin+x@gmail.com\" must not contain \"+\"; qrca adds +<token> to it for replies",
            ],
        ),
        (
            &[(
                "[service]\n",
                "[service]\nadmin_email = \"other@example.gov.vn\"\n",
            )],
            &[
                "2:15: key \"admin_email\" in [service] is other@example.gov.vn, but the city reads and sends as qrca.admin@gmail.com ([city.account]); the wards mail admin_email, so the two must be the same",
            ],
        ),
        (
            &[(
                "daily_send_limit = 2000\n",
                "daily_send_limit = 2000\n\n[[ward]]\ncode = \"a.b\"\n",
            )],
            &[
                "18:1: a config with [city] has no [[ward]]: the city and each ward run from their own config",
            ],
        ),
    ];
    for (edits, expected) in cases {
        let text = edited(edits);
        let errors = f.errors(&text);
        let found: Vec<&str> = errors
            .iter()
            .map(String::as_str)
            .filter(|e| !e.contains("in [[ward]]") && !e.contains("[[ward.account]];"))
            .collect();
        assert_eq!(found, *expected, "{text}");
    }
    let no_account = CITY.split("[city.account]").next().unwrap().to_owned();
    assert_eq!(
        f.errors(&no_account),
        ["7:1: missing key \"account\" in [city]"]
    );
}

#[test]
fn a_config_without_city_still_needs_its_wards_and_admin() {
    let f = fixture();
    let text = "[service]\nadmin_email = \"a@example.gov.vn\"\n";
    assert_eq!(
        f.errors(text),
        [
            "1:1: the config has no [[ward]]; at least one ward is required (qrca setup --ward CODE adds one)"
        ]
    );
}
