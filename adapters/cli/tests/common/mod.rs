//! Helpers shared by the CLI tests: running the built binary, scratch directories, a portal
//! key with its JWKS, and `koppeltaal serve` on a loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ISSUER: &str = "https://portal.example.org";
pub const AUDIENCE: &str = "Device/42";

pub fn koppeltaal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        let path = std::env::temp_dir().join(format!(
            "koppeltaal-cli-{}",
            koppeltaal_host::random::new_jti()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A portal key (RS512 by default), its JWKS file and a launch signed now.
pub struct Portal {
    scratch: Scratch,
}

impl Portal {
    pub fn new() -> Portal {
        let scratch = Scratch::new();
        let output = koppeltaal(&["keygen", "--out", &scratch.path("portal.pem")]);
        assert!(output.status.success(), "{}", stderr(&output));
        let jwks = koppeltaal(&["jwks", "--key", &scratch.path("portal.pem")]);
        std::fs::write(scratch.path("portal.jwks"), jwks.stdout).unwrap();
        Portal { scratch }
    }

    pub fn key(&self) -> String {
        self.scratch.path("portal.pem")
    }

    pub fn jwks(&self) -> String {
        self.scratch.path("portal.jwks")
    }

    pub fn launch(&self, extra: &[&str]) -> String {
        let key = self.key();
        let mut args = vec![
            "launch",
            "--key",
            &key,
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
        ];
        args.extend_from_slice(&["--sub", "Practitioner/a5e58253", "--resource", "Task/11"]);
        args.extend_from_slice(&[
            "--definition",
            "https://module.example.org/AD/1",
            "--intent",
            "plan",
        ]);
        args.extend_from_slice(extra);
        let output = koppeltaal(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    }

    pub fn verify(&self, token: &str, extra: &[&str]) -> Output {
        let jwks = self.jwks();
        let mut args = vec![
            "verify",
            "--jwks",
            &jwks,
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
        ];
        args.extend_from_slice(extra);
        args.push(token);
        koppeltaal(&args)
    }

    /// `verify -` with `input` on stdin: its exit status and its verdicts, one per line.
    pub fn verify_lines(&self, input: &str) -> (Option<i32>, Vec<serde_json::Value>) {
        use std::io::Write;
        let jwks = self.jwks();
        let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
            .args(["verify", "--jwks", &jwks, "--issuer", ISSUER])
            .args(["--audience", AUDIENCE, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        let verdicts = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (output.status.code(), verdicts)
    }
}

/// The launch and metrics base URLs in serve's "listening on" line.
pub fn addresses(listening: &str) -> (String, Option<String>) {
    let mut urls = listening
        .split_whitespace()
        .filter(|word| word.starts_with("http://"))
        .map(|word| word.trim_end_matches([')', ',', ';']).to_owned());
    let base = urls
        .next()
        .unwrap_or_else(|| panic!("no address in {listening:?}"));
    (base, urls.next())
}

/// `koppeltaal serve` on a loopback port, stopped when dropped.
pub struct Serve {
    child: Child,
    pub base: String,
    /// The metrics listener's base URL, when started with `--metrics-listen`.
    pub metrics: Option<String>,
    /// Its stderr lines but the one that says where it listens (empty when attached).
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_on("127.0.0.1:0", args)
    }

    /// `serve` listening on `listen` (a fixed port, when its address must be known before).
    pub fn start_on(listen: &str, args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_koppeltaal"))
            .args(["serve", "--listen", listen])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // Start-up warnings come before the line that says where it listens.
        let mut before = Vec::new();
        let listening = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve exited before listening: {before:?}"))
                .unwrap();
            if line.contains("listening on") {
                break line;
            }
            before.push(line);
        };
        let (base, metrics) = addresses(&listening);
        // Keep reading the log so the server never blocks on a full pipe.
        let log = Arc::new(Mutex::new(before));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Serve {
            child,
            base,
            metrics,
            log,
        }
    }

    /// Waits up to 5 s for a log line containing `needle`; the line.
    pub fn log_line_containing(&self, needle: &str) -> Option<String> {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(needle))
            {
                return Some(line.clone());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Takes over a `serve` process started by the test itself.
    pub fn attach(child: Child, base: String) -> Serve {
        Serve {
            child,
            base,
            metrics: None,
            log: Arc::default(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn post(&self, body: &[u8]) -> (u16, String) {
        self.post_in(body, "en")
    }

    /// POSTs a launch form asking for pages in `language` (`Accept-Language`).
    pub fn post_in(&self, body: &[u8], language: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut response = agent
            .post(format!("{}/launch", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept-Language", language)
            .send(body)
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
