//! Every action the audit log records, in one table: the dotted name an entry stores (and
//! the hash chain covers, so a name never changes once recorded), the words a person reads
//! in place of it, the area it belongs to and how much attention it deserves.
//!
//! Severity, reasoned once here rather than by each reader of the log:
//! - `Warning`: something was refused or failed — a refusal, a wrong password or code, a
//!   replayed code, a throttle or lock, a stored file failing its integrity check, a
//!   quarantined upload — or someone gave themselves a role on a matter, or shredded a firm
//!   overriding any legal hold. These are where an attack or a fault shows first.
//! - `Notice`: someone changed who may see or do what, or how the firm is protected —
//!   walls, firm and matter roles, keys, second factors, the sign-in policy, the log's own
//!   retention, export and purge, disabled and new users, deleted, restored and purged
//!   matters, notes, documents and clients, the firm's termination, reinstatement and shredding.
//! - `Info`: the day's ordinary work — reading, listing, writing, signing in and out.

/// The area an action belongs to, for grouping and filtering a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditCategory {
    SignIn,
    /// A user's own account: password, second factors, passkeys, sessions.
    Account,
    /// Administration of the firm's users.
    Users,
    Matters,
    Clients,
    /// Data subjects' requests about the personal information the firm holds on them.
    DataSubjects,
    Notes,
    Documents,
    Search,
    /// The firm itself and its settings.
    Firm,
    /// The firm's encryption keys.
    Keys,
    AuditLog,
    /// Full exports of a matter or of the firm as one ZIP.
    Exports,
    /// Requests refused by an access rule, whatever they were about.
    Refusals,
    /// Breach detection and response: decoys, alerts and incidents.
    Security,
}

impl AuditCategory {
    pub const ALL: [AuditCategory; 15] = [
        AuditCategory::SignIn,
        AuditCategory::Account,
        AuditCategory::Users,
        AuditCategory::Matters,
        AuditCategory::Clients,
        AuditCategory::DataSubjects,
        AuditCategory::Notes,
        AuditCategory::Documents,
        AuditCategory::Search,
        AuditCategory::Firm,
        AuditCategory::Keys,
        AuditCategory::AuditLog,
        AuditCategory::Exports,
        AuditCategory::Refusals,
        AuditCategory::Security,
    ];

    /// The category as exports and filters spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCategory::SignIn => "sign_in",
            AuditCategory::Account => "account",
            AuditCategory::Users => "users",
            AuditCategory::Matters => "matters",
            AuditCategory::Clients => "clients",
            AuditCategory::DataSubjects => "data_subjects",
            AuditCategory::Notes => "notes",
            AuditCategory::Documents => "documents",
            AuditCategory::Search => "search",
            AuditCategory::Firm => "firm",
            AuditCategory::Keys => "keys",
            AuditCategory::AuditLog => "audit_log",
            AuditCategory::Exports => "exports",
            AuditCategory::Refusals => "refusals",
            AuditCategory::Security => "security",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        AuditCategory::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// How much attention an entry deserves (see the module documentation for the reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Notice,
    Warning,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Notice, Severity::Warning];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Severity::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Defines [`AuditAction`] from its table: one row per action, so that its name, words,
/// category and severity cannot drift apart.
macro_rules! audit_actions {
    ($($variant:ident = $name:literal, $words:literal, $category:ident, $severity:ident;)*) => {
        /// An action the audit log records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $(
                #[doc = concat!("`", $name, "`: ", $words, ".")]
                $variant,
            )*
        }

        impl AuditAction {
            /// Every action, in the table's order.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant),*];

            /// The stable dotted name the log stores, e.g. `auth.login.failed`.
            pub fn name(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            /// What the actor did, as a person reads it after the actor's name
            /// ("ada@firm.example viewed the matter").
            pub fn words(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $words,)*
                }
            }

            pub fn category(self) -> AuditCategory {
                match self {
                    $(AuditAction::$variant => AuditCategory::$category,)*
                }
            }

            pub fn severity(self) -> Severity {
                match self {
                    $(AuditAction::$variant => Severity::$severity,)*
                }
            }
        }
    };
}

audit_actions! {
    // Signing in and out.
    AuthLoginSucceeded = "auth.login.succeeded", "signed in", SignIn, Info;
    AuthPasswordAccepted = "auth.password.accepted", "gave the right password", SignIn, Info;
    AuthCodeSent = "auth.code.sent", "was sent a sign-in code", SignIn, Info;
    AuthLogout = "auth.logout", "signed out", SignIn, Info;
    AuthLoginFailed = "auth.login.failed", "failed to sign in", SignIn, Warning;
    AuthTokenRefused = "auth.token.refused", "presented a session token that is no session", SignIn, Warning;
    AuthLoginThrottled = "auth.login.throttled", "was held back from signing in after too many attempts", SignIn, Warning;
    AuthCodeFailed = "auth.code.failed", "gave a wrong sign-in code", SignIn, Warning;
    AuthTotpReplayed = "auth.totp.replayed", "gave an authenticator code that was already used", SignIn, Warning;
    AuthPasskeyFailed = "auth.passkey.failed", "failed to sign in with a passkey", SignIn, Warning;
    AuthPasskeyNotAllowed = "auth.passkey.not_allowed", "was refused signing in with a passkey by the firm's policy", SignIn, Warning;
    AuthAccountLocked = "auth.account.locked", "locked the account after repeated failed sign-ins", SignIn, Warning;
    AuthChallengeRefused = "auth.challenge.refused", "was refused a sign-in step that had ended or never began", SignIn, Warning;
    AuthInvitationRefused = "auth.invitation.refused", "was refused an invitation that is not valid", SignIn, Warning;
    AuthRecoveryRequested = "auth.recovery.requested", "asked for a link to reset their password", SignIn, Notice;
    AuthRecoveryLinkSent = "auth.recovery.link_sent", "was sent a link to reset their password", SignIn, Info;
    AuthRecoveryReferred = "auth.recovery.referred", "was told to ask an administrator to reset their password, having no authenticator app or passkey", SignIn, Info;
    AuthRecoveryRefused = "auth.recovery.refused", "was refused a password reset link that is not valid", SignIn, Warning;
    AuthRecoveryFailed = "auth.recovery.failed", "gave a wrong second factor when resetting their password", SignIn, Warning;
    // An operator's own (in the operator log).
    OperatorSignedIn = "operator.signed_in", "signed in to the operator pages", SignIn, Info;
    OperatorSignInFailed = "operator.sign_in.failed", "failed to sign in to the operator pages", SignIn, Warning;
    OperatorSignedOut = "operator.signed_out", "signed out of the operator pages", SignIn, Info;

    // A user's own account.
    UserInvitationAccepted = "user.invitation.accepted", "accepted an invitation", Account, Info;
    UserPasswordChanged = "user.password.changed", "changed their password", Account, Notice;
    UserPasswordReset = "user.password.reset", "set a new password with a reset link", Account, Notice;
    UserPasswordCheckFailed = "user.password.check_failed", "gave a wrong current password", Account, Warning;
    UserTotpEnrolmentStarted = "user.totp.enrolment_started", "began setting up an authenticator app", Account, Info;
    UserTotpEnrolled = "user.totp.enrolled", "set up an authenticator app", Account, Notice;
    UserPasskeyAdded = "user.passkey.added", "added a passkey", Account, Notice;
    UserPasskeyRemoved = "user.passkey.removed", "removed a passkey", Account, Notice;
    SessionRevoked = "session.revoked", "signed out a session", Account, Info;
    SessionRevokedAll = "session.revoked_all", "signed out of every session", Account, Info;

    // The firm's users, as administrators manage them.
    UserCreated = "user.created", "added a user", Users, Notice;
    UserRoleGranted = "user.role.granted", "gave a user a firm role", Users, Notice;
    UserRoleRevoked = "user.role.revoked", "took a firm role from a user", Users, Notice;
    UserDisabled = "user.disabled", "disabled a user", Users, Notice;
    UserEnabled = "user.enabled", "enabled a user", Users, Notice;
    UserLockCleared = "user.lock.cleared", "cleared a user's sign-in lock", Users, Notice;
    UserSecondFactorReset = "user.second_factor.reset", "reset a user's second factor", Users, Notice;
    UserInvitationResent = "user.invitation.resent", "sent a user a new invitation", Users, Notice;
    UserInvitationRevoked = "user.invitation.revoked", "withdrew a user's invitation", Users, Notice;
    UserPasswordResetSent = "user.password.reset_sent", "sent a user a link to reset their password", Users, Notice;

    // Matters.
    MatterCreated = "matter.created", "opened the matter", Matters, Info;
    MatterChanged = "matter.changed", "changed the matter's details", Matters, Info;
    MatterClosed = "matter.closed", "closed the matter", Matters, Info;
    MatterReopened = "matter.reopened", "reopened the matter", Matters, Info;
    MatterDeleted = "matter.deleted", "deleted the matter", Matters, Notice;
    MatterRestored = "matter.restored", "restored the matter", Matters, Notice;
    MatterDisposed = "matter.disposed", "deleted the matter at the end of its retention", Matters, Notice;
    MatterPurged = "matter.purged", "purged the deleted matter for good, with its notes, documents and files", Matters, Notice;
    DeletedListed = "deleted.listed", "listed the things recently deleted", Matters, Info;
    MatterRetentionNoticeSent = "matter.retention_notice.sent", "told the matter's leads it will be deleted at the end of its retention", Matters, Info;
    MatterRoleGranted = "matter.role.granted", "gave someone a role", Matters, Notice;
    MatterRoleSelfGranted = "matter.role.self_granted", "took a role", Matters, Warning;
    MatterRoleRevoked = "matter.role.revoked", "removed someone's role", Matters, Notice;
    MatterWallPlaced = "matter.wall.placed", "walled someone off", Matters, Notice;
    MatterWallRemoved = "matter.wall.removed", "lifted a wall", Matters, Notice;
    MatterLegalHoldPlaced = "matter.legal_hold.placed", "placed the matter on legal hold", Matters, Notice;
    MatterLegalHoldLifted = "matter.legal_hold.lifted", "lifted the matter's legal hold", Matters, Notice;
    MatterViewed = "matter.viewed", "viewed the matter", Matters, Info;
    MatterAccessHistoryViewed = "matter.access_history.viewed", "viewed the matter's access history", Matters, Info;
    MatterDirectoryViewed = "matter.directory.viewed", "viewed the directory of matters", Matters, Info;

    // Clients.
    ClientCreated = "client.created", "added a client", Clients, Info;
    ClientChanged = "client.changed", "changed a client's details", Clients, Info;
    ClientViewed = "client.viewed", "viewed a client", Clients, Info;
    ClientWallPlaced = "client.wall.placed", "walled someone off from a client", Clients, Notice;
    ClientWallRemoved = "client.wall.removed", "lifted a wall on a client", Clients, Notice;
    ClientLegalHoldPlaced = "client.legal_hold.placed", "placed a client and all its matters on legal hold", Clients, Notice;
    ClientLegalHoldLifted = "client.legal_hold.lifted", "lifted a client's legal hold", Clients, Notice;
    ClientDeleted = "client.deleted", "deleted a client", Clients, Notice;
    ClientRestored = "client.restored", "restored a deleted client", Clients, Notice;
    ClientPurged = "client.purged", "purged a deleted client for good", Clients, Notice;

    // Data subjects' requests: entries name the request (and through it the client), never
    // the person.
    SubjectRequestRegistered = "data_subject.request.registered", "registered a data subject's request", DataSubjects, Notice;
    SubjectRegisterViewed = "data_subject.register.viewed", "viewed the register of data subjects' requests", DataSubjects, Info;
    SubjectRequestViewed = "data_subject.request.viewed", "viewed a data subject's request", DataSubjects, Info;
    SubjectReportProduced = "data_subject.report.produced", "produced a report of the personal information held on a data subject", DataSubjects, Notice;
    SubjectCorrected = "data_subject.corrected", "corrected a data subject's personal information", DataSubjects, Notice;
    SubjectErased = "data_subject.erased", "erased a data subject's personal information", DataSubjects, Notice;
    SubjectErasureRefused = "data_subject.erasure.refused", "refused a data subject's erasure request, recording why", DataSubjects, Notice;
    SubjectRequestClosed = "data_subject.request.closed", "closed a data subject's request with its outcome", DataSubjects, Notice;

    // Notes.
    NoteCreated = "note.created", "added a note", Notes, Info;
    NoteChanged = "note.changed", "edited a note", Notes, Info;
    NoteDeleted = "note.deleted", "deleted a note", Notes, Notice;
    NoteRestored = "note.restored", "restored a deleted note", Notes, Notice;
    NotePurged = "note.purged", "purged a deleted note for good", Notes, Notice;
    NoteListed = "note.listed", "listed the notes", Notes, Info;
    NoteViewed = "note.viewed", "read a note", Notes, Info;

    // Documents.
    DocumentUploaded = "document.uploaded", "uploaded a document", Documents, Info;
    DocumentVersionAdded = "document.version_added", "uploaded a new version", Documents, Info;
    DocumentDeleted = "document.deleted", "deleted a document", Documents, Notice;
    DocumentRestored = "document.restored", "restored a deleted document", Documents, Notice;
    DocumentPurged = "document.purged", "purged a deleted document and its files for good", Documents, Notice;
    DocumentVersionDeleted = "document.version_deleted", "deleted a version of a document", Documents, Notice;
    DocumentVersionRestored = "document.version_restored", "restored a deleted version of a document", Documents, Notice;
    DocumentVersionPurged = "document.version_purged", "purged a deleted version of a document and its file for good", Documents, Notice;
    DocumentQuarantined = "document.quarantined", "uploaded a file that was quarantined", Documents, Warning;
    DocumentListed = "document.listed", "listed the documents", Documents, Info;
    DocumentViewed = "document.viewed", "looked at a document's details", Documents, Info;
    DocumentVersionsListed = "document.versions_listed", "listed a document's versions", Documents, Info;
    DocumentDownloaded = "document.downloaded", "downloaded a document", Documents, Info;
    DocumentPreviewed = "document.previewed", "looked at a document's preview", Documents, Info;
    DocumentIntegrityFailed = "document.integrity_failed", "asked for a document whose stored copy failed its integrity check", Documents, Warning;
    BlobsSwept = "blobs.swept", "removed stored files no longer in use", Documents, Info;

    // Search.
    SearchPerformed = "search.performed", "searched", Search, Info;

    // The firm and its settings.
    FirmCreated = "firm.created", "created the firm", Firm, Notice;
    FirmSignInPolicyChanged = "firm.sign_in_policy.changed", "changed the firm's sign-in policy", Firm, Notice;
    FirmAuditRetentionChanged = "firm.audit_retention.changed", "changed how long the audit log is kept", Firm, Notice;
    FirmTimeZoneChanged = "firm.time_zone.changed", "changed the firm's time zone", Firm, Info;
    FirmInformationOfficerNamed = "firm.information_officer.named", "named the firm's Information Officer", Firm, Notice;
    FirmRetentionPolicyChanged = "firm.retention_policy.changed", "changed how long closed matters are kept", Firm, Notice;
    FirmLegalHoldsViewed = "firm.legal_holds.viewed", "viewed the firm's legal holds and their reasons", Firm, Info;
    FirmTerminated = "firm.terminated", "terminated the firm: read-only until it is shredded", Firm, Notice;
    FirmReinstated = "firm.reinstated", "reinstated the terminated firm", Firm, Notice;
    FirmSuspended = "firm.suspended", "suspended the firm: nobody can sign in, its data untouched", Firm, Notice;
    FirmResumed = "firm.resumed", "resumed the suspended firm", Firm, Notice;
    OperatorCreated = "operator.created", "created an operator account", Firm, Notice;
    OperatorFirmsViewed = "operator.firms.viewed", "viewed the firms and their health", Firm, Info;
    SupportRequested = "support.requested", "asked for support access to the firm", Firm, Notice;
    SupportApproved = "support.approved", "approved an operator's support access", Firm, Notice;
    SupportRefused = "support.refused", "refused an operator's support access", Firm, Notice;
    SupportEnded = "support.ended", "ended an operator's support access", Firm, Notice;
    SupportEntered = "support.entered", "began working in the firm under support access", Firm, Notice;
    SupportEmergencyApproved = "support.emergency.approved", "approved an operator's emergency access to the firm, as the second operator", Firm, Warning;
    SupportAcknowledged = "support.acknowledged", "acknowledged an operator's emergency access", Firm, Notice;
    SupportRead = "support.read", "opened a page of the firm under support access", Firm, Notice;
    FirmShredStarted = "firm.shred.started", "began destroying the firm's keys, data and files", Firm, Notice;
    FirmShredForced = "firm.shred.forced", "began destroying the firm's keys, data and files, overriding any legal hold for a recorded reason", Firm, Warning;
    FirmSubjectResponseDaysChanged = "firm.subject_response_days.changed", "changed how many days the firm takes to answer a data subject's request", Firm, Notice;
    FirmDeletionGraceChanged = "firm.deletion_grace.changed", "changed how many days deleted things can be restored", Firm, Notice;
    PurgesReplayed = "purge.replayed", "re-applied the purges recorded since a restored backup was taken", Firm, Notice;
    BackupRestored = "backup.restored", "restored the firm from a backup", Firm, Warning;
    BackupsViewed = "backups.viewed", "viewed the firm's list of backups", Firm, Info;

    // The firm's keys.
    FirmKeyCreated = "firm.key.created", "created the firm's key", Keys, Notice;
    FirmKeyRotated = "firm.key.rotated", "rotated the firm's key", Keys, Notice;
    FirmKeyRetired = "firm.key.retired", "retired the firm's old keys", Keys, Notice;

    // The audit log itself.
    AuditViewed = "audit.viewed", "read the audit log", AuditLog, Info;
    AuditExported = "audit.exported", "exported the audit log", AuditLog, Notice;
    AuditPurged = "audit.purged", "removed audit entries past the firm's retention", AuditLog, Notice;

    // Full exports: a matter's (by its lead) or the firm's (by an administrator).
    ExportRequested = "export.requested", "asked for a full export", Exports, Notice;
    ExportBuilt = "export.built", "had a full export built, ready for download", Exports, Notice;
    ExportFailed = "export.failed", "had a full export fail to build", Exports, Warning;
    ExportDownloaded = "export.downloaded", "downloaded a full export", Exports, Warning;
    ExportExpired = "export.expired", "had a full export removed unread after its day", Exports, Info;

    // Breach detection and response.
    DecoyPlanted = "security.decoy.planted", "planted a decoy", Security, Notice;
    DecoysViewed = "security.decoys.viewed", "viewed the firm's decoys", Security, Info;
    AlertRaised = "security.alert.raised", "raised a security alert", Security, Warning;
    AlertMailed = "security.alert.mailed", "mailed a security alert to the administrators and the Information Officer", Security, Notice;
    IncidentOpened = "security.incident.opened", "opened an incident", Security, Warning;
    IncidentsViewed = "security.incidents.viewed", "viewed the firm's incidents", Security, Info;
    IncidentViewed = "security.incident.viewed", "viewed an incident", Security, Info;
    IncidentRecorded = "security.incident.recorded", "recorded what happened in an incident", Security, Notice;
    IncidentStatusChanged = "security.incident.status_changed", "changed an incident's status", Security, Notice;
    IncidentStepAdded = "security.incident.step_added", "recorded a step taken to contain or remedy an incident", Security, Notice;
    IncidentNotificationRecorded = "security.incident.notification_recorded", "recorded a notification of an incident", Security, Notice;
    IncidentExported = "security.incident.exported", "exported an incident's report", Security, Notice;
    AlertSettingsChanged = "security.alert_settings.changed", "changed the firm's thresholds for security alerts", Security, Notice;
    AlertSettingsViewed = "security.alert_settings.viewed", "viewed the firm's thresholds for security alerts", Security, Info;

    AccessDenied = "access.denied", "was refused something their firm role does not allow", Refusals, Warning;
    RequestRefused = "request.refused", "had a request refused", Refusals, Warning;
    MatterAccessDenied = "matter.access.denied", "was refused access to a matter", Refusals, Warning;
    ClientAccessDenied = "client.access.denied", "was refused access to a client", Refusals, Warning;
}

impl AuditAction {
    /// The action a stored name stands for; `None` for a name this build does not know (an
    /// entry of an older version, or one written by someone else).
    pub fn from_name(name: &str) -> Option<Self> {
        AuditAction::ALL.iter().copied().find(|action| action.name() == name)
    }

    /// Whether this is a change to a matter or its papers, as the people working on it would
    /// follow it: what the home page's recent activity shows (views and listings are not).
    pub fn is_matter_change(self) -> bool {
        use AuditAction::*;
        matches!(
            self,
            MatterCreated
                | MatterChanged
                | MatterClosed
                | MatterReopened
                | MatterDeleted
                | MatterRestored
                | MatterDisposed
                | MatterRoleGranted
                | MatterRoleSelfGranted
                | MatterRoleRevoked
                | MatterWallPlaced
                | MatterWallRemoved
                | MatterLegalHoldPlaced
                | MatterLegalHoldLifted
                | NoteCreated
                | NoteChanged
                | NoteDeleted
                | NoteRestored
                | DocumentUploaded
                | DocumentVersionAdded
                | DocumentDeleted
                | DocumentRestored
                | DocumentVersionDeleted
                | DocumentVersionRestored
                | DocumentQuarantined
        )
    }

    /// The matter changes (see [`Self::is_matter_change`]).
    pub fn matter_changes() -> impl Iterator<Item = AuditAction> {
        AuditAction::ALL.iter().copied().filter(|action| action.is_matter_change())
    }

    /// Whether some action's name begins with `prefix`: what a filter by prefix
    /// (`auth.`, `matter.role`) may ask for.
    pub fn is_name_prefix(prefix: &str) -> bool {
        AuditAction::ALL.iter().any(|action| action.name().starts_with(prefix))
    }
}

/// A stored action in words: the known action's words, or its stored name as it is, so an
/// entry no table describes is still shown rather than hidden.
pub fn words_for(stored_name: &str) -> &str {
    AuditAction::from_name(stored_name).map_or(stored_name, |action| action.words())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_unique_name_words_and_round_trips() {
        let mut names = std::collections::HashSet::new();
        for &action in AuditAction::ALL {
            assert!(names.insert(action.name()), "{} is named twice", action.name());
            assert!(!action.words().trim().is_empty(), "{action:?} has no words");
            assert_ne!(action.words(), action.name(), "{action:?} is described by its name");
            assert_eq!(AuditAction::from_name(action.name()), Some(action));
            let dotted = action
                .name()
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(dotted, "{} is not a dotted name", action.name());
        }
        assert_eq!(AuditAction::from_name("matter.viewed.twice"), None);
        assert_eq!(AuditAction::from_name(""), None);
    }

    #[test]
    fn categories_and_severities_read_back_from_their_names() {
        for category in AuditCategory::ALL {
            assert_eq!(AuditCategory::parse(category.as_str()), Some(category));
        }
        for severity in Severity::ALL {
            assert_eq!(Severity::parse(severity.as_str()), Some(severity));
        }
    }

    #[test]
    fn refusals_and_failures_stand_out() {
        for &action in AuditAction::ALL {
            if action.category() == AuditCategory::Refusals {
                assert_eq!(action.severity(), Severity::Warning, "{action:?}");
            }
        }
        for action in [
            AuditAction::AuthCodeFailed,
            AuditAction::AuthLoginThrottled,
            AuditAction::DocumentIntegrityFailed,
        ] {
            assert_eq!(action.severity(), Severity::Warning, "{action:?}");
        }
        for action in
            [AuditAction::MatterWallPlaced, AuditAction::UserRoleGranted, AuditAction::FirmKeyRotated]
        {
            assert!(action.severity() >= Severity::Notice, "{action:?}");
        }
    }

    #[test]
    fn the_home_pages_activity_is_the_changes_to_matters() {
        let changes: Vec<&str> = AuditAction::matter_changes().map(AuditAction::name).collect();
        assert_eq!(changes.len(), 25);
        assert!(changes.contains(&"matter.created") && changes.contains(&"document.quarantined"));
        assert!(changes.contains(&"matter.closed") && changes.contains(&"matter.reopened"));
        assert!(changes.contains(&"matter.disposed") && changes.contains(&"matter.legal_hold.placed"));
        assert!(!AuditAction::MatterViewed.is_matter_change());
        assert!(!AuditAction::NoteListed.is_matter_change());
    }

    #[test]
    fn an_unknown_name_is_shown_as_it_is() {
        assert_eq!(words_for("matter.viewed"), "viewed the matter");
        assert_eq!(words_for("user.password.change_failed"), "user.password.change_failed");
    }
}
