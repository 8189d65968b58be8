//! The `qrca` binary: parse the command line, set up logging, dispatch, exit.

use clap::Parser;
use qrca::cli::{Cli, Command};
use std::process::ExitCode;

// The daemon allocates many small, short-lived strings (mail data, JSON, rows);
// mimalloc halves what glibc's allocator costs for them (benches/step.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap's help and version are successes; everything else is bad usage.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QRCA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in the journal or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match dispatch(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("qrca: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<u8> {
    use qrca::cli::{
        self, AccountsCommand, CheckpointCommand, KeysCommand, PermitCommand, PermitsCommand,
    };
    match command {
        Command::Run { config } => qrca::daemon::run::run(config),
        Command::Demo { out } => qrca::demo::run(out),
        Command::Manual { out_dir } => cli::manual::run(&out_dir),
        Command::Check { config, connect } => cli::check::run(config, connect),
        Command::Setup(args) => cli::setup::run(&args),
        Command::Accounts {
            command: AccountsCommand::Suggest { district, ward },
        } => cli::accounts::suggest(&district, &ward),
        Command::Accounts {
            command: AccountsCommand::Enroll { ward, config },
        } => cli::accounts::enroll(&ward, config),
        Command::Cases { config, command } => cli::cases::run(config, command),
        Command::Intake {
            file,
            account,
            config,
        } => cli::intake::run(&file, &account, config),
        Command::Explain {
            file,
            uid,
            account,
            config,
        } => cli::explain::run(file.as_deref(), uid, account.as_deref(), config),
        Command::Roster {
            template: Some(cli::RosterTemplate::Template { kind, out }),
            ..
        } => cli::roster::template(kind, &out),
        Command::Roster {
            file: Some(file),
            kind: Some(kind),
            json,
            ward,
            config,
            ..
        } => cli::roster::run(&file, kind, json, ward.as_deref(), config),
        Command::Roster { .. } => {
            eprintln!(
                "qrca: roster needs a FILE and --kind, or `roster template --kind K --out F`"
            );
            Ok(2)
        }
        Command::Outbox { config, command } => cli::outbox::run(config, command),
        Command::Print { config, command } => cli::print::run(config, command),
        Command::Report { ward, config } => cli::report::run(&ward, config),
        Command::City { config, command } => cli::city::run(command, config),
        Command::Backup { config, out } => cli::standby::backup(config, &out),
        Command::Restore { config, file } => cli::standby::restore(config, &file),
        Command::Standby { config, command } => cli::standby::run(command, config),
        Command::Takeover { config, no_run } => cli::standby::takeover(config, !no_run),
        Command::Keys { config, command } => match command {
            KeysCommand::Generate { ward } => cli::keys::generate(&ward, config),
            KeysCommand::Journal => cli::standby::journal_key(config),
            KeysCommand::TrustList => cli::keys::trust_list(config),
            KeysCommand::Revocations => cli::keys::revocations(config),
            KeysCommand::Rotate {
                ward,
                compromised,
                dry_run,
            } => cli::rotate::rotate(cli::rotate::Rotate {
                ward,
                compromised,
                dry_run,
                config,
            }),
        },
        Command::Permits {
            config,
            command: PermitsCommand::Export { ward, out, on },
        } => cli::permits::export(&ward, &out, on, config),
        Command::Permit {
            config,
            command: PermitCommand::Sample { ward, out },
        } => cli::permit::sample(&ward, &out, config),
        Command::Checkpoint {
            config,
            command:
                CheckpointCommand::Page {
                    out,
                    trust_list,
                    revocations,
                    fresh_hours,
                },
        } => cli::checkpoint::page(cli::checkpoint::Options {
            out,
            trust_lists: trust_list,
            revocations,
            fresh_hours,
            config,
        }),
        Command::Verify {
            payload,
            image,
            pdf,
            trust_list,
            revocations,
            config,
            on,
        } => {
            use cli::verify::{Options, Source};
            let source = match (payload, image, pdf) {
                (_, Some(image), _) => Source::Image(image),
                (_, _, Some(pdf)) => Source::Pdf(pdf),
                (payload, None, None) => Source::Text(payload.unwrap_or_default()),
            };
            let options = Options {
                trust_list,
                revocations,
                config,
                on,
            };
            cli::verify::run(source, options)
        }
    }
}
