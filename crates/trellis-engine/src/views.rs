//! Saved list views: a user's named filters, sort and columns for a form,
//! kept on the server so they follow the user to any browser; a shared one
//! is offered to their team.

use trellis_core::Issue;
use trellis_store::SavedView;
use uuid::Uuid;

use crate::{Actor, Engine, EngineError, Result, Role};

/// Longest view name, in characters.
pub const MAX_NAME: usize = 50;
/// Largest view, as JSON.
pub const MAX_CONFIG: usize = 16 * 1024;

impl Engine {
    /// The views of `form` offered to `actor`: theirs, and their team's shared ones.
    pub async fn saved_views(&self, actor: &Actor, form: &str) -> Result<Vec<SavedView>> {
        let compiled = self.form(form).await?;
        let manager = self.store.find_user(&actor.id.to_string()).await?.and_then(|u| u.manager);
        Ok(self.store.saved_views(compiled.key(), actor.id, manager).await?)
    }

    /// Saves a view of `form` for `actor` (the same name again replaces theirs).
    pub async fn save_view(&self, actor: &Actor, form: &str, name: &str, config: serde_json::Value, shared: bool) -> Result<SavedView> {
        let compiled = self.form(form).await?;
        let name = name.trim();
        let mut issues = Vec::new();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            issues.push(Issue::new("/name", "maxLength", format!("a view's name has 1 to {MAX_NAME} characters")).zh(format!("视图名称要有 1 到 {MAX_NAME} 个字")));
        }
        if !config.is_object() {
            issues.push(Issue::new("/config", "type", "a view's config is a JSON object").zh("视图的设置应是一个对象"));
        } else if config.to_string().len() > MAX_CONFIG {
            issues.push(Issue::new("/config", "maxLength", format!("a view's config has at most {MAX_CONFIG} bytes")).zh("视图的设置太大"));
        }
        if !issues.is_empty() {
            return Err(EngineError::Invalid(issues));
        }
        let now = self.clock.now();
        let v = SavedView { id: Uuid::now_v7(), user_id: actor.id, form: compiled.key().to_owned(), name: name.to_owned(), config, shared, created_at: now, updated_at: now };
        Ok(self.store.save_view(&v).await?)
    }

    /// Deletes a view: its owner's, or any for an admin.
    pub async fn delete_view(&self, actor: &Actor, id: Uuid) -> Result<()> {
        let v = self.store.saved_view(id).await?.filter(|v| v.user_id == actor.id || actor.role == Role::Admin);
        let Some(v) = v else { return Err(EngineError::NotFound(format!("there is no view {id} of yours"))) };
        self.store.delete_view(v.id).await?;
        Ok(())
    }
}
