//! Credentials and the collector's security posture.
//!
//! - **Credentials**: enrollment secrets (`azes_...`), node keys (`aznk_...`) and admin tokens
//!   (`azat_...`) are 256 random bits from the OS, printed once and stored only as their SHA-256
//!   digest. A slow password hash would add nothing: nobody can guess 256 random bits, so a fast
//!   digest is enough to make a stolen database useless for authenticating.
//! - **Posture** ([`Posture::decide`]): what a listener may accept, decided once at start-up from
//!   its address, TLS and the flags; the rule is in `docs/SECURITY.md`.
//! - **Rate limit** ([`RateLimiter`]): a token bucket per host id, far above a real agent's pace,
//!   so one host (or one stolen node key) cannot flood the store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{KeyDigest, hex};

/// The kinds of credential, each with its own recognisable prefix (secret scanners can match it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exchanged once per host for a node key.
    EnrollSecret,
    /// Sent with every report.
    NodeKey,
    /// For the dashboard and the HTTP API.
    AdminToken,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::EnrollSecret => "azes",
            Kind::NodeKey => "aznk",
            Kind::AdminToken => "azat",
        }
    }
}

/// A newly made credential: its public id (safe to print and log), the secret text (shown once)
/// and the digest that is stored.
#[derive(Clone)]
pub struct NewCredential {
    /// Public id, e.g. `es_3f9a1c2b`.
    pub id: String,
    /// The whole credential, e.g. `azes_3f9a1c2b_...`; never stored, never logged.
    pub secret: String,
    /// What is stored: SHA-256 of `secret`.
    pub digest: KeyDigest,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential").field("id", &self.id).field("secret", &"****").finish()
    }
}

/// Why a credential could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(getrandom::Error);

/// Makes a new credential of `kind` from 256 bits of OS randomness.
pub fn generate(kind: Kind) -> Result<NewCredential, RandomError> {
    let mut id = [0u8; 4];
    let mut key = [0u8; 32];
    getrandom::fill(&mut id).map_err(RandomError)?;
    getrandom::fill(&mut key).map_err(RandomError)?;
    let id = format!("{}_{}", &kind.prefix()[2..], hex(&id));
    let secret = format!("{}_{}_{}", kind.prefix(), &id[3..], hex(&key));
    Ok(NewCredential { digest: digest(&secret), id, secret })
}

/// The stored form of a credential as received; surrounding whitespace is not part of it.
pub fn digest(secret: &str) -> KeyDigest {
    KeyDigest::of(secret.trim())
}

/// What a listener accepts, decided at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posture {
    /// Reports without a node key are accepted (only while no enrollment secret exists).
    pub unauthenticated_allowed: bool,
}

/// The start-up facts the posture depends on.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    /// Where it listens.
    pub address: SocketAddr,
    /// Whether it serves TLS.
    pub tls: bool,
    /// Whether any enrollment secret was ever created.
    pub secrets_exist: bool,
    /// `--allow-unauthenticated`.
    pub allow_unauthenticated: bool,
    /// `--allow-plaintext`.
    pub allow_plaintext: bool,
}

impl Posture {
    /// Safe by default: plain text and unauthenticated reports only on loopback unless the admin
    /// says otherwise, and never unauthenticated once an enrollment secret exists. The error says
    /// how to fix the start-up.
    pub fn decide(listener: &Listener) -> Result<Self, String> {
        let loopback = listener.address.ip().is_loopback();
        if !loopback && !listener.tls && !listener.allow_plaintext {
            return Err(format!(
                "refusing to serve plain text on {}, a non-loopback address: inventory and node keys would cross \
                 the network unencrypted. Give --tls-cert and --tls-key (see docs/SECURITY.md), or \
                 --allow-plaintext on a network you trust",
                listener.address
            ));
        }
        if listener.secrets_exist {
            return Ok(Self { unauthenticated_allowed: false });
        }
        if !loopback && !listener.allow_unauthenticated {
            return Err(format!(
                "refusing to accept unauthenticated reports on {}, a non-loopback address: create an enrollment \
                 secret first (`azver-collector secret create --db ...`), or pass --allow-unauthenticated",
                listener.address
            ));
        }
        Ok(Self { unauthenticated_allowed: true })
    }
}

/// Per-host token buckets: `burst` reports at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// The most buckets kept before idle ones are dropped (a full bucket holds no information).
const MAX_BUCKETS: usize = 200_000;

impl RateLimiter {
    /// A limiter allowing `burst` reports at once and `per_second` sustained, per host.
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst: f64::from(burst.max(1)), per_second, buckets: Mutex::default() }
    }

    /// Whether `key` has a token at `now`, without taking it; `Err(wait)` as [`Self::check`].
    pub fn peek(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((tokens, at)) = buckets.get(key) else { return Ok(()) };
        let refilled = self.refilled(*tokens, *at, now);
        if refilled >= 1.0 { Ok(()) } else { Err(self.wait(refilled)) }
    }

    /// The tokens of a bucket that held `tokens` at `at`, at `now`.
    fn refilled(&self, tokens: f64, at: Instant, now: Instant) -> f64 {
        (tokens + now.saturating_duration_since(at).as_secs_f64() * self.per_second).min(self.burst)
    }

    /// How long until a bucket holding `tokens` has one.
    fn wait(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64((1.0 - tokens) / self.per_second.max(f64::MIN_POSITIVE))
    }

    /// Takes one token for `host_id`; `Err(wait)` says how long until the next one.
    pub fn check(&self, host_id: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(host_id) {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(host_id.to_owned()).or_insert((self.burst, now));
        let refilled = self.refilled(*tokens, *at, now);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(self.wait(refilled))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_random_prefixed_and_stored_as_digests() {
        let a = generate(Kind::EnrollSecret).unwrap();
        let b = generate(Kind::EnrollSecret).unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.id.starts_with("es_") && a.id.len() == 11, "{}", a.id);
        assert!(a.secret.starts_with(&format!("azes_{}_", &a.id[3..])) && a.secret.len() == 5 + 9 + 64, "{}", a.secret);
        assert_eq!(a.digest, digest(&a.secret));
        assert_eq!(digest(&format!("  {}\n", a.secret)), a.digest);
        assert_eq!(digest("abc").as_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(generate(Kind::NodeKey).unwrap().secret.starts_with("aznk_"));
        assert!(generate(Kind::AdminToken).unwrap().id.starts_with("at_"));
        assert!(!format!("{a:?}").contains(&a.secret[14..]));
    }

    fn listener(address: &str, tls: bool, secrets_exist: bool) -> Listener {
        Listener {
            address: address.parse().unwrap(),
            tls,
            secrets_exist,
            allow_unauthenticated: false,
            allow_plaintext: false,
        }
    }

    #[test]
    fn posture_is_safe_by_default() {
        let open = Posture { unauthenticated_allowed: true };
        let closed = Posture { unauthenticated_allowed: false };
        assert_eq!(Posture::decide(&listener("127.0.0.1:1", false, false)), Ok(open));
        assert_eq!(Posture::decide(&listener("[::1]:1", false, true)), Ok(closed));
        assert_eq!(Posture::decide(&listener("10.0.0.5:1", true, true)), Ok(closed));
        let plain = Posture::decide(&listener("0.0.0.0:1", false, true)).unwrap_err();
        assert!(plain.contains("--tls-cert") && plain.contains("--allow-plaintext"), "{plain}");
        let unauth = Posture::decide(&listener("10.0.0.5:1", true, false)).unwrap_err();
        assert!(unauth.contains("secret create") && unauth.contains("--allow-unauthenticated"), "{unauth}");
        let allowed =
            Listener { allow_unauthenticated: true, allow_plaintext: true, ..listener("0.0.0.0:1", false, false) };
        assert_eq!(Posture::decide(&allowed), Ok(open));
        // A secret beats --allow-unauthenticated: once enrollment exists, every report is authenticated.
        assert_eq!(Posture::decide(&Listener { secrets_exist: true, ..allowed }), Ok(closed));
    }

    #[test]
    fn rate_limit_allows_a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(3, 2.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("h", start), Ok(()));
        }
        let wait = limiter.check("h", start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert_eq!(limiter.check("other", start), Ok(()));
        assert_eq!(limiter.check("h", start + Duration::from_millis(500)), Ok(()));
        assert!(limiter.check("h", start + Duration::from_millis(500)).is_err());
        // Peeking takes nothing.
        assert!(limiter.peek("h", start + Duration::from_millis(500)).is_err());
        assert_eq!(limiter.peek("h", start + Duration::from_millis(1000)), Ok(()));
        assert_eq!(limiter.peek("h", start + Duration::from_millis(1000)), Ok(()));
        assert_eq!(limiter.peek("never-seen", start), Ok(()));
        // A host at one report per second never runs dry at two per second.
        let steady = RateLimiter::new(3, 2.0);
        for second in 0..100 {
            assert_eq!(steady.check("h", start + Duration::from_secs(second)), Ok(()));
        }
    }
}
