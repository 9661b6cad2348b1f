//! Logging: `tracing` to stderr, human-readable by default, JSON with
//! `--log-format json`. `RUST_LOG` overrides the default `info` level.
//!
//! No token may reach the log at any level. Our own code never logs one, but at
//! `debug` socketioxide prints raw packets (the connect packet carries `auth.token`)
//! and a URL may carry `?token=`. So every line passes through `redact` on its way out:
//! anything shaped like a JWT, a bearer credential or a `token=` parameter is replaced
//! before it is written.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Installs the global subscriber; call once, from `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(io::stderr().is_terminal()).init(),
    }
}

/// Standard error, with credentials cut out of every line.
struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = Redacting<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting(io::stderr())
    }
}

struct Redacting<W>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The formatter hands over one whole event per call, so a token is never split
        // across two writes.
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(redact(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

const REDACTED: &str = "[redacted]";

/// Replaces JWTs (`eyJ….….…`), `Bearer …` credentials and `token=…` parameters.
pub fn redact(line: &str) -> Cow<'_, str> {
    // Most lines hold none of these: decide without allocating.
    let mentions = |needle: &str| {
        line.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    if !line.contains("eyJ") && !mentions("bearer") && !mentions("token=") {
        return Cow::Borrowed(line);
    }
    let lower = line.to_ascii_lowercase();
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &line[i..];
        let rest_lower = &lower[i..];
        let skip = if rest.starts_with("eyJ") {
            jwt_len(rest)
        } else if rest_lower.starts_with("bearer ") {
            let value = credential_len(&rest[7..]);
            (value > 0).then(|| {
                out.push_str(&rest[..7]);
                7 + value
            })
        } else if rest_lower.starts_with("token=") {
            let value = credential_len(&rest[6..]);
            (value > 0).then(|| {
                out.push_str(&rest[..6]);
                6 + value
            })
        } else {
            None
        };
        match skip {
            Some(len) => {
                out.push_str(REDACTED);
                i += len;
            }
            None => {
                let ch = rest.chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    Cow::Owned(out)
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='
}

/// The length of the JWT at the start of `text` (header.payload[.signature]), if any.
fn jwt_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let header = bytes.iter().take_while(|b| is_base64url(**b)).count();
    if bytes.get(header) != Some(&b'.') {
        return None;
    }
    let payload = bytes[header + 1..].iter().take_while(|b| is_base64url(**b)).count();
    let mut len = header + 1 + payload;
    if bytes.get(len) == Some(&b'.') {
        len += 1 + bytes[len + 1..].iter().take_while(|b| is_base64url(**b)).count();
    }
    Some(len)
}

/// The length of a credential value: up to a separator or quote.
fn credential_len(text: &str) -> usize {
    text.bytes()
        .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'&' | b'"' | b'\'' | b',' | b';' | b'}' | b'\\'))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl";

    #[test]
    fn jwts_bearer_credentials_and_token_parameters_are_cut() {
        let line = format!(r#"received message: "0{{\"token\":\"{JWT}\"}}""#);
        assert_eq!(redact(&line), r#"received message: "0{\"token\":\"[redacted]\"}""#);
        assert_eq!(
            redact("GET /socket.io/?EIO=4&token=abc.def&transport=websocket"),
            "GET /socket.io/?EIO=4&token=[redacted]&transport=websocket"
        );
        assert_eq!(
            redact("authorization: Bearer secret-value"),
            "authorization: Bearer [redacted]"
        );
        let unsigned = format!("{}.", &JWT[..JWT.rfind('.').unwrap()]);
        assert_eq!(redact(&format!("t={unsigned} end")), "t=[redacted] end");
    }

    #[test]
    fn ordinary_lines_pass_unchanged() {
        let line = "orderchat listening on 127.0.0.1:3000 (eyJ alone is no token)";
        assert!(matches!(redact(line), Cow::Borrowed(_)) || redact(line) == line);
        assert_eq!(redact(line), line);
        assert_eq!(redact("ünïcode ✓ bearer"), "ünïcode ✓ bearer");
    }
}
