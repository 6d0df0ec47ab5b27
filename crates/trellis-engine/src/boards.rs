//! A workflow as a board (看板): one column per state, the records a user may
//! read as cards in the column of their running instance, and the
//! transitions between states, so a card dragged from one column to another
//! can name the transition it takes. Moving a card is taking that
//! transition (`Engine::take_transition`), with its guard and roles.

use serde::Serialize;
use trellis_core::query::ListParams;
use trellis_core::Record;
use uuid::Uuid;

use crate::{Actor, Engine, EngineError, Result};

/// Most cards on one board; the newest-changed records come first.
pub const MAX_CARDS: u32 = 1000;

/// The HTTP layer shapes its cards' records as it shapes every record.
#[derive(Debug, Clone)]
pub struct Board {
    pub workflow: String,
    pub title: Option<String>,
    pub form: String,
    pub columns: Vec<Column>,
    pub transitions: Vec<Move>,
    pub cards: Vec<Card>,
    /// More records matched than the board holds.
    pub truncated: bool,
}

/// One state, with how many of the board's cards are in it.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub count: usize,
}

/// A transition as a move between columns (no guard script: only its effect).
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Empty: from any state that is not final.
    pub from: Vec<String>,
    pub to: String,
}

#[derive(Debug, Clone)]
pub struct Card {
    pub instance: Uuid,
    pub state: String,
    pub record: Record,
}

impl Engine {
    /// The board of `workflow` for `actor`: the records of its form they may
    /// read (narrowed by `filter`, at most `limit`), placed by their running instance.
    pub async fn board(&self, actor: &Actor, workflow: &str, filter: Option<&str>, limit: Option<u32>) -> Result<Board> {
        let defs = self.defs().await?;
        let wf = defs.workflows.get(workflow).ok_or_else(|| EngineError::NotFound(format!("there is no workflow '{workflow}'")))?;
        let limit = limit.unwrap_or(500).clamp(1, MAX_CARDS) as usize;
        let form = wf.def.form.clone();
        // Newest-changed first, a page at a time, through the same list (and read scope) as the record list.
        let mut records: Vec<Record> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut truncated = false;
        loop {
            let page = self.list_records(actor, &form, &ListParams { filter, sort: Some("-meta.updated_at"), cursor: cursor.as_deref(), limit: Some(limit.min(500) as u32), deleted: false }).await?;
            records.extend(page.items);
            cursor = page.next_cursor;
            if records.len() >= limit {
                truncated = records.len() > limit || cursor.is_some();
                records.truncate(limit);
                break;
            }
            if cursor.is_none() {
                break;
            }
        }
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        let mut running: std::collections::HashMap<Uuid, (Uuid, String)> =
            self.store.active_instances(workflow, &ids).await?.into_iter().map(|i| (i.record_id, (i.id, i.state))).collect();
        let cards: Vec<Card> = records.into_iter().filter_map(|r| running.remove(&r.id).map(|(instance, state)| Card { instance, state, record: r })).collect();
        let columns = wf
            .states
            .values()
            .map(|s| Column { key: s.key.clone(), title: s.title.clone(), is_final: s.is_final, count: cards.iter().filter(|c| c.state == s.key).count() })
            .collect();
        let transitions = moves(wf);
        Ok(Board { workflow: workflow.to_owned(), title: wf.def.title.clone(), form, columns, transitions, cards, truncated })
    }

    /// The workflows that run on a form's records, for the views that show them: key, title and their moves.
    pub async fn workflows_of(&self, form: &str) -> Result<Vec<(String, Option<String>, Vec<Move>)>> {
        let defs = self.defs().await?;
        Ok(defs.workflows.values().filter(|w| w.def.form == form).map(|w| (w.def.key.clone(), w.def.title.clone(), moves(w))).collect())
    }
}

/// A workflow's transitions as moves between states (no guard script: only where they lead).
fn moves(wf: &trellis_core::workflow::CompiledWorkflow) -> Vec<Move> {
    wf.transitions.iter().map(|t| Move { key: t.key.clone(), title: t.title.clone(), from: t.from.clone(), to: t.to.clone() }).collect()
}
