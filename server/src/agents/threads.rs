//! An agent's chat threads: created, renamed and deleted through the Agents service, so
//! that a thread's title is checked in one place and deleting it stops its replies first.

use hatchery_shared::api::{audit::AuditAction, threads::ThreadKind};

use super::{AgentError, Agents};
use crate::store::{Actor, AgentRow, Audit, ThreadRow};

/// The longest thread title, in characters.
const MAX_TITLE_CHARS: usize = 200;

impl Agents {
    /// A new chat thread of `agent`, titled `title` ("New chat" if none), as `actor` asks.
    pub async fn create_thread(
        &self,
        actor: &Actor,
        agent: &AgentRow,
        title: Option<String>,
    ) -> Result<ThreadRow, AgentError> {
        let title = checked_title(title.unwrap_or_else(|| "New chat".into()))?;
        self.store
            .create_thread(
                &agent.id,
                &title,
                ThreadKind::Chat,
                &Audit::new(
                    actor,
                    AuditAction::ThreadCreated,
                    format!("titled {title:?}"),
                ),
            )
            .await?
            .ok_or_else(|| AgentError::NotFound(agent.id.clone()))
    }

    /// Renames `thread` to `title`, as `actor` asks; answers the thread as it now is.
    pub async fn rename_thread(
        &self,
        actor: &Actor,
        thread: &ThreadRow,
        title: String,
    ) -> Result<ThreadRow, AgentError> {
        let title = checked_title(title)?;
        let audit = Audit::new(actor, AuditAction::ThreadRenamed, format!("to {title:?}"));
        self.store.rename_thread(&thread.id, &title, &audit).await?;
        self.store
            .thread(&thread.id)
            .await?
            .ok_or_else(|| AgentError::ThreadNotFound(thread.id.clone()))
    }

    /// Deletes `thread` and its messages, as `actor` asks; a reply in progress stops first.
    pub async fn delete_thread(&self, actor: &Actor, thread: &ThreadRow) -> Result<(), AgentError> {
        self.runner.cancel_runs_of(None, Some(&thread.id));
        let audit = Audit::new(
            actor,
            AuditAction::ThreadDeleted,
            format!("titled {:?}", thread.title),
        );
        if self.store.delete_thread(&thread.id, &audit).await? {
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
