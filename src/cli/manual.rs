//! `qrca manual --out-dir DIR` (hidden; issue 18): the man pages of `qrca` and of each
//! subcommand (`clap_mangen`) and the bash completions (`clap_complete`), generated
//! from the command line's own definitions so they cannot drift from it; the Debian
//! package installs them.

use super::Cli;
use anyhow::Context;
use clap::CommandFactory;
use std::path::Path;

/// Writes `DIR/man/qrca.1`, `DIR/man/qrca-<sub>.1` for every subcommand (and theirs),
/// and `DIR/completions/qrca.bash`; prints what it wrote.
pub fn run(out_dir: &Path) -> anyhow::Result<u8> {
    let man = out_dir.join("man");
    let completions = out_dir.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    }
    clap_mangen::generate_to(Cli::command(), &man)
        .with_context(|| format!("cannot write the man pages in {}", man.display()))?;
    let written = std::fs::read_dir(&man)
        .with_context(|| format!("cannot read {}", man.display()))?
        .count();
    let mut bash = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::Bash,
        &mut Cli::command(),
        "qrca",
        &mut bash,
    );
    let file = completions.join("qrca.bash");
    std::fs::write(&file, bash).with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "{written} man pages in {}, bash completions in {}",
        man.display(),
        file.display()
    );
    Ok(0)
}
