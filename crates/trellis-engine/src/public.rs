//! Public form links (外链表单): people without an account create a record
//! through a link, or update chosen fields of their own record through a
//! link signed for it.
//!
//! A link belongs to the user who made it and acts within their permissions
//! as they are at each submission: it can only fill fields they may write,
//! what it creates is theirs, and it stops when they lose the right. The
//! history names the link, not them. A URL is `/f/TOKEN`, where the token is
//! the link's id (and, for an update link, the record's id) with an HMAC
//! under a server secret — a guessed or altered token opens nothing.

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use trellis_core::issue::escape_token;
use trellis_core::permission::Action;
use trellis_core::{CompiledForm, Issue};
use trellis_store::PublicLink;
use uuid::Uuid;

use crate::{Actor, Engine, EngineError, Result, Role};

/// Submissions per link and address within [`POST_WINDOW`].
pub const MAX_POSTS: usize = 10;
pub const POST_WINDOW: SignedDuration = SignedDuration::from_mins(1);

const SECRET: &str = "public_links";

/// What `POST /api/v1/forms/{form}/public-links` takes.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    pub fields: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// `create` (the default) or `update`.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// For an update link: the record to sign the URL for.
    #[serde(default)]
    pub record: Option<Uuid>,
}

/// A link as its maker and admins see it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    #[serde(flatten)]
    pub link: PublicLink,
    /// The path to share: a create link's, or an update link's for the record asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What the public page shows: the form's title and the link's fields.
#[derive(Debug, Clone, Serialize)]
pub struct PublicForm {
    pub title: String,
    pub mode: String,
    pub expires_at: Option<Timestamp>,
    pub fields: Vec<PublicField>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicField {
    pub key: String,
    pub title: String,
    pub required: bool,
    /// The field's JSON Schema, for the page to pick an input.
    pub schema: Value,
    /// In update mode: the record's value now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// What a submission answers: no more than that it was taken.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub id: Uuid,
    pub mode: String,
}

/// A token read back: the link, and the record for an update link.
struct Opened {
    link: PublicLink,
    record: Option<Uuid>,
}

fn view(link: PublicLink, url: Option<String>) -> LinkView {
    LinkView { link, url }
}

fn mac(secret: &str, payload: &str) -> Result<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|e| EngineError::Internal(format!("link key: {e}")))?;
    m.update(payload.as_bytes());
    Ok(m)
}

/// The signed part of a token: 128 bits of the HMAC are plenty against guessing.
const SIG_BYTES: usize = 16;

fn dead() -> EngineError {
    EngineError::NotFound("this link does not exist or was changed; ask for a new one".into())
}

fn required(form: &CompiledForm) -> Vec<String> {
    form.def.schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

impl Engine {
    async fn link_secret(&self) -> Result<String> {
        if let Some(s) = self.link_secret.get() {
            return Ok(s.clone());
        }
        let s = self.store.secret(SECRET, &crate::auth::random_hex(32)?).await?;
        Ok(self.link_secret.get_or_init(|| s).clone())
    }

    async fn token(&self, link: Uuid, record: Option<Uuid>) -> Result<String> {
        let payload = match record {
            Some(r) => format!("{}.{}", link.simple(), r.simple()),
            None => link.simple().to_string(),
        };
        let sig = mac(&self.link_secret().await?, &payload)?.finalize().into_bytes();
        Ok(format!("{payload}.{}", hex::encode(&sig[..SIG_BYTES])))
    }

    /// Reads a token: its signature must hold and its link be live.
    async fn open_token(&self, token: &str) -> Result<Opened> {
        let (payload, sig) = token.rsplit_once('.').ok_or_else(dead)?;
        let sig = hex::decode(sig).map_err(|_| dead())?;
        if sig.len() != SIG_BYTES {
            return Err(dead());
        }
        mac(&self.link_secret().await?, payload)?.verify_truncated_left(&sig).map_err(|_| dead())?;
        let (link, record) = match payload.split_once('.') {
            Some((l, r)) => (l, Some(Uuid::try_parse(r).map_err(|_| dead())?)),
            None => (payload, None),
        };
        let link = self.store.public_link(Uuid::try_parse(link).map_err(|_| dead())?).await?.ok_or_else(dead)?;
        if (link.mode == "update") != record.is_some() {
            return Err(dead());
        }
        if link.revoked_at.is_some() {
            return Err(EngineError::LinkGone("this link was switched off by its owner".into()));
        }
        if link.expires_at.is_some_and(|t| t <= self.clock.now()) {
            return Err(EngineError::LinkGone("this link has expired; ask for a new one".into()));
        }
        Ok(Opened { link, record })
    }

    /// Makes a public link to `form`. Its fields must be ones `actor` may
    /// write; a create link must carry every field the form requires.
    pub async fn create_public_link(&self, actor: &Actor, form: &str, new: NewLink) -> Result<LinkView> {
        let compiled = self.form(form).await?;
        let grant = self.grant(actor, &compiled).await?;
        let mode = new.mode.clone().unwrap_or_else(|| "create".into());
        let mut issues = Vec::new();
        if mode != "create" && mode != "update" {
            issues.push(Issue::new("/mode", "enum", format!("mode is create or update, not '{mode}'")).zh("用途只能是「新建记录」或「更新本人记录」"));
        }
        if new.fields.is_empty() {
            issues.push(Issue::new("/fields", "minItems", "a link needs at least one field").zh("外链至少要包含一个字段"));
        }
        for (i, f) in new.fields.iter().enumerate() {
            match compiled.field(f) {
                None => issues.push(Issue::new(format!("/fields/{i}"), "unknown_field", format!("'{f}' is not a field of form '{form}'")).zh(format!("表单里没有字段「{f}」"))),
                Some(x) if x.derived.is_some() => issues.push(Issue::new(format!("/fields/{i}"), "derived", format!("'{f}' is computed by the engine; nobody fills it in")).zh(format!("「{f}」由系统自动计算，不能放进外链"))),
                Some(_) if !grant.access.writes(f) => issues.push(Issue::new(format!("/fields/{i}"), "readonly", format!("'{f}' is not a field role {} may write, so no link of theirs may fill it", grant.access.role)).zh(format!("你不能修改「{f}」，所以你的外链也不能包含它"))),
                Some(_) => {}
            }
        }
        if mode == "create" {
            grant.require_create()?;
            for r in required(&compiled).iter().filter(|r| !new.fields.contains(r)) {
                issues.push(Issue::new("/fields", "required", format!("form '{form}' requires '{r}', so a create link must include it")).zh(format!("「{r}」是必填字段，新建外链必须包含它")));
            }
            if new.record.is_some() {
                issues.push(Issue::new("/record", "mode", "only an update link is signed for a record").zh("只有「更新本人记录」的外链才按记录生成"));
            }
        }
        let now = self.clock.now();
        if new.expires_at.is_some_and(|t| t <= now) {
            issues.push(Issue::new("/expires_at", "past", "expires_at is already past").zh("有效期已经过了"));
        }
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        if let Some(id) = new.record {
            let r = self.store.record(compiled.key(), id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| EngineError::NotFound(format!("there is no record {id} in form '{form}'")))?;
            grant.check(Action::Write, &r)?;
        }
        let link = PublicLink { id: Uuid::now_v7(), form: compiled.key().to_owned(), mode, fields: new.fields, title: new.title, expires_at: new.expires_at, created_by: actor.id, created_at: now, revoked_at: None };
        self.store.insert_public_link(&link).await?;
        self.store.audit(&self.audit_entry(Some(actor), "public_link_created", Some(format!("form/{}", link.form)), serde_json::json!({"link": link.id, "mode": link.mode, "fields": link.fields}))).await?;
        let url = match (link.mode.as_str(), new.record) {
            ("create", _) => Some(format!("/f/{}", self.token(link.id, None).await?)),
            (_, Some(r)) => Some(format!("/f/{}", self.token(link.id, Some(r)).await?)),
            _ => None,
        };
        Ok(view(link, url))
    }

    /// A link its maker (or an admin) may manage.
    async fn own_link(&self, actor: &Actor, id: Uuid) -> Result<PublicLink> {
        self.store.public_link(id).await?.filter(|l| l.created_by == actor.id || actor.role == Role::Admin).ok_or_else(|| EngineError::NotFound(format!("there is no public link {id}")))
    }

    /// A form's links: every one for an admin, their own for others. Create links come with their URL.
    pub async fn public_links(&self, actor: &Actor, form: &str) -> Result<Vec<LinkView>> {
        let compiled = self.form(form).await?;
        let mut out = Vec::new();
        for l in self.store.public_links(compiled.key()).await? {
            if l.created_by != actor.id && actor.role != Role::Admin {
                continue;
            }
            let url = if l.mode == "create" { Some(format!("/f/{}", self.token(l.id, None).await?)) } else { None };
            out.push(view(l, url));
        }
        Ok(out)
    }

    /// An update link's URL for one record the link's maker may change.
    pub async fn public_link_url(&self, actor: &Actor, id: Uuid, record: Uuid) -> Result<String> {
        let l = self.own_link(actor, id).await?;
        if l.mode != "update" {
            return Err(EngineError::Conflict { zh: None, message: "a create link has one URL for everyone; only update links are signed per record".into(), key: None });
        }
        let compiled = self.form(&l.form).await?;
        let maker = self.link_maker(&l).await?;
        let r = self.store.record(compiled.key(), record).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| EngineError::NotFound(format!("there is no record {record} in form '{}'", l.form)))?;
        self.grant(&maker, &compiled).await?.check(Action::Write, &r)?;
        Ok(format!("/f/{}", self.token(l.id, Some(record)).await?))
    }

    /// Switches a link off; its URLs stop working at once.
    pub async fn revoke_public_link(&self, actor: &Actor, id: Uuid) -> Result<()> {
        let l = self.own_link(actor, id).await?;
        if self.store.revoke_public_link(l.id, self.clock.now()).await? {
            self.store.audit(&self.audit_entry(Some(actor), "public_link_revoked", Some(format!("form/{}", l.form)), serde_json::json!({"link": l.id}))).await?;
        }
        Ok(())
    }

    async fn link_maker(&self, l: &PublicLink) -> Result<Actor> {
        let u = self.store.find_user(&l.created_by.to_string()).await?.ok_or_else(|| EngineError::LinkGone("the owner of this link is gone, so it no longer works".into()))?;
        Actor::from_user(u)
    }

    /// What the public page shows for a token.
    pub async fn public_form(&self, token: &str) -> Result<PublicForm> {
        let o = self.open_token(token).await?;
        let compiled = self.form(&o.link.form).await?;
        // Fields the maker's role may no longer write (the permissions changed since) leave the page too.
        let maker = self.grant(&self.link_maker(&o.link).await?, &compiled).await?;
        let current = match o.record {
            Some(id) => Some(self.live_record_for(&maker, &compiled, id).await?.data),
            None => None,
        };
        let required = required(&compiled);
        let props = compiled.def.schema.get("properties").and_then(Value::as_object);
        let fields = o
            .link
            .fields
            .iter()
            .filter(|k| maker.access.writes(k))
            .map(|k| {
                let schema = props.and_then(|p| p.get(k)).cloned().unwrap_or(Value::Null);
                PublicField {
                    title: schema.get("title").and_then(Value::as_str).unwrap_or(k).to_owned(),
                    key: k.clone(),
                    required: required.contains(k),
                    value: current.as_ref().and_then(|d| d.get(k).cloned()),
                    schema,
                }
            })
            .collect();
        let title = o.link.title.clone().unwrap_or_else(|| if compiled.def.title.is_empty() { compiled.key().to_owned() } else { compiled.def.title.clone() });
        Ok(PublicForm { title, mode: o.link.mode, expires_at: o.link.expires_at, fields })
    }

    /// The record an update link is for, as long as its maker may still change it.
    async fn live_record_for(&self, maker: &crate::access::Grant, form: &CompiledForm, id: Uuid) -> Result<trellis_core::Record> {
        let r = self.store.record(form.key(), id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(dead)?;
        maker.check(Action::Write, &r).map_err(|_| dead())?;
        Ok(r)
    }

    /// An anonymous submission through a link from `client` (its address):
    /// at most [`MAX_POSTS`] a minute per link and address. Fields beyond the
    /// link's are refused by name; the rest goes through the write path as
    /// any record does.
    pub async fn public_submit(&self, token: &str, client: &str, data: Value) -> Result<Receipt> {
        let o = self.open_token(token).await?;
        let now = self.clock.now();
        self.public_posts.take(&format!("{}|{client}", o.link.id), now).map(drop).map_err(|wait| EngineError::TooMany {
            message: format!("too many submissions from this address; try again in {wait} second(s)"),
            retry_after: wait,
        })?;
        let Value::Object(mut data) = data else {
            return Err(EngineError::Invalid(vec![Issue::new("", "type", "send the form's fields as a JSON object").zh("提交的内容格式不对，请刷新页面后重新填写")]));
        };
        let extra: Vec<Issue> = data
            .keys()
            .filter(|k| !o.link.fields.contains(k))
            .map(|k| Issue::new(format!("/{}", escape_token(k)), "not_in_link", format!("'{k}' is not one of this link's fields ({})", o.link.fields.join(", "))).zh("这个链接不能填写这一项"))
            .collect();
        if !extra.is_empty() {
            return Err(EngineError::Refused(extra));
        }
        let compiled = self.form(&o.link.form).await?;
        let maker = self.link_maker(&o.link).await?;
        let grant = self.grant(&maker, &compiled).await?;
        let record = match o.record {
            None => {
                let mut made = self.create_granted(&grant, o.link.id, Some(maker.id), &compiled, vec![Value::Object(data)], false).await?;
                made.remove(0).id
            }
            Some(id) => {
                self.live_record_for(&grant, &compiled, id).await?;
                // An emptied input means "remove it", as a merge patch says.
                for v in data.values_mut() {
                    if v.as_str().is_some_and(|s| s.trim().is_empty()) {
                        *v = Value::Null;
                    }
                }
                self.patch_granted(&grant, o.link.id, &compiled, id, Value::Object(data), None).await?.id
            }
        };
        let entry = trellis_store::AuditEntry {
            actor_email: Some(format!("public link {}", o.link.id)),
            ..self.audit_entry(None, "public_submitted", Some(format!("form/{}", o.link.form)), serde_json::json!({"link": o.link.id, "record": record, "mode": o.link.mode, "client": client}))
        };
        self.store.audit(&entry).await?;
        Ok(Receipt { id: record, mode: o.link.mode })
    }
}
