//! The operator plane's storage: operator accounts and sessions, the operator log, and the
//! firm states an operator sets (suspended, resumed). Every operator action is appended to
//! the operator log in the control transaction that made it, so none happens unrecorded.

use ringfence_core::audit::{AuditAction, AuditRecord, Origin, Outcome, StoredAuditEntry};
use ringfence_core::auth::SessionLimits;
use ringfence_core::clock::unix_millis;
use ringfence_core::firm::FirmStanding;
use ringfence_core::ids::{FirmId, MatterId, OperatorId, SupportGrantId};
use ringfence_core::principal::{Operator, Principal, SupportScope};
use ringfence_core::user::Email;
use ringfence_crypto::otp::TotpSecret;
use ringfence_crypto::{MasterKey, token::TokenHash};
use time::OffsetDateTime;

use crate::control::backups::{self, BackupRecord};
use crate::control::operators::{self, OperatorAccount, OperatorLogVerification, OperatorSession};
use crate::control::support_grants::{self, NewGrant, SupportGrant};
use crate::control::{firms, terminations};
use crate::{Storage, StoreError, backend};

/// An operator to create: the password already hashed.
pub struct NewOperator<'a> {
    pub email: &'a Email,
    pub name: &'a str,
    pub password_hash: String,
    pub totp: &'a TotpSecret,
}

/// An operator as its sign-in checks it: the authenticator secret is opened (by
/// [`Storage::operator_totp`]) only once the password is right.
pub struct OperatorSignIn {
    pub id: OperatorId,
    pub email: Email,
    pub name: String,
    pub password_hash: String,
    totp_sealed: Vec<u8>,
}

/// One entry for the operator log.
pub fn operator_entry(
    by: &Principal,
    action: AuditAction,
    resource: Option<(&'static str, String)>,
    outcome: Outcome,
    origin: Origin,
    at: OffsetDateTime,
) -> AuditRecord {
    let (resource_type, resource_id) = resource.map_or((None, None), |(kind, id)| (Some(kind), Some(id)));
    AuditRecord {
        at,
        actor: by.audit_actor(),
        action,
        resource_type,
        resource_id,
        matter_id: None,
        outcome,
        origin,
    }
}

impl Storage {
    /// Creates an operator, recorded in the operator log as done by `by`.
    pub async fn create_operator(
        &self,
        new: NewOperator<'_>,
        by: &Principal,
        now: OffsetDateTime,
    ) -> Result<OperatorId, StoreError> {
        let id = OperatorId::random();
        let totp_sealed = self.master.seal_operator_secret(&id.to_string(), new.totp.expose())?;
        let account = OperatorAccount {
            id,
            email: new.email.clone(),
            name: new.name.to_owned(),
            password_hash: new.password_hash,
            totp_sealed,
        };
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        operators::insert(&mut tx, &account, now).await?;
        let resource = Some(("operator", id.to_string()));
        let record = operator_entry(
            by,
            AuditAction::OperatorCreated,
            resource,
            Outcome::Success,
            Origin::default(),
            now,
        );
        operators::append(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The operator with `email`, for its sign-in; `None` when there is none.
    pub async fn operator_for_sign_in(&self, email: &Email) -> Result<Option<OperatorSignIn>, StoreError> {
        let Some(account) = operators::by_email(&mut *self.control.acquire().await?, email).await? else {
            return Ok(None);
        };
        Ok(Some(OperatorSignIn {
            id: account.id,
            email: account.email,
            name: account.name,
            password_hash: account.password_hash,
            totp_sealed: account.totp_sealed,
        }))
    }

    /// The operator's authenticator secret, opened.
    pub fn operator_totp(&self, operator: &OperatorSignIn) -> Result<TotpSecret, StoreError> {
        let opened = self.master.open_operator_secret(&operator.id.to_string(), &operator.totp_sealed)?;
        TotpSecret::from_bytes(&opened).ok_or(StoreError::Crypto(ringfence_crypto::CryptoError::Malformed))
    }

    /// Takes an authenticator time step for the operator: false when it was used already.
    pub async fn take_operator_step(&self, id: OperatorId, step: u64) -> Result<bool, StoreError> {
        operators::take_step(&mut *self.control.acquire().await?, id, step).await
    }

    /// Opens a session for the operator `by` names, with its sign-in recorded.
    pub async fn open_operator_session(
        &self,
        by: &Principal,
        operator: OperatorId,
        token: &TokenHash,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        operators::open_session(&mut tx, operator, &token.0, now).await?;
        let record = operator_entry(by, AuditAction::OperatorSignedIn, None, Outcome::Success, origin, now);
        operators::append(&mut tx, &record).await?;
        Ok(tx.commit().await?)
    }

    /// The live operator session `token` names.
    pub async fn operator_session(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
        limits: SessionLimits,
    ) -> Result<Option<OperatorSession>, StoreError> {
        operators::session(&mut *self.control.acquire().await?, &token.0, now, limits).await
    }

    pub async fn touch_operator_session(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        operators::touch_session(&mut *self.control.acquire().await?, &token.0, now).await
    }

    /// Ends the session, recording the sign-out when there was one.
    pub async fn end_operator_session(
        &self,
        by: &Principal,
        token: &TokenHash,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        // The firms' pages it worked in under support grants close with it.
        if let Principal::Operator(operator) = by {
            support_grants::end_sessions_of(&mut tx, operator.id).await?;
        }
        if operators::end_session(&mut tx, &token.0).await? {
            let record =
                operator_entry(by, AuditAction::OperatorSignedOut, None, Outcome::Success, origin, now);
            operators::append(&mut tx, &record).await?;
        }
        Ok(tx.commit().await?)
    }

    /// Appends one entry to the operator log on its own.
    pub async fn append_operator_audit(&self, record: &AuditRecord) -> Result<i64, StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        let seq = operators::append(&mut tx, record).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The operator log's newest `limit` entries, newest first.
    pub async fn operator_log(&self, limit: i64) -> Result<Vec<StoredAuditEntry>, StoreError> {
        operators::latest(&mut *self.control.acquire().await?, limit).await
    }

    /// Replays the operator log's chain from its start.
    pub async fn verify_operator_log(&self) -> Result<OperatorLogVerification, StoreError> {
        let mut tx = backend::begin_control_snapshot(&self.control, self.backend()).await?;
        let verified = operators::verify(&mut tx).await?;
        tx.commit().await?;
        Ok(verified)
    }

    /// Re-seals every operator's authenticator secret under `new`, in the master key
    /// rotation's transaction.
    pub(crate) async fn reseal_operator_secrets(
        &self,
        tx: &mut sqlx::AnyConnection,
        new: &MasterKey,
    ) -> Result<(), StoreError> {
        for account in operators::all(tx).await? {
            let secret = self.master.open_operator_secret(&account.id.to_string(), &account.totp_sealed)?;
            let sealed = new.seal_operator_secret(&account.id.to_string(), &secret)?;
            operators::replace_sealed_secret(tx, account.id, &sealed).await?;
        }
        Ok(())
    }

    /// Suspends the firm: nobody signs in to it, and its sessions are refused on every
    /// server within seconds, until it is resumed. Its data is untouched. Recorded in the
    /// firm's log and the operator log.
    pub async fn suspend_firm(
        &self,
        id: FirmId,
        by: &Principal,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        firms::by_id(&mut tx, id).await?.ok_or(StoreError::UnknownFirmId)?;
        // Held until the commit: a termination or resumption meanwhile waits its turn.
        firms::hold(&mut tx, id).await?;
        match terminations::standing(&mut tx, id).await? {
            FirmStanding::Terminated(t) => {
                return Err(StoreError::AlreadyTerminated { since: t.since, shred_after: t.shred_after });
            }
            FirmStanding::Suspended { since } => return Err(StoreError::AlreadySuspended { since }),
            FirmStanding::Active => {}
        }
        firms::set_suspended(&mut tx, id, Some(unix_millis(now))).await?;
        support_grants::end_all_of_firm(&mut tx, id, "suspension", now).await?;
        self.record_by_operator(tx, id, by, AuditAction::FirmSuspended, origin, now).await?;
        self.firm(id).await?.set_standing(FirmStanding::Suspended { since: now });
        Ok(now)
    }

    /// Resumes a suspended firm.
    pub async fn resume_firm(
        &self,
        id: FirmId,
        by: &Principal,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        firms::by_id(&mut tx, id).await?.ok_or(StoreError::UnknownFirmId)?;
        firms::hold(&mut tx, id).await?;
        let FirmStanding::Suspended { .. } = terminations::standing(&mut tx, id).await? else {
            return Err(StoreError::NotSuspended);
        };
        firms::set_suspended(&mut tx, id, None).await?;
        self.record_by_operator(tx, id, by, AuditAction::FirmResumed, origin, now).await?;
        self.firm(id).await?.set_standing(FirmStanding::Active);
        Ok(())
    }

    /// Records `action` on the firm in the operator log (committing `tx`) and then the
    /// firm's own log.
    async fn record_by_operator(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        id: FirmId,
        by: &Principal,
        action: AuditAction,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let record =
            operator_entry(by, action, Some(("firm", id.to_string())), Outcome::Success, origin, now);
        operators::append(&mut tx, &record).await?;
        tx.commit().await?;
        self.firm(id).await?.append_audit(record).await?;
        Ok(())
    }
}

/// How a firm stands, as the operator sees it: counts and sizes only, never a name of a
/// client, a matter or a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmHealth {
    /// The firm's store could not be read (the server's log says why: the error may name
    /// paths and values, which the operator's page does not show).
    pub unreachable: bool,
    pub schema_version: Option<i64>,
    pub users: Option<i64>,
    pub documents: Option<i64>,
    /// The bytes of every stored document version.
    pub stored_bytes: Option<i64>,
    pub last_backup: Option<BackupRecord>,
    /// Jobs of the firm that failed their last run, or failed for good.
    pub failing_jobs: i64,
}

impl Storage {
    /// The firm's health (see [`FirmHealth`]), read as the store's owner: an operator's
    /// principal never opens a firm transaction, and the counts are all it is given.
    pub async fn firm_health(&self, id: FirmId) -> Result<FirmHealth, StoreError> {
        let mut control = self.control.acquire().await?;
        let last_backup = backups::list(&mut control, Some(id), 1).await?.into_iter().next();
        let failing_jobs: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE firm_id = $1 AND (state = 'dead' OR last_error IS NOT NULL)",
        )
        .bind(id.to_string())
        .fetch_one(&mut *control)
        .await?;
        drop(control);
        let counted = async {
            let store = self.firm(id).await?;
            let mut tx = store.begin_read_as_owner().await?;
            let version = crate::backup::schema_version(tx.conn()).await?;
            let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(tx.conn()).await?;
            let (documents, bytes): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM documents), (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM document_versions)",
            )
            .fetch_one(tx.conn())
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>((version, users, documents, bytes))
        };
        let health = FirmHealth {
            unreachable: false,
            schema_version: None,
            users: None,
            documents: None,
            stored_bytes: None,
            last_backup,
            failing_jobs,
        };
        Ok(match counted.await {
            Ok((version, users, documents, bytes)) => FirmHealth {
                schema_version: Some(version),
                users: Some(users),
                documents: Some(documents),
                stored_bytes: Some(bytes),
                ..health
            },
            Err(e) => {
                tracing::warn!(firm = %id, error = %crate::storage::causes(&e), "a firm's store could not be read for its health");
                FirmHealth { unreachable: true, ..health }
            }
        })
    }
}

/// How many of one operator's requests to one firm may wait for a decision at once.
const MAX_WAITING_GRANTS: i64 = 3;

/// A support grant to ask for: its reason, scope and length.
pub struct GrantRequest<'a> {
    pub firm: FirmId,
    pub reason: &'a str,
    pub scope: &'a SupportScope,
    pub minutes: i64,
    /// For a security or infrastructure incident: a second operator approves, not the firm.
    pub emergency: bool,
}

impl Storage {
    /// Records an operator's request for support access to a firm, in both logs. Every
    /// matter it names must be one of the firm's.
    pub async fn request_support(
        &self,
        request: GrantRequest<'_>,
        by: &Operator,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<SupportGrantId, StoreError> {
        let firm = request.firm;
        if let SupportScope::Matters(matters) = request.scope {
            let store = self.firm(firm).await?;
            let mut tx = store.begin_read_as_owner().await?;
            for matter in matters {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM matters WHERE id = $1")
                    .bind(matter.to_string())
                    .fetch_one(tx.conn())
                    .await?;
                if found == 0 {
                    return Err(StoreError::UnknownMatter(matter.to_string()));
                }
            }
            tx.commit().await?;
        }
        let id = SupportGrantId::random();
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        firms::by_id(&mut tx, firm).await?.ok_or(StoreError::UnknownFirmId)?;
        firms::hold(&mut tx, firm).await?;
        // A suspended or terminated firm's grants ended with its service: none are asked for.
        if terminations::standing(&mut tx, firm).await? != FirmStanding::Active {
            return Err(StoreError::FirmNotInService);
        }
        // However often an operator asks, the firm's administrators are not flooded.
        if support_grants::waiting(&mut tx, firm, by.id).await? >= MAX_WAITING_GRANTS {
            return Err(StoreError::TooManyWaitingGrants);
        }
        let new = NewGrant {
            id,
            firm,
            operator: by.id,
            reason: request.reason,
            scope: request.scope,
            minutes: request.minutes,
            emergency: request.emergency,
        };
        support_grants::insert(&mut tx, &new, now).await?;
        let principal = Principal::Operator(by.clone());
        self.record_grant(tx, firm, &principal, AuditAction::SupportRequested, id, origin, now).await?;
        Ok(id)
    }

    pub async fn support_grant(&self, id: SupportGrantId) -> Result<Option<SupportGrant>, StoreError> {
        support_grants::get(&mut *self.control.acquire().await?, id).await
    }

    /// The firm's support grants, newest first.
    pub async fn support_grants_of_firm(&self, firm: FirmId) -> Result<Vec<SupportGrant>, StoreError> {
        support_grants::of_firm(&mut *self.control.acquire().await?, firm, 100).await
    }

    /// The grants an operator asked for, newest first.
    pub async fn support_grants_of_operator(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<SupportGrant>, StoreError> {
        support_grants::of_operator(&mut *self.control.acquire().await?, operator, 100).await
    }

    /// Approves or refuses a waiting grant of `firm`, by one of its administrators;
    /// `GrantNotWaiting` when it was decided or ended meanwhile.
    pub async fn decide_support(
        &self,
        firm: FirmId,
        id: SupportGrantId,
        approve: bool,
        by: &Principal,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let action = if approve { AuditAction::SupportApproved } else { AuditAction::SupportRefused };
        // An emergency grant is a second operator's to approve, never the firm's (which may
        // end it).
        let step = async |conn: &mut sqlx::AnyConnection, by: &str| {
            support_grants::decide(conn, id, (approve, false), by, now).await
        };
        self.step_on_grant((firm, id), by, action, (origin, now), step).await
    }

    /// Emergency requests of every firm waiting for a second operator.
    pub async fn waiting_emergencies(&self) -> Result<Vec<SupportGrant>, StoreError> {
        support_grants::waiting_emergencies(&mut *self.control.acquire().await?).await
    }

    /// A second operator approves an emergency request: in force from `now`. The operator
    /// who asked cannot be the one who approves.
    pub async fn approve_emergency(
        &self,
        id: SupportGrantId,
        by: &Operator,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<SupportGrant, StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        let grant = support_grants::get(&mut tx, id)
            .await?
            .filter(|g| g.emergency)
            .ok_or(StoreError::UnknownGrant)?;
        if grant.operator == by.id {
            return Err(StoreError::SameOperator);
        }
        if !support_grants::decide(&mut tx, id, (true, true), &by.id.to_string(), now).await? {
            return Err(StoreError::GrantNotWaiting);
        }
        let principal = Principal::Operator(by.clone());
        self.record_grant(tx, grant.firm, &principal, AuditAction::SupportEmergencyApproved, id, origin, now)
            .await?;
        self.support_grant(id).await?.ok_or(StoreError::UnknownGrant)
    }

    /// The firm's emergency grants no administrator has acknowledged yet.
    pub async fn unacknowledged_emergencies(&self, firm: FirmId) -> Result<Vec<SupportGrant>, StoreError> {
        support_grants::unacknowledged(&mut *self.control.acquire().await?, firm).await
    }

    /// An administrator of `firm` acknowledges its emergency grant `id`.
    pub async fn acknowledge_emergency(
        &self,
        firm: FirmId,
        id: SupportGrantId,
        by: &Principal,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let step = async |conn: &mut sqlx::AnyConnection, by: &str| {
            support_grants::acknowledge(conn, id, by, now).await
        };
        self.step_on_grant((firm, id), by, AuditAction::SupportAcknowledged, (origin, now), step).await
    }

    /// Ends a grant of `firm`, waiting or approved, by an administrator or its operator.
    pub async fn end_support(
        &self,
        firm: FirmId,
        id: SupportGrantId,
        by: &Principal,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let step =
            async |conn: &mut sqlx::AnyConnection, by: &str| support_grants::end(conn, id, by, now).await;
        self.step_on_grant((firm, id), by, AuditAction::SupportEnded, (origin, now), step).await
    }

    /// Opens a session for `operator` to work in a firm's pages under its live grant `id`.
    pub async fn enter_support(
        &self,
        id: SupportGrantId,
        operator: &Operator,
        (token, operator_session): (&TokenHash, &TokenHash),
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<SupportGrant, StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        let grant = support_grants::get(&mut tx, id)
            .await?
            .filter(|g| g.operator == operator.id)
            .ok_or(StoreError::UnknownGrant)?;
        if !grant.live_at(now) {
            return Err(StoreError::GrantNotLive);
        }
        support_grants::open_session(&mut tx, id, &token.0, &operator_session.0, now).await?;
        let by = Principal::Operator(operator.clone());
        self.record_grant(tx, grant.firm, &by, AuditAction::SupportEntered, id, origin, now).await?;
        Ok(grant)
    }

    /// The live grant a support session works under, within the operator's live session
    /// (kept alive by the use, as any request of its own would); `None` once either ended,
    /// expired or idled out under `limits`.
    pub async fn support_session(
        &self,
        token: &TokenHash,
        now: OffsetDateTime,
        limits: SessionLimits,
    ) -> Result<Option<SupportGrant>, StoreError> {
        let mut conn = self.control.acquire().await?;
        let Some((grant, operator_session)) =
            support_grants::by_session(&mut conn, &token.0, now, limits).await?
        else {
            return Ok(None);
        };
        if !grant.live_at(now) {
            return Ok(None);
        }
        operators::touch_session(&mut conn, &operator_session, now).await?;
        Ok(Some(grant))
    }

    /// Takes `step` on the firm's grant `id`, in one control transaction with its record in
    /// both logs; `GrantNotWaiting` when the step found nothing to do (decided or ended
    /// meanwhile).
    async fn step_on_grant(
        &self,
        (firm, id): (FirmId, SupportGrantId),
        by: &Principal,
        action: AuditAction,
        (origin, now): (Origin, OffsetDateTime),
        step: impl AsyncFnOnce(&mut sqlx::AnyConnection, &str) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = backend::begin_control(&self.control, self.backend()).await?;
        support_grants::get(&mut tx, id).await?.filter(|g| g.firm == firm).ok_or(StoreError::UnknownGrant)?;
        let by_id = by.audit_actor().id().unwrap_or("").to_owned();
        if !step(&mut tx, &by_id).await? {
            return Err(StoreError::GrantNotWaiting);
        }
        self.record_grant(tx, firm, by, action, id, origin, now).await
    }

    /// Records a grant's step in the operator log (committing `tx`) and the firm's log.
    #[allow(clippy::too_many_arguments)]
    async fn record_grant(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        firm: FirmId,
        by: &Principal,
        action: AuditAction,
        grant: SupportGrantId,
        origin: Origin,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let record = operator_entry(
            by,
            action,
            Some(("support_grant", grant.to_string())),
            Outcome::Success,
            origin,
            now,
        );
        operators::append(&mut tx, &record).await?;
        tx.commit().await?;
        self.firm(firm).await?.append_audit(record).await?;
        Ok(())
    }
}

impl crate::FirmStore {
    /// For each matter, how many people walls screen from it and whether a legal hold
    /// stands on it: read as the store's owner, so that no row security hides a wall from
    /// the administrator about to approve an operator's reading of it.
    pub async fn support_warnings(
        &self,
        matters: &[MatterId],
    ) -> Result<Vec<(MatterId, i64, bool)>, StoreError> {
        let mut tx = self.begin_read_as_owner().await?;
        let mut warnings = Vec::with_capacity(matters.len());
        for matter in matters {
            let (walls, held) = crate::firm::access::support_warnings(&mut tx, matter.as_uuid()).await?;
            warnings.push((*matter, walls, held));
        }
        tx.commit().await?;
        Ok(warnings)
    }
}
