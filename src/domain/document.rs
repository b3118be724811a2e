//! What an evidence document is, judged by its content and never by its name: PDF, Office
//! documents (Office Open XML, OpenDocument, and the older compound-file formats), CSV, PNG or
//! JPEG. Anything else — an executable, a script, an archive, HTML — is refused.

/// The largest document accepted: 10 MiB.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Every media type [`sniff`] can name (the download's documented content types).
pub const MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/x-ole-storage",
];

/// The file name extensions a document of `media_type` may keep; the first is the one it is
/// given when its name has none of them.
pub fn extensions(media_type: &str) -> &'static [&'static str] {
    match media_type {
        "application/pdf" => &["pdf"],
        "image/png" => &["png"],
        "image/jpeg" => &["jpg", "jpeg"],
        "text/csv" => &["csv"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => &["docx"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => &["xlsx"],
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => &["pptx"],
        "application/vnd.openxmlformats-officedocument" => &["docx", "xlsx", "pptx"],
        "application/vnd.oasis.opendocument.text" => &["odt"],
        "application/vnd.oasis.opendocument.spreadsheet" => &["ods"],
        "application/vnd.oasis.opendocument.presentation" => &["odp"],
        "application/x-ole-storage" => &["doc", "xls", "ppt"],
        _ => &["bin"],
    }
}

/// Whether `c` may not stand in a stored file name: a control character, or an invisible
/// formatting one (bidirectional overrides such as U+202E, which make `exe.pdf` of `fdp.exe`,
/// zero-width characters, the byte-order mark).
pub fn hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// The name a document of `media_type` is stored under: `name` (already free of paths and
/// hidden characters) with an extension its content has — the one it names when that is one
/// of [`extensions`], else its last extension replaced by the type's (`run.bat` holding CSV is
/// `run.csv`; `Q1 report` holding a PDF is `Q1 report.pdf`).
pub fn named_for(name: &str, media_type: &str) -> String {
    let allowed = extensions(media_type);
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (name, None),
    };
    match ext {
        Some(ext) if allowed.iter().any(|a| a.eq_ignore_ascii_case(ext)) => name.to_string(),
        _ => format!("{stem}.{}", allowed[0]),
    }
}

/// How many leading bytes [`sniff`] needs to see.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// Tracks, over a whole upload, whether it could be CSV: UTF-8 text with no control characters
/// but tabs and line breaks.
#[derive(Debug, Clone, Default)]
pub struct TextCheck {
    /// An incomplete UTF-8 sequence at the end of the last chunk.
    carry: Vec<u8>,
    binary: bool,
}

impl TextCheck {
    /// Feeds the next chunk of the upload.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.binary {
            return;
        }
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        let valid = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            // An incomplete sequence at the very end waits for the next chunk.
            Err(e) if e.error_len().is_none() => {
                self.carry = bytes[e.valid_up_to()..].to_vec();
                // Safe: `valid_up_to` is a char boundary of valid UTF-8.
                std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => {
                self.binary = true;
                return;
            }
        };
        if valid.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            self.binary = true;
        }
    }

    /// Whether everything fed was text.
    pub fn is_text(&self) -> bool {
        !self.binary && self.carry.is_empty()
    }
}

/// The media type of an accepted document, from its first bytes (`head`, at least
/// [`SNIFF_BYTES`] when the file is that long) and whether the whole of it is text; `None` when
/// it is none of the accepted kinds.
pub fn sniff(head: &[u8], whole_is_text: bool) -> Option<&'static str> {
    let found = sniffed(head, whole_is_text);
    debug_assert!(found.is_none_or(|t| MEDIA_TYPES.contains(&t)), "{found:?} is not in MEDIA_TYPES");
    found
}

fn sniffed(head: &[u8], whole_is_text: bool) -> Option<&'static str> {
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if head.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"PK\x03\x04") {
        office_zip(head)
    } else if head.starts_with(OLE) {
        // Word 97-2003, Excel 97-2003 and PowerPoint 97-2003 share one container.
        Some("application/x-ole-storage")
    } else if whole_is_text && looks_like_csv(head) {
        Some("text/csv")
    } else {
        None
    }
}

/// A ZIP is an Office document only when its first entry says so: `[Content_Types].xml`,
/// `_rels/` or `docProps/` (Office Open XML, typed by the parts it names), or `mimetype` holding an
/// OpenDocument type. A JAR, an APK or any other archive is refused.
fn office_zip(head: &[u8]) -> Option<&'static str> {
    let name_len = usize::from(u16::from_le_bytes([*head.get(26)?, *head.get(27)?]));
    let name = head.get(30..30 + name_len)?;
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if name == b"mimetype" {
        let rest = head.get(30 + name_len + usize::from(u16::from_le_bytes([head[28], head[29]]))..)?;
        return [
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
        ]
        .into_iter()
        .find(|t| rest.starts_with(t.as_bytes()));
    }
    let ooxml = name == b"[Content_Types].xml" || name.starts_with(b"_rels/") || name.starts_with(b"docProps/");
    if !ooxml {
        return None;
    }
    Some(if contains(b"word/") {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    } else if contains(b"xl/") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else if contains(b"ppt/") {
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    } else {
        "application/vnd.openxmlformats-officedocument"
    })
}

/// Text that reads as a table: its first line holds a comma, semicolon or tab, and it does not
/// open like markup or a script.
fn looks_like_csv(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let first = text.lines().next().unwrap_or("");
    let markup = first.starts_with('<') || first.starts_with("#!");
    !markup && first.contains([',', ';', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_name_has_an_extension_its_content_has_and_no_hidden_characters() {
        assert_eq!(named_for("run.bat", "text/csv"), "run.csv");
        assert_eq!(named_for("page.hta", "text/csv"), "page.csv");
        assert_eq!(named_for("index.html", "text/csv"), "index.csv");
        assert_eq!(named_for("Q1 report", "application/pdf"), "Q1 report.pdf");
        assert_eq!(named_for("Q1 report.PDF", "application/pdf"), "Q1 report.PDF");
        assert_eq!(named_for("photo.jpeg", "image/jpeg"), "photo.jpeg");
        assert_eq!(named_for("invoice.pdf.exe", "application/pdf"), "invoice.pdf.pdf");
        assert_eq!(named_for(".hidden", "image/png"), ".hidden.png");
        assert_eq!(named_for("budget.xls", "application/x-ole-storage"), "budget.xls");
        for c in ['\u{202E}', '\u{200F}', '\u{2066}', '\u{FEFF}', '\u{061C}', '\u{7}'] {
            assert!(hidden_char(c), "{c:?}");
        }
        assert!(!hidden_char('é') && !hidden_char(' ') && !hidden_char('-'));
    }

    fn text(bytes: &[u8]) -> bool {
        let mut check = TextCheck::default();
        for chunk in bytes.chunks(3) {
            check.feed(chunk);
        }
        check.is_text()
    }

    fn zip_with_first_entry(name: &str, body: &[u8]) -> Vec<u8> {
        zip_with_extra(name, b"", body)
    }

    /// A local file header naming `name`, with an extra field, then `body`.
    fn zip_with_extra(name: &str, extra: &[u8], body: &[u8]) -> Vec<u8> {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&[0u8; 22]);
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        zip.extend_from_slice(name.as_bytes());
        zip.extend_from_slice(extra);
        zip.extend_from_slice(body);
        zip
    }

    #[test]
    fn the_accepted_kinds_are_known_by_their_first_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n...", false), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0", false), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], false), Some("image/jpeg"));
        assert_eq!(
            sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0], false),
            Some("application/x-ole-storage")
        );
        let docx = zip_with_first_entry("[Content_Types].xml", b"<Types>word/document.xml</Types>");
        assert_eq!(
            sniff(&docx, false),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        let xlsx = zip_with_first_entry("_rels/.rels", b"xl/workbook.xml");
        assert_eq!(sniff(&xlsx, false), Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
        let odt = zip_with_first_entry("mimetype", b"application/vnd.oasis.opendocument.textPK");
        assert_eq!(sniff(&odt, false), Some("application/vnd.oasis.opendocument.text"));
        // The type follows the entry's extra field, when it has one.
        let ods = zip_with_extra("mimetype", b"UT\x05\0\x01abcd", b"application/vnd.oasis.opendocument.spreadsheet");
        assert_eq!(sniff(&ods, false), Some("application/vnd.oasis.opendocument.spreadsheet"));
        assert_eq!(sniff(b"period,spend\n2020-21-Q1,100\n", true), Some("text/csv"));
        assert_eq!(sniff("\u{feff}name;amount\r\nCaf\u{e9};1\r\n".as_bytes(), true), Some("text/csv"));
    }

    #[test]
    fn executables_archives_markup_and_plain_text_are_refused() {
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0", false), None, "a Windows executable");
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01", false), None, "a Linux executable");
        assert_eq!(sniff(b"#!/bin/sh\necho a,b\n", true), None, "a script");
        assert_eq!(sniff(b"<html><body>a,b</body></html>", true), None, "HTML");
        assert_eq!(sniff(b"just a note without columns\n", true), None, "text that is not a table");
        assert_eq!(sniff(b"a,b\n", false), None, "a table that is not text throughout");
        assert_eq!(sniff(&zip_with_first_entry("META-INF/MANIFEST.MF", b"xl/"), false), None, "a JAR");
        assert_eq!(sniff(&zip_with_first_entry("mimetype", b"application/epub+zip"), false), None, "an e-book");
        assert_eq!(sniff(b"PK\x03\x04", false), None, "a truncated ZIP");
        assert_eq!(sniff(b"", true), None);
    }

    #[test]
    fn text_is_checked_across_chunk_boundaries() {
        assert!(text("na\u{ef}ve,caf\u{e9},\u{20ac}\n".as_bytes()), "multi-byte characters split across chunks");
        assert!(!text(b"a,b\0c\n"), "a NUL");
        assert!(!text(b"a,b\x1b[31m\n"), "an escape");
        assert!(!text(&[b'a', b',', 0xC3]), "ends inside a character");
        assert!(!text(&[b'a', 0xFF, b'b']), "not UTF-8");
    }
}
