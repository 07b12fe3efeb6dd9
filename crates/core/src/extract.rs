//! Text inside documents, for the search index: plain text, PDF and DOCX. Everything
//! happens in memory; callers run it off the async workers and treat failure as "no text".

use std::io::Read;

/// Decompressed bytes a PDF's pages or a DOCX's body may expand to: a small file must not
/// unpack into gigabytes.
const MAX_EXPANDED: usize = 64 * 1024 * 1024;
/// Text kept per document for the index and snippets.
pub const MAX_TEXT_CHARS: usize = 2_000_000;

pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Whether a file of this (sniffed) type has text this module can read.
pub fn has_text(content_type: &str) -> bool {
    content_type.starts_with("text/plain") || content_type == "application/pdf" || content_type == DOCX
}

/// The text of a file of `content_type`, or `None` when it has none that can be read.
pub fn text_of(content_type: &str, bytes: &[u8]) -> Option<String> {
    let text = if content_type.starts_with("text/plain") {
        String::from_utf8_lossy(bytes).into_owned()
    } else if content_type == "application/pdf" {
        pdf_text(bytes)?
    } else if content_type == DOCX {
        docx_text(bytes)?
    } else {
        return None;
    };
    Some(text.chars().take(MAX_TEXT_CHARS).collect())
}

fn pdf_text(bytes: &[u8]) -> Option<String> {
    let document = lopdf::Document::load_mem(bytes).ok()?;
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text_with_limit(&pages, MAX_EXPANDED).ok()
}

fn docx_text(bytes: &[u8]) -> Option<String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let part = archive.by_name("word/document.xml").ok()?;
    let mut xml = String::new();
    part.take(MAX_EXPANDED as u64).read_to_string(&mut xml).ok()?;
    Some(wordprocessing_text(&xml))
}

/// The text runs (`<w:t>`) of WordprocessingML, a paragraph (`</w:p>`) to a line.
fn wordprocessing_text(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else { break };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let is_text_run = tag == "w:t" || tag.starts_with("w:t ");
        if is_text_run && !tag.ends_with('/') {
            let end = rest.find("</w:t>").unwrap_or(rest.len());
            out.push_str(&unescape(&rest[..end]));
            rest = &rest[end..];
        } else if tag == "/w:p" || tag.starts_with("w:tab") || tag.starts_with("w:br") {
            out.push(if tag == "/w:p" { '\n' } else { ' ' });
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordprocessing_runs_become_lines() {
        let xml = r#"<w:document><w:body><w:p><w:r><w:t>Acme &amp; Co</w:t></w:r><w:r><w:t xml:space="preserve"> settled</w:t></w:r></w:p><w:p><w:r><w:t>Second</w:t><w:tab/><w:t>line</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(wordprocessing_text(xml), "Acme & Co settled\nSecond line\n");
    }

    #[test]
    fn only_known_types_have_text() {
        assert!(has_text("text/plain; charset=utf-8"));
        assert!(has_text("application/pdf"));
        assert!(!has_text("image/png"));
        assert_eq!(text_of("image/png", b"\x89PNG"), None);
        assert_eq!(text_of("application/pdf", b"%PDF-1.7 garbage"), None);
        assert_eq!(text_of("text/plain; charset=utf-8", "plain".as_bytes()).as_deref(), Some("plain"));
    }
}
