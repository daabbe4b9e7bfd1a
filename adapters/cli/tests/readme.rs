//! The README's shell examples, run as written, so that they stay true.
//!
//! A fenced block whose info string is `console test` is a terminal session: each line that
//! starts with `$ ` is a command (continued on the next line while it ends in `\`), and the
//! lines up to the next command are what it prints, stdout and stderr together. The blocks run
//! in README order in one scratch directory, as a reader following along would type them, each
//! in one `bash` (so a block may use the files, and the shell state, its commands leave), with
//! the freshly built `koppeltaal` first on `PATH`. Each command must print what is shown, where
//! `...` stands for any text within a line, and exit 0, or 1 when what it prints shows an
//! `error: ` line (the CLI's failures).
//!
//! Blocks that need a network, a running server or outside tools (`cargo`, QEMU, `pip`, `npm`,
//! a module to probe, a careless portal's launch to lint) are not marked and do not run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What marks a block as run here.
const MARK: &str = "test";

/// A fenced block of the README: where it starts, its info string, its lines.
struct Block {
    line: usize,
    info: String,
    lines: Vec<String>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in readme.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    line: index + 1,
                    info: info.trim().to_owned(),
                    lines: Vec::new(),
                })
            }
            (Some(_), Some("")) => blocks.extend(open.take()),
            (Some(block), _) => block.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is never closed");
    blocks
}

/// One command of a session and what it prints.
struct Step {
    line: usize,
    command: String,
    expected: Vec<String>,
}

fn steps(block: &Block) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for (offset, line) in block.lines.iter().enumerate() {
        if continued {
            let step = steps.last_mut().expect("a continued command");
            step.command.push('\n');
            step.command.push_str(line);
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                line: block.line + 1 + offset,
                command: command.to_owned(),
                expected: Vec::new(),
            });
        } else {
            let step = steps.last_mut().unwrap_or_else(|| {
                panic!(
                    "README.md:{}: output before the first command",
                    block.line + 1 + offset
                )
            });
            step.expected.push(line.to_owned());
        }
        // Only a command goes on after a backslash, not what it prints.
        let in_command = continued || line.starts_with("$ ");
        continued = in_command && line.trim_end().ends_with('\\');
    }
    steps
}

/// Whether `text` is `pattern`, each `...` in it standing for any text.
fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    let [first, middle @ .., last] = &parts[..] else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `steps` in one bash in `directory`; each command's output and exit status.
fn run_session(directory: &Path, steps: &[Step]) -> Vec<(String, i32)> {
    let separator = format!("--- readme step done {} ---", std::process::id());
    let mut script = String::from("exec 2>&1 </dev/null\n");
    for step in steps {
        script.push_str(&step.command);
        script.push_str(&format!("\nprintf '\\n{separator} %d\\n' \"$?\"\n"));
    }
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_koppeltaal"));
    let path = std::env::join_paths(
        std::iter::once(binary.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let mut child = Command::new("bash")
        .arg("--noprofile")
        .arg("--norc")
        .arg("-c")
        .arg(&script)
        .current_dir(directory)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the README's commands took longer than two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut results = Vec::new();
    let mut printed = String::new();
    for line in text.split_inclusive('\n') {
        match line.trim_end().strip_prefix(&separator) {
            Some(status) => {
                // Less the newline printed before the separator.
                let mut step = std::mem::take(&mut printed);
                step.pop();
                results.push((step, status.trim().parse().unwrap()));
            }
            None => printed.push_str(line),
        }
    }
    assert!(
        printed.trim().is_empty(),
        "output after the last command: {printed:?}"
    );
    results
}

#[test]
fn the_readmes_console_examples_print_what_it_shows() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let marked: Vec<Block> = blocks(&readme)
        .into_iter()
        .filter(|block| {
            block
                .info
                .split_whitespace()
                .skip(1)
                .any(|word| word == MARK)
        })
        .collect();
    for block in &marked {
        assert!(
            block.info.starts_with("console "),
            "README.md:{}: only `console` sessions run here, not ```{}",
            block.line,
            block.info
        );
    }
    // The CLI's section, encrypted launches and their refusals at least.
    assert!(marked.len() >= 3, "the README lost its runnable examples");

    let scratch =
        Scratch(std::env::temp_dir().join(format!("koppeltaal-readme-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let mut ran = 0;
    for block in &marked {
        let steps = steps(block);
        assert!(!steps.is_empty(), "README.md:{}: no command", block.line);
        let results = run_session(&scratch.0, &steps);
        assert_eq!(results.len(), steps.len(), "README.md:{}", block.line);
        for (step, (printed, status)) in steps.iter().zip(results) {
            let context = format!(
                "README.md:{}: $ {}\nprinted (status {status}):\n{printed}",
                step.line, step.command
            );
            let printed: Vec<&str> = printed.lines().map(str::trim_end).collect();
            let expected: Vec<&str> = step.expected.iter().map(|l| l.trim_end()).collect();
            assert_eq!(printed.len(), expected.len(), "{context}");
            for (line, pattern) in printed.iter().zip(&expected) {
                assert!(
                    matches(pattern, line),
                    "{pattern:?} is not\n{line:?}\n{context}"
                );
            }
            let fails = expected.iter().any(|line| line.starts_with("error: "));
            assert_eq!(status, i32::from(fails), "exit status: {context}");
            ran += 1;
        }
    }
    assert!(ran >= 10, "{ran} commands ran");
}

#[test]
fn a_pattern_stands_for_any_text_only_where_it_says_so() {
    assert!(matches("abc", "abc"));
    assert!(!matches("abc", "abcd"));
    assert!(matches("...", ""));
    assert!(matches("...", "anything"));
    assert!(matches(
        r#"{"exp":...,"iat":...}"#,
        r#"{"exp":17,"iat":16}"#
    ));
    assert!(!matches(r#"{"exp":...,"iat":...}"#, r#"{"exp":17}"#));
    assert!(matches("a...b...c", "a-b-b-c"));
    assert!(!matches("a...b", "ab-c"));
    assert!(
        !matches("ab...ba", "aba"),
        "prefix and suffix do not overlap"
    );
}
