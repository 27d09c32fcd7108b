//! What every headless command shares: where it runs ([`Ctx`]), how it ends when not plainly
//! successful ([`Exit`], read by `main` for the process's exit code) and the codes themselves.

/// Where a command runs and who acts (it also writes the command's audit entries).
pub use ops::Ctx;

/// The exit codes of `dlq` and `scale`, for `--help` and the README.
pub const EXIT_CODES: &str = "Exit codes:\n  \
    0  done\n  \
    1  failed (an AWS error, a bad filter, a missing queue or group)\n  \
    2  bad command line\n  \
    3  refused: not confirmed (pass --yes in scripts), --read-only, or a value outside the group's min..max\n  \
    4  stopped part way (Ctrl-C, or sends or deletes that did not finish); running the same command again resumes\n  \
    5  nothing matched: no message was selected\n  \
    6  redrive done, but messages were left in the DLQ: held by another consumer (in flight elsewhere; run it again once they are visible) or too many attributes to tag (--tag-origin); the last line says how many";

/// A command's end other than plain success: the process exits with `code`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

pub const FAILED: u8 = 1;
pub const REFUSED: u8 = 3;
pub const PARTIAL: u8 = 4;
pub const NOTHING: u8 = 5;
pub const LEFT: u8 = 6;

/// The error that ends a command with `code` and `message`.
pub fn exit(code: u8, message: impl Into<String>) -> anyhow::Error {
    Exit {
        code,
        message: message.into(),
    }
    .into()
}
