//! What a file is, decided from its first bytes (magic numbers, via `infer`), never
//! from the name or the `Content-Type` the client sent: an executable renamed to
//! `.jpg` is still an executable. Plain text has no magic number: a head that is valid
//! UTF-8 without control characters is `text/plain`, or `text/csv` when the name ends
//! in `.csv`.

use std::collections::HashSet;

/// How much of a file's start is read before its type is decided. The Office formats
/// (ZIP and OLE containers) are recognised from their first entries, which this covers
/// for ordinary documents.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The types the server takes unless `ORDERCHAT_ATTACHMENT_TYPES` says otherwise: photos,
/// PDF, office documents, plain text and CSV.
pub const DEFAULT_TYPES: &str = "image/jpeg,image/png,image/gif,image/webp,image/heic,image/heif,application/pdf,\
text/plain,text/csv,application/rtf,\
application/msword,application/vnd.ms-excel,application/vnd.ms-powerpoint,\
application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,\
application/vnd.openxmlformats-officedocument.presentationml.presentation,\
application/vnd.oasis.opendocument.text,application/vnd.oasis.opendocument.spreadsheet,\
application/vnd.oasis.opendocument.presentation";

/// Images a browser may show inline (`Content-Disposition: inline`): raster formats
/// that cannot carry script. Everything else is offered as a download.
const INLINE_IMAGES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Images the server makes thumbnails of (the decoders built into the binary).
const THUMBNAIL_SOURCES: [&str; 4] = INLINE_IMAGES;

/// The allowlist of content types.
#[derive(Debug, Clone)]
pub struct ContentRules {
    allowed: HashSet<String>,
}

impl ContentRules {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(types: I) -> Self {
        Self {
            allowed: types
                .into_iter()
                .map(|t| t.as_ref().trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    pub fn allows(&self, content_type: &str) -> bool {
        self.allowed.contains(content_type)
    }
}

/// The content type of a file that starts with `head` (its first `SNIFF_BYTES`, or
/// all of it if shorter) and is called `file_name`.
pub fn sniff(head: &[u8], file_name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if looks_like_text(head) {
        let csv = file_name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("csv"));
        return if csv { "text/csv" } else { "text/plain" }.to_owned();
    }
    "application/octet-stream".to_owned()
}

/// UTF-8 (a character cut at the end of the head is fine) with no control characters
/// but tab, newline, carriage return and form feed; a byte order mark is allowed.
fn looks_like_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Cut inside a character at the very end: the rest is in the next bytes.
        Err(err) if err.error_len().is_none() && head.len() == SNIFF_BYTES => {
            match std::str::from_utf8(&head[..err.valid_up_to()]) {
                Ok(text) => text,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

/// Whether a browser may display this type in the page (`inline`) rather than save it.
pub fn shows_inline(content_type: &str) -> bool {
    INLINE_IMAGES.contains(&content_type)
}

/// Whether the server makes a thumbnail of this type.
pub fn has_thumbnail(content_type: &str) -> bool {
    THUMBNAIL_SOURCES.contains(&content_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_decide_not_the_name() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
        ];
        assert_eq!(sniff(&png, "photo.pdf"), "image/png");
        // A Windows executable and an ELF binary named like photos.
        assert_eq!(
            sniff(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "photo.jpg"),
            "application/vnd.microsoft.portable-executable"
        );
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.resize(64, 0);
        assert_eq!(sniff(&elf, "x.jpg"), "application/x-executable");
        assert_eq!(sniff(b"%PDF-1.7\n", "scan"), "application/pdf");
        assert_eq!(sniff(b"a,b\n1,2\n", "rates.CSV"), "text/csv");
        assert_eq!(sniff("Entregado, gracias 👍\n".as_bytes(), "note.jpg"), "text/plain");
        assert_eq!(sniff(b"\x00\x01\x02binary", "x.txt"), "application/octet-stream");
        assert_eq!(sniff(b"", "empty.txt"), "application/octet-stream");
    }

    #[test]
    fn a_character_cut_at_the_end_of_the_head_is_still_text() {
        let mut head = "a".repeat(SNIFF_BYTES - 1).into_bytes();
        head.push("é".as_bytes()[0]);
        assert_eq!(sniff(&head, "x.txt"), "text/plain");
        // … but not in a short file, which is all there is.
        assert_eq!(sniff(&head[SNIFF_BYTES - 2..], "x.txt"), "application/octet-stream");
    }

    #[test]
    fn the_allowlist_is_exact_and_case_blind() {
        let rules = ContentRules::new(DEFAULT_TYPES.split(','));
        assert!(rules.allows("image/jpeg"));
        assert!(rules.allows("application/vnd.openxmlformats-officedocument.wordprocessingml.document"));
        assert!(!rules.allows("application/vnd.microsoft.portable-executable"));
        assert!(!rules.allows("text/html"));
        assert!(!rules.allows("application/octet-stream"));
        assert!(ContentRules::new([" Image/PNG "]).allows("image/png"));
    }
}
