//! The name a file is offered under. The client's name is never a storage key (objects
//! live under random keys); it only goes into `Content-Disposition`, so it is cut to
//! its last path segment, stripped of control and quoting characters, and capped.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A file name safe to store and show: no directories (`/` or `\`), no control
/// characters, no leading dots (hidden files, `..`), at most `MAX_NAME_CHARS`
/// characters (the extension is kept when a long name is cut). `file` when nothing is
/// left.
pub fn sanitize(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && !invisible(*c))
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() {
        return "file".to_owned();
    }
    if trimmed.chars().count() <= MAX_NAME_CHARS {
        return trimmed.to_owned();
    }
    // Keep a short extension, so "….pdf" stays a PDF for the user's machine.
    let extension = trimmed
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.chars().count() <= 10);
    match extension {
        Some(ext) => {
            let keep = MAX_NAME_CHARS - ext.chars().count() - 1;
            let stem: String = trimmed.chars().take(keep).collect();
            format!("{stem}.{ext}")
        }
        // Cut where it may end in a space, which a second pass would trim.
        None => trimmed
            .chars()
            .take(MAX_NAME_CHARS)
            .collect::<String>()
            .trim_end()
            .to_owned(),
    }
}

/// Characters that change how a name reads without showing: direction marks and
/// overrides (an `exe` that reads as `jpg`), zero-width and invisible formatting
/// characters, line and paragraph separators, the byte order mark, tag characters.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{feff}' | '\u{e0000}'..='\u{e007f}')
}

/// Characters percent-encoded in `filename*` (RFC 8187 `attr-char` keeps the rest).
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` for a sanitised name: `attachment` or `inline`, with an
/// ASCII-only `filename` for old clients and the exact name in `filename*`.
pub fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        // Quotes and escapes, and what naive parsers read as encodings or separators.
        .map(|c| match c {
            '"' | '\\' | '%' | ';' | '\'' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect();
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_control_characters_are_gone() {
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("..\\..\\windows\\system32\\cmd.exe"), "cmd.exe");
        assert_eq!(sanitize("/"), "file");
        assert_eq!(sanitize(".."), "file");
        assert_eq!(sanitize(".bashrc"), "bashrc");
        assert_eq!(sanitize("a\r\nb\u{0}c.txt"), "abc.txt");
        assert_eq!(sanitize("say \"hi\".txt"), "say hi.txt");
        // Right-to-left override: "invoice\u{202e}gpj.exe" would show as "invoiceexe.jpg".
        assert_eq!(sanitize("invoice\u{202e}gpj.exe"), "invoicegpj.exe");
        assert_eq!(sanitize("Entrega día 3.jpg"), "Entrega día 3.jpg");
        assert_eq!(
            sanitize("in\u{200b}voice\u{061c}\u{feff}\u{2028}.pdf\u{e0041}"),
            "invoice.pdf"
        );
    }

    #[test]
    fn long_names_are_cut_and_keep_their_extension() {
        let long = format!("{}.pdf", "é".repeat(500));
        let cut = sanitize(&long);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with(".pdf"));
    }

    #[test]
    fn the_header_quotes_nothing_it_should_not() {
        assert_eq!(
            content_disposition("attachment", "Entrega día 3.jpg"),
            "attachment; filename=\"Entrega d_a 3.jpg\"; filename*=UTF-8''Entrega%20d%C3%ADa%203.jpg"
        );
        assert!(
            content_disposition("attachment", "a%00b;c'd.txt").starts_with("attachment; filename=\"a_00b_c_d.txt\"")
        );
    }
}
