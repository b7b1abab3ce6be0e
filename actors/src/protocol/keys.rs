//! Keys that authenticate events and commands, and seal PINs.
//!
//! One fleet secret (32 random bytes, kept in a file only the service user
//! can read) derives a key per locker with HMAC-SHA256, so a locker's
//! controller is provisioned with its own key and never learns another's.
//! A locker key tags every event and command of that locker and seals the
//! PINs its keypads send, so a PIN never crosses the bus in clear. It also
//! derives the locker's MQTT password, so the broker can check a
//! controller's login without a password list of its own.
//!
//! After a rotation the service keeps the retired secret for a grace
//! period ([`FleetSecret::with_retired`]): events tagged, and PINs sealed,
//! under a locker's retired key are still accepted until the deadline, so
//! lockers can be re-provisioned one by one. Commands are always tagged
//! under the current key only.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use rand::RngCore;
use sha2::Sha256;

use crate::domain::LockerId;

type HmacSha256 = Hmac<Sha256>;

/// The MQTT user name of the service's own client.
pub const SERVICE_MQTT_USER: &str = "armory-service";

/// The agency-wide secret from which every locker key is derived, and
/// optionally the secret it replaced, still accepted until a deadline.
#[derive(Clone)]
pub struct FleetSecret {
    current: [u8; 32],
    retired: Option<Retired>,
}

/// A retired secret and the instant after which it is refused.
#[derive(Clone, Copy)]
struct Retired {
    secret: [u8; 32],
    until: Timestamp,
}

/// Why a key or a sealed PIN could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key text is not 64 hex digits.
    #[error("a fleet secret is 64 hex digits (32 bytes)")]
    BadSecret,
    /// The sealed PIN is not valid base64 or fails authentication.
    #[error("sealed PIN does not open under this locker's key")]
    BadSealedPin,
}

impl FleetSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    fn from_bytes(current: [u8; 32]) -> Self {
        Self {
            current,
            retired: None,
        }
    }

    /// Parses 64 hex digits; surrounding white space is ignored.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::BadSecret)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadSecret)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The current secret as 64 hex digits, for writing to its key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.current)
    }

    /// This secret, also accepting `retired` (the secret it replaced) on
    /// incoming messages until `until`; see the module documentation.
    pub fn with_retired(self, retired: &FleetSecret, until: Timestamp) -> Self {
        Self {
            current: self.current,
            retired: Some(Retired {
                secret: retired.current,
                until,
            }),
        }
    }

    /// When the retired secret stops being accepted, if one is kept.
    pub fn retired_until(&self) -> Option<Timestamp> {
        self.retired.map(|retired| retired.until)
    }

    /// The key of one locker (with its retired key, if one is kept).
    pub fn locker_key(&self, locker: &LockerId) -> LockerKey {
        let label = format!("armory/v1 locker {locker}");
        LockerKey {
            current: derive(&self.current, &label),
            retired: self.retired.map(|retired| RetiredKey {
                key: derive(&retired.secret, &label),
                until: retired.until,
            }),
        }
    }

    /// The MQTT password of the service's own client
    /// ([`SERVICE_MQTT_USER`]): 64 hex digits derived from the current
    /// secret.
    pub fn service_mqtt_password(&self) -> String {
        hex::encode(derive(&self.current, "armory/v1 mqtt service"))
    }

    /// Whether `password` is the service client's, under the current
    /// secret or, until its deadline (`now`), the retired one.
    pub fn service_password_matches(&self, password: &str, now: Timestamp) -> bool {
        let label = "armory/v1 mqtt service";
        let current = hex::encode(derive(&self.current, label));
        let retired = self
            .retired
            .filter(|retired| now <= retired.until)
            .map(|retired| hex::encode(derive(&retired.secret, label)));
        same(&current, password) || retired.is_some_and(|retired| same(&retired, password))
    }
}

impl std::fmt::Debug for FleetSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FleetSecret(redacted)")
    }
}

/// One locker's key, and its retired key while that is still accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct LockerKey {
    current: [u8; 32],
    retired: Option<RetiredKey>,
}

/// A locker's key under the retired fleet secret, and its deadline.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RetiredKey {
    key: [u8; 32],
    until: Timestamp,
}

impl LockerKey {
    /// The HMAC-SHA256 tag of a message on a topic, under the current key.
    pub fn tag(&self, topic: &str, message: &[u8]) -> Vec<u8> {
        mac(&self.current, topic, message)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Checks a tag under the current key, in constant time.
    pub fn verify(&self, topic: &str, message: &[u8], tag: &[u8]) -> bool {
        mac(&self.current, topic, message).verify_slice(tag).is_ok()
    }

    /// Checks a tag under the current key or, until its deadline, the
    /// retired one.
    pub fn verify_at(&self, topic: &str, message: &[u8], tag: &[u8], now: Timestamp) -> bool {
        if self.verify(topic, message, tag) {
            return true;
        }
        self.retired_at(now)
            .is_some_and(|key| mac(key, topic, message).verify_slice(tag).is_ok())
    }

    fn retired_at(&self, now: Timestamp) -> Option<&[u8; 32]> {
        self.retired
            .as_ref()
            .filter(|retired| now <= retired.until)
            .map(|retired| &retired.key)
    }

    /// The locker controller's MQTT password: 64 hex digits derived from
    /// the current key. Its user name and client id are
    /// `locker-{LOCKER_ID}`.
    pub fn mqtt_password(&self) -> String {
        hex::encode(derive(&self.current, MQTT_PASSWORD_LABEL))
    }

    /// Whether `password` is this locker's MQTT password under the current
    /// key or, until its deadline (`now`), the retired one.
    pub fn mqtt_password_matches(&self, password: &str, now: Timestamp) -> bool {
        if same(&self.mqtt_password(), password) {
            return true;
        }
        self.retired_at(now)
            .is_some_and(|key| same(&hex::encode(derive(key, MQTT_PASSWORD_LABEL)), password))
    }

    /// The current key as 64 hex digits, for provisioning the locker's
    /// controller. Never log it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.current)
    }

    /// Seals a PIN for the bus: base64 of a random nonce and the
    /// ChaCha20-Poly1305 ciphertext, bound to the scan's event id.
    pub fn seal_pin(&self, pin: &str, event_id: &uuid::Uuid) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = self.pin_cipher();
        let payload = chacha20poly1305::aead::Payload {
            msg: pin.as_bytes(),
            aad: event_id.as_bytes(),
        };
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("ChaCha20-Poly1305 encryption cannot fail for short messages");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        BASE64.encode(out)
    }

    /// Opens a PIN sealed by [`LockerKey::seal_pin`] for the same event id,
    /// under the current key or the retired one. The retired key's
    /// deadline is not checked here: the scan that carries the PIN has
    /// passed [`LockerKey::verify_at`] already.
    pub fn open_pin(&self, sealed: &str, event_id: &uuid::Uuid) -> Result<String, KeyError> {
        let bytes = BASE64.decode(sealed).map_err(|_| KeyError::BadSealedPin)?;
        if bytes.len() < 12 + 16 {
            return Err(KeyError::BadSealedPin);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let open = |key: &[u8; 32]| {
            let payload = chacha20poly1305::aead::Payload {
                msg: ciphertext,
                aad: event_id.as_bytes(),
            };
            pin_cipher(key)
                .decrypt(Nonce::from_slice(nonce), payload)
                .ok()
        };
        let plain = open(&self.current)
            .or_else(|| self.retired.as_ref().and_then(|retired| open(&retired.key)))
            .ok_or(KeyError::BadSealedPin)?;
        String::from_utf8(plain).map_err(|_| KeyError::BadSealedPin)
    }

    fn pin_cipher(&self) -> ChaCha20Poly1305 {
        pin_cipher(&self.current)
    }
}

const MQTT_PASSWORD_LABEL: &str = "armory/v1 mqtt password";

fn pin_cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    let key = derive(key, "armory/v1 pin seal");
    ChaCha20Poly1305::new(&key.into())
}

fn mac(key: &[u8; 32], topic: &str, message: &[u8]) -> HmacSha256 {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(topic.as_bytes());
    mac.update(b"\n");
    mac.update(message);
    mac
}

/// Compares two passwords in time that does not depend on where they
/// differ: both are hashed first, so only the digests are compared.
fn same(expected: &str, given: &str) -> bool {
    let expected = derive(&[0u8; 32], expected);
    let given = <HmacSha256 as Mac>::new_from_slice(&[0u8; 32])
        .expect("HMAC accepts a key of any length")
        .chain_update(given.as_bytes());
    given.verify_slice(&expected).is_ok()
}

impl std::fmt::Debug for LockerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockerKey(redacted)")
    }
}

fn derive(secret: &[u8; 32], label: &str) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC accepts a key of any length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockers_get_different_keys() {
        let secret = FleetSecret::generate();
        let a = secret.locker_key(&LockerId::from("SLM-L1"));
        let b = secret.locker_key(&LockerId::from("SLM-L2"));
        assert_ne!(a, b);
        assert_eq!(a, secret.locker_key(&LockerId::from("SLM-L1")));
    }

    #[test]
    fn a_sealed_pin_opens_only_for_its_event_and_key() {
        let secret = FleetSecret::generate();
        let key = secret.locker_key(&LockerId::from("SLM-L1"));
        let event = uuid::Uuid::new_v4();
        let sealed = key.seal_pin("963737", &event);
        assert!(!sealed.contains("963737"));
        assert_eq!(key.open_pin(&sealed, &event).as_deref(), Ok("963737"));
        assert!(key.open_pin(&sealed, &uuid::Uuid::new_v4()).is_err());
        let other = secret.locker_key(&LockerId::from("SLM-L2"));
        assert!(other.open_pin(&sealed, &event).is_err());
        assert!(key.open_pin("not base64!", &event).is_err());
    }

    #[test]
    fn secrets_round_trip_through_hex_and_never_print() {
        let secret = FleetSecret::generate();
        let again = FleetSecret::from_hex(&secret.to_hex()).expect("own hex parses");
        assert_eq!(secret.current, again.current);
        assert!(FleetSecret::from_hex("abcd").is_err());
        assert_eq!(format!("{secret:?}"), "FleetSecret(redacted)");
    }

    #[test]
    fn mqtt_passwords_differ_per_locker_and_from_the_key() {
        let secret = FleetSecret::generate();
        let now = Timestamp::from_second(1_780_000_000).expect("valid instant");
        let a = secret.locker_key(&LockerId::from("SLM-L1"));
        let b = secret.locker_key(&LockerId::from("SLM-L2"));
        assert_eq!(a.mqtt_password().len(), 64);
        assert_ne!(a.mqtt_password(), b.mqtt_password());
        assert_ne!(a.mqtt_password(), a.to_hex());
        assert!(a.mqtt_password_matches(&a.mqtt_password(), now));
        assert!(!a.mqtt_password_matches(&b.mqtt_password(), now));
        assert!(!a.mqtt_password_matches("", now));
        let service = secret.service_mqtt_password();
        assert!(secret.service_password_matches(&service, now));
        assert!(!secret.service_password_matches(&a.mqtt_password(), now));
    }

    #[test]
    fn a_retired_secret_is_accepted_on_input_until_its_deadline() {
        let old = FleetSecret::generate();
        let until = Timestamp::from_second(1_780_000_000).expect("valid instant");
        let before = Timestamp::from_second(1_779_999_999).expect("valid instant");
        let after = Timestamp::from_second(1_780_000_001).expect("valid instant");
        let new = FleetSecret::generate().with_retired(&old, until);
        let locker = LockerId::from("SLM-L1");
        let (old_key, new_key) = (old.locker_key(&locker), new.locker_key(&locker));

        let topic = "armory/v1/SLM/SLM-L1/event/controller";
        let old_tag = old_key.tag(topic, b"m");
        assert!(new_key.verify_at(topic, b"m", &old_tag, before));
        assert!(!new_key.verify_at(topic, b"m", &old_tag, after));
        assert!(!new_key.verify(topic, b"m", &old_tag));
        assert_ne!(
            new_key.tag(topic, b"m"),
            old_tag,
            "commands use the new key"
        );

        let old_password = old_key.mqtt_password();
        assert!(new_key.mqtt_password_matches(&old_password, before));
        assert!(!new_key.mqtt_password_matches(&old_password, after));
        assert!(new.service_password_matches(&old.service_mqtt_password(), before));
        assert!(!new.service_password_matches(&old.service_mqtt_password(), after));

        let event = uuid::Uuid::new_v4();
        let sealed = old_key.seal_pin("963737", &event);
        assert_eq!(new_key.open_pin(&sealed, &event).as_deref(), Ok("963737"));
        assert_eq!(new.retired_until(), Some(until));
    }
}
