//! An incident in words: the drafts of its notifications (POPIA s 22(5): the possible
//! consequences, the measures taken or intended, what data subjects should do, and who had
//! the information if known) and the register's report of it, as Markdown.

use std::fmt::Write;

use ringfence_core::local_time::FirmTimeZone;
use ringfence_store::firm::incidents::{Entry, Incident};
use time::OffsetDateTime;

use super::register::{CATEGORIES, Drafts, IncidentDetails, IncidentView, NOTIFY_WITHIN};

/// What the drafts are made of.
pub struct Facts<'a> {
    pub firm: &'a str,
    pub officer: Option<&'a str>,
    pub incident: &'a Incident,
    pub details: &'a IncidentDetails,
    pub steps: &'a [Entry],
    pub notifications: &'a [Entry],
    pub zone: &'a FirmTimeZone,
}

/// What the register does not know yet, said so in a draft for its reader to fill in.
fn or_unknown(text: &str) -> &str {
    if text.trim().is_empty() { "[not yet known: to complete]" } else { text }
}

fn categories_in_words(codes: &[String]) -> String {
    let words: Vec<&str> = codes
        .iter()
        .filter_map(|code| CATEGORIES.iter().find(|(c, _)| c == code).map(|(_, words)| *words))
        .collect();
    if words.is_empty() { "[not yet known: to complete]".to_owned() } else { words.join("; ") }
}

fn about(n: Option<i64>) -> String {
    n.map_or_else(|| "[not yet known: to complete]".to_owned(), |n| format!("about {n}"))
}

fn steps_in_words(steps: &[Entry], zone: &FirmTimeZone) -> String {
    if steps.is_empty() {
        return "[none recorded yet: to complete]".to_owned();
    }
    steps
        .iter()
        .map(|s| format!("- {} ({}, {})", s.text, s.kind, zone.in_words(s.at)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn drafts(f: &Facts<'_>) -> Drafts {
    let zone = f.zone;
    let d = f.details;
    let officer = f.officer.unwrap_or("[the firm has not named its Information Officer: to complete]");
    let confirmed =
        f.incident.confirmed_at.map_or_else(|| "[not yet confirmed]".to_owned(), |at| zone.in_words(at));
    let subjects_told = f
        .notifications
        .iter()
        .find(|n| n.kind == "data_subjects")
        .map_or_else(|| "Not yet.".to_owned(), |n| format!("Yes, on {}: {}", zone.in_words(n.at), n.text));
    let regulator = format!(
        "To: The Information Regulator\n\
         Subject: Notification of a security compromise under section 22 of the Protection of Personal Information Act 4 of 2013\n\n\
         Responsible party: {firm}\n\
         Information Officer: {officer}\n\
         Discovered: {discovered}\n\
         Confirmed: {confirmed}\n\n\
         1. Description of the compromise\n{what}\n\n\
         2. Categories of personal information affected\n{categories}\n\n\
         3. Data subjects and records affected\n{subjects} data subjects; {records} records.\n\n\
         4. Possible consequences for the data subjects (s 22(5)(a))\n{consequences}\n\n\
         5. Measures taken or intended to address the compromise (s 22(5)(b))\n{steps}\n\n\
         6. Recommendations to data subjects to mitigate its possible adverse effects (s 22(5)(c))\n{recommendations}\n\n\
         7. Identity of the unauthorised person who may have accessed or acquired the personal information, if known (s 22(5)(d))\n{person}\n\n\
         8. Whether the data subjects have been notified (s 22(4))\n{subjects_told}\n\n\
         Contact for further information: {officer}\n",
        firm = f.firm,
        discovered = zone.in_words(f.incident.discovered_at),
        what = or_unknown(&d.what_happened),
        categories = categories_in_words(&d.categories),
        subjects = about(d.data_subjects),
        records = about(d.records),
        consequences = or_unknown(&d.consequences),
        steps = steps_in_words(f.steps, zone),
        recommendations = or_unknown(&d.recommendations),
        person = if d.unauthorised_person.trim().is_empty() { "Not known." } else { &d.unauthorised_person },
    );
    let data_subjects = format!(
        "Subject: Your personal information held by {firm}\n\n\
         Dear [name],\n\n\
         We write to tell you, as section 22 of the Protection of Personal Information Act requires, that your \
         personal information held by {firm} may have been accessed or acquired by an unauthorised person.\n\n\
         What happened: {what}\n\n\
         What information it was: {categories}\n\n\
         What it may mean for you: {consequences}\n\n\
         What we have done and will do: \n{steps}\n\n\
         What we recommend you do: {recommendations}\n\n\
         Who accessed it, if known: {person}\n\n\
         For any question, contact our Information Officer, {officer}.\n\n\
         Yours faithfully,\n{firm}\n",
        firm = f.firm,
        what = or_unknown(&d.what_happened),
        categories = categories_in_words(&d.categories),
        consequences = or_unknown(&d.consequences),
        steps = steps_in_words(f.steps, zone),
        recommendations = or_unknown(&d.recommendations),
        person = if d.unauthorised_person.trim().is_empty() { "Not known." } else { &d.unauthorised_person },
    );
    Drafts { regulator, data_subjects }
}

/// Free text as Markdown shows it and no more: its punctuation escaped, so that what people
/// and browsers typed (an alert's detail quotes a browser's name for itself) makes no
/// heading, list, link, image or HTML.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let indent = line.len() - line.trim_start().len();
        let digits = line[indent..].bytes().take_while(u8::is_ascii_digit).count();
        for (at, c) in line.char_indices() {
            let list_marker = at == indent && matches!(c, '-' | '+');
            let numbered = digits > 0 && at == indent + digits && c == '.';
            if list_marker
                || numbered
                || matches!(
                    c,
                    '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '!' | '|' | '~'
                )
            {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Text for a Markdown table cell: one line, escaped.
fn cell(text: &str) -> String {
    md(&text.replace(['\r', '\n'], " "))
}

/// The register's report of an incident, as Markdown: to keep, print or send on.
pub fn markdown(firm: &str, view: &IncidentView, zone: &FirmTimeZone, now: OffsetDateTime) -> String {
    let at = |t: OffsetDateTime| zone.in_words(t);
    let i = &view.incident;
    let d = &view.details;
    let mut out = String::new();
    let _ = writeln!(out, "# Incident {}\n", i.id);
    let _ = writeln!(out, "{firm}: report from Ringfence's incident register, made {}.\n", at(now));
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Summary | {} |", cell(&i.summary));
    let _ = writeln!(out, "| Status | {} |", i.status);
    let _ = writeln!(out, "| Opened | {} |", at(i.opened_at));
    let _ = writeln!(out, "| Discovered | {} |", at(view.discovered_at));
    let clock = &view.clock;
    let _ = writeln!(out, "| Confirmed | {} |", clock.confirmed_at.map_or("not yet".to_owned(), at));
    let _ = writeln!(
        out,
        "| Regulator to be told by | {} |",
        clock.deadline.map_or(format!("{} hours after confirmation", NOTIFY_WITHIN.whole_hours()), at)
    );
    let _ = writeln!(
        out,
        "| Regulator told | {} |",
        clock.regulator_notified_at.map_or("not yet".to_owned(), at)
    );
    let _ = writeln!(out, "| Notification clock | {} |", clock.state);
    let _ = writeln!(out, "| Closed | {} |", view.closed_at.map_or("no".to_owned(), at));
    let _ = writeln!(out, "\n## What happened\n\n{}\n", md(or_unknown(&d.what_happened)));
    let _ =
        writeln!(out, "- Categories of personal information: {}", md(&categories_in_words(&d.categories)));
    let _ = writeln!(out, "- Data subjects affected: {}", md(&about(d.data_subjects)));
    let _ = writeln!(out, "- Records affected: {}", md(&about(d.records)));
    let _ = writeln!(out, "- Likely consequences: {}", cell(or_unknown(&d.consequences)));
    let _ = writeln!(out, "- Unauthorised person, if known: {}", cell(or_unknown(&d.unauthorised_person)));
    let _ = writeln!(out, "- Recommendations to data subjects: {}\n", cell(or_unknown(&d.recommendations)));
    for (title, entries) in [("Steps taken", &view.steps), ("Notifications", &view.notifications)] {
        let _ = writeln!(out, "## {title}\n");
        if entries.is_empty() {
            let _ = writeln!(out, "None recorded.\n");
            continue;
        }
        let _ = writeln!(out, "| When | Kind | What |\n|---|---|---|");
        for e in entries.iter() {
            let _ = writeln!(out, "| {} | {} | {} |", at(e.at), e.kind, cell(&e.text));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Alerts\n");
    if view.alerts.is_empty() {
        let _ = writeln!(out, "None: opened by hand.\n");
    } else {
        let _ = writeln!(out, "| Raised | Kind | Who | From | What |\n|---|---|---|---|---|");
        for a in &view.alerts {
            let who = a.who();
            let from = a.ip.clone().unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                at(a.raised_at),
                a.kind,
                cell(&who),
                cell(&from),
                cell(&a.detail)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Timeline\n\nThe audit log's entries of the actors involved.\n");
    if view.timeline.is_empty() {
        let _ = writeln!(out, "No entries.\n");
    } else {
        let _ = writeln!(
            out,
            "| Entry | When | Who | Did | About | Outcome | From |\n|---|---|---|---|---|---|---|"
        );
        for e in &view.timeline {
            let who = e.actor_email.clone().unwrap_or_else(|| e.actor_kind.clone());
            let about = [e.resource_type.as_deref(), e.resource_id.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                e.seq,
                at(e.at),
                cell(&who),
                cell(&e.words),
                cell(&about),
                e.outcome,
                cell(e.ip.as_deref().unwrap_or(""))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Draft notification to the Information Regulator\n\n```text\n{}```\n",
        view.drafts.regulator.replace("```", "'''")
    );
    let _ = writeln!(
        out,
        "## Draft notification to data subjects\n\n```text\n{}```",
        view.drafts.data_subjects.replace("```", "'''")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_makes_no_markdown_of_its_own() {
        assert_eq!(md("# Heading\n- item\n  12. step"), "\\# Heading\n\\- item\n  12\\. step");
        assert_eq!(
            md("![x](https://evil/b) <img onerror=a>"),
            "\\!\\[x\\]\\(https://evil/b\\) \\<img onerror=a\\>"
        );
        assert_eq!(md("plain words, 3 of them. IR-123"), "plain words, 3 of them. IR-123");
        assert_eq!(cell("a | b\nc"), "a \\| b c");
        assert_eq!(md("\nsecond"), "\nsecond", "an empty first line keeps its break");
    }
}
