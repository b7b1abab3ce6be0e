//! Keys that authenticate events and commands, and seal PINs.
//!
//! One fleet secret (32 random bytes, kept in a file only the service user
//! can read) derives a key per locker with HMAC-SHA256, so a locker's
//! controller is provisioned with its own key and never learns another's.
//! A locker key tags every event and command of that locker and seals the
//! PINs its keypads send, so a PIN never crosses the bus in clear.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::LockerId;

type HmacSha256 = Hmac<Sha256>;

/// The agency-wide secret from which every locker key is derived.
#[derive(Clone)]
pub struct FleetSecret([u8; 32]);

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
        Self(bytes)
    }

    /// Parses 64 hex digits; surrounding white space is ignored.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::BadSecret)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadSecret)?;
        Ok(Self(bytes))
    }

    /// The secret as 64 hex digits, for writing to its key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key of one locker.
    pub fn locker_key(&self, locker: &LockerId) -> LockerKey {
        LockerKey(derive(&self.0, &format!("armory/v1 locker {locker}")))
    }
}

impl std::fmt::Debug for FleetSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FleetSecret(redacted)")
    }
}

/// One locker's key.
#[derive(Clone, PartialEq, Eq)]
pub struct LockerKey([u8; 32]);

impl LockerKey {
    /// The HMAC-SHA256 tag of a message on a topic.
    pub fn tag(&self, topic: &str, message: &[u8]) -> Vec<u8> {
        self.mac(topic, message).finalize().into_bytes().to_vec()
    }

    /// Checks a tag in constant time.
    pub fn verify(&self, topic: &str, message: &[u8], tag: &[u8]) -> bool {
        self.mac(topic, message).verify_slice(tag).is_ok()
    }

    fn mac(&self, topic: &str, message: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(topic.as_bytes());
        mac.update(b"\n");
        mac.update(message);
        mac
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

    /// Opens a PIN sealed by [`LockerKey::seal_pin`] for the same event id.
    pub fn open_pin(&self, sealed: &str, event_id: &uuid::Uuid) -> Result<String, KeyError> {
        let bytes = BASE64.decode(sealed).map_err(|_| KeyError::BadSealedPin)?;
        if bytes.len() < 12 + 16 {
            return Err(KeyError::BadSealedPin);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let payload = chacha20poly1305::aead::Payload {
            msg: ciphertext,
            aad: event_id.as_bytes(),
        };
        let plain = self
            .pin_cipher()
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| KeyError::BadSealedPin)?;
        String::from_utf8(plain).map_err(|_| KeyError::BadSealedPin)
    }

    fn pin_cipher(&self) -> ChaCha20Poly1305 {
        let key = derive(&self.0, "armory/v1 pin seal");
        ChaCha20Poly1305::new(&key.into())
    }
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
        assert_eq!(secret.0, again.0);
        assert!(FleetSecret::from_hex("abcd").is_err());
        assert_eq!(format!("{secret:?}"), "FleetSecret(redacted)");
    }
}
