//! `qrca::config::load`: every bad config gives exactly the diagnostics expected,
//! with line, column and message; a good one gives the values expected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_support;

use config_support::{Fixture, VALID, edit};
use jiff::civil::Date;
use qrca::config::{self, AccountAuth, ConfigError, LoadOptions, Paper, RosterField, Tls};
use qrca::workflow::Validity;

/// The three accounts of the second ward, as `VALID` writes them.
const QTG_ACCOUNTS: &str = "\n[[ward.account]]\naddress = \"qrca.dongda.quoctugiam1@gmail.com\"\npassword_file = \"secrets/qtg1\"\n\n[[ward.account]]\naddress = \"qrca.dongda.quoctugiam2@gmail.com\"\npassword_file = \"secrets/qtg2\"\n\n[[ward.account]]\naddress = \"qrca.dongda.quoctugiam3@gmail.com\"\npassword_file = \"secrets/qtg3\"\nimap = { host = \"127.0.0.1\", port = 1143, tls = \"none\" }\nmax_message_bytes = 10000000\n";

/// One bad config: the edits to `VALID` and every error it must give, in order.
struct Case {
    name: &'static str,
    edits: &'static [(&'static str, &'static str)],
    errors: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "unknown key",
        edits: &[("daily_send_limit = 500", "imap_host = \"imap.example.com\"")],
        errors: &[
            "5:1: unknown key \"imap_host\" in [mail]; expected one of imap, smtp, ca_file, daily_send_limit, max_message_bytes, processed_folder, quarantine_folder, answers_per_sender_per_day, trusted_authserv_ids",
        ],
    },
    Case {
        name: "two unknown keys give two errors",
        edits: &[
            ("daily_send_limit = 500", "imap_host = \"imap.example.com\""),
            ("valid_days = 14", "valid_day = 14"),
        ],
        errors: &[
            "5:1: unknown key \"imap_host\" in [mail]; expected one of imap, smtp, ca_file, daily_send_limit, max_message_bytes, processed_folder, quarantine_folder, answers_per_sender_per_day, trusted_authserv_ids",
            "8:1: unknown key \"valid_day\" in [permits]; expected one of paper, valid_days, valid_until, max_valid_days, printers, print_kinds",
        ],
    },
    Case {
        name: "print kinds need a printer",
        edits: &[("valid_days = 14", "valid_days = 14\nprint_kinds = [\"C\"]")],
        errors: &[
            "9:15: key \"print_kinds\" in [permits] needs key \"printers\": the CUPS queues to print on",
        ],
    },
    Case {
        name: "a printer that is no queue name and a kind that is none",
        edits: &[(
            "valid_days = 14",
            "valid_days = 14\nprinters = [\"laser1\", \"laser 2\"]\nprint_kinds = [\"C\", \"X\"]",
        )],
        errors: &[
            "9:23: key \"printers\" in [permits]: \"laser 2\" is not a CUPS queue name (letters, digits, - _ . only; `lpstat -p` lists them)",
            "10:21: key \"print_kinds\" in [permits]: \"X\" is not a kind of case (T, C or H)",
        ],
    },
    Case {
        name: "unknown key in an account and a wrong type elsewhere",
        edits: &[
            (
                "password_env = \"QRCA_THD2\"",
                "password_env = \"QRCA_THD2\"\nsmtp_port = 587",
            ),
            ("daily_send_limit = 500", "daily_send_limit = \"many\""),
        ],
        errors: &[
            "5:20: key \"daily_send_limit\" in [mail] must be an integer, not the string \"many\"",
            "27:1: unknown key \"smtp_port\" in [[ward.account]]; expected one of address, password_file, password_env, oauth2, imap, smtp, ca_file, daily_send_limit, max_message_bytes, processed_folder, quarantine_folder, answers_per_sender_per_day, trusted_authserv_ids",
        ],
    },
    Case {
        name: "wrong type in an array",
        edits: &[(
            "officers = [\"canbo.thd@example.gov.vn\"]",
            "officers = [3]",
        )],
        errors: &[
            "16:13: item 1 of key \"officers\" in [[ward]] must be a string, not the integer 3",
        ],
    },
    Case {
        name: "a table where a value was expected, and an unknown table",
        edits: &[("[service]\nadmin_email", "service = 3\n[x]\nadmin_email")],
        errors: &[
            "1:11: key \"service\" in the top level must be a table, not the integer 3",
            "2:2: unknown key \"x\" in the top level; expected one of service, mail, permits, roster, ward, city, standby",
        ],
    },
    Case {
        name: "a standby journal in a mailbox the config does not have, with no key",
        edits: &[(
            "[service]\nadmin_email",
            "[standby]\naccount = \"someone@else.test\"\n\n[service]\nadmin_email",
        )],
        errors: &[
            "1:1: missing key \"journal_key\" in [standby]",
            "2:11: key \"account\" in [standby] is someone@else.test, which is no account of this config: the journal lives in one of the ward's own mailboxes",
        ],
    },
    Case {
        name: "TOML syntax error",
        edits: &[("valid_days = 14", "valid_days = 14\nvalid_days = 15")],
        errors: &["9:1: TOML syntax error: duplicate key \"valid_days\""],
    },
    Case {
        name: "missing required key",
        edits: &[(
            "admin_email = \"admin@example.gov.vn\"",
            "state_dir = \"state\"",
        )],
        errors: &["1:1: missing key \"admin_email\" in [service]"],
    },
    Case {
        name: "unknown time zone",
        edits: &[(
            "admin_email = \"admin@example.gov.vn\"",
            "admin_email = \"admin@example.gov.vn\"\ntimezone = \"Asia/Hanoi\"",
        )],
        errors: &[
            "3:12: key \"timezone\" in [service]: \"Asia/Hanoi\" is not a known time zone; use an IANA name such as \"Asia/Ho_Chi_Minh\"",
        ],
    },
    Case {
        name: "daily report time not HH:MM",
        edits: &[(
            "admin_email = \"admin@example.gov.vn\"",
            "admin_email = \"admin@example.gov.vn\"\ndaily_report_at = \"7:00\"",
        )],
        errors: &[
            "3:19: key \"daily_report_at\" in [service]: \"7:00\" is not a time of day; write it HH:MM (00:00 to 23:59), e.g. \"07:00\"",
        ],
    },
    Case {
        name: "templates_dir missing, and a file where a directory belongs",
        edits: &[
            ("[service]\n", "[service]\ntemplates_dir = \"tpl\"\n"),
            ("daily_send_limit = 500", "ca_file = \"keys\""),
        ],
        errors: &[
            "2:17: key \"templates_dir\" in [service]: directory $DIR/tpl does not exist",
            "6:11: key \"ca_file\" in [mail]: CA file $DIR/keys is not a regular file",
        ],
    },
    Case {
        name: "a negative size",
        edits: &[("daily_send_limit = 500", "max_message_bytes = -1")],
        errors: &["5:21: key \"max_message_bytes\" in [mail] must be at least 1, not -1"],
    },
    Case {
        // "Phường Trần Hưng Đạo" is 20 characters but 29 bytes: columns count characters.
        name: "syntax error after Vietnamese text",
        edits: &[(
            "name = \"Phường Trần Hưng Đạo\"",
            "name = \"Phường Trần Hưng Đạo\"; officers = 1",
        )],
        errors: &["13:30: TOML syntax error: unexpected key or value, expected newline, `#`"],
    },
    Case {
        name: "bad address",
        edits: &[(
            "officers = [\"canbo.thd@example.gov.vn\"]",
            "officers = [\"not-an-address\"]",
        )],
        errors: &[
            "16:13: item 1 of key \"officers\" in [[ward]]: \"not-an-address\" is not an email address (missing separator character '@')",
        ],
    },
    Case {
        name: "no officers",
        edits: &[("officers = [\"canbo.thd@example.gov.vn\"]", "officers = []")],
        errors: &["16:12: key \"officers\" in [[ward]] must list at least one address"],
    },
    Case {
        name: "no police key",
        edits: &[("police = [\"congan.qtg@example.gov.vn\"]\n", "")],
        errors: &["32:1: missing key \"police\" in [[ward]]"],
    },
    Case {
        name: "duplicate ward code",
        edits: &[(
            "code = \"dongda.quoctugiam\"",
            "code = \"hoankiem.tranhungdao\"",
        )],
        errors: &[
            "33:8: key \"code\" in [[ward]]: ward code \"hoankiem.tranhungdao\" is already used by the ward at line 11",
        ],
    },
    Case {
        name: "duplicate short",
        edits: &[("short = \"QTG\"", "short = \"THD\"")],
        errors: &[
            "34:9: key \"short\" in [[ward]]: short code \"THD\" is already used by the ward at line 12",
        ],
    },
    Case {
        name: "ward code shape",
        edits: &[("code = \"dongda.quoctugiam\"", "code = \"DongDa\"")],
        errors: &[
            "33:8: key \"code\" in [[ward]] must be district.ward in lowercase ASCII letters and digits, like \"hoankiem.tranhungdao\", not \"DongDa\"",
        ],
    },
    Case {
        name: "short shape",
        edits: &[("short = \"QTG\"", "short = \"qtg\"")],
        errors: &[
            "34:9: key \"short\" in [[ward]] must be 2 to 6 uppercase ASCII letters, like \"THD\", not \"qtg\"",
        ],
    },
    Case {
        name: "short too long",
        edits: &[("short = \"QTG\"", "short = \"QUOCTUG\"")],
        errors: &[
            "34:9: key \"short\" in [[ward]] must be 2 to 6 uppercase ASCII letters, like \"THD\", not \"QUOCTUG\"",
        ],
    },
    Case {
        name: "one account in two wards (case ignored)",
        edits: &[(
            "address = \"qrca.dongda.quoctugiam1@gmail.com\"",
            "address = \"QRCA.hoankiem.tranhungdao1@gmail.com\"",
        )],
        errors: &[
            "42:11: key \"address\" in [[ward.account]]: \"qrca.hoankiem.tranhungdao1@gmail.com\" is already an account of ward \"hoankiem.tranhungdao\" (line 21); an account belongs to one ward",
        ],
    },
    Case {
        name: "account with a plus tag",
        edits: &[(
            "address = \"qrca.dongda.quoctugiam1@gmail.com\"",
            "address = \"qrca.dongda.quoctugiam1+x@gmail.com\"",
        )],
        errors: &[
            "42:11: key \"address\" in [[ward.account]]: \"qrca.dongda.quoctugiam1+x@gmail.com\" must not contain \"+\"; qrca adds +<token> to it for replies",
        ],
    },
    Case {
        name: "an officer who is also an account",
        edits: &[(
            "police = [\"congan.qtg@example.gov.vn\"]",
            "police = [\"qrca.hoankiem.tranhungdao2@gmail.com\"]",
        )],
        errors: &[
            "39:11: key \"police\" in [[ward]]: \"qrca.hoankiem.tranhungdao2@gmail.com\" is also an account of ward \"hoankiem.tranhungdao\" (line 25); qrca ignores mail from its own accounts, so use a person's own address",
        ],
    },
    Case {
        name: "password_file and password_env both",
        edits: &[(
            "password_env = \"QRCA_THD2\"",
            "password_env = \"QRCA_THD2\"\npassword_file = \"secrets/thd1\"",
        )],
        errors: &[
            "27:17: key \"password_file\" in [[ward.account]] cannot be used together with password_env (line 26); set exactly one of password_file, password_env or oauth2",
        ],
    },
    Case {
        name: "neither password nor oauth2",
        edits: &[("password_file = \"secrets/thd1\"", "# no password")],
        errors: &[
            "20:1: missing key in [[ward.account]]: set exactly one of password_file, password_env or oauth2",
        ],
    },
    Case {
        name: "oauth2 without its refresh token",
        edits: &[(", refresh_token_file = \"secrets/thd3.token\"", "")],
        errors: &["30:10: missing key \"refresh_token_file\" in [ward.account.oauth2]"],
    },
    Case {
        name: "password_env that is not a variable name",
        edits: &[(
            "password_env = \"QRCA_THD2\"",
            "password_env = \"QRCA THD2\"",
        )],
        errors: &[
            "26:16: key \"password_env\" in [[ward.account]] must name an environment variable (letters, digits and _), not \"QRCA THD2\"",
        ],
    },
    Case {
        name: "tls none to a remote host",
        edits: &[("host = \"127.0.0.1\"", "host = \"mail.example.com\"")],
        errors: &[
            "52:56: key \"tls\" in [ward.account.imap] is \"none\" but host \"mail.example.com\" is not a loopback address; plain text is allowed only to localhost, 127.0.0.0/8 or ::1",
        ],
    },
    Case {
        name: "tls none to a remote host in [mail]",
        edits: &[(
            "daily_send_limit = 500",
            "smtp = { host = \"smtp.example.com\", tls = \"none\" }",
        )],
        errors: &[
            "5:43: key \"tls\" in [mail.smtp] is \"none\" but host \"smtp.example.com\" is not a loopback address; plain text is allowed only to localhost, 127.0.0.0/8 or ::1",
        ],
    },
    Case {
        name: "unknown tls word",
        edits: &[("tls = \"none\"", "tls = \"ssl\"")],
        errors: &[
            "52:49: key \"tls\" in [ward.account.imap] must be \"implicit\", \"starttls\" or \"none\", not \"ssl\"",
        ],
    },
    Case {
        name: "port 0",
        edits: &[("port = 1143", "port = 0")],
        errors: &["52:37: key \"port\" in [ward.account.imap] must be from 1 to 65535, not 0"],
    },
    Case {
        name: "port too big",
        edits: &[("port = 1143", "port = 70000")],
        errors: &["52:37: key \"port\" in [ward.account.imap] must be from 1 to 65535, not 70000"],
    },
    Case {
        name: "endpoint without host",
        edits: &[("host = \"127.0.0.1\", ", "")],
        errors: &["52:8: missing key \"host\" in [ward.account.imap]"],
    },
    Case {
        name: "valid_days and valid_until both",
        edits: &[(
            "valid_days = 14",
            "valid_days = 14\nvalid_until = \"2021-09-21\"",
        )],
        errors: &[
            "9:15: key \"valid_until\" in [permits] cannot be used together with valid_days (line 8); keep one of them",
        ],
    },
    Case {
        name: "valid_days over the default max_valid_days",
        edits: &[("valid_days = 14", "valid_days = 31")],
        errors: &[
            "8:14: key \"valid_days\" in [permits] is 31, more than the 30 of max_valid_days (by default); lower valid_days or raise max_valid_days",
        ],
    },
    Case {
        name: "valid_days over max_valid_days",
        edits: &[("valid_days = 14", "max_valid_days = 10\nvalid_days = 14")],
        errors: &[
            "9:14: key \"valid_days\" in [permits] is 14, more than the 10 of max_valid_days; lower valid_days or raise max_valid_days",
        ],
    },
    Case {
        name: "max_valid_days 0",
        edits: &[("valid_days = 14", "max_valid_days = 0")],
        errors: &["8:18: key \"max_valid_days\" in [permits] must be from 1 to 366, not 0"],
    },
    Case {
        name: "max_valid_days over a year",
        edits: &[("valid_days = 14", "valid_days = 14\nmax_valid_days = 400")],
        errors: &["9:18: key \"max_valid_days\" in [permits] must be from 1 to 366, not 400"],
    },
    Case {
        name: "valid_days 0",
        edits: &[("valid_days = 14", "valid_days = 0")],
        errors: &["8:14: key \"valid_days\" in [permits] must be from 1 to 366, not 0"],
    },
    Case {
        name: "valid_until not ISO",
        edits: &[("valid_days = 14", "valid_until = \"21/09/2021\"")],
        errors: &[
            "8:15: key \"valid_until\" in [permits] must be a date written \"YYYY-MM-DD\", not \"21/09/2021\"",
        ],
    },
    Case {
        name: "paper size",
        edits: &[("valid_days = 14", "paper = \"A4\"")],
        errors: &["8:9: key \"paper\" in [permits] must be \"A6\" or \"A5\", not \"A4\""],
    },
    Case {
        name: "daily_send_limit 0",
        edits: &[("daily_send_limit = 500", "daily_send_limit = 0")],
        errors: &["5:20: key \"daily_send_limit\" in [mail] must be from 1 to 4294967295, not 0"],
    },
    Case {
        name: "ca_file missing",
        edits: &[("daily_send_limit = 500", "ca_file = \"ca.pem\"")],
        errors: &["5:11: key \"ca_file\" in [mail]: CA file $DIR/ca.pem does not exist"],
    },
    Case {
        name: "roster synonyms: unknown field, empty header, header of two fields",
        edits: &[(
            "valid_days = 14\n",
            "valid_days = 14\n\n[roster.synonyms]\nnam = [\"Tên\"]\nname = [\"Tên\", \" \"]\nphone = [\"tên\"]\n",
        )],
        errors: &[
            "11:1: unknown roster field \"nam\" in [roster.synonyms]; expected one of name, id_number, birth_date, phone, position, address, route, vehicle, email, reason, valid_from, valid_until, household_size, market_days, market",
            "12:16: item 2 of key \"name\" in [roster.synonyms] must not be empty",
            "13:10: item 1 of key \"phone\" in [roster.synonyms]: header \"tên\" is already a synonym of name",
        ],
    },
    Case {
        name: "signing_key_since not a date",
        edits: &[(
            "signing_key = \"keys/thd.key\"",
            "signing_key = \"keys/thd.key\"\nsigning_key_since = \"2021-13-01\"",
        )],
        errors: &[
            "16:21: key \"signing_key_since\" in [[ward]] must be a date written \"YYYY-MM-DD\", not \"2021-13-01\"",
        ],
    },
    Case {
        name: "retired keys: not a key, dates the wrong way round, missing since",
        edits: &[(
            "area_police = [\"cskv1.thd@example.gov.vn\"]\n",
            "area_police = [\"cskv1.thd@example.gov.vn\"]\n[[ward.retired_key]]\npublic_key = \"not-a-key\"\nsince = \"2021-08-01\"\nuntil = \"2021-08-31\"\n[[ward.retired_key]]\npublic_key = \"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik\"\nsince = \"2021-08-31\"\nuntil = \"2021-08-01\"\n[[ward.retired_key]]\npublic_key = \"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik\"\nuntil = \"2021-08-01\"\n",
        )],
        errors: &[
            "20:14: key \"public_key\" in [[ward.retired_key]] must be an Ed25519 public key as the trust list prints it (43 characters of base64url), not \"not-a-key\"",
            "23:1: in [[ward.retired_key]], \"until\" (2021-08-01) is before \"since\" (2021-08-31)",
            "27:1: missing key \"since\" in [[ward.retired_key]]",
        ],
    },
    Case {
        name: "one account of a ward trusts no server while the others do",
        edits: &[(
            "password_env = \"QRCA_THD2\"",
            "password_env = \"QRCA_THD2\"\ntrusted_authserv_ids = []",
        )],
        errors: &[
            "27:24: ward \"hoankiem.tranhungdao\": key \"trusted_authserv_ids\" in [[ward.account]] of account \"qrca.hoankiem.tranhungdao2@gmail.com\" sets it to [], but account \"qrca.hoankiem.tranhungdao1@gmail.com\" of the same ward trusts mx.google.com; authentication is decided per ward, so give every account of the ward the same trusted_authserv_ids (a forged From read on an account that trusts no server would need no authentication)",
        ],
    },
    Case {
        name: "[mail] trusts no server and one account of a ward trusts one",
        edits: &[
            (
                "daily_send_limit = 500",
                "daily_send_limit = 500\ntrusted_authserv_ids = []",
            ),
            (
                "password_file = \"secrets/thd1\"",
                "password_file = \"secrets/thd1\"\ntrusted_authserv_ids = [\"mx.google.com\"]",
            ),
        ],
        errors: &[
            "26:1: ward \"hoankiem.tranhungdao\": key \"trusted_authserv_ids\" in [[ward.account]] of account \"qrca.hoankiem.tranhungdao2@gmail.com\" inherits [] from [mail], but account \"qrca.hoankiem.tranhungdao1@gmail.com\" of the same ward trusts mx.google.com; authentication is decided per ward, so give every account of the ward the same trusted_authserv_ids (a forged From read on an account that trusts no server would need no authentication)",
            "30:1: ward \"hoankiem.tranhungdao\": key \"trusted_authserv_ids\" in [[ward.account]] of account \"qrca.hoankiem.tranhungdao3@gmail.com\" inherits [] from [mail], but account \"qrca.hoankiem.tranhungdao1@gmail.com\" of the same ward trusts mx.google.com; authentication is decided per ward, so give every account of the ward the same trusted_authserv_ids (a forged From read on an account that trusts no server would need no authentication)",
        ],
    },
    Case {
        name: "a ward without accounts",
        edits: &[(QTG_ACCOUNTS, "")],
        errors: &[
            "32:1: ward \"dongda.quoctugiam\" has no [[ward.account]]; add its accounts (qrca accounts suggest names them)",
        ],
    },
    Case {
        name: "ward accounts as a single table",
        edits: &[(
            QTG_ACCOUNTS,
            "\n[ward.account]\naddress = \"qrca.dongda.quoctugiam1@gmail.com\"\npassword_file = \"secrets/qtg1\"\n",
        )],
        errors: &[
            "41:1: key \"account\" in [[ward]] must be an array of tables, written [[ward.account]], not a single table",
        ],
    },
];

#[test]
fn each_bad_config_gives_exactly_its_errors() {
    assert!(CASES.len() >= 30);
    let fixture = Fixture::new();
    for case in CASES {
        let text = edit(case.edits);
        assert_eq!(fixture.errors(&text), case.errors, "case: {}", case.name);
    }
}

#[test]
fn the_valid_config_loads_without_warnings() {
    let fixture = Fixture::new();
    assert_eq!(fixture.warnings(VALID), Vec::<String>::new());
}

#[test]
fn many_errors_are_all_reported() {
    let fixture = Fixture::new();
    let text = edit(&[
        ("daily_send_limit = 500", "imap_host = \"x\""),
        ("valid_days = 14", "valid_days = 0"),
        ("short = \"QTG\"", "short = \"THD\""),
        (
            "officers = [\"canbo.qtg@example.gov.vn\"]",
            "officers = [\"nobody\"]",
        ),
        ("password_file = \"secrets/qtg2\"", "# none"),
    ]);
    let errors = fixture.errors(&text);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let lines: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap())
        .collect();
    assert_eq!(lines, ["5", "8", "34", "38", "45"]);
}

#[test]
fn a_missing_file_is_unreadable_not_invalid() {
    let fixture = Fixture::new();
    let path = fixture.root().join("nope.toml");
    match config::load(&path) {
        Err(ConfigError::Unreadable { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Unreadable, got {other:?}"),
    }
    assert!(matches!(
        config::load(fixture.root()),
        Err(ConfigError::Unreadable { .. })
    ));
    let e = config::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read the config file {}: ", path.display())),
        "{e}"
    );
}

#[test]
fn a_secret_readable_by_others_is_refused_with_its_mode() {
    let fixture = Fixture::new();
    fixture.chmod("secrets/thd1", 0o644);
    fixture.chmod("keys/qtg.key", 0o640);
    fixture.chmod("secrets/thd3.token", 0o622);
    assert_eq!(
        fixture.errors(VALID),
        [
            "22:17: key \"password_file\" in [[ward.account]]: secret file $DIR/secrets/thd1 is mode 0644; it must not be readable by group or others (chmod 600)",
            "30:90: key \"refresh_token_file\" in [ward.account.oauth2]: secret file $DIR/secrets/thd3.token is mode 0622; it must not be writable by group or others (chmod 600)",
            "37:15: key \"signing_key\" in [[ward]]: signing key $DIR/keys/qtg.key is mode 0640; it must not be readable by group or others (chmod 600)",
        ]
    );
}

#[test]
fn a_missing_secret_or_signing_key_is_refused() {
    let fixture = Fixture::new();
    std::fs::remove_file(fixture.root().join("keys/qtg.key")).unwrap();
    std::fs::remove_file(fixture.root().join("secrets/client")).unwrap();
    assert_eq!(
        fixture.errors(VALID),
        [
            "30:51: key \"client_secret_file\" in [ward.account.oauth2]: secret file $DIR/secrets/client does not exist; qrca reads the secret from this file, which the admin creates",
            "37:15: key \"signing_key\" in [[ward]]: signing key $DIR/keys/qtg.key does not exist; create it with qrca keys generate --ward dongda.quoctugiam",
        ]
    );
}

#[test]
fn keys_generate_may_load_a_config_whose_key_is_missing() {
    let fixture = Fixture::new();
    std::fs::remove_file(fixture.root().join("keys/qtg.key")).unwrap();
    let path = fixture.write_config(VALID);
    assert!(config::load(&path).is_err());
    let options = LoadOptions {
        allow_missing_signing_keys: true,
    };
    let loaded = config::load_with(&path, options).unwrap();
    let ward = loaded.config.ward("dongda.quoctugiam").unwrap();
    assert_eq!(ward.signing_key, fixture.root().join("keys/qtg.key"));
    // An existing key is still checked.
    fixture.chmod("keys/thd.key", 0o644);
    assert!(config::load_with(&path, options).is_err());
}

#[test]
fn relative_paths_are_resolved_against_the_config_directory() {
    let fixture = Fixture::new();
    let text = edit(&[(
        "admin_email = \"admin@example.gov.vn\"",
        "admin_email = \"Admin@Example.gov.vn\"\nstate_dir = \"state\"\ntemplates_dir = \"tpl\"",
    )]);
    std::fs::create_dir(fixture.root().join("tpl")).unwrap();
    let path = fixture.write_config(&text);
    let config = config::load(&path).unwrap().config;
    let root = fixture.root();
    assert_eq!(config.path, path);
    assert_eq!(config.service.state_dir, root.join("state"));
    assert_eq!(config.service.templates_dir, Some(root.join("tpl")));
    assert_eq!(config.service.admin_email, "admin@example.gov.vn");
    let thd = config.ward("hoankiem.tranhungdao").unwrap();
    assert_eq!(thd.signing_key, root.join("keys/thd.key"));
    assert_eq!(
        thd.accounts[0].auth,
        AccountAuth::PasswordFile(root.join("secrets/thd1"))
    );
    assert_eq!(
        thd.accounts[1].auth,
        AccountAuth::PasswordEnv("QRCA_THD2".to_owned())
    );
    assert_eq!(
        thd.accounts[2].auth,
        AccountAuth::OAuth2 {
            client_id: "id".to_owned(),
            client_secret_file: root.join("secrets/client"),
            refresh_token_file: root.join("secrets/thd3.token"),
        }
    );
    // Absolute paths are kept as they are.
    let text = edit(&[(
        "signing_key = \"keys/thd.key\"",
        &format!("signing_key = \"{}\"", root.join("keys/thd.key").display()),
    )]);
    let config = fixture.load(&text).unwrap().config;
    assert_eq!(
        config.ward("hoankiem.tranhungdao").unwrap().signing_key,
        root.join("keys/thd.key")
    );
}

#[test]
fn an_account_override_is_merged_over_mail_defaults() {
    let fixture = Fixture::new();
    let config = fixture.load(VALID).unwrap().config;
    assert_eq!(config.mail.daily_send_limit, 500);
    assert_eq!(config.mail.imap.host, "imap.gmail.com");
    let qtg = config.ward("dongda.quoctugiam").unwrap();
    let plain = &qtg.accounts[0].mail;
    assert_eq!(*plain, config.mail);
    let local = &qtg.accounts[2].mail;
    assert_eq!(local.imap.host, "127.0.0.1");
    assert_eq!(local.imap.port, 1143);
    assert_eq!(local.imap.tls, Tls::Plaintext);
    // Keys the account does not set come from [mail].
    assert_eq!(local.smtp, config.mail.smtp);
    assert_eq!(local.daily_send_limit, 500);
    assert_eq!(local.processed_folder, "QRCA/Processed");
    assert_eq!(local.max_message_bytes, 10_000_000);
    assert_eq!(local.trusted_authserv_ids, config.mail.trusted_authserv_ids);
    assert!(qtg.rules.require_auth);
}

#[test]
fn defaults_are_those_documented() {
    let fixture = Fixture::new();
    let text = edit(&[
        ("\n[mail]\ndaily_send_limit = 500\n", ""),
        ("\n[permits]\nvalid_days = 14\n", ""),
    ]);
    let config = fixture.load(&text).unwrap().config;
    assert_eq!(
        config.service.state_dir,
        std::path::Path::new("/var/lib/qrca")
    );
    assert_eq!(config.service.templates_dir, None);
    assert_eq!(config.service.timezone_name, "Asia/Ho_Chi_Minh");
    assert_eq!(
        config.service.daily_report_at,
        jiff::civil::time(7, 0, 0, 0)
    );
    assert_eq!(
        config.service.timezone,
        jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    );
    assert_eq!(config.mail.imap.host, "imap.gmail.com");
    assert_eq!(
        (config.mail.imap.port, config.mail.imap.tls),
        (993, Tls::Implicit)
    );
    assert_eq!(config.mail.smtp.host, "smtp.gmail.com");
    assert_eq!(
        (config.mail.smtp.port, config.mail.smtp.tls),
        (465, Tls::Implicit)
    );
    assert_eq!(config.mail.ca_file, None);
    assert_eq!(config.mail.daily_send_limit, 500);
    assert_eq!(config.mail.max_message_bytes, 20_000_000);
    assert_eq!(config.mail.processed_folder, "QRCA/Processed");
    assert_eq!(config.mail.trusted_authserv_ids, ["mx.google.com"]);
    assert_eq!(config.permits.paper, Paper::A6);
    assert_eq!(config.permits.validity, Validity::Days(14));
    assert_eq!(config.permits.max_valid_days, 30);
    assert_eq!(
        config.permits.max_valid_days,
        config::DEFAULT_MAX_VALID_DAYS
    );
    assert!(config.roster.synonyms.is_empty());
    let thd = config.ward("hoankiem.tranhungdao").unwrap();
    assert_eq!(thd.rules.validity, Validity::Days(14));
    assert!(thd.rules.require_auth);
    assert!(
        config
            .ward("dongda.quoctugiam")
            .unwrap()
            .rules
            .area_police
            .is_empty()
    );
}

#[test]
fn ward_rules_carry_lower_case_addresses_and_the_validity() {
    let fixture = Fixture::new();
    let text = edit(&[
        (
            "valid_days = 14",
            "valid_until = 2021-09-21\npaper = \"A5\"",
        ),
        (
            "officers = [\"canbo.thd@example.gov.vn\"]",
            "officers = [\"CanBo.THD@Example.gov.vn\", \"canbo.thd@example.gov.vn\", \"pho.thd@example.gov.vn\"]",
        ),
        ("daily_send_limit = 500", "trusted_authserv_ids = []"),
    ]);
    let config = fixture.load(&text).unwrap().config;
    let until = Validity::Until(Date::new(2021, 9, 21).unwrap());
    assert_eq!(config.permits.validity, until);
    assert_eq!(config.permits.paper, Paper::A5);
    let thd = &config.ward("hoankiem.tranhungdao").unwrap().rules;
    assert_eq!(thd.code, "hoankiem.tranhungdao");
    assert_eq!(thd.short, "THD");
    assert_eq!(thd.name, "Phường Trần Hưng Đạo");
    assert_eq!(thd.district, "Quận Hoàn Kiếm");
    assert_eq!(
        thd.officers,
        ["canbo.thd@example.gov.vn", "pho.thd@example.gov.vn"]
    );
    assert_eq!(thd.police, ["congan.thd@example.gov.vn"]);
    assert_eq!(thd.area_police, ["cskv1.thd@example.gov.vn"]);
    assert_eq!(thd.validity, until);
    // [mail] trusts no authserv-id and no account overrides it.
    assert!(!thd.require_auth);
    // The string form of a date works too.
    let text = edit(&[("valid_days = 14", "valid_until = \"2021-09-21\"")]);
    assert_eq!(fixture.load(&text).unwrap().config.permits.validity, until);
    // A longer validity is allowed when the cap is raised to it; a `valid_until` far
    // away is not refused here (it is capped when each permit is signed).
    let text = edit(&[("valid_days = 14", "valid_days = 60\nmax_valid_days = 60")]);
    let permits = fixture.load(&text).unwrap().config.permits;
    assert_eq!(
        (permits.validity, permits.max_valid_days),
        (Validity::Days(60), 60)
    );
    let text = edit(&[("valid_days = 14", "valid_until = 2030-01-01")]);
    assert_eq!(
        fixture.load(&text).unwrap().config.permits.max_valid_days,
        30
    );
}

#[test]
fn roster_synonyms_are_read_by_field() {
    let fixture = Fixture::new();
    let text = edit(&[(
        "valid_days = 14\n",
        "valid_days = 14\n\n[roster.synonyms]\nname = [\" Tên  nhân viên \"]\nid_number = [\"Số định danh\", \"CCCD số\"]\n",
    )]);
    let config = fixture.load(&text).unwrap().config;
    let synonyms = &config.roster.synonyms;
    assert_eq!(synonyms.len(), 2);
    assert_eq!(synonyms[&RosterField::Name], ["Tên nhân viên"]);
    assert_eq!(
        synonyms[&RosterField::IdNumber],
        ["Số định danh", "CCCD số"]
    );
}

#[test]
fn lookups_by_ward_code_and_account_address() {
    let fixture = Fixture::new();
    let config = fixture.load(VALID).unwrap().config;
    assert_eq!(config.wards.len(), 2);
    assert_eq!(config.account_count(), 6);
    assert!(config.ward("nowhere.none").is_none());
    let ward = config
        .ward_of_account("QRCA.DongDa.QuocTuGiam2+a1b2c3@gmail.com")
        .unwrap();
    assert_eq!(ward.code(), "dongda.quoctugiam");
    let (ward, account) = config
        .account("qrca.hoankiem.tranhungdao3@gmail.com")
        .unwrap();
    assert_eq!(ward.code(), "hoankiem.tranhungdao");
    assert_eq!(account.address, "qrca.hoankiem.tranhungdao3@gmail.com");
    assert!(config.ward_of_account("someone@gmail.com").is_none());
}

#[test]
fn warnings_for_account_names_and_too_few_accounts() {
    let fixture = Fixture::new();
    let text = edit(&[
        (
            "address = \"qrca.dongda.quoctugiam1@gmail.com\"",
            "address = \"phuongqtg@gmail.com\"",
        ),
        (
            "\n[[ward.account]]\naddress = \"qrca.dongda.quoctugiam2@gmail.com\"\npassword_file = \"secrets/qtg2\"\n",
            "",
        ),
    ]);
    assert_eq!(
        fixture.warnings(&text),
        [
            "32:1: ward \"dongda.quoctugiam\" has 2 accounts; each ward should have 3 so that mail still goes out when one is over quota",
            "42:11: key \"address\" in [[ward.account]]: \"phuongqtg@gmail.com\" does not follow the rule qrca.<district>.<ward><n>@gmail.com; for this ward that is qrca.dongda.quoctugiam1@gmail.com, qrca.dongda.quoctugiam2@gmail.com or qrca.dongda.quoctugiam3@gmail.com",
        ]
    );
}

#[test]
fn no_ward_at_all_is_an_error() {
    let fixture = Fixture::new();
    let text: String = VALID.lines().take(9).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        fixture.errors(&text),
        [
            "1:1: the config has no [[ward]]; at least one ward is required (qrca setup --ward CODE adds one)"
        ]
    );
    assert_eq!(
        fixture.errors(""),
        [
            "1:1: missing table [service]; it must set at least admin_email",
            "1:1: the config has no [[ward]]; at least one ward is required (qrca setup --ward CODE adds one)",
        ]
    );
}

#[test]
fn no_input_panics() {
    let fixture = Fixture::new();
    for text in [
        "\u{feff}",
        "[",
        "[[ward]]\n[[ward.account]]\n[[ward.account]]\n",
        "[[ward]]\naccount = 3\n",
        "[[ward]]\naccount = [1, \"x\", {}]\n",
        "[roster]\nsynonyms = { name = 3 }\n",
        "[permits]\nvalid_until = 1979-05-27T07:32:00Z\n",
        "[permits]\nvalid_days = -1\n",
        "[mail]\nimap = { port = 9223372036854775807 }\n",
        "ward = [[1, 2], [3]]\n",
        "a.b.c.d.e = 1\n",
    ] {
        let result = fixture.load(text);
        assert!(
            matches!(result, Err(ConfigError::Invalid(ref e)) if !e.is_empty()),
            "{text:?} gave {result:?}"
        );
    }
}

#[test]
fn a_retired_key_and_the_key_s_first_day_are_read() {
    let fixture = Fixture::new();
    let text = edit(&[(
        "area_police = [\"cskv1.thd@example.gov.vn\"]\n",
        "area_police = [\"cskv1.thd@example.gov.vn\"]\nsigning_key_since = 2021-09-01\n[[ward.retired_key]]\npublic_key = \"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik\"\nsince = \"2021-08-01\"\nuntil = \"2021-08-31\"\n",
    )]);
    let loaded = fixture.load(&text).unwrap_or_else(|e| panic!("{e}"));
    let ward = loaded
        .config
        .ward("hoankiem.tranhungdao")
        .unwrap_or_else(|| panic!("no ward"));
    assert_eq!(ward.signing_key_since, Some(jiff::civil::date(2021, 9, 1)));
    assert_eq!(ward.retired_keys.len(), 1);
    assert_eq!(ward.retired_keys[0].since, jiff::civil::date(2021, 8, 1));
    assert_eq!(ward.retired_keys[0].until, jiff::civil::date(2021, 8, 31));
    let other = loaded
        .config
        .ward("dongda.quoctugiam")
        .unwrap_or_else(|| panic!("no ward"));
    assert!(other.retired_keys.is_empty());
    assert_eq!(other.signing_key_since, None);
}

/// A retired key lost or stolen: `compromised_from` (an RFC 3339 time, quoted or a TOML
/// date-time) and `compromised_reason`, both or neither (issue 13).
#[test]
fn a_compromised_retired_key_is_read_and_half_a_compromise_refused() {
    let fixture = Fixture::new();
    let retired = |extra: &str| {
        edit(&[(
            "area_police = [\"cskv1.thd@example.gov.vn\"]\n",
            &format!(
                "area_police = [\"cskv1.thd@example.gov.vn\"]\n[[ward.retired_key]]\npublic_key = \"O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik\"\nsince = \"2021-08-01\"\nuntil = \"2021-08-31\"\n{extra}"
            ),
        )])
    };
    for from in [
        "\"2021-09-15T09:00:00+07:00\"",
        "2021-09-15T09:00:00+07:00",
        "\"2021-09-15T02:00:00Z\"",
    ] {
        let text = retired(&format!(
            "compromised_from = {from}\ncompromised_reason = \"  máy tính   bị mất \"\n"
        ));
        let loaded = fixture
            .load(&text)
            .unwrap_or_else(|e| panic!("{from}: {e}"));
        let ward = loaded
            .config
            .ward("hoankiem.tranhungdao")
            .unwrap_or_else(|| panic!("no ward"));
        let compromised = ward.retired_keys[0]
            .compromised
            .as_ref()
            .map(|c| (c.from.to_string(), c.reason.clone()));
        assert_eq!(
            compromised,
            Some(("2021-09-15T02:00:00Z".into(), "máy tính bị mất".into())),
            "{from}"
        );
        // The revocation list names the key by its kid.
        let public = ed25519_dalek::VerifyingKey::from_bytes(&ward.retired_keys[0].public_key)
            .unwrap_or_else(|e| panic!("{e}"));
        let revoked = qrca::permit::issue::revoked_keys(&loaded.config);
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].kid, qrca::permit::payload::kid("THD", &public));
        assert_eq!(revoked[0].from.to_string(), "2021-09-15T02:00:00Z");
        assert_eq!(revoked[0].reason, "máy tính bị mất");
    }
    let loaded = fixture.load(&retired("")).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.config.wards[0].retired_keys[0].compromised.is_none());
    assert!(qrca::permit::issue::revoked_keys(&loaded.config).is_empty());
    for (extra, error) in [
        (
            "compromised_from = \"2021-09-15T09:00:00+07:00\"\n",
            "23:20: key \"compromised_from\" in [[ward.retired_key]] needs \"compromised_reason\" beside it: give both or neither",
        ),
        (
            "compromised_reason = \"mất\"\n",
            "23:22: key \"compromised_reason\" in [[ward.retired_key]] needs \"compromised_from\" beside it: give both or neither",
        ),
        (
            "compromised_from = \"2021-09-15\"\ncompromised_reason = \"mất\"\n",
            "23:20: key \"compromised_from\" in [[ward.retired_key]] must be a time written as RFC 3339, like \"2021-09-15T09:00:00+07:00\", not \"2021-09-15\"",
        ),
        (
            "compromised_from = \"2021-09-15T09:00:00+07:00\"\ncompromised_reason = \" \"\n",
            "24:22: key \"compromised_reason\" in [[ward.retired_key]] must not be empty",
        ),
    ] {
        assert_eq!(
            fixture.errors(&retired(extra)),
            vec![error.to_owned()],
            "{extra}"
        );
    }
}
