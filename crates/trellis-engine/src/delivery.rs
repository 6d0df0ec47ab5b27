//! Delivering the outbox: emails over SMTP and webhooks over HTTP.
//!
//! Workflows and triggers hand deliveries to the `outbox` table in
//! their write's transaction; this module sends them afterwards, outside any
//! transaction, because a network call must never hold a database lock. An
//! instance leases a batch of due rows (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), sends each, and records the attempt: `sent`, or `pending`
//! again after an exponential backoff with jitter, or `failed` — the dead
//! letter — after the last attempt. A process that dies mid-send lets its
//! lease run out and another takes the row over, so a delivery is never lost;
//! the receiver may then see it twice, and can tell by its id (the email's
//! `Message-ID`, the webhook's `X-Trellis-Delivery` header).
//!
//! Webhooks go only to public addresses unless the server allows private ones
//! (`--allow-private-webhooks`): a webhook URL typed by an admin must not
//! become a way into the internal network. The address is resolved once,
//! checked, and pinned for the request; redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::SignedDuration;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use trellis_store::{Attempt, Delivery};

use crate::{Engine, EngineError, Result};

/// How long an instance holds the deliveries it is sending.
const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// Deliveries leased at a time.
const BATCH: i64 = 50;
/// The first retry waits this long; each next one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: i64 = 30;
const MAX_BACKOFF: i64 = 6 * 3600;
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// How the server delivers: from flags or the environment.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `smtp://user:pass@host:587?tls=required` or `smtps://…` (lettre's URL form); none: emails wait.
    pub smtp_url: Option<String>,
    /// The sender of every email, e.g. `Trellis <crm@example.com>`.
    pub smtp_from: Option<String>,
    /// Allow webhooks to private, loopback and link-local addresses.
    pub allow_private_webhooks: bool,
    /// Signs every webhook body: `X-Trellis-Signature: sha256=HEX(HMAC-SHA256(secret, body))`.
    pub webhook_secret: Option<String>,
    /// Attempts before a delivery becomes a dead letter (`failed`).
    pub max_attempts: i64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig { smtp_url: None, smtp_from: None, allow_private_webhooks: false, webhook_secret: None, max_attempts: 6 }
    }
}

/// A configured sender, shared by every delivery run.
pub(crate) struct Sender {
    config: DeliveryConfig,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl Sender {
    pub(crate) fn new(config: DeliveryConfig) -> Result<Sender> {
        let bad = |m: String| EngineError::Invalid(vec![trellis_core::Issue::new("/smtp", "config", m).zh("邮件服务（SMTP）的设置有误，请检查 --smtp-url 和 --smtp-from")]);
        let smtp = match (&config.smtp_url, &config.smtp_from) {
            (Some(url), Some(from)) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| bad(format!("the SMTP URL does not read: {e}")))?.build();
                let from: Mailbox = from.parse().map_err(|e| bad(format!("the sender '{from}' is not an address: {e}")))?;
                Some((transport, from))
            }
            (Some(_), None) => return Err(bad("an SMTP server needs a sender address (--smtp-from)".into())),
            _ => None,
        };
        Ok(Sender { config, smtp })
    }

    /// Sends one delivery; `Ok` is what the other side answered.
    async fn send(&self, d: &Delivery) -> std::result::Result<String, String> {
        match d.channel.as_str() {
            "email" => self.email(d).await,
            "webhook" => self.webhook(d).await,
            other => Err(format!("unknown channel '{other}'")),
        }
    }

    async fn email(&self, d: &Delivery) -> std::result::Result<String, String> {
        let Some((transport, from)) = &self.smtp else {
            return Err("no SMTP server is configured (trellis serve --smtp-url … --smtp-from …)".into());
        };
        let to: Mailbox = d.target.parse().map_err(|e| format!("'{}' is not an email address: {e}", d.target))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(d.subject.clone().unwrap_or_default())
            .message_id(Some(format!("<{}@trellis>", d.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(d.body.clone())
            .map_err(|e| format!("the email does not build: {e}"))?;
        let answer = transport.send(message).await.map_err(|e| format!("SMTP: {e}"))?;
        Ok(format!("SMTP {}", answer.code()))
    }

    async fn webhook(&self, d: &Delivery) -> std::result::Result<String, String> {
        let url = reqwest::Url::parse(&d.target).map_err(|e| format!("'{}' is not a URL: {e}", d.target))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("'{}' is not an http(s) URL", d.target));
        }
        let host = url.host_str().ok_or_else(|| format!("'{}' has no host", d.target))?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
        let Some(addr) = addrs.first().copied() else { return Err(format!("{host} resolves to no address")) };
        if !self.config.allow_private_webhooks
            && let Some(private) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(format!(
                "refused: {host} resolves to {}, a private, loopback or link-local address; start the server with --allow-private-webhooks to allow it",
                private.ip()
            ));
        }
        // The checked address is the one connected to: a second lookup cannot point elsewhere.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(WEBHOOK_TIMEOUT)
            .resolve(&host, addr)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let mut req = client.post(url).header("content-type", "application/json").header("x-trellis-delivery", d.id.to_string());
        if let Some(secret) = &self.config.webhook_secret {
            req = req.header("x-trellis-signature", format!("sha256={}", sign(secret, d.body.as_bytes())?));
        }
        let res = req.body(d.body.clone()).send().await.map_err(|e| format!("POST {}: {e}", d.target))?;
        let status = res.status();
        let text: String = res.text().await.unwrap_or_default().chars().take(300).collect();
        if status.is_success() { Ok(format!("HTTP {status}")) } else { Err(format!("HTTP {status}: {text}")) }
    }
}

/// HMAC-SHA256 of `body` under `secret`, in hex.
pub fn sign(secret: &str, body: &[u8]) -> std::result::Result<String, String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|e| format!("signing key: {e}"))?;
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Whether an address is on the public internet (not private, loopback,
/// link-local, shared, documentation, multicast or unspecified). An IPv6
/// address that carries an IPv4 one — mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`), Teredo
/// (`2001::/32`) — is judged by the IPv4 address it reaches, since a
/// translator or tunnel on the way delivers it there.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(v4: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && v4.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19)))
}

fn is_public_v6(v6: std::net::Ipv6Addr) -> bool {
    use std::net::Ipv4Addr;
    let seg = v6.segments();
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from(bits as u32);
    if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() {
        return false;
    }
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // ::a.b.c.d, deprecated since 2006 (RFC 4291): nothing public uses it.
    if bits >> 32 == 0 {
        return false;
    }
    // NAT64, the well-known prefix (RFC 6052): the IPv4 address is the last 32 bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(low32);
    }
    // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is the IPv4 address AA.BB.CC.DD.
    if seg[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    // Teredo (RFC 4380): the server's IPv4 address, then the client's, inverted.
    if seg[0] == 0x2001 && seg[1] == 0 {
        return is_public_v4(Ipv4Addr::from((bits >> 64) as u32)) && is_public_v4(Ipv4Addr::from(!(bits as u32)));
    }
    let first = seg[0];
    !((first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local, deprecated
        || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1) // local-use NAT64 (RFC 8215): a private translator
        || (seg[0] == 0x2001 && seg[1] == 0xdb8) // documentation
        || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0])) // discard-only (RFC 6666)
}

/// The wait before attempt `attempt + 1`: 30 s, 1 min, 2 min, … up to 6 h, ±20 %.
fn backoff(attempt: i64) -> SignedDuration {
    let base = FIRST_BACKOFF.saturating_mul(1i64 << (attempt - 1).clamp(0, 20)).min(MAX_BACKOFF);
    let mut byte = [0u8; 1];
    let jitter = if getrandom::fill(&mut byte).is_ok() { f64::from(byte[0]) / 255.0 * 0.4 - 0.2 } else { 0.0 };
    SignedDuration::from_secs(((base as f64) * (1.0 + jitter)).round() as i64)
}

#[derive(Default)]
pub(crate) struct SenderSlot(RwLock<Option<Arc<Sender>>>);

impl Engine {
    /// Sets how deliveries are sent (the server does this at start, from its flags).
    pub fn configure_delivery(&self, config: DeliveryConfig) -> Result<()> {
        let sender = Arc::new(Sender::new(config)?);
        *self.sender.0.write().unwrap_or_else(PoisonError::into_inner) = Some(sender);
        Ok(())
    }

    fn sender(&self) -> Result<Arc<Sender>> {
        if let Some(s) = self.sender.0.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(Sender::new(DeliveryConfig::default())?);
        *self.sender.0.write().unwrap_or_else(PoisonError::into_inner) = Some(s.clone());
        Ok(s)
    }

    /// Sends every delivery due at the engine clock's time; returns (sent, failed attempts).
    pub async fn deliver_due(&self) -> Result<(usize, usize)> {
        let sender = self.sender()?;
        let now = self.clock.now();
        let (mut sent, mut failed) = (0, 0);
        let mut seen = std::collections::HashSet::new();
        loop {
            let batch: Vec<Delivery> = self.store.claim_deliveries(now, now + LEASE, BATCH).await?.into_iter().filter(|d| seen.insert(d.id)).collect();
            if batch.is_empty() {
                return Ok((sent, failed));
            }
            for d in batch {
                let outcome = sender.send(&d).await;
                let attempt = d.attempts + 1;
                let ok = outcome.is_ok();
                let detail = match outcome {
                    Ok(s) | Err(s) => s,
                };
                let record = Attempt { delivery_id: d.id, attempt, at: now, ok, detail };
                let (status, next) = match (ok, attempt >= sender.config.max_attempts) {
                    (true, _) => ("sent", None),
                    (false, true) => ("failed", None),
                    (false, false) => ("pending", Some(now + backoff(attempt))),
                };
                if ok {
                    sent += 1;
                } else {
                    failed += 1;
                    tracing::warn!(delivery = %d.id, attempt, channel = %d.channel, error = %record.detail, status, "a delivery attempt failed");
                }
                self.store.finish_attempt(&record, status, next).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "255.255.255.255", "240.0.0.1", "198.18.0.1",
            "::1", "::", "fd00::1", "fe80::1", "fec0::1", "ff02::1", "2001:db8::1", "100::1",
            // IPv4-mapped and IPv4-compatible forms of loopback and private addresses.
            "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1", "::8.8.8.8", "::7f00:1",
            // NAT64: the well-known prefix with a private IPv4 address, and the local-use prefix.
            "64:ff9b::7f00:1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::c0a8:101", "64:ff9b:1::808:808", "64:ff9b:1:ffff::1",
            // 6to4 around a private IPv4 address.
            "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101:1::1",
            // Teredo whose server or (inverted) client is private.
            "2001:0:7f00:1::1", "2001:0:808:808:0:0:80ff:fefe", "2001:0:808:808::f5ff:fffe",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} is not public");
        }
        for public in ["1.1.1.1", "203.119.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2001:0:808:808::f7f7:f7f7"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for (attempt, base) in [(1, 30), (2, 60), (3, 120), (20, MAX_BACKOFF)] {
            let b = backoff(attempt).as_secs();
            assert!(b as f64 >= base as f64 * 0.79 && b as f64 <= base as f64 * 1.21, "attempt {attempt}: {b}");
        }
    }

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(sign("Jefe", b"what do ya want for nothing?").unwrap(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
