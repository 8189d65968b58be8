//! Headless Chromium for the checkpoint page's tests (`checkpoint_page`, `e2e_trust`):
//! Debian's chromium, Node with puppeteer-core (`tests/checkpoint`), a fake camera made
//! from a permit PDF with pdftoppm and ffmpeg, and the tools' output.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn chromium() -> PathBuf {
    ["chromium", "chromium-browser"]
        .iter()
        .map(|c| PathBuf::from("/usr/bin").join(c))
        .find(|p| p.exists())
        .expect("chromium is needed (scripts/test.sh installs Debian's)")
}

pub fn node() -> Command {
    let modules = repo().join("tests/checkpoint/node_modules");
    assert!(
        modules.join("puppeteer-core").is_dir(),
        "{} is missing: run `npm ci` in tests/checkpoint (scripts/test.sh does)",
        modules.display()
    );
    Command::new("node")
}

pub fn out_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn run(mut command: Command, what: &str) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("{what} is needed (scripts/test.sh installs it): {e}"))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn tool(program: &str, args: &[&str]) {
    let out = run(
        {
            let mut c = Command::new(program);
            c.args(args);
            c
        },
        program,
    );
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        text(&out.stderr)
    );
}

/// `pdf` rendered by pdftoppm at 150 dpi, as the camera sees it: the permit's page
/// scaled to the 720-line frame's height on white, one frame of y4m (Chromium loops it).
pub fn camera(dir: &Path, name: &str, pdf: &[u8]) -> PathBuf {
    let pdf_path = dir.join(format!("{name}.pdf"));
    std::fs::write(&pdf_path, pdf).unwrap();
    let png = dir.join(name);
    tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            "-singlefile",
            pdf_path.to_str().unwrap(),
            png.to_str().unwrap(),
        ],
    );
    y4m(dir, name, &dir.join(format!("{name}.png")))
}

/// A camera that sees only white paper (a case switches to the permit's own feed).
pub fn blank_camera(dir: &Path) -> PathBuf {
    let blank = dir.join("blank.png");
    tool(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=white:s=1280x1440",
            "-frames:v",
            "1",
            blank.to_str().unwrap(),
        ],
    );
    y4m(dir, "blank", &blank)
}

pub fn y4m(dir: &Path, name: &str, image: &Path) -> PathBuf {
    let y4m = dir.join(format!("{name}.y4m"));
    tool(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-y",
            "-i",
            image.to_str().unwrap(),
            "-vf",
            "scale=-2:1440,pad=1280:1440:(ow-iw)/2:0:color=white,crop=1280:720:0:680,format=yuv420p",
            "-frames:v",
            "1",
            y4m.to_str().unwrap(),
        ],
    );
    y4m
}

/// Runs `tests/checkpoint/browser.cjs` on `page` with `cases` (see its header for their
/// shape), screenshots to `screens`: the report (one JSON line per case) and whether
/// every case got what it expected.
pub fn page_verdicts(
    dir: &Path,
    page: &Path,
    screens: &Path,
    cases: serde_json::Value,
) -> (String, bool) {
    let manifest = dir.join("manifest.json");
    let chromium = chromium();
    let json =
        serde_json::json!({"chromium": chromium, "page": page, "screens": screens, "cases": cases});
    std::fs::write(&manifest, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let mut command = node();
    command
        .arg(repo().join("tests/checkpoint/browser.cjs"))
        .arg(&manifest);
    let out = run(command, "node");
    (
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
        out.status.success(),
    )
}
