//! Who may log in to the embedded broker.
//!
//! Three kinds of identity, and nothing anonymous:
//!
//! - a locker controller logs in as `locker-{LOCKER_ID}`, with that same
//!   client id, and the password its locker key derives
//!   ([`LockerKey::mqtt_password`](armory_actors::protocol::LockerKey::mqtt_password));
//! - the service's own client logs in as `armory-service`, with a client id
//!   of `armory-service` or `armory-service-…`, and the password the fleet
//!   secret derives;
//! - people and dashboards log in as a `[[broker.users]]` entry, whose
//!   password is checked against its argon2 hash, with any client id
//!   except the reserved `locker-…` and `armory-service…` ones (a second
//!   connection under a client id throws the first off the broker).
//!
//! Client ids are printable ASCII without MQTT's wildcard characters, at
//! most 128 bytes. Each login is counted by kind and outcome; a refusal is
//! logged with the user name and the client id escaped, never a password.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use armory_actors::clock::Clock;
use armory_actors::domain::LockerId;
use armory_actors::protocol::bounds::is_id;
use armory_actors::protocol::{FleetSecret, SERVICE_MQTT_USER};
use tokio::sync::Semaphore;

use crate::config::BrokerUser;

/// The prefix of every locker controller's user name and client id.
pub const LOCKER_PREFIX: &str = "locker-";

/// Longest client id accepted.
const MAX_CLIENT_ID: usize = 128;

/// Most argon2 checks running at once; more logins wait their turn, so a
/// flood of bad logins cannot take every core.
const CONCURRENT_HASH_CHECKS: usize = 2;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The password is too short to be worth hashing.
    #[error("a broker password needs at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    /// argon2 refused the parameters.
    #[error("argon2 could not hash the password: {detail}")]
    Hash {
        /// What argon2 said.
        detail: String,
    },
}

/// Shortest password `armory broker hash-password` accepts.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hashes a broker user's password as an argon2id PHC string (OWASP's
/// baseline: 19 MiB, 2 passes), for `[[broker.users]] password_hash`.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::TooShort);
    }
    hash_with(password, 19 * 1024, 2)
}

/// Hashes at a chosen cost; tests use a cheap one.
pub fn hash_with(password: &str, memory_kib: u32, passes: u32) -> Result<String, AuthError> {
    let hash_error = |error: argon2::Error| AuthError::Hash {
        detail: error.to_string(),
    };
    let params = argon2::Params::new(memory_kib, passes, 1, None).map_err(hash_error)?;
    let hasher = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    hasher
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| AuthError::Hash {
            detail: error.to_string(),
        })
}

/// The broker's login check; cheap to clone.
#[derive(Clone)]
pub struct BrokerAuth {
    inner: Arc<Inner>,
}

struct Inner {
    fleet: FleetSecret,
    users: Vec<BrokerUser>,
    clock: Clock,
    hash_checks: Semaphore,
}

/// Who a login claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Locker,
    Service,
    User,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Locker => "locker",
            Kind::Service => "service",
            Kind::User => "user",
        }
    }
}

impl BrokerAuth {
    /// Logins for the lockers and service of `fleet` and for `users`; the
    /// retired secret's deadline is judged by `clock`.
    pub fn new(fleet: FleetSecret, users: Vec<BrokerUser>, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                fleet,
                users,
                clock,
                hash_checks: Semaphore::new(CONCURRENT_HASH_CHECKS),
            }),
        }
    }

    /// Whether this login may connect; counts and logs the outcome.
    pub async fn check(&self, client_id: String, user: String, password: String) -> bool {
        let kind = kind_of(&user);
        let accepted = self.accepts(kind, &client_id, &user, &password).await;
        let outcome = if accepted { "accepted" } else { "refused" };
        metrics::counter!(
            "armory_broker_logins_total",
            "identity" => kind.label(),
            "outcome" => outcome
        )
        .increment(1);
        if accepted {
            tracing::debug!(identity = kind.label(), user = %shown(&user), "MQTT login");
        } else {
            tracing::warn!(
                identity = kind.label(),
                user = %shown(&user),
                client_id = %shown(&client_id),
                "MQTT login refused"
            );
        }
        accepted
    }

    async fn accepts(&self, kind: Kind, client_id: &str, user: &str, password: &str) -> bool {
        if !client_id_is_sane(client_id) {
            return false;
        }
        let now = self.inner.clock.now();
        match kind {
            Kind::Locker => {
                let id = &user[LOCKER_PREFIX.len()..];
                client_id == user
                    && is_id(id)
                    && self
                        .inner
                        .fleet
                        .locker_key(&LockerId::from(id))
                        .mqtt_password_matches(password, now)
            }
            Kind::Service => {
                let own_id = client_id
                    .strip_prefix(SERVICE_MQTT_USER)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'));
                own_id && self.inner.fleet.service_password_matches(password, now)
            }
            Kind::User => {
                let reserved = client_id.starts_with(LOCKER_PREFIX)
                    || client_id.starts_with(SERVICE_MQTT_USER);
                !reserved && self.user_password_matches(user, password).await
            }
        }
    }

    async fn user_password_matches(&self, user: &str, password: &str) -> bool {
        let Some(known) = self.inner.users.iter().find(|known| known.name == user) else {
            return false;
        };
        let Ok(_permit) = self.inner.hash_checks.acquire().await else {
            return false;
        };
        let hash = known.password_hash.clone();
        let password = password.to_owned();
        let checked = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await;
        checked.unwrap_or(false)
    }
}

impl std::fmt::Debug for BrokerAuth {
    /// User names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerAuth")
            .field("users", &self.inner.users)
            .finish_non_exhaustive()
    }
}

fn kind_of(user: &str) -> Kind {
    if user.starts_with(LOCKER_PREFIX) {
        Kind::Locker
    } else if user == SERVICE_MQTT_USER {
        Kind::Service
    } else {
        Kind::User
    }
}

/// A name from the network as it may be logged: escaped, and cut to 64
/// characters so that a hostile client cannot flood the log.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().nth(64).is_some() {
        shown.push('…');
    }
    shown
}

/// Printable ASCII, no MQTT wildcards or level separator, at most
/// [`MAX_CLIENT_ID`] bytes. Empty is allowed: the broker then assigns one.
fn client_id_is_sane(client_id: &str) -> bool {
    client_id.len() <= MAX_CLIENT_ID
        && client_id
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !matches!(b, b'+' | b'#' | b'/' | b'$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (BrokerAuth, FleetSecret) {
        let fleet = FleetSecret::generate();
        let users = vec![BrokerUser {
            name: "dashboard".into(),
            password_hash: hash_with("correct horse battery", 8, 1).expect("hashes"),
        }];
        (
            BrokerAuth::new(fleet.clone(), users, Clock::system()),
            fleet,
        )
    }

    #[tokio::test]
    async fn a_locker_logs_in_only_as_itself_with_its_own_password() {
        let (auth, fleet) = auth();
        let key = fleet.locker_key(&LockerId::from("SLM-L1"));
        let other = fleet.locker_key(&LockerId::from("SLM-L2"));
        let me = "locker-SLM-L1".to_owned();
        assert!(
            auth.check(me.clone(), me.clone(), key.mqtt_password())
                .await
        );
        assert!(
            !auth
                .check(me.clone(), me.clone(), other.mqtt_password())
                .await
        );
        assert!(
            !auth
                .check("locker-SLM-L2".into(), me.clone(), key.mqtt_password())
                .await
        );
        assert!(!auth.check(me.clone(), me.clone(), String::new()).await);
        let odd = "locker-SLM L1".to_owned();
        assert!(!auth.check(odd.clone(), odd, key.mqtt_password()).await);
    }

    #[tokio::test]
    async fn the_service_and_users_log_in_and_nobody_else() {
        let (auth, fleet) = auth();
        let service = fleet.service_mqtt_password();
        let user = SERVICE_MQTT_USER.to_owned();
        assert!(
            auth.check("armory-service-42".into(), user.clone(), service.clone())
                .await
        );
        assert!(
            !auth
                .check("armory-servicex".into(), user.clone(), service)
                .await
        );

        let dashboard = "dashboard".to_owned();
        let good = "correct horse battery".to_owned();
        assert!(
            auth.check("mosq-1".into(), dashboard.clone(), good.clone())
                .await
        );
        assert!(
            auth.check(String::new(), dashboard.clone(), good.clone())
                .await
        );
        assert!(
            !auth
                .check("mosq-1".into(), dashboard.clone(), "wrong".into())
                .await
        );
        assert!(
            !auth
                .check("locker-SLM-L1".into(), dashboard.clone(), good.clone())
                .await
        );
        assert!(
            !auth
                .check("armory-service".into(), dashboard.clone(), good.clone())
                .await
        );
        assert!(!auth.check("a\u{1}b".into(), dashboard, good.clone()).await);
        assert!(!auth.check("x".into(), "nobody".into(), good).await);
        assert!(!auth.check("x".into(), String::new(), String::new()).await);
    }

    #[test]
    fn short_passwords_are_not_hashed() {
        assert!(matches!(hash_password("short"), Err(AuthError::TooShort)));
    }
}
