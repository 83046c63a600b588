//! The command line, tested by running `hark` itself.

use crate::util::hark;

#[test]
fn help_lists_and_exits_zero() {
    let out = hark(&["--help"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("hark"), "{s}");
}

#[test]
fn unknown_subcommand_fails_nonzero() {
    let out = hark(&["no-such-command"]);
    assert!(!out.status.success());
}

#[test]
fn tokens_prints_ctc_table() {
    let out = hark(&["tokens", "--kind", "ctc"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 41);
    assert_eq!(lines[0], "<blk>");
    assert_eq!(lines[1], "SIL");
}
