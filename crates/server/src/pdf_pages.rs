//! A PDF's pages drawn as PNG images, for previews. Only the extractor's child process
//! draws (see [`crate::extractor`]), never the server's own: the file is attacker-chosen.
//! hayro interprets no script, loads nothing from outside the file and has no unsafe code;
//! a file it cannot read (damaged, encrypted) has no pages to show.

use std::sync::Arc;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings, render};
use zeroize::Zeroizing;

/// Pixels across a drawn page: a reading column at twice a screen's density.
const PAGE_WIDTH: f32 = 1200.0;
/// The longest side a drawn page may have, whatever its shape (a long strip of a page is
/// drawn narrower): the PNG stays a few megabytes at most.
const MAX_SIDE: f32 = 2400.0;

/// A page drawn, and how many pages the file has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawnPage {
    pub pages: u32,
    /// `None` when the page asked for is not one of the file's (0 asks for the count alone).
    /// A picture of a privileged page is as secret as its text: wiped when dropped.
    pub png: Option<Zeroizing<Vec<u8>>>,
}

/// Page `page` (from 1) of a PDF as a PNG, and the number of pages; `None` when the file
/// cannot be read as a PDF.
pub fn draw(bytes: Vec<u8>, page: u32) -> Option<DrawnPage> {
    let pdf = Pdf::new(Arc::new(bytes)).ok()?;
    let pages = pdf.pages();
    let count = u32::try_from(pages.len()).ok()?;
    let wanted = page.checked_sub(1).and_then(|index| pages.get(usize::try_from(index).ok()?));
    let Some(shown) = wanted else { return Some(DrawnPage { pages: count, png: None }) };
    let (width, height) = shown.render_dimensions();
    if !(width >= 1.0 && height >= 1.0) {
        return None;
    }
    let scale = (PAGE_WIDTH / width).min(MAX_SIDE / height).min(MAX_SIDE / width);
    let settings = PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE };
    let drawn = render(
        shown,
        &RenderCache::new(),
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &settings,
    );
    Some(DrawnPage { pages: count, png: Some(Zeroizing::new(drawn.into_png().ok()?)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDF of `pages` pages, each naming its number in the standard Helvetica (which the
    /// file does not carry).
    fn pdf(pages: usize) -> Vec<u8> {
        use lopdf::{Document, Object, Stream, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font =
            doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
        let kids: Vec<Object> = (1..=pages)
            .map(|n| {
                let content = format!("BT /F1 48 Tf 72 700 Td (Page {n}) Tj ET");
                let stream = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
                doc.add_object(dictionary! {
                    "Type" => "Page",
                    "Parent" => pages_id,
                    "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
                    "Contents" => stream,
                    "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
                })
                .into()
            })
            .collect();
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Count" => pages as i64, "Kids" => kids }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    /// Width, height and how many pixels are not white, of a PNG.
    fn looked_at(png: &[u8]) -> (u16, u16, usize) {
        let pixmap = hayro::vello_cpu::Pixmap::from_png(std::io::Cursor::new(png)).expect("a PNG");
        let inked = pixmap.data().iter().filter(|p| (p.r, p.g, p.b) != (255, 255, 255)).count();
        (pixmap.width(), pixmap.height(), inked)
    }

    #[test]
    fn a_page_is_drawn_with_its_text_at_reading_width() {
        let drawn = draw(pdf(3), 2).expect("a readable PDF");
        assert_eq!(drawn.pages, 3);
        let (width, height, inked) = looked_at(&drawn.png.expect("page 2 is drawn"));
        assert_eq!((width, height), (1200, 1552));
        assert!(inked > 1000, "the page's text is drawn in a font the file does not carry: {inked}");
    }

    #[test]
    fn a_page_past_the_last_gives_the_count_alone_and_junk_gives_nothing() {
        assert_eq!(draw(pdf(2), 3), Some(DrawnPage { pages: 2, png: None }));
        assert_eq!(draw(pdf(2), 0), Some(DrawnPage { pages: 2, png: None }));
        assert_eq!(draw(b"%PDF-1.7 and nothing a reader could use".to_vec(), 1), None);
        assert_eq!(draw(Vec::new(), 1), None);
    }
}
