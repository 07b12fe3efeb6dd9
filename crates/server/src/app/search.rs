//! Search across everything the caller may read. The blind index proposes candidates;
//! each candidate's matter then goes through the ring-fence's own check, and only what the
//! check allows is read.
//!
//! What one search may cost is bounded: at most [`MAX_OPENED`] records are read for their
//! snippets, and at most [`MAX_TEXT_BYTES`] of note bodies and document texts among them
//! (a record whose text would pass that is listed without it). The sealed fields are read
//! in the transaction and opened afterwards on a blocking thread: decrypting and cutting
//! snippets is CPU work the async workers must not do.

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::Outcome;
use ringfence_core::search::{query_terms, snippet, terms as terms_of};
use ringfence_store::StoreError;
use ringfence_store::firm::access::{self, ReadContent, View};
use ringfence_store::firm::documents::SealedDocument;
use ringfence_store::firm::matters::SealedMatter;
use ringfence_store::firm::notes::SealedNote;
use ringfence_store::firm::search::{self as index, Kind};
use ringfence_store::firm::{Opener, SealedText, decoys, documents, matters, notes};
use serde::Serialize;
use uuid::Uuid;

use super::{AppError, Ctx};
use crate::audit;

/// Candidates looked at per query, and hits answered.
const CANDIDATES: i64 = 500;
const MAX_HITS: usize = 50;
/// Records (matters, notes, documents) read and opened per query.
pub const MAX_OPENED: usize = 100;
/// Bytes of sealed note bodies and document texts opened per query.
pub const MAX_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Matter,
    Note,
    Document,
}

impl std::fmt::Display for HitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Matter => "matter",
            Self::Note => "note",
            Self::Document => "document",
        })
    }
}

/// One record found, on a matter the caller may see.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub kind: HitKind,
    /// The matter, note or document found.
    pub id: Uuid,
    /// The matter's or document's title; a note's kind.
    pub title: String,
    /// Whether a note or document is privileged; absent for a matter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// A short extract around the first word found.
    pub snippet: String,
    pub matter_id: Uuid,
    pub matter_title: String,
}

/// What a search found, in one page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// Always null: the hits are never split into pages.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Whether every query term is a term of the title alone.
fn in_title(title: &str, terms: &[String]) -> bool {
    let title = terms_of(title);
    terms.iter().all(|term| title.contains(term))
}

/// What is left to spend on one query.
struct Budget {
    records: usize,
    text_bytes: usize,
}

impl Budget {
    /// Takes one record, if any are left.
    fn take_record(&mut self) -> bool {
        let left = self.records > 0;
        self.records = self.records.saturating_sub(1);
        left
    }

    fn spend(&mut self, text: Option<&SealedText>) {
        self.text_bytes = self.text_bytes.saturating_sub(text.map_or(0, SealedText::sealed_len));
    }
}

/// A hit read but not yet opened.
enum Pending {
    Matter,
    Note(SealedNote),
    Document(SealedDocument),
}

/// A matter's hits, read but not yet opened.
struct PendingMatter {
    id: Uuid,
    matter: SealedMatter,
    hits: Vec<Pending>,
}

/// Every record matching `words` the caller may read, with a snippet of each.
pub async fn search(ctx: &Ctx, words: &str) -> Result<SearchResults, AppError> {
    let terms =
        query_terms(words).map_err(|reason| AppError::invalid("q", reason.trim_start_matches("q: ")))?;
    let actor = &ctx.actor;
    let mut tx = actor.begin_read().await?;
    let candidates = index::find(&mut tx, actor.user, &terms, CANDIDATES).await?;
    let mut budget = Budget { records: MAX_OPENED, text_bytes: MAX_TEXT_BYTES };
    let mut found = Vec::new();
    let mut hits = 0;
    for (matter, candidates) in candidates {
        if hits >= MAX_HITS || !budget.take_record() {
            break;
        }
        // A matter the caller may not see or read is passed over without a trace in the
        // answer: not a hit, not a count.
        let Some(view) = access::check::<View>(&mut tx, actor.user, &actor.roles, matter).await? else {
            continue;
        };
        let content = access::check::<ReadContent>(&mut tx, actor.user, &actor.roles, matter).await?;
        let mut pending = Vec::new();
        for hit in candidates {
            if hits >= MAX_HITS {
                break;
            }
            let read = match (hit.kind, &content) {
                (Kind::Matter, _) => Some(Pending::Matter),
                (Kind::Note, Some(content)) if budget.take_record() => {
                    let note = notes::sealed(&mut tx, content, hit.source, budget.text_bytes).await?;
                    note.map(|note| {
                        budget.spend(note.body.as_ref());
                        Pending::Note(note)
                    })
                }
                (Kind::Document, Some(content)) if budget.take_record() => {
                    let document = documents::sealed(&mut tx, content, hit.source, budget.text_bytes).await?;
                    document.map(|document| {
                        budget.spend(document.text.as_ref());
                        Pending::Document(document)
                    })
                }
                _ => None,
            };
            if let Some(read) = read {
                pending.push(read);
                hits += 1;
            }
        }
        if !pending.is_empty() {
            found.push(PendingMatter {
                id: matter,
                matter: matters::sealed(&mut tx, &view).await?,
                hits: pending,
            });
        }
    }
    // A search that finds a decoy's content names its matter, so the watcher sees the
    // touch; nobody else's search ever finds one.
    let decoy_found = if found.is_empty() {
        None
    } else {
        let wires = decoys::tripwire_set(&mut tx).await?;
        found.iter().map(|m| m.id.to_string()).find(|id| wires.contains(id))
    };
    let opener = tx.opener();
    // The query itself is not recorded: it may be as sensitive as what it finds.
    tx.commit().await?;
    let mut entry = audit::record(
        actor.audit_actor(),
        AuditAction::SearchPerformed,
        None,
        Outcome::Success,
        &ctx.client,
        ctx.now(),
    );
    entry.matter_id = decoy_found;
    actor.store.append_audit(entry).await?;
    let items = tokio::task::spawn_blocking(move || open_all(&opener, found, &terms))
        .await
        .map_err(|e| AppError::Store(StoreError::TaskFailed(e.to_string())))??;
    Ok(SearchResults { items, next_cursor: None })
}

/// Opens what was read and cuts the snippets: on a blocking thread.
fn open_all(
    opener: &Opener,
    found: Vec<PendingMatter>,
    terms: &[String],
) -> Result<Vec<SearchHit>, StoreError> {
    let mut items = Vec::new();
    for PendingMatter { id: matter, matter: sealed, hits } in found {
        let title = opener.open(&sealed.title)?;
        for hit in hits {
            let (kind, id, hit_title, privileged, text) = match hit {
                Pending::Matter => {
                    // The index holds title and description together. Without the right to
                    // read content the description is withheld (`None`), and then only a
                    // match in the title itself is a hit: the description must not even
                    // show through which words it contains.
                    let description = sealed.description.as_ref().map(|d| opener.open(d)).transpose()?;
                    let text = match description {
                        Some(description) => format!("{title}\n{description}"),
                        None if in_title(&title, terms) => title.clone(),
                        None => continue,
                    };
                    (HitKind::Matter, matter, title.clone(), None, text)
                }
                Pending::Note(note) => {
                    let body = note.body.as_ref().map(|b| opener.open(b)).transpose()?.unwrap_or_default();
                    (HitKind::Note, note.id, note.kind, Some(note.privileged), body)
                }
                Pending::Document(document) => {
                    let document_title = opener.open(&document.title)?;
                    let text =
                        document.text.as_ref().map(|t| opener.open(t)).transpose()?.unwrap_or_default();
                    let text = format!("{document_title}\n{text}");
                    (HitKind::Document, document.id, document_title, Some(document.privileged), text)
                }
            };
            items.push(SearchHit {
                kind,
                id,
                title: hit_title,
                privileged,
                snippet: snippet(&text, terms),
                matter_id: matter,
                matter_title: title.clone(),
            });
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_gives_out_its_records_once() {
        let mut budget = Budget { records: 2, text_bytes: 10 };
        assert!(budget.take_record() && budget.take_record());
        assert!(!budget.take_record());
        budget.spend(None);
        assert_eq!(budget.text_bytes, 10);
    }
}
