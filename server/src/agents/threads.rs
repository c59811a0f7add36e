//! An agent's chat threads: created, renamed and deleted through the Agents service, so
//! that a thread's title is checked in one place and deleting it stops its replies first.

use hatchery_shared::api::threads::ThreadKind;

use super::{AgentError, Agents};
use crate::store::{AgentRow, ThreadRow};

/// The longest thread title, in characters.
const MAX_TITLE_CHARS: usize = 200;

impl Agents {
    /// A new chat thread of `agent`, titled `title` ("New chat" if none).
    pub async fn create_thread(
        &self,
        agent: &AgentRow,
        title: Option<String>,
    ) -> Result<ThreadRow, AgentError> {
        let title = checked_title(title.unwrap_or_else(|| "New chat".into()))?;
        self.store
            .create_thread(&agent.id, &title, ThreadKind::Chat)
            .await?
            .ok_or_else(|| AgentError::NotFound(agent.id.clone()))
    }

    /// Renames `thread` to `title`; answers the thread as it now is.
    pub async fn rename_thread(
        &self,
        thread: &ThreadRow,
        title: String,
    ) -> Result<ThreadRow, AgentError> {
        let title = checked_title(title)?;
        self.store.rename_thread(&thread.id, &title).await?;
        self.store
            .thread(&thread.id)
            .await?
            .ok_or_else(|| AgentError::ThreadNotFound(thread.id.clone()))
    }

    /// Deletes `thread` and its messages; a reply in progress stops first.
    pub async fn delete_thread(&self, thread: &ThreadRow) -> Result<(), AgentError> {
        self.runner.cancel_runs_of(None, Some(&thread.id));
        if self.store.delete_thread(&thread.id).await? {
            Ok(())
        } else {
            Err(AgentError::ThreadNotFound(thread.id.clone()))
        }
    }
}

/// `title` trimmed, or the `title` field's error.
fn checked_title(title: String) -> Result<String, AgentError> {
    let title = title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(AgentError::invalid(
            "title",
            &format!("enter a title of 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(title)
}
