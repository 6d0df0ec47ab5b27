//! Backfills: after a version that newly requires fields is published with
//! `?backfill=defaults`, a job fills each such field's schema `default` into
//! every live record that lacks a value in it.
//!
//! A backfill is a job of kind [`KIND`] in the same `jobs` table as imports,
//! so it is listed, shown (`GET /api/v1/jobs/{id}`) and taken over after a
//! crash ([`Engine::claim_stale_jobs`], then [`Engine::run_job`]) the same
//! way. It reads the records still blank, a batch at a time in id order,
//! and writes each batch in one transaction that first locks the job row,
//! checks that the job's position (`summary.after`, the last id handled) is
//! where the batch was read from, and moves it past the batch: a crash
//! leaves the job at its last commit, and a run taking it over goes on from
//! there. Each record is locked and looked at again inside the transaction:
//! a field someone filled in meanwhile keeps its value.
//!
//! Records are written through the engine's update path (`patch_in`):
//! validated against the form in force, computed fields, segments and
//! rollups derived, parents' rollups moved, a history entry by the system
//! actor. Workflows and triggers do not react to a backfill (no events, no
//! automatic transitions, no moments rescheduled): filling a default is a
//! correction of stored data, not something that happened to the customer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use trellis_core::query::{self, ListQuery, Lit, Meta, SortKey, Target};
use trellis_core::{CompiledForm, publish};
use trellis_store::{Job, JobError};
use uuid::Uuid;

use crate::forms::MissingField;
use crate::imports::JobView;
use crate::sweep::SYSTEM_ACTOR;
use crate::{Actor, Engine, EngineError, Result};

/// The `kind` of a backfill job.
pub const KIND: &str = "backfill";

/// Records per transaction.
pub const BATCH: u32 = 500;

/// What a backfill fills, as stored in the job's `options`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillOptions {
    /// The version whose defaults these are.
    pub version: i64,
    /// Field → the value filled into records without one.
    pub defaults: Map<String, Value>,
    /// Records per transaction.
    pub batch: u32,
}

/// Live records blank in any of `fields`, as a list filter of `form`.
fn blank_in_any(form: &CompiledForm, fields: &[&String]) -> Result<query::Filter> {
    let any: Vec<Value> = fields.iter().map(|f| json!({ f.as_str(): {"_null": true} })).collect();
    Ok(query::parse_filter(form, &json!({"_or": any}))?)
}

fn position(job: &Job) -> Option<Uuid> {
    job.summary.get("after").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
}

impl Engine {
    /// A backfill job (not yet stored) for the fields of `missing`, with the
    /// defaults `candidate` gives them; `total` is how many live records lack
    /// a value in any of them now.
    pub(crate) async fn backfill_job(&self, actor: &Actor, candidate: &CompiledForm, missing: &[MissingField]) -> Result<Job> {
        let defaults: Map<String, Value> = missing.iter().filter_map(|m| publish::default_of(&candidate.def, &m.field).map(|v| (m.field.clone(), v))).collect();
        let fields: Vec<&String> = defaults.keys().collect();
        let total = self.store.count_matching(candidate.key(), Some(&blank_in_any(candidate, &fields)?)).await?;
        let options = BackfillOptions { version: candidate.version, defaults: defaults.clone(), batch: BATCH };
        let now = self.clock.now();
        Ok(Job {
            id: Uuid::now_v7(),
            kind: KIND.into(),
            form: candidate.key().to_owned(),
            // One unfinished backfill per form version.
            fingerprint: format!("{KIND}:{}:{}", candidate.key(), candidate.version),
            options: serde_json::to_value(&options).map_err(|e| EngineError::Internal(e.to_string()))?,
            file_name: String::new(),
            status: "queued".into(),
            total,
            done: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            failed: 0,
            summary: json!({"fields": missing.iter().map(|m| json!({"field": m.field, "title": m.title, "missing": m.missing})).collect::<Vec<_>>()}),
            error: None,
            created_by: actor.id,
            created_at: now,
            updated_at: now,
            finished_at: None,
        })
    }

    /// Runs (or resumes) a backfill job to its end. `done` counts the records
    /// handled, `updated` those filled, `unchanged` those someone filled in
    /// meanwhile, `failed` those the form in force refuses for another reason
    /// (each kept as a job error with its reason).
    pub(crate) async fn run_backfill(&self, job: Job, progress: &(dyn Fn(&JobView) + Sync)) -> Result<JobView> {
        let id = job.id;
        let opts: BackfillOptions = match serde_json::from_value(job.options.clone()) {
            Ok(o) => o,
            Err(e) => return self.fail_job(id, format!("the backfill's options cannot be read: {e}")).await,
        };
        loop {
            let form = match self.form(&job.form).await {
                Ok(f) => f,
                Err(e @ EngineError::Store(_)) => return Err(e),
                Err(e) => return self.fail_job(id, e.to_string()).await,
            };
            // A later version may have dropped a field: what it no longer has is not filled.
            let defaults: Map<String, Value> = opts.defaults.iter().filter(|(f, _)| form.field(f).is_some_and(|x| x.derived.is_none())).map(|(k, v)| (k.clone(), v.clone())).collect();
            let Some(seen) = self.store.job(id).await? else { return Err(EngineError::NotFound(format!("there is no job {id}"))) };
            if matches!(seen.status.as_str(), "done" | "failed") {
                return Ok(seen.into());
            }
            if defaults.is_empty() {
                return self.finish_job(id).await;
            }
            let after = position(&seen);
            let fields: Vec<&String> = defaults.keys().collect();
            let q = ListQuery {
                filter: Some(blank_in_any(&form, &fields)?),
                sort: vec![SortKey { target: Target::Meta(Meta::Id), desc: false }],
                after: after.map(|id| vec![Some(Lit::Id(id))]),
                limit: opts.batch.clamp(1, 1000),
                deleted: false,
            };
            let batch = self.store.list(form.key(), &q).await?;
            let Some(last) = batch.last().map(|r| r.id) else { return self.finish_job(id).await };
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            let Some(mut locked) = tx.lock_job(id).await? else { return Err(EngineError::NotFound(format!("there is no job {id}"))) };
            if position(&locked) != after || matches!(locked.status.as_str(), "done" | "failed") {
                // Another worker moved the job meanwhile: read again from where it is.
                continue;
            }
            let (mut filled, mut kept) = (0i64, 0i64);
            let mut errors = Vec::new();
            for (i, rec) in batch.iter().enumerate() {
                let Some(prev) = tx.record_for_update(form.key(), rec.id).await? else {
                    kept += 1;
                    continue;
                };
                let patch: Map<String, Value> = defaults.iter().filter(|(f, _)| !publish::has_value(&prev.data, f)).map(|(k, v)| (k.clone(), v.clone())).collect();
                if prev.deleted_at.is_some() || patch.is_empty() {
                    kept += 1;
                    continue;
                }
                match self.patch_in(&mut tx, SYSTEM_ACTOR, &form, &prev, &Value::Object(patch), now).await {
                    Ok(_) => filled += 1,
                    // Refused before anything was written: the record stays as it is, with the reason kept.
                    Err(e @ (EngineError::Invalid(_) | EngineError::Rule(_))) => {
                        let message = match &e {
                            EngineError::Invalid(issues) => issues.iter().map(|i| format!("{} {}", i.pointer, i.zh.clone().unwrap_or_else(|| i.message.clone()))).collect::<Vec<_>>().join("; "),
                            other => other.to_string(),
                        };
                        errors.push(JobError { row: locked.done + i as i64 + 1, column: None, field: None, message: format!("{} {message}", prev.id) });
                    }
                    Err(e @ EngineError::Store(_)) => return Err(e),
                    // A unique key taken by the default, say: the whole job cannot go on.
                    Err(e) => {
                        drop(tx);
                        return self.fail_job(id, format!("record {}: {e}", prev.id)).await;
                    }
                }
            }
            if !errors.is_empty() {
                let seq = tx.count_job_errors(id).await?;
                let room = (crate::imports::MAX_ERRORS - seq).max(0) as usize;
                let kept_errors: Vec<JobError> = errors.iter().take(room).cloned().collect();
                if !kept_errors.is_empty() {
                    tx.insert_job_errors(id, seq, &kept_errors).await?;
                }
            }
            locked.status = "running".into();
            locked.done += batch.len() as i64;
            locked.total = locked.total.max(locked.done);
            locked.updated += filled;
            locked.unchanged += kept;
            locked.failed += errors.len() as i64;
            locked.updated_at = now;
            if let Some(obj) = locked.summary.as_object_mut() {
                obj.insert("after".into(), Value::String(last.to_string()));
            }
            tx.save_job(&locked).await?;
            tx.commit().await?;
            self.wrote_in_bulk(filled as usize);
            tracing::info!(job = %id, form = %form.key(), done = locked.done, total = locked.total, "backfill batch committed");
            progress(&locked.into());
        }
    }
}
