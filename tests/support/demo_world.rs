//! A database with real cases for the admin commands' tests: the one `qrca demo`
//! leaves, and the binary run against its config.
//!
//! Include it with `#[path = "support/demo_world.rs"] mod demo_world;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `qrca demo --out <dir>/demo`; returns the config it wrote.
pub fn demo_world(dir: &Path) -> PathBuf {
    let world = dir.join("demo");
    let demo = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["demo", "--out"])
        .arg(&world)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(demo.status.code(), Some(0), "{}", text(&demo.stderr));
    world.join("qrca.toml")
}

/// `qrca <args> --config <config>`.
pub fn qrca(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
