//! Text inside documents, for the search index: plain text, PDF and DOCX.
//!
//! Every input is hostile until proven otherwise, so each reader stops as it goes rather
//! than after the fact: the text is cut at [`MAX_TEXT_CHARS`] while it is produced, a PDF
//! is read for at most [`MAX_PDF_PAGES`] pages, each of its content streams is decompressed
//! once however many pages share it, and everything decompressed (PDF content, a DOCX
//! body) is charged against one budget of [`MAX_EXPANDED`] bytes. The server runs this in a
//! child process with memory, CPU and time limits on top; failure is "no text".

use std::collections::{HashMap, HashSet};
use std::io::Read;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

/// Decompressed bytes a PDF's content streams together, or a DOCX's body, may expand to:
/// a small file must not unpack into gigabytes.
pub const MAX_EXPANDED: usize = 64 * 1024 * 1024;
/// Files read for text at most this large: the whole file is held in memory.
pub const MAX_SOURCE: u64 = 64 * 1024 * 1024;
/// Text kept per document for the index and snippets.
pub const MAX_TEXT_CHARS: usize = 2_000_000;
/// The most bytes [`MAX_TEXT_CHARS`] characters take as UTF-8.
pub const MAX_TEXT_BYTES: usize = MAX_TEXT_CHARS * 4;
/// Pages of a PDF read for text; the rest of a longer one is not indexed.
pub const MAX_PDF_PAGES: usize = 5_000;
/// A font's encoding (its ToUnicode map) may decompress to at most this.
const MAX_FONT_MAP: usize = 4 * 1024 * 1024;
/// Distinct fonts whose encodings are read; text in further fonts is skipped.
const MAX_FONTS: usize = 1_000;
/// Any single stream (object and cross-reference streams too) may decompress to at most
/// this while a PDF is loaded.
const MAX_LOAD_STREAM: usize = 16 * 1024 * 1024;

pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Whether a file of this (sniffed) type has text this module can read.
pub fn has_text(content_type: &str) -> bool {
    content_type.starts_with("text/plain") || content_type == "application/pdf" || content_type == DOCX
}

/// The text of a file of `content_type`, at most [`MAX_TEXT_CHARS`] characters, or `None`
/// when it has none that can be read.
pub fn text_of(content_type: &str, bytes: &[u8]) -> Option<String> {
    let mut text = Text::default();
    if content_type.starts_with("text/plain") {
        let prefix = &bytes[..bytes.len().min(MAX_TEXT_BYTES)];
        text.push(&String::from_utf8_lossy(prefix));
    } else if content_type == "application/pdf" {
        pdf_text(bytes, &mut text)?;
    } else if content_type == DOCX {
        docx_text(bytes, &mut text)?;
    } else {
        return None;
    }
    Some(text.0)
}

/// Text gathered so far, never more than [`MAX_TEXT_CHARS`] characters.
#[derive(Default)]
struct Text(String, usize);

impl Text {
    /// Appends what still fits; `false` once the text is full and reading may stop.
    fn push(&mut self, more: &str) -> bool {
        let room = MAX_TEXT_CHARS - self.1;
        let end = more.char_indices().nth(room).map_or(more.len(), |(at, _)| at);
        self.0.push_str(&more[..end]);
        self.1 += more[..end].chars().count();
        self.1 < MAX_TEXT_CHARS
    }

    fn push_char(&mut self, c: char) -> bool {
        let mut buf = [0; 4];
        self.push(c.encode_utf8(&mut buf))
    }

    fn ends_with(&self, c: char) -> bool {
        self.0.ends_with(c)
    }

    fn is_full(&self) -> bool {
        self.1 >= MAX_TEXT_CHARS
    }
}

fn pdf_text(bytes: &[u8], text: &mut Text) -> Option<()> {
    let options = lopdf::LoadOptions { max_decompressed_size: Some(MAX_LOAD_STREAM), ..Default::default() };
    let document = Document::load_mem_with_options(bytes, options).ok()?;
    let mut budget = MAX_EXPANDED;
    let mut seen_streams = HashSet::new();
    let mut encodings = FontEncodings::default();
    for page in document.page_iter().take(MAX_PDF_PAGES) {
        // A stream already read adds no word to the index: it is decompressed and parsed
        // once, however many pages share it.
        let fresh: Vec<ObjectId> =
            document.get_page_contents(page).into_iter().filter(|id| seen_streams.insert(*id)).collect();
        if fresh.is_empty() {
            continue;
        }
        let mut content = Vec::new();
        for id in fresh {
            let Ok(stream) = document.get_object(id).and_then(Object::as_stream) else { continue };
            let decoded = match stream.decompressed_content_with_limit(budget) {
                Ok(decoded) => decoded,
                Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
                    return Some(());
                }
                // An undecodable stream is read as written, like lopdf's own extraction.
                Err(_) if stream.content.len() <= budget => stream.content.clone(),
                Err(_) => return Some(()),
            };
            budget -= decoded.len();
            content.extend_from_slice(&decoded);
            content.push(b'\n');
        }
        let fonts = document.get_page_fonts(page).unwrap_or_default();
        let fonts: HashMap<Vec<u8>, *const Dictionary> =
            fonts.into_iter().map(|(name, font)| (name, encodings.read(&document, font))).collect();
        if !page_text(&content, &fonts, &encodings, text) {
            break;
        }
    }
    Some(())
}

/// Font encodings read so far, each once, keyed by the font dictionary's place in the
/// (unchanging) document.
#[derive(Default)]
struct FontEncodings<'a>(HashMap<*const Dictionary, Option<Encoding<'a>>>);

impl<'a> FontEncodings<'a> {
    fn read(&mut self, document: &'a Document, font: &'a Dictionary) -> *const Dictionary {
        let key = std::ptr::from_ref(font);
        if !self.0.contains_key(&key) {
            let encoding = (self.0.len() < MAX_FONTS)
                .then(|| font.get_font_encoding_with_limit(document, MAX_FONT_MAP).ok())
                .flatten();
            self.0.insert(key, encoding);
        }
        key
    }

    fn get(&self, key: &*const Dictionary) -> Option<&Encoding<'a>> {
        self.0.get(key)?.as_ref()
    }
}

/// Appends the text shown by a page's content (the text operators of ISO 32000-1, 9.4),
/// one operation at a time; `false` once the text is full.
fn page_text(
    content: &[u8],
    fonts: &HashMap<Vec<u8>, *const Dictionary>,
    encodings: &FontEncodings<'_>,
    text: &mut Text,
) -> bool {
    let mut encoding = None;
    let mut shown = String::new();
    for operation in Content::decode_iter(content) {
        let Ok(operation) = operation else { break };
        let operands: &[Object] = match operation.operator.as_str() {
            "Tf" => {
                encoding = operation
                    .operands
                    .first()
                    .and_then(|font| font.as_name().ok())
                    .and_then(|name| fonts.get(name))
                    .and_then(|key| encodings.get(key));
                continue;
            }
            "Tj" | "TJ" => &operation.operands,
            // `'` and `"` move to the next line, then show their last operand.
            "'" | "\"" => {
                if !text.ends_with('\n') && !text.push_char('\n') {
                    return false;
                }
                operation.operands.last().map(std::slice::from_ref).unwrap_or_default()
            }
            "T*" | "ET" => {
                if !text.ends_with('\n') && !text.push_char('\n') {
                    return false;
                }
                continue;
            }
            _ => continue,
        };
        let Some(encoding) = encoding else { continue };
        shown.clear();
        shown_text(&mut shown, encoding, operands);
        if !text.push(&shown) {
            return false;
        }
    }
    !text.is_full()
}

/// The strings of a text-showing operation; a wide gap in a `TJ` array reads as a space.
fn shown_text(out: &mut String, encoding: &Encoding<'_>, operands: &[Object]) {
    for operand in operands {
        match operand {
            Object::String(bytes, _) => {
                let _ = encoding.write_to_string(bytes, out);
            }
            Object::Array(items) => {
                shown_text(out, encoding, items);
                out.push(' ');
            }
            Object::Integer(i) if *i < -100 => out.push(' '),
            Object::Real(r) if *r < -100.0 => out.push(' '),
            _ => {}
        }
    }
}

fn docx_text(bytes: &[u8], text: &mut Text) -> Option<()> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let part = archive.by_name("word/document.xml").ok()?;
    let mut body = part.take(MAX_EXPANDED as u64);
    let mut reader = WordprocessingText::default();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let read = body.read(&mut chunk).ok()?;
        if read == 0 || !reader.feed(&chunk[..read], text) {
            return Some(());
        }
    }
}

/// Reads WordprocessingML a piece at a time: the text runs (`<w:t>`), a paragraph
/// (`</w:p>`) to a line, a tab or break to a space. Only an unfinished tag or text is
/// carried from one piece to the next.
#[derive(Default)]
struct WordprocessingText {
    pending: Vec<u8>,
    in_run: bool,
}

/// A tag longer than this is not WordprocessingML: reading stops.
const MAX_TAG: usize = 64 * 1024;

impl WordprocessingText {
    /// Reads `bytes`; `false` once the text is full or the XML is not worth reading on.
    fn feed(&mut self, bytes: &[u8], text: &mut Text) -> bool {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        let keep_going = loop {
            let rest = &self.pending[at..];
            let Some(open) = rest.iter().position(|&b| b == b'<') else {
                // Text without its closing tag yet: wait for more, unless it alone is more
                // than the index keeps.
                if rest.len() > MAX_TEXT_BYTES {
                    let _ = self.run_text(rest, text);
                    break false;
                }
                break true;
            };
            let Some(close) = rest[open..].iter().position(|&b| b == b'>') else {
                if rest.len() - open > MAX_TAG {
                    break false;
                }
                break if self.run_text(&rest[..open], text) {
                    at += open;
                    true
                } else {
                    false
                };
            };
            let tag = &rest[open + 1..open + close];
            if !self.run_text(&rest[..open], text) {
                break false;
            }
            let is_run = tag == b"w:t" || tag.starts_with(b"w:t ");
            let pushed = if is_run && !tag.ends_with(b"/") {
                self.in_run = true;
                true
            } else if tag == b"/w:t" {
                self.in_run = false;
                true
            } else if tag == b"/w:p" {
                text.push_char('\n')
            } else if tag.starts_with(b"w:tab") || tag.starts_with(b"w:br") {
                text.push_char(' ')
            } else {
                true
            };
            at += open + close + 1;
            if !pushed {
                break false;
            }
        };
        self.pending.drain(..at);
        keep_going
    }

    /// Appends the text between two tags when inside a run; `false` once the text is full.
    fn run_text(&self, between: &[u8], text: &mut Text) -> bool {
        if !self.in_run || between.is_empty() {
            return true;
        }
        text.push(&unescape(&String::from_utf8_lossy(between)))
    }
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

    fn wordprocessing_text(xml: &str, piece: usize) -> String {
        let mut text = Text::default();
        let mut reader = WordprocessingText::default();
        for chunk in xml.as_bytes().chunks(piece) {
            assert!(reader.feed(chunk, &mut text));
        }
        text.0
    }

    #[test]
    fn wordprocessing_runs_become_lines() {
        let xml = r#"<w:document><w:body><w:p><w:r><w:t>Acme &amp; Co</w:t></w:r><w:r><w:t xml:space="preserve"> settled</w:t></w:r></w:p><w:p><w:r><w:t>Second</w:t><w:tab/><w:t>line</w:t></w:r></w:p></w:body></w:document>"#;
        // However the XML arrives in pieces, even a byte at a time, the text is the same.
        for piece in [1, 2, 3, 7, 64, xml.len()] {
            assert_eq!(wordprocessing_text(xml, piece), "Acme & Co settled\nSecond line\n", "{piece}");
        }
    }

    #[test]
    fn text_stops_at_the_cap_as_it_is_produced() {
        let mut text = Text::default();
        let line = "é".repeat(1000);
        let mut pushes = 0;
        while text.push(&line) {
            pushes += 1;
        }
        assert_eq!(pushes, MAX_TEXT_CHARS / 1000 - 1);
        assert_eq!(text.0.chars().count(), MAX_TEXT_CHARS);
        assert!(!text.push("more"));
        assert_eq!(text.0.chars().count(), MAX_TEXT_CHARS);
    }

    /// A PDF of `pages` pages that all show one compressed content stream: `shown` in
    /// Helvetica, then `filler` repeated `times` over.
    fn pdf_sharing_one_stream(pages: usize, shown: &str, filler: &str, times: usize) -> Vec<u8> {
        use lopdf::{Stream, dictionary};
        let mut document = Document::with_version("1.5");
        let pages_id = document.new_object_id();
        let font = document.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
        });
        let mut content = format!("BT /F1 12 Tf 72 720 Td ({shown}) Tj ET\n").into_bytes();
        content.extend_from_slice(filler.repeat(times).as_bytes());
        let mut stream = Stream::new(lopdf::Dictionary::new(), content);
        stream.compress().unwrap();
        let shared = document.add_object(stream);
        let kids: Vec<Object> = (0..pages)
            .map(|_| {
                document
                    .add_object(dictionary! {
                        "Type" => "Page", "Parent" => pages_id, "Contents" => shared,
                        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
                    })
                    .into()
            })
            .collect();
        let count = i64::try_from(kids.len()).unwrap();
        document.objects.insert(
            pages_id,
            dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()] }
                .into(),
        );
        let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        document.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_stream_shared_by_many_pages_is_read_once() {
        // 1,000 pages share one stream of about 8 MiB of drawing, 15 KiB compressed: read
        // per page, that is 8 GiB to inflate and parse.
        let pdf = pdf_sharing_one_stream(1_000, "Shared exhibit", "0 0 m 1 1 l S\n", 600_000);
        assert!(pdf.len() < 200 * 1024, "{}", pdf.len());
        let started = std::time::Instant::now();
        let text = text_of("application/pdf", &pdf);
        assert_eq!(text.as_deref(), Some("Shared exhibit\n"));
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }

    #[test]
    fn pdf_text_stops_at_the_cap() {
        // One page whose text alone is 2.5 times the cap.
        let words = "(exhibit ) Tj ".repeat(MAX_TEXT_CHARS / 3);
        let pdf = pdf_sharing_one_stream(1, "Start", &format!("BT /F1 12 Tf {words} ET\n"), 1);
        let text = text_of("application/pdf", &pdf).unwrap();
        assert!(text.starts_with("Start\nexhibit exhibit "));
        assert_eq!(text.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn only_known_types_have_text() {
        assert!(has_text("text/plain; charset=utf-8"));
        assert!(has_text("application/pdf"));
        assert!(!has_text("image/png"));
        assert_eq!(text_of("image/png", b"\x89PNG"), None);
        assert_eq!(text_of("application/pdf", b"%PDF-1.7 garbage"), None);
        assert_eq!(text_of("text/plain; charset=utf-8", "plain".as_bytes()).as_deref(), Some("plain"));
        let long = "word ".repeat(MAX_TEXT_CHARS);
        assert_eq!(text_of("text/plain", long.as_bytes()).map(|t| t.chars().count()), Some(MAX_TEXT_CHARS));
    }
}
