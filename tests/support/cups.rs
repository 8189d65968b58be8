//! A private CUPS for one test (`scripts/cups.sh`): its own port and queues, each
//! queue writing every job's document to a directory the test reads.
//!
//! Include it with `#[path = "support/cups.rs"] mod cups;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCups {
    pub dir: PathBuf,
    /// `127.0.0.1:PORT`, as `CUPS_SERVER` wants it.
    pub server: String,
    _root: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cups.sh")
}

impl TestCups {
    /// Starts cupsd with these queues, all idle and accepting.
    pub fn start(queues: &[&str]) -> TestCups {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cups");
        let out = Command::new(script())
            .arg("start")
            .arg(&dir)
            .args(queues)
            .output()
            .unwrap_or_else(|e| panic!("scripts/cups.sh: {e}"));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "scripts/cups.sh start failed (scripts/test.sh installs cups-daemon and cups-client): {}{said}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = said
            .lines()
            .find_map(|l| l.strip_prefix("PORT="))
            .unwrap_or_else(|| panic!("no PORT= in {said}"))
            .to_owned();
        TestCups {
            dir,
            server: format!("127.0.0.1:{port}"),
            _root: root,
        }
    }

    fn admin(&self, program: &str, queue: &str) {
        let st = Command::new(program)
            .args(["-h", &self.server, queue])
            .status()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(st.success(), "{program} {queue}");
    }

    /// `cupsdisable`: the queue is stopped (jobs would wait in it).
    pub fn stop_queue(&self, queue: &str) {
        self.admin("cupsdisable", queue);
    }

    /// `cupsenable`: the queue prints again.
    pub fn start_queue(&self, queue: &str) {
        self.admin("cupsenable", queue);
    }

    /// The documents `queue` printed, by job id.
    pub fn printed(&self, queue: &str) -> Vec<(u32, Vec<u8>)> {
        let mut jobs: Vec<(u32, Vec<u8>)> = std::fs::read_dir(self.dir.join("out").join(queue))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".pdf")?.parse().ok()?;
                Some((id, std::fs::read(e.path()).ok()?))
            })
            .collect();
        jobs.sort();
        jobs
    }

    /// Waits until `queue` printed `n` documents (the backend runs a moment after CUPS
    /// took the job).
    pub fn wait_printed(&self, queue: &str, n: usize) -> Vec<(u32, Vec<u8>)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let jobs = self.printed(queue);
            if jobs.len() >= n || std::time::Instant::now() > deadline {
                return jobs;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for TestCups {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).status();
    }
}
