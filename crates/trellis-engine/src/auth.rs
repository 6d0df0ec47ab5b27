//! Users, passwords and bearer tokens.
//!
//! Passwords are hashed with argon2id (on the blocking pool: a hash takes tens
//! of milliseconds of CPU). A token is 32 random bytes shown once; only its
//! SHA-256 is stored, so a copy of the database cannot be replayed as a login.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use trellis_store::{AuditEntry, User};
use uuid::Uuid;

use crate::{Engine, EngineError, Result};

/// The roles of the first version; finer permissions come with scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Manager,
    Staff,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "manager" => Role::Manager,
            "staff" => Role::Staff,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Staff => "staff",
        }
    }
}

/// The signed-in user a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
}

impl Actor {
    /// The command line on the server itself: an admin with no account (what it writes is by the system).
    pub fn system() -> Actor {
        Actor { id: crate::sweep::SYSTEM_ACTOR, email: "system".into(), role: Role::Admin }
    }

    pub(crate) fn from_user(u: User) -> Result<Actor> {
        let role = Role::parse(&u.role).ok_or_else(|| EngineError::Internal(format!("user {} has unknown role '{}'", u.email, u.role)))?;
        Ok(Actor { id: u.id, email: u.email, role })
    }

    pub fn require_admin(&self, what: &str) -> Result<()> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(EngineError::Forbidden(format!("only admins may {what}; {} is {}", self.email, self.role.as_str()))),
        }
    }
}

/// Longest display name, in characters.
pub const MAX_NAME: usize = 50;

/// A display name trimmed, or `None` when blank; too long or with control characters is an issue at `/name`.
fn display_name(name: Option<&str>, issues: &mut Vec<trellis_core::Issue>) -> Option<String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty())?;
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        issues.push(trellis_core::Issue::new("/name", "maxLength", format!("a name has at most {MAX_NAME} characters and no control characters")).zh(format!("姓名最多 {MAX_NAME} 个字")));
        return None;
    }
    Some(name.to_owned())
}

/// Shortest accepted password.
pub const MIN_PASSWORD: usize = 8;

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Wrong passwords for one email that lock it out for the rest of [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);
/// Failed sign-ins from one client address, across every email, after which
/// it waits for the rest of [`FAILURE_WINDOW`]: room for an office behind one
/// address to mistype, none for a sweep through a list of emails.
pub const MAX_ADDRESS_FAILURES: usize = 20;

/// A bearer token as its owner sees it: never its value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenView {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The token this request is signed with.
    pub current: bool,
}

pub(crate) fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| EngineError::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| EngineError::Internal(e.to_string()))
}

impl Engine {
    /// Adds a user. Emails are unique regardless of case; `name` is what pages show (王芳).
    pub async fn add_user(&self, email: &str, name: Option<&str>, role: &str, password: &str) -> Result<Actor> {
        let email = email.trim().to_owned();
        let mut issues = Vec::new();
        let name = display_name(name, &mut issues);
        if !email.contains('@') || email.len() > 254 || email.contains(char::is_whitespace) {
            issues.push(trellis_core::Issue::new("/email", "format", format!("'{email}' is not an email address")).zh(format!("「{email}」不是邮箱地址")));
        }
        let Some(role) = Role::parse(role) else {
            issues.push(trellis_core::Issue::new("/role", "enum", format!("role '{role}' is not one of admin, manager, staff")).zh("角色只能是管理员、主管或员工"));
            return Err(EngineError::Invalid(issues));
        };
        if password.chars().count() < MIN_PASSWORD {
            issues.push(trellis_core::Issue::new("/password", "minLength", format!("a password needs at least {MIN_PASSWORD} characters")).zh(format!("密码至少 {MIN_PASSWORD} 位")));
        }
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        // Checked before hashing so a taken email does not cost an argon2 hash;
        // the unique index below still decides under concurrency.
        if self.store.find_user(&email).await?.is_some() {
            return Err(EngineError::Conflict { zh: None, message: format!("a user with email {email} already exists"), key: Some(vec!["email".into()]) });
        }
        let password = password.to_owned();
        let hash = blocking(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(|e| EngineError::Internal(format!("hashing: {e}")))?;
        let user = User { id: Uuid::now_v7(), email, name, role: role.as_str().into(), password_hash: hash, manager: None, created_at: self.clock.now() };
        self.store.insert_user(&user).await.map_err(|e| match e {
            trellis_store::StoreError::Unique { .. } => {
                EngineError::Conflict { zh: None, message: format!("a user with email {} already exists", user.email), key: Some(vec!["email".into()]) }
            }
            e => e.into(),
        })?;
        Actor::from_user(user)
    }

    /// Every user with their name, role and manager: the directory every
    /// signed-in user reads, so pages show people by name (a CRM's
    /// colleagues are no secret; what they may see of records is).
    pub async fn list_users(&self, _actor: &Actor) -> Result<Vec<UserView>> {
        let users = self.store.users().await?;
        let emails: std::collections::HashMap<Uuid, String> = users.iter().map(|u| (u.id, u.email.clone())).collect();
        Ok(users.into_iter().map(|u| UserView { manager: u.manager.and_then(|m| emails.get(&m).cloned()), id: u.id, email: u.email, name: u.name, role: u.role, created_at: u.created_at }).collect())
    }

    /// One user as the directory shows them.
    pub async fn user_view(&self, email_or_id: &str) -> Result<UserView> {
        let u = self.store.find_user(email_or_id).await?.ok_or_else(|| EngineError::NotFound(format!("there is no user '{email_or_id}'")))?;
        let manager = match u.manager {
            Some(m) => self.store.find_user(&m.to_string()).await?.map(|m| m.email),
            None => None,
        };
        Ok(UserView { id: u.id, email: u.email, name: u.name, role: u.role, manager, created_at: u.created_at })
    }

    /// Renames a user: admins anyone, everyone else themself. An empty name clears it.
    pub async fn set_user_name(&self, actor: &Actor, user: &str, name: Option<&str>) -> Result<UserView> {
        let u = self.store.find_user(user).await?.ok_or_else(|| EngineError::NotFound(format!("there is no user '{user}'")))?;
        if u.id != actor.id {
            actor.require_admin("rename other users")?;
        }
        let mut issues = Vec::new();
        let name = display_name(name, &mut issues);
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        self.store.set_user_name(u.id, name.as_deref()).await?;
        self.store.audit(&self.audit_entry(Some(actor), "user_renamed", Some(u.email.clone()), serde_json::json!({"name": name}))).await?;
        self.user_view(&u.id.to_string()).await
    }

    /// Adds a user (admins), optionally into a manager's team.
    pub async fn create_user(&self, actor: &Actor, email: &str, name: Option<&str>, role: &str, password: &str, manager: Option<&str>) -> Result<UserView> {
        actor.require_admin("add users")?;
        if let Some(m) = manager
            && self.store.find_user(m).await?.is_none()
        {
            return Err(EngineError::Invalid(vec![trellis_core::Issue::new("/manager", "user", format!("there is no user '{m}' to be the manager; add them first")).zh(format!("没有用户「{m}」可以做主管，请先添加"))]));
        }
        let user = self.add_user(email, name, role, password).await?;
        if let Some(m) = manager {
            self.set_manager(Some(actor), &user.email, Some(m)).await?;
        }
        self.store.audit(&self.audit_entry(Some(actor), "user_added", Some(user.email.clone()), serde_json::json!({"role": user.role.as_str(), "manager": manager}))).await?;
        self.user_view(&user.id.to_string()).await
    }

    /// Puts a user in a manager's team (or, with `None`, in no team). The
    /// manager must be a manager or an admin, and not the user themself.
    /// `actor` is who asks (an admin); `None` is the command line on the server itself.
    pub async fn set_manager(&self, actor: Option<&Actor>, user: &str, manager: Option<&str>) -> Result<()> {
        if let Some(a) = actor {
            a.require_admin("change teams")?;
        }
        let u = self.store.find_user(user).await?.ok_or_else(|| EngineError::NotFound(format!("there is no user '{user}'")))?;
        let m = match manager {
            None => None,
            Some(m) => {
                let m = self.store.find_user(m).await?.ok_or_else(|| EngineError::Invalid(vec![trellis_core::Issue::new("/manager", "user", format!("there is no user '{m}'")).zh(format!("没有用户「{m}」"))]))?;
                if m.id == u.id {
                    return Err(EngineError::Invalid(vec![trellis_core::Issue::new("/manager", "user", "a user cannot be their own manager").zh("不能做自己的主管")]));
                }
                if m.role == "staff" {
                    return Err(EngineError::Invalid(vec![trellis_core::Issue::new("/manager", "role", format!("{} is staff; a team is led by a manager or an admin", m.email)).zh(format!("{} 是员工；团队要由主管或管理员带领", m.email))]));
                }
                Some(m.id)
            }
        };
        Ok(self.store.set_manager(u.id, m).await?)
    }

    /// Checks a password and gives out a new bearer token. After
    /// [`MAX_FAILURES`] wrong passwords for one email within [`FAILURE_WINDOW`],
    /// that email is refused (429, with when to try again) until the oldest
    /// of them is that old — a guessing script gets five tries a quarter hour.
    /// Counted per process: several instances each count their own.
    pub async fn login(&self, email: &str, password: &str) -> Result<(String, Actor)> {
        self.login_from(email, password, None).await
    }

    /// [`Engine::login`] from a client address (the server's `ClientAddr`: an
    /// IPv4 address or an IPv6 /64): besides the lock-out per email, an address with
    /// [`MAX_ADDRESS_FAILURES`] failed sign-ins within [`FAILURE_WINDOW`],
    /// whatever the emails, waits (429) until the oldest is that old — so a
    /// script trying one password on many emails is slowed as one guessing
    /// many passwords on one email is. Successful sign-ins do not count.
    pub async fn login_from(&self, email: &str, password: &str, client: Option<&str>) -> Result<(String, Actor)> {
        let key = email.trim().to_lowercase();
        let now = self.clock.now();
        if let Some(client) = client
            && let Err(wait) = self.login_addresses.take(client, now)
        {
            self.store.audit(&AuditEntry { actor_email: Some(key.clone()), ..self.audit_entry(None, "login_slowed", Some(client.to_owned()), serde_json::json!({"retry_after": wait, "email": key})) }).await?;
            return Err(EngineError::TooMany { message: format!("too many failed sign-ins from this address; try again in {} minute(s)", wait.div_ceil(60)), retry_after: wait });
        }
        let result = self.login_checked(&key, email, password, now).await;
        // Only failures count against the address: the attempt was counted
        // first (so parallel guesses cannot all slip in), and a success is given back.
        if let (Some(client), Ok(_)) = (client, &result) {
            self.login_addresses.give_back(client);
        }
        result
    }

    async fn login_checked(&self, key: &str, email: &str, password: &str, now: Timestamp) -> Result<(String, Actor)> {
        let key = key.to_owned();
        // The attempt counts before the password is checked, so parallel
        // guesses cannot all slip in under the limit; a success clears it.
        let attempts = match self.login_failures.take(&key, now) {
            Ok(n) => n,
            Err(wait) => {
                self.store.audit(&AuditEntry { actor_email: Some(key.clone()), ..self.audit_entry(None, "login_locked", Some(key.clone()), serde_json::json!({"retry_after": wait})) }).await?;
                return Err(EngineError::TooMany { message: format!("too many wrong passwords for {key}; try again in {} minute(s)", wait.div_ceil(60)), retry_after: wait });
            }
        };
        let result = self.check_password(email, password).await;
        let entry = match &result {
            Ok((_, actor)) => {
                self.login_failures.forget(&key);
                Some(self.audit_entry(Some(actor), "login", Some(actor.email.clone()), serde_json::json!({})))
            }
            Err(EngineError::Unauthorized(_)) => Some(AuditEntry { actor_email: Some(key.clone()), ..self.audit_entry(None, "login_failed", Some(key), serde_json::json!({"failures": attempts})) }),
            Err(_) => None,
        };
        if let Some(e) = entry {
            self.store.audit(&e).await?;
        }
        result
    }

    /// An audit entry by `actor` (none for an anonymous sign-in attempt), now.
    pub(crate) fn audit_entry(&self, actor: Option<&Actor>, action: &str, target: Option<String>, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            id: Uuid::now_v7(),
            at: self.clock.now(),
            actor_id: actor.map(|a| a.id),
            actor_email: actor.map(|a| a.email.clone()),
            action: action.to_owned(),
            target,
            detail,
        }
    }

    /// The audit log (admins), newest first; `before` pages back.
    pub async fn audit_log(&self, actor: &Actor, before: Option<Timestamp>, limit: i64) -> Result<Vec<AuditEntry>> {
        actor.require_admin("read the audit log")?;
        Ok(self.store.audit_log(before, limit.clamp(1, 500)).await?)
    }

    async fn check_password(&self, email: &str, password: &str) -> Result<(String, Actor)> {
        let user = self.store.find_user(email.trim()).await?;
        // Verify against a fixed hash when the user is unknown, so timing does not reveal which emails exist.
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let password = password.to_owned();
        let ok = blocking(move || {
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
            PasswordHash::new(&stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        })
        .await?;
        let (Some(user), true) = (user, ok) else {
            return Err(EngineError::Unauthorized("wrong email or password".into()));
        };
        let token = format!("trl_{}", random_hex(32)?);
        self.store.insert_token(Uuid::now_v7(), user.id, &token_hash(&token), self.clock.now()).await?;
        Ok((token, Actor::from_user(user)?))
    }

    /// The user a bearer token belongs to, if it is live.
    pub async fn actor_for_token(&self, token: &str) -> Result<Option<Actor>> {
        match self.store.user_for_token(&token_hash(token)).await? {
            Some(u) => Ok(Some(Actor::from_user(u)?)),
            None => Ok(None),
        }
    }

    /// The bearer tokens of the actor, or (admins) of the user `email`;
    /// `current` marks the one this request is signed with.
    pub async fn list_tokens(&self, actor: &Actor, email: Option<&str>, current: Option<&str>) -> Result<Vec<TokenView>> {
        let user = match email {
            None => actor.id,
            Some(e) => {
                let u = self.store.find_user(e).await?.ok_or_else(|| EngineError::NotFound(format!("there is no user '{e}'")))?;
                if u.id != actor.id {
                    actor.require_admin("list another user's tokens")?;
                }
                u.id
            }
        };
        let mine = match current {
            Some(t) => self.store.token_id_for_hash(&token_hash(t)).await?,
            None => None,
        };
        Ok(self.store.tokens_of(user).await?.into_iter().map(|t| TokenView { current: Some(t.id) == mine, id: t.id, created_at: t.created_at, revoked_at: t.revoked_at }).collect())
    }

    /// Revokes a token by its id: its owner or an admin. Another user's token is not found, to a non-admin.
    pub async fn revoke_token_id(&self, actor: &Actor, id: Uuid) -> Result<TokenView> {
        let missing = || EngineError::NotFound(format!("there is no token {id}"));
        let t = self.store.token_info(id).await?.ok_or_else(missing)?;
        if t.user_id != actor.id && actor.role != Role::Admin {
            return Err(missing());
        }
        if self.store.revoke_token_id(id, self.clock.now()).await? {
            self.store.audit(&self.audit_entry(Some(actor), "token_revoked", Some(id.to_string()), serde_json::json!({"user": t.user_id}))).await?;
        }
        let t = self.store.token_info(id).await?.ok_or_else(missing)?;
        Ok(TokenView { id: t.id, created_at: t.created_at, revoked_at: t.revoked_at, current: false })
    }

    /// Revokes a token; it stops working at once.
    pub async fn revoke_token(&self, token: &str) -> Result<bool> {
        Ok(self.store.revoke_token(&token_hash(token), self.clock.now()).await?)
    }

    /// On an empty database, creates `admin@localhost` with a random password
    /// and returns the password (to be shown once); otherwise does nothing.
    pub async fn ensure_first_admin(&self) -> Result<Option<(String, String)>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let password = random_hex(12)?;
        let admin = self.add_user(FIRST_ADMIN, None, "admin", &password).await?;
        Ok(Some((admin.email, password)))
    }
}

/// A user as an admin sees them: never the password hash.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    /// The display name; absent when none was given (pages show the email).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub role: String,
    /// The manager's email.
    pub manager: Option<String>,
    pub created_at: jiff::Timestamp,
}

/// The account created on first start.
pub const FIRST_ADMIN: &str = "admin@localhost";

/// An argon2id hash nobody knows a password for (its salt and digest are
/// random bytes, not the hash of anything written down), with the default
/// parameters, so checking a password against it costs what a real check
/// costs. A constant rather than a hash made at first use: making it would
/// cost the first unknown email a second hash, and that difference is
/// measurable from outside.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$vd9LjvQCRuXaVfSlKJdILQ$Ar6TH0hfakN7wn3qsbihF9lbWAXhHTMB5EBaHmBzjoE";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_string = Argon2::default().hash_password(b"some password").unwrap().to_string();
        let real = PasswordHash::new(&real_string).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(argon2::Params::try_from(&dummy).unwrap(), argon2::Params::try_from(&real).unwrap(), "same memory, time and lanes");
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(Argon2::default().verify_password(b"", &dummy).is_err());
    }
}
