//! Asking the user: prompts on stderr, answers from stdin. Secrets are read without echo
//! when stdin is a terminal, and as a plain line otherwise (so answers can be piped in).
//! Reads run off the async threads.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};
use mtcrypto::Zeroizing;

/// Asks for a line; `None` at the end of input. Surrounding whitespace is removed.
pub async fn line(prompt: &str) -> Result<Option<String>> {
    let answer = read(prompt.to_owned(), false).await?;
    Ok(answer.map(|text| text.trim().to_owned()))
}

/// Asks for a secret (not echoed on a terminal); `None` at the end of input. Only the
/// line ending is removed: spaces may be part of a password.
pub async fn secret(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    read(prompt.to_owned(), true).await
}

async fn read(prompt: String, hidden: bool) -> Result<Option<Zeroizing<String>>> {
    tokio::task::spawn_blocking(move || -> Result<Option<Zeroizing<String>>> {
        let mut stderr = std::io::stderr();
        write!(stderr, "{prompt}")
            .and_then(|()| stderr.flush())
            .context("cannot write to stderr")?;
        let stdin = std::io::stdin();
        if hidden && stdin.is_terminal() {
            let answer = rpassword::read_password().context("cannot read the terminal")?;
            return Ok(Some(Zeroizing::new(answer)));
        }
        let mut answer = Zeroizing::new(String::new());
        let read = stdin
            .lock()
            .read_line(&mut answer)
            .context("cannot read stdin")?;
        if read == 0 {
            // Not answered: end the prompt's line so the next message starts clean.
            let _ = writeln!(stderr);
            return Ok(None);
        }
        if !stdin.is_terminal() {
            // A piped answer is not echoed: end the prompt's line ourselves.
            let _ = writeln!(stderr);
        }
        let trimmed_len = answer.trim_end_matches(['\n', '\r']).len();
        answer.truncate(trimmed_len);
        Ok(Some(answer))
    })
    .await
    .context("the prompt was interrupted")?
}
