//! Search across everything the caller may read. The blind index proposes candidates;
//! each candidate's matter then goes through the ring-fence's own check, and only what the
//! check allows is opened, its snippet decrypted on the fly.

use axum::Json;
use axum::extract::Query;
use ringfence_core::search::{query_terms, snippet, terms as terms_of};
use ringfence_store::firm::access::{self, ReadContent, View};
use ringfence_store::firm::search::{self as index, Kind};
use ringfence_store::firm::{documents, matters, notes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::client::Client;
use crate::error::ApiError;

/// Candidates looked at per query, and hits answered.
const CANDIDATES: i64 = 500;
const MAX_HITS: usize = 50;

/// Whether every query term is a term of the title alone.
fn in_title(title: &str, terms: &[String]) -> bool {
    let title = terms_of(title);
    terms.iter().all(|term| title.contains(term))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub(crate) q: String,
}

pub async fn search(
    actor: Actor,
    client: Client,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let terms = query_terms(&query.q).map_err(ApiError::invalid)?;
    let mut tx = actor.begin_read().await?;
    let candidates = index::find(&mut tx, actor.user, &terms, CANDIDATES).await?;
    let mut items = Vec::new();
    for (matter, hits) in candidates {
        if items.len() >= MAX_HITS {
            break;
        }
        // A matter the caller may not see or read is passed over without a trace in the
        // answer: not a hit, not a count.
        let view = access::check::<View>(&mut tx, actor.user, &actor.roles, matter).await?;
        let content = access::check::<ReadContent>(&mut tx, actor.user, &actor.roles, matter).await?;
        let matter_title = match &view {
            Some(view) => Some(matters::get(&mut tx, view).await?),
            None => None,
        };
        for hit in hits {
            let item = match (hit.kind, &matter_title, &content) {
                (Kind::Matter, Some(m), _) => {
                    // The index holds title and description together. Without the right to
                    // read content the description is withheld (`None`), and then only a
                    // match in the title itself is a hit: the description must not even
                    // show through which words it contains.
                    let text = match &m.description {
                        Some(description) => format!("{}\n{description}", m.title),
                        None if in_title(&m.title, &terms) => m.title.clone(),
                        None => continue,
                    };
                    json!({ "kind": "matter", "id": matter, "title": m.title, "snippet": snippet(&text, &terms) })
                }
                (Kind::Note, _, Some(content)) => match notes::get(&mut tx, content, hit.source).await? {
                    Some(note) => json!({
                        "kind": "note",
                        "id": note.id,
                        "title": note.kind,
                        "privileged": note.privileged,
                        "snippet": snippet(&note.body, &terms),
                    }),
                    None => continue,
                },
                (Kind::Document, _, Some(content)) => {
                    match documents::get(&mut tx, content, hit.source).await? {
                        Some(document) => {
                            let text =
                                documents::text_of(&mut tx, content, hit.source).await?.unwrap_or_default();
                            let text = format!("{}\n{}", document.title, text);
                            json!({
                                "kind": "document",
                                "id": document.id,
                                "title": document.title,
                                "privileged": document.privileged,
                                "snippet": snippet(&text, &terms),
                            })
                        }
                        None => continue,
                    }
                }
                _ => continue,
            };
            let mut item = item;
            item["matter_id"] = json!(matter);
            item["matter_title"] = json!(matter_title.as_ref().map(|m| m.title.clone()));
            items.push(item);
        }
    }
    items.truncate(MAX_HITS);
    // The query itself is not recorded: it may be as sensitive as what it finds.
    actor.record_read(tx, &client, "search.performed", None).await?;
    Ok(Json(json!({ "items": items, "next_cursor": null })))
}
