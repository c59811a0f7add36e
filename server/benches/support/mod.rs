//! What the load generators share: their command line, pinning to a core, and the
//! `hatchery` binary under test with a throwaway data directory.

#![allow(dead_code, reason = "each benchmark uses part of this module")]

use std::{collections::HashMap, process::Stdio};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Command-line arguments: a scenario and `--name value` pairs (cargo's `--bench` ignored).
pub struct Args {
    pub scenario: String,
    options: HashMap<String, String>,
}

impl Args {
    pub fn parse(default_scenario: &str) -> Self {
        let mut scenario = String::from(default_scenario);
        let mut options = HashMap::new();
        let mut args = std::env::args()
            .skip(1)
            .filter(|arg| arg != "--bench")
            .peekable();
        while let Some(arg) = args.next() {
            match arg.strip_prefix("--") {
                Some(name) => {
                    let value = match args.peek() {
                        Some(next) if !next.starts_with("--") => args.next().unwrap_or_default(),
                        _ => String::new(),
                    };
                    options.insert(name.to_owned(), value);
                }
                None => scenario = arg,
            }
        }
        Self { scenario, options }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    pub fn number(&self, name: &str, default: u64) -> u64 {
        self.options
            .get(name)
            .map(|value| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("--{name} takes a number"))
            })
            .unwrap_or(default)
    }
}

/// Pins every thread of process `pid` to `core`.
pub fn pin(pid: u32, core: u32) {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "taskset could not pin pid {pid}"
    );
}

/// The `hatchery` binary under test, with a throwaway data directory.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: String,
    _data: tempfile::TempDir,
}

impl Server {
    /// Starts the binary (on core 1 with `pin_core`, one runtime thread) with `env` on top
    /// of the defaults, and waits until it listens.
    pub async fn start(pin_core: bool, env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().expect("a temporary directory");
        Self::start_in(data, pin_core, env).await
    }

    /// Like [`Server::start`], on an existing data directory.
    pub async fn start_in(data: tempfile::TempDir, pin_core: bool, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hatchery"))
            .env("HATCHERY_ADDR", "127.0.0.1:0")
            .env("HATCHERY_DATA_DIR", data.path())
            .env("HATCHERY_WORKER_THREADS", "1")
            .env("HATCHERY_LOG", "warn,hatchery=info")
            .env("HATCHERY_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the hatchery binary starts");
        if pin_core {
            pin(child.id().expect("a pid"), 1);
        }
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await
                .ok()
                .flatten()
                .expect("the server listens");
            if let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                && entry["message"] == "listening"
            {
                break entry["addr"].as_str().expect("an address").to_owned();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            addr,
            _data: data,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server runs")
    }

    /// Resident memory of the server, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// CPU seconds the server has used (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }
}

/// CPU seconds process `pid` has used (user + system), from `/proc/{pid}/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or_default()
        .split(' ')
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    ticks as f64 / 100.0
}
