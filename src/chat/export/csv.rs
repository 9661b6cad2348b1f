//! The CSV form of an export: RFC 4180 (comma-separated, CRLF after every row, a cell
//! quoted when it holds a comma, a quote or a line break, quotes doubled), one row per
//! message under a header row.
//!
//! Exports are opened in spreadsheets, which run a cell that starts with `=`, `+`, `-`
//! or `@` as a formula (tab and carriage return can lead into one), so a chat message
//! could make the reader's spreadsheet compute or fetch something ("CSV injection").
//! Every cell that starts with one of those characters gets a single quote `'` in front,
//! which spreadsheets show as text. The rule is applied to every cell, not only the
//! text: names, ids and roles come from clients too.

use crate::domain::Message;
use crate::error::{Error, Result};

const COLUMNS: [&str; 13] = [
    "seq",
    "id",
    "createdAt",
    "senderType",
    "userId",
    "userName",
    "userRole",
    "messageType",
    "message",
    "deleted",
    "editedAt",
    "replyTo",
    "attachments",
];

/// The header row.
pub(super) fn header() -> String {
    let mut row = String::new();
    push_row_of(&mut row, COLUMNS.iter().copied());
    row
}

/// Appends `message` as one row; `attachments` is their JSON array as the API shows it.
pub(super) fn push_row(out: &mut String, message: &Message) -> Result<()> {
    let attachments = serde_json::to_string(&message.attachments).map_err(Error::internal)?;
    let seq = message.seq.to_string();
    let user = message.user.as_ref();
    push_row_of(
        out,
        [
            seq.as_str(),
            &message.id,
            &message.created_at,
            message.sender_type.as_str(),
            user.map_or("", |u| u.id.as_str()),
            user.and_then(|u| u.name.as_deref()).unwrap_or(""),
            user.map_or("", |u| u.role.as_str()),
            message.message_type.as_str(),
            &message.message,
            if message.deleted { "true" } else { "false" },
            message.edited_at.as_deref().unwrap_or(""),
            message.reply_to.as_deref().unwrap_or(""),
            &attachments,
        ],
    );
    Ok(())
}

fn push_row_of<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (n, cell) in cells.into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_cell(out, cell);
    }
    out.push_str("\r\n");
}

fn push_cell(out: &mut String, value: &str) {
    let defused = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = value.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push('"');
    }
    if defused {
        out.push('\'');
    }
    if quoted {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = String::new();
        push_cell(&mut out, value);
        out
    }

    #[test]
    fn cells_that_spreadsheets_would_run_start_with_a_quote() {
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+cmd"), "'+cmd");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\t=1"), "'\t=1");
        assert_eq!(cell("\r=1"), "\"'\r=1\"");
        assert_eq!(cell("a=1"), "a=1");
        assert_eq!(cell("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
    }

    #[test]
    fn cells_with_separators_are_quoted_with_quotes_doubled() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell(""), "");
        assert_eq!(header().lines().count(), 1);
        assert!(header().ends_with("attachments\r\n"));
    }
}
