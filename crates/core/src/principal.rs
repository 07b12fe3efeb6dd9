//! Who acts. Every firm transaction runs as one principal, and every audit entry names it:
//! a firm user through a session today; API keys, client-portal contacts and operators
//! under a support grant join as kinds of their own, each a row of the access matrix.

use std::collections::BTreeSet;

use crate::audit::AuditActor;
use crate::ids::{FirmId, MatterId, OperatorId, SessionId, SupportGrantId, UserId};
use crate::user::{Email, FirmRole};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user of the firm, signed in through a live session.
    FirmUser(FirmUser),
    /// Someone not signed in: the sign-in steps, an invitation being accepted. Reaches no
    /// matter.
    Anonymous,
    /// The deployment's own work: scheduled tasks and the operator's command line. Reaches
    /// no matter through the ring-fence either.
    System(SystemTask),
    /// An operator of the deployment, signed in to the operator pages. No firm's
    /// transaction runs as one: a firm store refuses it.
    Operator(Operator),
    /// An operator working in one firm under a support grant its administrator approved:
    /// reading only, and only within the grant's scope.
    Support(Support),
}

/// An operator under a live support grant, as the grant resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    pub operator: Operator,
    pub grant: SupportGrantId,
    pub firm: FirmId,
    pub scope: SupportScope,
    /// When the grant ends by itself.
    pub until: time::OffsetDateTime,
}

/// What a support grant opens to its operator, for reading. Sign-in secrets never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportScope {
    /// The firm's settings and its users.
    Settings,
    /// The matters named, their documents and notes.
    Matters(BTreeSet<MatterId>),
}

/// A signed-in operator, as its session resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: OperatorId,
    pub email: Email,
}

/// A signed-in firm user, as its session resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmUser {
    pub firm: FirmId,
    pub user: UserId,
    pub email: Email,
    pub roles: BTreeSet<FirmRole>,
    pub session: SessionId,
}

/// What the deployment is doing when it acts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemTask {
    /// Setting up a firm, its first administrator and its keys.
    Provisioning,
    /// Writing queued audit entries, and the stores' own health checks.
    AuditLog,
    /// Sending the audit log to the firm's archive.
    AuditShipping,
    /// Re-sealing a firm's data under a new key.
    KeyRotation,
    /// Finding stored blobs no record names.
    BlobSweep,
    /// Destroying a terminated firm once its retention has ended.
    Shredding,
    /// Keeping the search index's key.
    SearchIndex,
    /// Telling leads of matters coming to the end of their retention, and deleting them.
    Retention,
    /// Building a full export, and removing exports past their day.
    Export,
    /// Backing a firm up, and telling its administrators when a backup fails.
    Backup,
    /// An operator at the command line.
    CommandLine,
    /// Filling a store with benchmark data.
    Benchmark,
    /// Telling a firm's administrators what happened to their firm (its termination, a
    /// failed backup), whoever did it: an operator reads no firm's users itself.
    Notices,
    /// Watching a firm's log for its decoys touched and access out of the ordinary, and
    /// raising the alerts and incidents.
    Watch,
}

impl Support {
    /// How the firm's log names it: the grant's id, and the operator's address.
    pub fn audit_actor(&self) -> AuditActor {
        AuditActor::Support { grant: self.grant.to_string(), email: self.operator.email.to_string() }
    }
}

impl FirmUser {
    pub fn has_any_role(&self, roles: &[FirmRole]) -> bool {
        roles.iter().any(|role| self.roles.contains(role))
    }
}

impl Principal {
    /// The firm user acting, if a firm user is.
    pub fn firm_user(&self) -> Option<&FirmUser> {
        match self {
            Principal::FirmUser(user) => Some(user),
            Principal::Anonymous | Principal::System(_) | Principal::Operator(_) | Principal::Support(_) => {
                None
            }
        }
    }

    /// How the audit log names this principal.
    pub fn audit_actor(&self) -> AuditActor {
        match self {
            Principal::FirmUser(user) => {
                AuditActor::User { id: user.user.to_string(), email: user.email.to_string() }
            }
            Principal::Anonymous => AuditActor::Anonymous,
            Principal::System(SystemTask::CommandLine) => AuditActor::Cli,
            Principal::System(_) => AuditActor::System,
            Principal::Operator(operator) => {
                AuditActor::Operator { id: operator.id.to_string(), email: operator.email.to_string() }
            }
            Principal::Support(support) => support.audit_actor(),
        }
    }
}
