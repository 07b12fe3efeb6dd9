//! What the watcher looks for in a firm's log: each rule, its threshold from the firm's
//! settings, and what a finding says. A rule with a threshold counts events in the store
//! (so a count spans the watcher's rounds and servers) and raises one alert per window.

use std::collections::{BTreeMap, BTreeSet};

use ringfence_core::audit::{StoredAuditEntry, words_for};
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::user::FirmRole;
use ringfence_store::FirmTx;
use ringfence_store::firm::decoys::{self, Decoy};
use ringfence_store::firm::incidents::{self, AlertSettings, Tripper, WorkingHours};
use ringfence_store::firm::{preferences, users};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::app::AppError;

/// What raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertKind {
    /// A decoy was touched.
    Decoy,
    /// Many documents or exports downloaded by one person in a short time.
    Downloads,
    /// Many requests refused to one person in a short time: someone probing.
    Denials,
    /// Sign-ins failing for many accounts from one address.
    FailingAccounts,
    /// An administrator signed in from a device or address not seen before.
    NewSource,
    /// Someone worked outside the firm's working hours.
    OffHours,
    /// Two of the hosting provider's operators opened the firm to one of them.
    EmergencySupport,
    /// Someone changed the firm's thresholds: a stolen administrator's account quietening
    /// the watcher looks like this.
    SettingsChanged,
}

impl AlertKind {
    const ALL: [AlertKind; 8] = [
        AlertKind::Decoy,
        AlertKind::Downloads,
        AlertKind::Denials,
        AlertKind::FailingAccounts,
        AlertKind::NewSource,
        AlertKind::OffHours,
        AlertKind::EmergencySupport,
        AlertKind::SettingsChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Decoy => "decoy",
            AlertKind::Downloads => "downloads",
            AlertKind::Denials => "denials",
            AlertKind::FailingAccounts => "failing_accounts",
            AlertKind::NewSource => "new_source",
            AlertKind::OffHours => "off_hours",
            AlertKind::EmergencySupport => "emergency_support",
            AlertKind::SettingsChanged => "settings_changed",
        }
    }

    /// The kind an alert was stored as; one this server does not know reads as a decoy's,
    /// the most urgent.
    pub fn parse(raw: &str) -> Self {
        Self::ALL.into_iter().find(|k| k.as_str() == raw).unwrap_or(AlertKind::Decoy)
    }

    pub fn headline(self) -> &'static str {
        match self {
            AlertKind::Decoy => "a decoy was touched",
            AlertKind::Downloads => "many documents downloaded by one person",
            AlertKind::Denials => "many requests refused to one person",
            AlertKind::FailingAccounts => "failed sign-ins to many accounts from one address",
            AlertKind::NewSource => "an administrator signed in from a new device or address",
            AlertKind::OffHours => "work outside the firm's working hours",
            AlertKind::EmergencySupport => "emergency access by the hosting provider",
            AlertKind::SettingsChanged => "the firm's alert thresholds were changed",
        }
    }

    /// Why it matters, for the mail.
    pub fn why(self) -> &'static str {
        match self {
            AlertKind::Decoy => {
                "Nobody has a reason to touch the firm's decoys, so whoever did was looking where they should not."
            }
            AlertKind::Downloads => {
                "Taking many documents at once is how data leaves a firm: check that this was expected."
            }
            AlertKind::Denials => {
                "Many refusals in a short time are what someone probing for records they may not see looks like."
            }
            AlertKind::FailingAccounts => {
                "Guessing passwords across many accounts from one address is how accounts are broken into."
            }
            AlertKind::NewSource => {
                "A stolen administrator's password is used from somewhere new: check with the administrator that it was them."
            }
            AlertKind::OffHours => "The firm set working hours, and this happened outside them.",
            AlertKind::EmergencySupport => {
                "Two of the hosting provider's operators opened the firm to one of them without an administrator's approval; every page they open is on the firm's log."
            }
            AlertKind::SettingsChanged => {
                "Whoever quietens the alerts may mean to go unnoticed: check with the administrator that it was them."
            }
        }
    }
}

/// What one round found for one actor: the first entry that tripped, and what the entries
/// touched or did.
pub struct Finding {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub touched: BTreeSet<String>,
}

/// Downloads of matter data and of the firm's exports: what the download threshold counts.
const DOWNLOADS: &[&str] = &["document.downloaded", "export.downloaded"];
/// Between two alerts of work outside hours by one person.
const OFF_HOURS_QUIET: Duration = Duration::hours(12);

fn tripper_of(entry: &StoredAuditEntry) -> Tripper {
    Tripper {
        actor_kind: entry.actor_kind.clone(),
        actor_id: entry.actor_id.clone(),
        actor_email: entry.actor_email.clone(),
        ip: entry.ip.clone(),
    }
}

/// Who an entry is counted against: the actor, or the address of someone not signed in.
fn subject_of(entry: &StoredAuditEntry) -> String {
    match (&entry.actor_id, &entry.ip) {
        (Some(id), _) => format!("{}:{id}", entry.actor_kind),
        (None, ip) => format!("{}@{}", entry.actor_kind, ip.as_deref().unwrap_or("unknown")),
    }
}

type Key = (AlertKind, String, String, String);

fn key(kind: AlertKind, tripper: &Tripper) -> Key {
    (
        kind,
        tripper.actor_kind.clone(),
        tripper.actor_id.clone().unwrap_or_default(),
        tripper.ip.clone().unwrap_or_default(),
    )
}

/// One round's reading of a firm's new entries.
pub struct Watcher {
    settings: AlertSettings,
    zone: FirmTimeZone,
    decoys: Vec<Decoy>,
    wires: BTreeSet<String>,
    /// Whether each user seen is an administrator, as they are now.
    admins: BTreeMap<String, bool>,
    findings: BTreeMap<Key, (Tripper, Finding)>,
    /// The thresholds counted this round: (kind, subject) → the latest entry's tripper and time.
    counted: BTreeMap<(AlertKind, String), (Tripper, i64, OffsetDateTime)>,
}

impl Watcher {
    pub async fn load(tx: &mut FirmTx) -> Result<Self, AppError> {
        let decoys = decoys::list(tx).await?;
        Ok(Self {
            settings: incidents::settings(tx).await?,
            zone: preferences::time_zone(tx).await?,
            wires: decoys::tripwires(&decoys),
            decoys,
            admins: BTreeMap::new(),
            findings: BTreeMap::new(),
            counted: BTreeMap::new(),
        })
    }

    fn find(&mut self, kind: AlertKind, entry: &StoredAuditEntry, tripper: Tripper, what: String) {
        let found = self
            .findings
            .entry(key(kind, &tripper))
            .or_insert_with(|| (tripper, Finding { seq: entry.seq, at: entry.at, touched: BTreeSet::new() }));
        found.1.touched.insert(what);
    }

    /// Reads one entry. The deployment's own work, and the watcher's own records, are
    /// nobody's doing.
    pub async fn examine(&mut self, tx: &mut FirmTx, entry: &StoredAuditEntry) -> Result<(), AppError> {
        if matches!(entry.actor_kind.as_str(), "system" | "cli") {
            return Ok(());
        }
        if entry.action == "security.alert_settings.changed" {
            self.find(
                AlertKind::SettingsChanged,
                entry,
                tripper_of(entry),
                words_for(&entry.action).to_owned(),
            );
        }
        if entry.action.starts_with("security.") {
            return Ok(());
        }
        // Reading the log about a decoy (an audit officer's filter) reads no data of it.
        let reads_the_log = entry.action.starts_with("audit.");
        if !reads_the_log && let Some(touched) = self.decoy_touched(entry) {
            self.find(AlertKind::Decoy, entry, tripper_of(entry), touched);
        }
        let success = entry.outcome == "success";
        if success && DOWNLOADS.contains(&entry.action.as_str()) {
            self.count(
                tx,
                AlertKind::Downloads,
                entry,
                subject_of(entry),
                tripper_of(entry),
                entry.seq.to_string(),
            )
            .await?;
        }
        // A refused sign-in names the account tried, not whoever tried it: counted against
        // the address below, never against the account's holder.
        if entry.outcome == "denied" && !entry.action.starts_with("auth.") {
            self.count(
                tx,
                AlertKind::Denials,
                entry,
                subject_of(entry),
                tripper_of(entry),
                entry.seq.to_string(),
            )
            .await?;
        }
        if entry.action == "auth.login.failed"
            && let (Some(ip), Some(account)) = (&entry.ip, &entry.actor_id)
        {
            // Counted, and alerted, against the address (an IPv6 address's /64, as the
            // throttles count), whichever account each attempt named.
            let source = ip.parse().map_or_else(|_| ip.clone(), crate::client::throttle_source);
            let tripper = Tripper {
                actor_kind: "anonymous".to_owned(),
                actor_id: None,
                actor_email: None,
                ip: Some(source.clone()),
            };
            self.count(
                tx,
                AlertKind::FailingAccounts,
                entry,
                format!("ip:{source}"),
                tripper,
                account.clone(),
            )
            .await?;
        }
        if entry.action == "auth.login.succeeded"
            && let Some(user) = &entry.actor_id
        {
            self.note_sign_in(tx, entry, user).await?;
        }
        if success && entry.actor_kind == "user" && self.off_hours(entry) {
            let tripper = tripper_of(entry);
            if !incidents::alerted_since(
                tx,
                AlertKind::OffHours.as_str(),
                &tripper,
                entry.at - OFF_HOURS_QUIET,
            )
            .await?
            {
                let local = self.zone.in_words(entry.at);
                self.find(
                    AlertKind::OffHours,
                    entry,
                    tripper,
                    format!("{} at {local}", words_for(&entry.action)),
                );
            }
        }
        if entry.action == "support.emergency.approved" {
            let what =
                format!("{} [{}]", words_for(&entry.action), entry.resource_id.as_deref().unwrap_or("-"));
            self.find(AlertKind::EmergencySupport, entry, tripper_of(entry), what);
        }
        Ok(())
    }

    /// The decoy `entry` touches, in words, if it touches one.
    fn decoy_touched(&self, entry: &StoredAuditEntry) -> Option<String> {
        // A resource may name two records, or one and a detail, joined by `#` (a client
        // and the user walled from it; a user and the role given).
        let resource = entry.resource_id.iter().flat_map(|id| id.split('#'));
        let named =
            [entry.matter_id.as_deref(), entry.actor_id.as_deref()].into_iter().flatten().chain(resource);
        let hit = named.into_iter().find(|id| self.wires.contains(*id))?;
        let decoy = self.decoys.iter().find(|d| d.wires().any(|wire| wire.to_string() == hit))?;
        Some(format!(
            "{} ({}): {} [{}, {}]",
            decoy.summary,
            decoy.label,
            words_for(&entry.action),
            entry.action,
            entry.outcome
        ))
    }

    async fn count(
        &mut self,
        tx: &mut FirmTx,
        kind: AlertKind,
        entry: &StoredAuditEntry,
        subject: String,
        tripper: Tripper,
        detail: String,
    ) -> Result<(), AppError> {
        incidents::tally(tx, kind.as_str(), &subject, &detail, entry.at).await?;
        self.counted.insert((kind, subject), (tripper, entry.seq, entry.at));
        Ok(())
    }

    /// Remembers where a user signed in from; an administrator's new device or address is
    /// a finding (a user's first sign-in has nothing to compare with).
    async fn note_sign_in(
        &mut self,
        tx: &mut FirmTx,
        entry: &StoredAuditEntry,
        user: &str,
    ) -> Result<(), AppError> {
        let (ip, agent) = (entry.ip.as_deref().unwrap_or(""), entry.user_agent.as_deref().unwrap_or(""));
        // The browser names itself: what it says goes into mail as printable text, shortened.
        let shown: String = agent.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(120).collect();
        let source = Sha256::digest(format!("{ip}\n{agent}").as_bytes());
        let source = source.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let new = incidents::note_source(tx, user, &source, entry.at).await?;
        if !new || !self.settings.new_admin_source {
            return Ok(());
        }
        let admin = match self.admins.get(user) {
            Some(admin) => *admin,
            None => {
                let id = user.parse().map_err(|_| AppError::NotFound)?;
                let admin = users::get(tx, id).await?.is_some_and(|u| u.roles.contains(&FirmRole::Admin));
                self.admins.insert(user.to_owned(), admin);
                admin
            }
        };
        if admin {
            let agent = if shown.is_empty() { "an unnamed browser" } else { &shown };
            let what = format!(
                "signed in from {} with {agent}",
                if ip.is_empty() { "an unknown address" } else { ip }
            );
            self.find(AlertKind::NewSource, entry, tripper_of(entry), what);
        }
        Ok(())
    }

    fn off_hours(&self, entry: &StoredAuditEntry) -> bool {
        let Some(WorkingHours { days, from, until }) = &self.settings.working_hours else { return false };
        let local = self.zone.local(entry.at);
        let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
        !days.contains(&local.weekday().number_from_monday()) || minute < *from || minute >= *until
    }

    /// The round's findings: its decoy touches and the rest, and each threshold its counts
    /// reached, unless the same alert was raised within its window already.
    pub async fn findings(
        mut self,
        tx: &mut FirmTx,
        now: OffsetDateTime,
    ) -> Result<Vec<(AlertKind, Tripper, Finding)>, AppError> {
        let settings = self.settings.clone();
        let counted = std::mem::take(&mut self.counted);
        for ((kind, subject), (tripper, seq, at)) in counted {
            let (limit, minutes, what) = match kind {
                AlertKind::Downloads => (settings.downloads, settings.downloads_minutes, "downloads"),
                AlertKind::Denials => (settings.denials, settings.denials_minutes, "refused requests"),
                AlertKind::FailingAccounts => {
                    (settings.failing_accounts, settings.failing_minutes, "accounts failing to sign in")
                }
                AlertKind::Decoy
                | AlertKind::NewSource
                | AlertKind::OffHours
                | AlertKind::EmergencySupport
                | AlertKind::SettingsChanged => continue,
            };
            let window = Duration::minutes(minutes);
            let count = incidents::tallied(tx, kind.as_str(), &subject, at - window).await?;
            if count < limit || incidents::alerted_since(tx, kind.as_str(), &tripper, now - window).await? {
                continue;
            }
            let what = format!("{count} {what} within {minutes} minutes (the firm's threshold is {limit})");
            let found = self
                .findings
                .entry(key(kind, &tripper))
                .or_insert_with(|| (tripper, Finding { seq, at, touched: BTreeSet::new() }));
            found.1.touched.insert(what);
        }
        let longest = [settings.downloads_minutes, settings.denials_minutes, settings.failing_minutes]
            .into_iter()
            .max()
            .unwrap_or(0);
        incidents::forget_tallies(tx, now - Duration::minutes(longest)).await?;
        Ok(self
            .findings
            .into_iter()
            .map(|((kind, ..), (tripper, finding))| (kind, tripper, finding))
            .collect())
    }
}
