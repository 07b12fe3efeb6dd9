//! Seeding the bench firm through the store library: the code paths the server itself
//! runs (sealing, the search index, the audit chain, row-level security on PostgreSQL),
//! only in large transactions rather than one request at a time. Users get the same
//! password hash (one Argon2id run instead of hundreds); sign-ins still verify it for real.
//! Documents are uploaded as the server receives them: sealed as they stream into the blob
//! store, then recorded on their matter, one transaction each.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use ringfence_core::audit::{AuditAction, AuditActor, AuditRecord, Origin, Outcome};
use ringfence_core::auth::{FactorPolicy, SecondFactor};
use ringfence_core::clock::{Clock, SystemClock};
use ringfence_core::document::Scan;
use ringfence_core::firm::{FirmName, FirmSlug};
use ringfence_core::ids::{FirmId, SessionId, UserId};
use ringfence_core::principal::{FirmUser, Principal, SystemTask};
use ringfence_core::user::{Email, FirmRole};
use ringfence_store::blobs::{BlobLocation, BlobStore};
use ringfence_store::firm::access::{self, WriteContent};
use ringfence_store::firm::clients::{self, ClientFields};
use ringfence_store::firm::documents::{self, Upload};
use ringfence_store::firm::users::{self, NewUser, UserStatus};
use ringfence_store::firm::{audit, matters, notes, sign_in_policy};
use ringfence_store::{FirmStore, NewFirm, Storage, StorageLocation};
use uuid::Uuid;

use crate::audit_fill::AuditWriter;
use crate::documents::Generated;
use crate::words::{Rng, Vocabulary};
use crate::{BenchResult, fail};

/// How big the bench firm is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub users: usize,
    pub matters: usize,
    /// Matters the bench user leads (all the matters it may read).
    pub bench_matters: usize,
    pub notes_per_matter: usize,
    pub clients: usize,
    pub audit_entries: usize,
    /// Users kept fresh for the sign-in storms (each TOTP step signs in once).
    pub storm_users: usize,
    pub vocabulary: usize,
    pub words_per_note: usize,
    /// Documents spread over the matters, each a first version of `document_bytes`.
    pub documents: usize,
    pub document_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct SeedUser {
    pub id: UserId,
    pub email: String,
    pub totp: [u8; 20],
}

pub struct Firm {
    pub store: std::sync::Arc<FirmStore>,
    pub id: FirmId,
    pub bench_user: SeedUser,
    pub auditor: SeedUser,
    pub storm_users: Vec<SeedUser>,
    pub bench_matters: Vec<Uuid>,
    /// Other users and their matters, for audit entries that look like real traffic.
    pub matter_sample: Vec<(UserId, String, Uuid)>,
    pub vocabulary: Vocabulary,
    pub timings: Vec<(&'static str, f64)>,
}

/// The bench firm's slug, for the command line.
pub const FIRM_SLUG: &str = "bench";

const ROLES: [FirmRole; 1] = [FirmRole::Attorney];

fn email(i: usize) -> String {
    format!("user{i:04}@bench.example")
}

fn user_record(
    user: &SeedUser,
    action: AuditAction,
    resource: (&'static str, String),
    matter: Uuid,
) -> AuditRecord {
    AuditRecord {
        at: SystemClock.now(),
        actor: AuditActor::User { id: user.id.to_string(), email: user.email.clone() },
        action,
        resource_type: Some(resource.0),
        resource_id: Some(resource.1),
        matter_id: Some(matter.to_string()),
        outcome: Outcome::Success,
        origin: Origin {
            ip: Some("127.0.0.1".to_owned()),
            user_agent: Some("ringfence-bench seed".to_owned()),
            request_id: Some(Uuid::new_v4().to_string()),
        },
    }
}

/// Seeds the bench firm; `parallel` lead transactions write notes at once (1 on SQLite,
/// whose writers queue for the one write lock anyway).
pub async fn seed(
    location: &StorageLocation,
    data_dir: &Path,
    sizes: Sizes,
    parallel: usize,
) -> BenchResult<Firm> {
    let mut timings = Vec::new();
    let mut rng = Rng::new(0x5eed);
    let vocabulary = Vocabulary::new(sizes.vocabulary);
    let started = Instant::now();
    let storage = Storage::open(location, data_dir, None, SystemClock.now()).await?;
    let hash =
        tokio::task::spawn_blocking(|| ringfence_crypto::password::hash(crate::http::PASSWORD)).await??;
    let created = storage
        .create_firm(
            NewFirm {
                slug: FirmSlug::parse(FIRM_SLUG).map_err(|e| fail(e.to_string()))?,
                name: FirmName::parse("Bench & Partners").map_err(|e| fail(e.to_string()))?,
                admin_email: Email::parse("admin@bench.example").map_err(|e| fail(e.to_string()))?,
                admin_name: Some("Bench Admin"),
                admin_password_hash: Some(hash.clone()),
            },
            SystemClock.now(),
        )
        .await?;
    let firm = created.firm.id;

    // Users: the bench user (index 0), an audit officer (1), everyone else attorneys.
    let mut people = Vec::with_capacity(sizes.users);
    for i in 0..sizes.users {
        let address = Email::parse(&email(i)).map_err(|e| fail(e.to_string()))?;
        let roles: BTreeSet<FirmRole> =
            if i == 1 { BTreeSet::from([FirmRole::Auditor]) } else { BTreeSet::from(ROLES) };
        let name = format!("{} {}", vocabulary.draw(&mut rng), vocabulary.draw(&mut rng));
        let hash = hash.as_str();
        let id = storage
            .create_user(firm, &Principal::System(SystemTask::Benchmark), &address, async |id, tx| {
                users::insert(
                    tx,
                    NewUser {
                        id,
                        email: &address,
                        name: Some(&name),
                        roles: &roles,
                        status: UserStatus::Active,
                        password_hash: Some(hash),
                        created_at: SystemClock.now(),
                    },
                )
                .await?;
                Ok(id)
            })
            .await?;
        people.push(SeedUser { id, email: email(i), totp: rng.bytes() });
    }
    let store = storage.firm(firm).await?;
    // Every user has an authenticator app; the firm signs in with TOTP only, so sign-ins
    // compute their code instead of reading mail.
    let mut tx = store.begin(&Principal::System(SystemTask::Benchmark)).await?;
    for user in &people {
        users::activate_totp(&mut tx, user.id, &user.totp, 0, SystemClock.now()).await?;
    }
    let policy = FactorPolicy { allowed: BTreeSet::from([SecondFactor::Totp]), ..FactorPolicy::default() };
    sign_in_policy::set(&mut tx, &policy).await?;
    let mut client_ids = Vec::with_capacity(sizes.clients);
    for _ in 0..sizes.clients.max(1) {
        let name = format!("{} {} Ltd", vocabulary.draw(&mut rng), vocabulary.draw(&mut rng));
        let fields = ClientFields {
            kind: "organisation",
            name: &name,
            email: None,
            phone: None,
            address: None,
            id_number: None,
        };
        client_ids.push(clients::create(&mut tx, &fields, created.admin, SystemClock.now()).await?);
    }
    tx.commit().await?;
    timings.push(("users and clients", started.elapsed().as_secs_f64()));

    // Matters and their notes, one transaction per lead, as the lead (as the server would:
    // on PostgreSQL, row-level security is paused meanwhile, see `pg_rls`). Leads are
    // dealt into `parallel` lanes that run at once, each lane's matters opened in a year of
    // its own: a matter's number is counted per year, on a row each opening transaction
    // holds until it commits, so lanes sharing a year would only queue for it.
    let started = Instant::now();
    let [bench_user, auditor, others @ ..] = people.as_slice() else {
        return Err(fail("the bench firm needs at least three users"));
    };
    let leads: Vec<&SeedUser> = if others.is_empty() { vec![bench_user] } else { others.iter().collect() };
    let mut plan: Vec<(usize, &SeedUser, usize)> = vec![(0, bench_user, sizes.bench_matters)];
    let rest = sizes.matters.saturating_sub(sizes.bench_matters);
    for (i, lead) in leads.iter().enumerate() {
        let count = rest / leads.len() + usize::from(i < rest % leads.len());
        plan.push((plan.len(), lead, count));
    }
    let paused = match location {
        StorageLocation::Postgres { url, .. } => Some(crate::pg_rls::pause(url, firm).await?),
        StorageLocation::Sqlite => None,
    };
    let lanes = parallel.max(1).min(client_ids.len());
    let (vocabulary_ref, store_ref) = (&vocabulary, &store);
    let lane_results: Vec<BenchResult<Vec<Opened>>> =
        futures_util::future::join_all((0..lanes).map(|lane| {
            let mine: Vec<(usize, &SeedUser, usize)> =
                plan.iter().copied().filter(|(i, _, _)| i % lanes == lane).collect();
            // Each lane's matters have clients of its own: a client's first matter marks the
            // client's row, and lanes sharing clients would lock those rows in different
            // orders (a deadlock on PostgreSQL).
            let clients: Vec<Uuid> = client_ids.iter().copied().skip(lane).step_by(lanes).collect();
            async move {
                let opened_at = SystemClock.now() - time::Duration::days(366 * lane as i64);
                let mut out = Vec::with_capacity(mine.len());
                for (index, lead, count) in mine {
                    let mut rng = Rng::new(0x0e7e5 ^ index as u64);
                    let mut opened = open_matters(
                        store_ref,
                        vocabulary_ref,
                        &clients,
                        &mut rng,
                        lead,
                        count,
                        sizes,
                        opened_at,
                    )
                    .await?;
                    opened.index = index;
                    out.push(opened);
                }
                Ok(out)
            }
        }))
        .await;
    if let Some(paused) = paused {
        paused.resume().await?;
    }
    let mut owned: Vec<Opened> = Vec::with_capacity(plan.len());
    for lane in lane_results {
        owned.extend(lane?);
    }
    // The bench user's matters first, then in the plan's order, whichever lane made them.
    owned.sort_by_key(|o| o.index);
    timings.push(("matters and notes", started.elapsed().as_secs_f64()));

    let matters_made: Vec<(&SeedUser, Uuid)> =
        owned.iter().flat_map(|o| o.matters.iter().map(move |m| (o.lead, *m))).collect();
    let started = Instant::now();
    let blobs = BlobStore::open(&BlobLocation::Local(data_dir.join("blobs")))?;
    let documents_made = upload_documents(&store, &blobs, &matters_made, sizes).await?;
    if sizes.documents > 0 {
        timings.push(("documents", started.elapsed().as_secs_f64()));
    }

    // The audit entries all that would have made, chained onto the firm's log.
    let started = Instant::now();
    let audit = AuditWriter::new(store.clone());
    let notes_made: Vec<(&SeedUser, Uuid, Uuid)> =
        owned.iter().flat_map(|o| o.notes.iter().map(move |(m, n)| (o.lead, *m, *n))).collect();
    let (made, noted) = (matters_made.len(), notes_made.len());
    audit
        .append(made + noted + documents_made.len(), |i| {
            if let Some((lead, matter)) = matters_made.get(i) {
                user_record(lead, AuditAction::MatterCreated, ("matter", matter.to_string()), *matter)
            } else if let Some((lead, matter, note)) = notes_made.get(i - made) {
                user_record(lead, AuditAction::NoteCreated, ("note", note.to_string()), *matter)
            } else {
                let (lead, matter, document) = documents_made[i - made - noted];
                user_record(lead, AuditAction::DocumentUploaded, ("document", document.to_string()), matter)
            }
        })
        .await?;
    timings.push(("audit entries of the above", started.elapsed().as_secs_f64()));

    let bench_matters = owned.first().map(|o| o.matters.clone()).unwrap_or_default();
    let matter_sample: Vec<(UserId, String, Uuid)> = owned
        .iter()
        .skip(1)
        .flat_map(|o| o.matters.iter().map(move |m| (o.lead.id, o.lead.email.clone(), *m)))
        .take(5000)
        .collect();
    eprintln!(
        "seeded {} users, {} matters, {} notes, {} documents in {:.1} s",
        people.len(),
        matters_made.len(),
        notes_made.len(),
        documents_made.len(),
        timings.iter().map(|(_, s)| s).sum::<f64>()
    );
    let storm_users = others.iter().take(sizes.storm_users).cloned().collect();
    Ok(Firm {
        bench_user: bench_user.clone(),
        auditor: auditor.clone(),
        storm_users,
        bench_matters,
        matter_sample,
        vocabulary,
        timings,
        store,
        id: firm,
    })
}

/// What one lead's transaction made.
struct Opened<'a> {
    index: usize,
    lead: &'a SeedUser,
    matters: Vec<Uuid>,
    notes: Vec<(Uuid, Uuid)>,
}

/// `user` as signed in, leading its matters as an attorney (its session does not matter).
fn signed_in(store: &FirmStore, user: &SeedUser) -> BenchResult<Principal> {
    Ok(Principal::FirmUser(FirmUser {
        firm: store.id(),
        user: user.id,
        email: Email::parse(&user.email)?,
        roles: BTreeSet::from(ROLES),
        session: SessionId::random(),
    }))
}

/// Uploads `sizes.documents` files spread evenly over `matters`, each by its matter's lead
/// as the server would take it: sealed as it streams into the blob store, its terms blinded,
/// then recorded on the matter in a transaction of its own. Returns who uploaded what where.
async fn upload_documents<'a>(
    store: &FirmStore,
    blobs: &BlobStore,
    matters: &[(&'a SeedUser, Uuid)],
    sizes: Sizes,
) -> BenchResult<Vec<(&'a SeedUser, Uuid, Uuid)>> {
    let roles = BTreeSet::from(ROLES);
    let file = Generated::new(sizes.document_bytes);
    let mut made = Vec::with_capacity(sizes.documents);
    for i in 0..sizes.documents {
        let Some(&(lead, matter)) = matters.get(i * matters.len() / sizes.documents) else {
            return Err(fail("documents to seed, but no matters to put them on"));
        };
        let mut upload = Upload::start(blobs, store)?;
        for block in 0..file.blocks() {
            upload.push(&file.block(block)).await?;
        }
        let mut uploaded = upload.finish(format!("exhibit-{i:04}.bin")).await?;
        uploaded.blind_terms(store).await?;
        let mut tx = store.begin(&signed_in(store, lead)?).await?;
        let proof = access::check::<WriteContent>(&mut tx, lead.id, &roles, matter)
            .await?
            .ok_or_else(|| fail("the lead of a matter may not write to it"))?;
        let title = format!("Exhibit {i}");
        let id =
            documents::create(&mut tx, &proof, &title, false, &uploaded, Scan::Unscanned, SystemClock.now())
                .await?;
        tx.commit().await?;
        made.push((lead, matter, id));
    }
    Ok(made)
}

/// Opens `count` matters led by `lead`, each with its notes, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn open_matters<'a>(
    store: &FirmStore,
    vocabulary: &Vocabulary,
    client_ids: &[Uuid],
    rng: &mut Rng,
    lead: &'a SeedUser,
    count: usize,
    sizes: Sizes,
    at: time::OffsetDateTime,
) -> BenchResult<Opened<'a>> {
    let roles = BTreeSet::from(ROLES);
    let mut tx = store.begin(&signed_in(store, lead)?).await?;
    let mut opened = Opened { index: 0, lead, matters: Vec::with_capacity(count), notes: Vec::new() };
    for _ in 0..count {
        let title = format!("{} v {}", vocabulary.sentence(rng, 2), vocabulary.sentence(rng, 2));
        let description = vocabulary.sentence(rng, 6);
        let client = client_ids[rng.below(client_ids.len())];
        let (matter, _) =
            matters::create(&mut tx, "BENCH", &title, client, Some(&description), lead.id, at).await?;
        let proof = access::check::<WriteContent>(&mut tx, lead.id, &roles, matter)
            .await?
            .ok_or_else(|| fail("the lead of a new matter may not write to it"))?;
        for _ in 0..sizes.notes_per_matter {
            let body = vocabulary.sentence(rng, sizes.words_per_note);
            let note = notes::create(&mut tx, &proof, "note", false, &body, at).await?.id;
            opened.notes.push((matter, note));
        }
        opened.matters.push(matter);
    }
    tx.commit().await?;
    Ok(opened)
}

impl Firm {
    /// Appends entries like everyday traffic (views, downloads, searches, sign-ins) until
    /// the log holds `target` entries, then has the store sign a checkpoint of the head.
    /// Returns the sequence number reached.
    pub async fn fill_audit_log(&self, target: usize) -> BenchResult<i64> {
        let writer = AuditWriter::new(self.store.clone());
        let head = writer.head().await?;
        let missing = usize::try_from(target as i64 - head).unwrap_or(0);
        let mut rng = Rng::new(0xa0d17);
        let sample = &self.matter_sample;
        if sample.is_empty() {
            return Err(fail("no matters to make audit entries about"));
        }
        let reached = writer
            .append(missing, |_| {
                let (id, email, matter) = sample[rng.below(sample.len())].clone();
                let user = SeedUser { id, email, totp: [0; 20] };
                let (action, kind) = match rng.below(10) {
                    0..=5 => (AuditAction::MatterViewed, "matter"),
                    6 => (AuditAction::NoteViewed, "note"),
                    7 => (AuditAction::DocumentDownloaded, "document"),
                    8 => (AuditAction::DocumentListed, "matter"),
                    _ => (AuditAction::NoteListed, "matter"),
                };
                user_record(&user, action, (kind, Uuid::new_v4().to_string()), matter)
            })
            .await?;
        let mut tx = self.store.begin(&Principal::System(SystemTask::Benchmark)).await?;
        audit::checkpoint_now(&mut tx, SystemClock.now()).await?;
        tx.commit().await?;
        Ok(reached.max(head))
    }
}

#[cfg(test)]
mod tests {
    use ringfence_testkit::{TestEnv, both_backends};

    use super::*;

    both_backends!(lanes_seeding_at_once_make_every_matter, |env: TestEnv| async move {
        let location = match env.database_url() {
            Some(url) => StorageLocation::postgres(url.to_owned()),
            None => StorageLocation::Sqlite,
        };
        // Few clients for many matters: lanes sharing them would mark the same client rows.
        let sizes = Sizes {
            users: 12,
            matters: 400,
            bench_matters: 10,
            notes_per_matter: 1,
            clients: 8,
            audit_entries: 0,
            storm_users: 0,
            vocabulary: 200,
            words_per_note: 4,
            documents: 0,
            document_bytes: 0,
        };
        let firm = seed(&location, env.data_dir(), sizes, 4).await.expect("seeded");
        assert_eq!(firm.bench_matters.len(), sizes.bench_matters);
        let mut tx = firm.store.begin(&Principal::System(SystemTask::Benchmark)).await.expect("begin");
        let verified = audit::verify(&mut tx).await.expect("verify");
        tx.commit().await.expect("commit");
        // One entry per matter and per note, after the firm's own.
        assert!(
            matches!(verified, audit::Verification::Intact { entries, .. } if entries >= 800),
            "{verified:?}"
        );
    });
}
