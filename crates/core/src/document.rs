//! Rules for uploaded files: the name a file is kept under, and what its bytes are.

/// What the malware scanner said of a version. An infected one is kept, quarantined:
/// never downloadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// No scanner is configured.
    Unscanned,
    Clean,
    Infected,
}

impl Scan {
    pub fn as_str(self) -> &'static str {
        match self {
            Scan::Unscanned => "unscanned",
            Scan::Clean => "clean",
            Scan::Infected => "infected",
        }
    }

    pub fn downloadable(self) -> bool {
        self != Scan::Infected
    }
}

impl std::str::FromStr for Scan {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        [Scan::Unscanned, Scan::Clean, Scan::Infected].into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// Bytes looked at to decide a file's type.
pub const SNIFF_LEN: usize = 8192;

const MAX_NAME_BYTES: usize = 200;
const FALLBACK_NAME: &str = "document";

/// Names Windows reserves for devices, with or without an extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
    "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Characters that change how text around them is displayed (bidirectional overrides):
/// "invoice\u{202E}fdp.exe" shows as "invoiceexe.pdf".
fn is_display_trick(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The name a file is kept and offered for download under: the last part of whatever path
/// the client sent, without control or display-trick characters, characters file systems
/// refuse, trailing dots or spaces, or a device name; at most 200 bytes; never empty.
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_display_trick(*c))
        .map(|c| if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim().trim_end_matches(['.', ' ']);
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '.') {
        return FALLBACK_NAME.to_owned();
    }
    let stem = trimmed.split('.').next().unwrap_or_default().trim_end();
    let mut name = if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        format!("_{trimmed}")
    } else {
        trimmed.to_owned()
    };
    if name.len() > MAX_NAME_BYTES {
        name = shorten_keeping_extension(&name);
    }
    name
}

fn shorten_keeping_extension(name: &str) -> String {
    let extension = name.rsplit_once('.').map(|(_, ext)| ext).filter(|ext| ext.len() <= 16).unwrap_or("");
    let budget = MAX_NAME_BYTES - if extension.is_empty() { 0 } else { extension.len() + 1 };
    let mut stem = String::new();
    for c in name.chars() {
        if stem.len() + c.len_utf8() > budget {
            break;
        }
        stem.push(c);
    }
    if extension.is_empty() { stem } else { format!("{stem}.{extension}") }
}

/// The kinds of file a browser may show inline as they are: raster images only. SVG is left
/// out (it can carry script).
pub const SHOWN_AS_THEY_ARE: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The kind of file previewed as its pages drawn to images on the server, never as itself:
/// a browser's PDF viewer runs outside the page's sandbox.
pub const DRAWN_AS_PAGES: &str = "application/pdf";

pub fn shown_as_it_is(content_type: &str) -> bool {
    SHOWN_AS_THEY_ARE.contains(&content_type)
}

/// Whether a file of this kind has a preview: as it is, or drawn as pages.
pub fn previewable(content_type: &str) -> bool {
    shown_as_it_is(content_type) || content_type == DRAWN_AS_PAGES
}

/// The media type of a file, judged from its first bytes (up to [`SNIFF_LEN`]) and never
/// from what the client claimed.
pub fn sniff_content_type(head: &[u8]) -> &'static str {
    if let Some(kind) = infer::get(head) {
        // infer recognises Word files by the order of their parts, which not every writer
        // keeps; a ZIP whose first parts live under word/ is one all the same.
        if kind.mime_type() == "application/zip" && head.windows(5).any(|w| w == b"word/") {
            return crate::extract::DOCX;
        }
        return kind.mime_type();
    }
    if looks_like_text(head) { "text/plain; charset=utf-8" } else { "application/octet-stream" }
}

fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut off by the sniffing window is still text.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// A size as people read it: `512 bytes`, `3.2 MiB`, `1.5 GiB`.
pub fn readable_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_tricks() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\Users\\x\\brief.docx"), "brief.docx");
        assert_eq!(sanitize_file_name("a\u{0}b\nc\r.pdf"), "abc.pdf");
        assert_eq!(sanitize_file_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize_file_name("what?<now>.txt"), "what__now_.txt");
        assert_eq!(sanitize_file_name("notes. . "), "notes");
        assert_eq!(sanitize_file_name(".."), "document");
        assert_eq!(sanitize_file_name(""), "document");
        assert_eq!(sanitize_file_name("folder/"), "document");
        assert_eq!(sanitize_file_name("Statement – Müller.pdf"), "Statement – Müller.pdf");
    }

    #[test]
    fn device_names_are_defused() {
        assert_eq!(sanitize_file_name("CON"), "_CON");
        assert_eq!(sanitize_file_name("nul.txt"), "_nul.txt");
        assert_eq!(sanitize_file_name("Com1 .pdf"), "_Com1 .pdf");
        assert_eq!(sanitize_file_name("console.txt"), "console.txt");
    }

    #[test]
    fn long_names_keep_their_extension_and_whole_characters() {
        let name = sanitize_file_name(&format!("{}.pdf", "é".repeat(300)));
        assert!(name.len() <= MAX_NAME_BYTES);
        assert!(name.ends_with(".pdf"));
        assert!(name.starts_with('é'));
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff_content_type(b"%PDF-1.7\n%\xe2\xe3"), "application/pdf");
        assert_eq!(sniff_content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff_content_type("plain words, «quoted»".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(sniff_content_type(&"é".as_bytes()[..1]), "text/plain; charset=utf-8");
        assert_eq!(
            sniff_content_type(b"MZ\x90\0\x03\0\0\0\x04\0"),
            "application/vnd.microsoft.portable-executable"
        );
        assert_eq!(sniff_content_type(b"\x00\x01\x02binary"), "application/octet-stream");
    }
}
