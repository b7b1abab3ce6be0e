//! `[broker]` as written, and its checks: the listeners, the users who may
//! log in, and TLS.
//!
//! A user's password is stored only as an argon2 PHC string. The names that
//! lockers (`locker-…`) and the service (`armory-service`) log in with are
//! reserved, so no configured user can take a device's identity. The TLS
//! files are only named here; the broker reads and checks them at start.

use std::path::PathBuf;

use argon2::password_hash::PasswordHash;
use armory_actors::protocol::bounds::is_id;
use armory_actors::protocol::SERVICE_MQTT_USER;
use serde::Deserialize;
use toml::Spanned;

use super::Checker;
use crate::broker::auth::LOCKER_PREFIX;
use crate::config::{BrokerConfig, BrokerTls, BrokerUser};

/// The most memory one password check may take: 1 GiB, in KiB. A hash
/// asking for more is refused, so that a login cannot exhaust the host.
const MAX_HASH_MEMORY_KIB: u32 = 1024 * 1024;

/// The most passes one password check may take.
const MAX_HASH_PASSES: u32 = 16;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBroker {
    listen: Spanned<String>,
    max_connections: Spanned<usize>,
    #[serde(default)]
    users: Vec<RawUser>,
    tls: Option<Spanned<RawTls>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    password_hash: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    listen: Spanned<String>,
    cert: Spanned<PathBuf>,
    key: Spanned<PathBuf>,
    client_ca: Option<Spanned<PathBuf>>,
}

impl RawBroker {
    /// Checks every value; `None` if any is wrong (the problems are in
    /// `checker`).
    pub(super) fn check(self, checker: &mut Checker<'_>) -> Option<BrokerConfig> {
        let before = checker.problems.len();
        let listen = checker.address("broker.listen", &self.listen);
        if *self.max_connections.get_ref() == 0 {
            let message = "at least 1 connection must be allowed".to_owned();
            checker.problem("broker.max_connections", &self.max_connections, message);
        }

        let mut users: Vec<BrokerUser> = Vec::new();
        for user in self.users {
            check_user(checker, &user);
            if users.iter().any(|known| known.name == *user.name.get_ref()) {
                let message = format!("user {:?} is defined twice", user.name.get_ref());
                checker.problem("broker.users.name", &user.name, message);
            }
            users.push(BrokerUser {
                name: user.name.into_inner(),
                password_hash: user.password_hash.into_inner(),
            });
        }

        let tls = self.tls.and_then(|tls| check_tls(checker, tls));
        let fine = checker.problems.len() == before;
        Some(BrokerConfig {
            listen: listen?,
            max_connections: self.max_connections.into_inner(),
            users,
            tls,
        })
        .filter(|_| fine)
    }
}

fn check_user(checker: &mut Checker<'_>, user: &RawUser) {
    let name = user.name.get_ref();
    if !is_id(name) {
        let message = format!("{name:?} is not 1 to 64 characters of [A-Za-z0-9._-]");
        checker.problem("broker.users.name", &user.name, message);
    } else if name == SERVICE_MQTT_USER || name.starts_with(LOCKER_PREFIX) {
        let message = format!(
            "{name:?} is reserved: lockers log in as {LOCKER_PREFIX}ID and the service \
             as {SERVICE_MQTT_USER}"
        );
        checker.problem("broker.users.name", &user.name, message);
    }

    if let Err(message) = check_hash(user.password_hash.get_ref()) {
        checker.problem("broker.users.password_hash", &user.password_hash, message);
    }
}

/// Checks that `hash` is an argon2 PHC string of a sane cost.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let usage = "run `armory broker hash-password` to make one";
    let parsed = PasswordHash::new(hash)
        .map_err(|_| format!("not an argon2 PHC string ($argon2id$...); {usage}"))?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) {
        return Err(format!(
            "algorithm {} is not argon2; {usage}",
            parsed.algorithm
        ));
    }
    let params = argon2::Params::try_from(&parsed)
        .map_err(|error| format!("argon2 parameters are invalid ({error}); {usage}"))?;
    if params.m_cost() > MAX_HASH_MEMORY_KIB || params.t_cost() > MAX_HASH_PASSES {
        return Err(format!(
            "a check would take more than {MAX_HASH_MEMORY_KIB} KiB or {MAX_HASH_PASSES} \
             passes; {usage}"
        ));
    }
    Ok(())
}

fn check_tls(checker: &mut Checker<'_>, tls: Spanned<RawTls>) -> Option<BrokerTls> {
    let table = tls.span();
    let tls = tls.into_inner();
    let listen = checker.address("broker.tls.listen", &tls.listen);
    checker.path("broker.tls.cert", &tls.cert);
    checker.path("broker.tls.key", &tls.key);
    if let Some(client_ca) = &tls.client_ca {
        checker.path("broker.tls.client_ca", client_ca);
    }

    // rumqttd decides at build time whether client certificates are
    // verified: with the feature every TLS client needs one, without it
    // none is checked, so the file must match the build.
    let client_certs = cfg!(feature = "client-certs");
    match (&tls.client_ca, client_certs) {
        (Some(client_ca), false) => {
            let message = "this build does not verify client certificates; rebuild with \
                           `--features client-certs` or remove the key"
                .to_owned();
            checker.problem("broker.tls.client_ca", client_ca, message);
        }
        (None, true) => {
            let message =
                "this build verifies client certificates: client_ca is required".to_owned();
            let at = Spanned::new(table, ());
            checker.problem("broker.tls", &at, message);
        }
        _ => {}
    }

    Some(BrokerTls {
        listen: listen?,
        cert: tls.cert.into_inner(),
        key: tls.key.into_inner(),
        client_ca: tls.client_ca.map(Spanned::into_inner),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigProblem};

    const ORIGIN: &str = "/etc/armory/armory.toml";

    fn with(extra: &str) -> String {
        format!("{}\n{extra}", Config::default_toml())
    }

    fn problems(text: &str) -> Vec<ConfigProblem> {
        let error = Config::from_str_at(text, Path::new(ORIGIN)).expect_err("invalid");
        assert!(error.to_string().starts_with(ORIGIN), "{error}");
        error.problems().to_vec()
    }

    fn line_of(text: &str, needle: &str) -> usize {
        1 + text
            .lines()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line contains {needle:?}"))
    }

    #[test]
    fn users_and_tls_read_and_resolve() {
        let hash = crate::broker::auth::hash_with("correct horse battery", 8, 1).expect("hash");
        // A build that verifies client certificates needs their CA.
        let client_ca = if cfg!(feature = "client-certs") {
            "client_ca = \"tls/ca.pem\"\n"
        } else {
            ""
        };
        let text = with(&format!(
            "[[broker.users]]\nname = \"dashboard\"\npassword_hash = \"{hash}\"\n\
             [broker.tls]\nlisten = \"127.0.0.1:8883\"\ncert = \"tls/s.pem\"\n\
             key = \"tls/s.key\"\n{client_ca}"
        ));
        let config = Config::from_str_at(&text, Path::new(ORIGIN)).expect("valid");
        assert_eq!(config.broker.users.len(), 1);
        assert_eq!(config.broker.users[0].name, "dashboard");
        assert!(!format!("{:?}", config.broker.users[0]).contains("argon2"));
        let tls = config.broker.tls.as_ref().expect("tls");
        assert_eq!(config.resolve(&tls.key), Path::new("/etc/armory/tls/s.key"));
        assert_eq!(
            config.security.retired_key_grace,
            crate::config::DEFAULT_RETIRED_KEY_GRACE
        );
    }

    #[test]
    fn bad_users_are_named_by_line_and_column() {
        const ODD_BUT_VALID: &str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let text = with(&format!(
            "[[broker.users]]\nname = \"locker-SLM-L1\"\npassword_hash = \"hunter2\"\n\
             [[broker.users]]\nname = \"a b\"\npassword_hash = \"{ODD_BUT_VALID}\"\n",
        ));
        let found = problems(&text);
        let keys: Vec<(&str, usize, usize)> = found
            .iter()
            .map(|p| (p.key.as_str(), p.line, p.column))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("broker.users.name", line_of(&text, "locker-SLM-L1"), 8),
                ("broker.users.password_hash", line_of(&text, "hunter2"), 17),
                ("broker.users.name", line_of(&text, "\"a b\""), 8),
            ],
            "{found:#?}"
        );
        assert!(found[0].message.contains("reserved"));
        assert!(found[1].message.contains("hash-password"));
    }

    #[test]
    fn tls_and_grace_mistakes_are_located() {
        let text = with(
            "[broker.tls]\nlisten = \"everywhere\"\ncert = \"\"\nkey = \"k.pem\"\n\
             client_ca = \"ca.pem\"\n",
        );
        let found = problems(&text);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        if cfg!(feature = "client-certs") {
            assert_eq!(keys, ["broker.tls.listen", "broker.tls.cert"]);
        } else {
            let client_ca = "broker.tls.client_ca";
            assert_eq!(keys, ["broker.tls.listen", "broker.tls.cert", client_ca]);
            assert!(found[2].message.contains("client-certs"), "{found:#?}");
        }
        assert_eq!(found[0].line, line_of(&text, "everywhere"));

        let text = Config::default_toml().replace(
            "# retired_key_grace_seconds = 604800",
            "retired_key_grace_seconds = 99999999",
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].key, "security.retired_key_grace_seconds");
        assert_eq!(found[0].line, line_of(&text, "99999999"));

        let text =
            with("[broker.tls]\nlisten = \"127.0.0.1:1\"\ncert = \"c\"\nkey = \"k\"\nport = 1\n");
        let found = problems(&text);
        assert_eq!(found[0].line, line_of(&text, "port = 1"), "{found:#?}");
    }
}
