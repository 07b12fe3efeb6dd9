//! Search across everything the caller may read. The blind index proposes candidates;
//! each candidate's matter then goes through the ring-fence's own check, and only what the
//! check allows is read.
//!
//! What one search may cost is bounded: at most [`MAX_OPENED`] records are read for their
//! snippets, and at most [`MAX_TEXT_BYTES`] of note bodies and document texts among them
//! (a record whose text would pass that is listed without it). The sealed fields are read
//! in the transaction and opened afterwards on a blocking thread: decrypting and cutting
//! snippets is CPU work the async workers must not do.

use axum::Json;
use axum::extract::Query;
use ringfence_core::audit::AuditAction;
use ringfence_core::search::{query_terms, snippet, terms as terms_of};
use ringfence_store::StoreError;
use ringfence_store::firm::access::{self, ReadContent, View};
use ringfence_store::firm::documents::SealedDocument;
use ringfence_store::firm::matters::SealedMatter;
use ringfence_store::firm::notes::SealedNote;
use ringfence_store::firm::search::{self as index, Kind};
use ringfence_store::firm::{Opener, SealedText, documents, matters, notes};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::Actor;
use crate::client::Client;
use crate::error::ApiError;

/// Candidates looked at per query, and hits answered.
const CANDIDATES: i64 = 500;
const MAX_HITS: usize = 50;
/// Records (matters, notes, documents) read and opened per query.
pub const MAX_OPENED: usize = 100;
/// Bytes of sealed note bodies and document texts opened per query.
pub const MAX_TEXT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub(crate) q: String,
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

pub async fn search(
    actor: Actor,
    client: Client,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let terms = query_terms(&query.q).map_err(ApiError::invalid)?;
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
    let opener = tx.opener();
    // The query itself is not recorded: it may be as sensitive as what it finds.
    actor.record_read(tx, &client, AuditAction::SearchPerformed, None).await?;
    let items = tokio::task::spawn_blocking(move || open_all(&opener, found, &terms))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}

/// Opens what was read and cuts the snippets: on a blocking thread.
fn open_all(opener: &Opener, found: Vec<PendingMatter>, terms: &[String]) -> Result<Vec<Value>, StoreError> {
    let mut items = Vec::new();
    for PendingMatter { id: matter, matter: sealed, hits } in found {
        let title = opener.open(&sealed.title)?;
        for hit in hits {
            let mut item = match hit {
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
                    json!({ "kind": "matter", "id": matter, "title": title, "snippet": snippet(&text, terms) })
                }
                Pending::Note(note) => {
                    let body = note.body.as_ref().map(|b| opener.open(b)).transpose()?.unwrap_or_default();
                    json!({
                        "kind": "note",
                        "id": note.id,
                        "title": note.kind,
                        "privileged": note.privileged,
                        "snippet": snippet(&body, terms),
                    })
                }
                Pending::Document(document) => {
                    let document_title = opener.open(&document.title)?;
                    let text =
                        document.text.as_ref().map(|t| opener.open(t)).transpose()?.unwrap_or_default();
                    let text = format!("{document_title}\n{text}");
                    json!({
                        "kind": "document",
                        "id": document.id,
                        "title": document_title,
                        "privileged": document.privileged,
                        "snippet": snippet(&text, terms),
                    })
                }
            };
            item["matter_id"] = json!(matter);
            item["matter_title"] = json!(title);
            items.push(item);
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
