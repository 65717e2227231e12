//! Telegram Desktop writes JSON by hand and escapes a control character other than `\n`,
//! `\r` and `\t` as `\xHH`, which JSON does not have (`export_output_json.cpp`,
//! `SerializeString`). A message with such a character (a vertical tab, an escape) would
//! make the whole export unreadable to a strict parser; this reader turns `\xHH` inside
//! strings into `\u00HH` as the text streams by. Everything else passes unchanged, so
//! positions in errors are exact up to two columns per rewritten escape before them.

use std::collections::VecDeque;
use std::io::{self, Read};

/// Where in the JSON text the last byte was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Outside,
    InString,
    /// Right after a backslash inside a string.
    Escape,
}

/// Reads JSON text from `inner` with Desktop's `\xHH` escapes rewritten.
#[derive(Debug)]
pub struct DesktopEscapes<R> {
    inner: R,
    state: State,
    /// Rewritten bytes not handed out yet.
    ready: VecDeque<u8>,
}

impl<R: Read> DesktopEscapes<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            state: State::Outside,
            ready: VecDeque::new(),
        }
    }

    fn rewrite(&mut self, byte: u8) {
        match self.state {
            State::Escape => {
                self.state = State::InString;
                if byte == b'x' {
                    self.ready.extend(b"u00");
                    return;
                }
            }
            State::InString => match byte {
                b'\\' => self.state = State::Escape,
                b'"' => self.state = State::Outside,
                _ => {}
            },
            State::Outside => {
                if byte == b'"' {
                    self.state = State::InString;
                }
            }
        }
        self.ready.push_back(byte);
    }
}

impl<R: Read> Read for DesktopEscapes<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.ready.is_empty() {
            let mut chunk = [0u8; 8192];
            let read = self.inner.read(&mut chunk)?;
            for &byte in chunk.get(..read).unwrap_or_default() {
                self.rewrite(byte);
            }
        }
        let mut written = 0;
        for slot in out.iter_mut() {
            let Some(byte) = self.ready.pop_front() else {
                break;
            };
            *slot = byte;
            written += 1;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rewritten(text: &str) -> String {
        let mut out = String::new();
        DesktopEscapes::new(text.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn desktop_hex_escapes_become_unicode_escapes_and_nothing_else_changes() {
        let text = r#"{"text": "tab\x0Bhere \\x41 \"\x1B\"", "x": "\\", "y": 1}"#;
        let out = rewritten(text);
        assert_eq!(
            out,
            r#"{"text": "tab\u000Bhere \\x41 \"\u001B\"", "x": "\\", "y": 1}"#
        );
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["text"], "tab\u{b}here \\x41 \"\u{1b}\"");
        // Valid JSON is left as it is, byte for byte.
        let valid = r#"{"a": ["\u0041\n", "x\\", {"b": "\"x"}], "c": null}"#;
        assert_eq!(rewritten(valid), valid);
    }

    #[test]
    fn an_escape_split_across_reads_is_rewritten() {
        // A reader handing out one byte at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let (Some(first), Some(slot)) = (self.0.first(), out.first_mut()) else {
                    return Ok(0);
                };
                *slot = *first;
                self.0 = self.0.get(1..).unwrap_or_default();
                Ok(1)
            }
        }
        let mut out = String::new();
        DesktopEscapes::new(Trickle(br#"["a\x01b"]"#))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, r#"["a\u0001b"]"#);
    }
}
