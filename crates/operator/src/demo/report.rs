//! The outcome of one demo step: a title, PASS or FAIL, and what was seen, printed in
//! plain words and returned as data for the end-to-end tests to assert on.

use std::fmt;
use std::time::Duration;

/// The outcome of one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// What the step shows, in plain words.
    pub title: String,
    /// Whether everything the step checks held.
    pub passed: bool,
    /// What was done and seen, one line each.
    pub lines: Vec<String>,
    /// How long the step took.
    pub took: Duration,
}

impl StepReport {
    /// A report that passes unless [`StepReport::fail`] is called.
    pub fn new(title: impl Into<String>) -> Self {
        Self { title: title.into(), passed: true, lines: Vec::new(), took: Duration::ZERO }
    }

    /// Records a line.
    pub fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Records a check: a line prefixed `ok` or `FAILED`; a failed check fails the step.
    pub fn check(&mut self, ok: bool, line: impl Into<String>) -> bool {
        let line = line.into();
        self.lines.push(if ok { format!("ok: {line}") } else { format!("FAILED: {line}") });
        self.passed &= ok;
        ok
    }

    /// Records a failure.
    pub fn fail(&mut self, line: impl Into<String>) {
        self.check(false, line);
    }

    /// `PASS` or `FAIL`.
    pub fn verdict(&self) -> &'static str {
        if self.passed { "PASS" } else { "FAIL" }
    }
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "    {line}")?;
        }
        write!(f, "  {} {} ({:.1} s)", self.verdict(), self.title, self.took.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_check_fails_the_step() {
        let mut report = StepReport::new("x");
        assert!(report.check(true, "a"));
        assert!(report.passed);
        assert!(!report.check(false, "b"));
        report.check(true, "c");
        assert!(!report.passed);
        assert_eq!(report.lines, ["ok: a", "FAILED: b", "ok: c"]);
        assert!(report.to_string().ends_with("FAIL x (0.0 s)"));
    }
}
