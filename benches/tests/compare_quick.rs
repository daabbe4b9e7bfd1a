//! `compare --quick` runs to the end: every contender accepts every token of every case, and
//! the output carries the table and the ratio lines BENCHMARKS.md and the issue name. No time
//! is asserted (machines here are noisy; figures belong in BENCHMARKS.md).

use std::process::Command;

#[test]
fn compare_quick_prints_the_table_and_the_required_ratios() {
    let output = Command::new(env!("CARGO_BIN_EXE_compare"))
        .arg("--quick")
        .output()
        .expect("compare runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "compare --quick failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("| case | contender | median µs | verifies/s |"));
    for ratio in [
        "ratio rs512-2048/ring-raw-rs512-2048 ",
        "ratio rs512-2048/jsonwebtoken-rs512-2048 ",
        "ratio rs512-4096/ring-raw-rs512-4096 ",
        "ratio es256/ring-raw-es256 ",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(ratio))
            .unwrap_or_else(|| panic!("no line starting {ratio:?} in:\n{stdout}"));
        let value: f64 = line[ratio.len()..]
            .parse()
            .expect("a number after the ratio");
        assert!(value > 0.0 && value.is_finite(), "{line}");
    }
    // Our full verification allocates nothing, for every case.
    for line in stdout
        .lines()
        .filter(|line| line.contains(" | koppeltaal | "))
    {
        let allocations = line.split('|').nth(5).expect("allocations column").trim();
        assert_eq!(allocations, "0", "{line}");
    }
    assert!(stdout.contains("1 Mi entries"));
    assert!(stdout.contains("scaling launch-receiver-rs512-2048 2-threads/1-thread "));
}
