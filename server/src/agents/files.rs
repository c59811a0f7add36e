//! Agents kept as files (`HATCHERY_AGENTS_DIR`): each `*.md` file in the directory is an
//! agent owned by the first admin, in the format of [`super::file_format`]. The files are
//! read when the server starts, again when the directory watcher reports a change
//! (debounced) or the periodic rescan finds a new modification time, and checked once more
//! just before each run starts ([`AgentFiles`] is the runner's [`Freshen`]), so that an
//! edit takes effect on the next turn without a restart.
//!
//! A file that does not load leaves the agent's previous version in force and records why
//! (shown with the agent, and logged); a deleted file disables its agent, whose history
//! stays.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use futures_util::future::BoxFuture;
use hatchery_shared::{
    api::{
        FieldErrors,
        agents::{Agent, AgentStatus},
        audit::AuditAction,
        rooms::MemberRole,
    },
    realtime::Message,
};
use notify_debouncer_mini::{new_debouncer, notify::RecursiveMode};
use tokio::sync::{Mutex, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{announce, change, event_view, file_format};
use crate::{
    realtime::Realtime,
    runner::Freshen,
    scheduler::Scheduler,
    store::{AgentChange, AgentFileRow, AgentRow, Audit, Store},
};

/// How long the watcher waits for a burst of changes to settle before a rescan.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// How often the directory is rescanned whatever the watcher says, for changes it missed
/// (and for files found before any admin existed to own them).
const RESCAN: Duration = Duration::from_secs(10);
/// The most files read from the directory; the rest are ignored, with a warning.
const MAX_FILES: usize = 1_000;
/// The most bytes read of a file; a larger file does not load.
const MAX_FILE_BYTES: u64 = 512 * 1024;
/// What a deleted file's agent shows.
const DELETED: &str = "the file was deleted: the agent is disabled until the file is back";

/// The agents of one directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AgentFiles {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    store: Store,
    realtime: Realtime,
    scheduler: Scheduler,
    /// The model of an agent whose file names none.
    default_model: String,
    /// Held while the directory is read, so that two readings never write the same agent
    /// at once; it holds the files that do not load and have no agent yet, with the
    /// modification time at which they failed, so they are reported once per change.
    failed: Mutex<HashMap<PathBuf, i64>>,
}

impl AgentFiles {
    /// The agents of `dir`, stored in `store`, announced on `realtime` and planned by
    /// `scheduler`; `default_model` for files that name no model.
    pub fn new(
        dir: PathBuf,
        store: Store,
        realtime: Realtime,
        scheduler: Scheduler,
        default_model: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                store,
                realtime,
                scheduler,
                default_model,
                failed: Mutex::default(),
            }),
        }
    }

    /// Starts the tracked task that reads the directory now, then on every change the
    /// watcher reports and every [`RESCAN`], until `stop`. Without a working watcher (an
    /// error is logged) the rescans alone keep the agents current.
    pub fn watch(&self, tasks: &TaskTracker, stop: CancellationToken) {
        let files = self.clone();
        tasks.spawn(async move {
            let (changed, mut changes) = mpsc::channel::<()>(1);
            // Dropped when this task ends, which stops the watcher's thread.
            let _watcher = new_debouncer(DEBOUNCE, move |_| {
                // A full channel already holds a rescan to come.
                let _ = changed.try_send(());
            })
            .and_then(|mut debouncer| {
                debouncer
                    .watcher()
                    .watch(&files.inner.dir, RecursiveMode::NonRecursive)
                    .map(|()| debouncer)
            })
            .inspect_err(|err| {
                tracing::error!(dir = %files.inner.dir.display(), error = %err, "cannot watch the agents directory: changes are picked up by the rescan every 10 s");
            });
            let mut rescan = tokio::time::interval(RESCAN);
            rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    Some(()) = changes.recv() => {}
                    _ = rescan.tick() => {}
                }
                files.sync().await;
            }
        });
    }

    /// Reads every file of the directory whose modification time is not the one last read,
    /// and disables the agents whose file is gone.
    pub async fn sync(&self) {
        let mut failed = self.inner.failed.lock().await;
        let known = match self.inner.store.file_agents().await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::error!(error = %err, "cannot load the agents kept as files");
                return;
            }
        };
        let on_disk = match list(&self.inner.dir).await {
            Ok(files) => files,
            Err(err) => {
                tracing::error!(dir = %self.inner.dir.display(), error = %err, "cannot read the agents directory");
                return;
            }
        };
        failed.retain(|path, _| on_disk.contains_key(path));
        let by_path: HashMap<&str, &AgentRow> = known
            .iter()
            .filter_map(|row| Some((row.file.as_ref()?.path.as_str(), row)))
            .collect();
        for (path, &modified_ns) in &on_disk {
            let current = by_path.get(path.display().to_string().as_str()).copied();
            let unchanged = match current.and_then(|row| row.file.as_ref()) {
                Some(file) => {
                    file.modified_ns == modified_ns && file.error.as_deref() != Some(DELETED)
                }
                None => failed.get(path) == Some(&modified_ns),
            };
            if !unchanged {
                self.read(path, modified_ns, current, &mut failed).await;
            }
        }
        for row in &known {
            let Some(file) = &row.file else { continue };
            if file.error.as_deref() != Some(DELETED)
                && !on_disk.contains_key(Path::new(&file.path))
            {
                tracing::warn!(file = %file.path, agent = %row.id, "an agent's file was deleted: the agent is disabled");
                self.record_error(row, file.modified_ns, DELETED, AgentStatus::Disabled)
                    .await;
            }
        }
    }

    /// Reads the file at `path` (modified at `modified_ns`) into its agent, `current` when
    /// it has one; a file that does not load keeps `current` as it is, with the reason.
    async fn read(
        &self,
        path: &Path,
        modified_ns: i64,
        current: Option<&AgentRow>,
        failed: &mut HashMap<PathBuf, i64>,
    ) {
        let loaded = self.load(path).await;
        let (change, room_role) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "an agent's file does not load: its previous version stays in force");
                match current {
                    Some(row) => {
                        self.record_error(row, modified_ns, &error, row.change.status)
                            .await;
                    }
                    None => {
                        failed.insert(path.to_owned(), modified_ns);
                    }
                }
                return;
            }
        };
        failed.remove(path);
        let owner = match current {
            Some(row) => row.owner_id.clone(),
            None => match self.inner.store.first_admin_id().await {
                Ok(Some(admin)) => admin,
                Ok(None) => {
                    tracing::info!(file = %path.display(), "an agent's file waits for the first admin, who will own it");
                    return;
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot find the admin who owns the agents kept as files");
                    return;
                }
            },
        };
        let file = AgentFileRow {
            path: path.display().to_string(),
            modified_ns,
            error: None,
            room_role,
        };
        let audit = match current {
            Some(row) => Audit::by_system(
                AuditAction::AgentUpdated,
                format!(
                    "{} changed {}",
                    file.path,
                    change::changed_fields(&row.change, &change)
                ),
            ),
            None => Audit::by_system(
                AuditAction::AgentCreated,
                format!("read from {}", file.path),
            ),
        };
        match self
            .inner
            .store
            .write_file_agent(&owner, &change, &file, &audit)
            .await
        {
            Ok(row) => {
                let event = if current.is_some() {
                    Message::AgentUpdated
                } else {
                    Message::AgentCreated
                };
                self.announce(&row, event).await;
            }
            Err(err) => {
                tracing::error!(file = %path.display(), error = %err, "cannot store an agent read from its file");
            }
        }
    }

    /// The settings the file at `path` gives, checked as a create's would be, or why they
    /// cannot be used.
    async fn load(&self, path: &Path) -> Result<(AgentChange, Option<MemberRole>), String> {
        let bytes = tokio::fs::metadata(path)
            .await
            .map_err(|err| format!("cannot read the file: {err}"))?
            .len();
        if bytes > MAX_FILE_BYTES {
            return Err(format!(
                "the file has {bytes} bytes; an agent's file holds at most {MAX_FILE_BYTES}"
            ));
        }
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|err| format!("cannot read the file: {err}"))?;
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let definition = file_format::parse(&text, &stem)?;
        let change = change::new_change(definition.agent, &self.inner.default_model)
            .map_err(|fields| describe(&fields))?;
        Ok((change, definition.room_role))
    }

    /// Records on `row` that its file, as of `modified_ns`, is not in force because of
    /// `error`, with `status`.
    async fn record_error(
        &self,
        row: &AgentRow,
        modified_ns: i64,
        error: &str,
        status: AgentStatus,
    ) {
        match self
            .inner
            .store
            .set_agent_file_error(&row.id, modified_ns, error, status)
            .await
        {
            Ok(Some(row)) => self.announce(&row, Message::AgentUpdated).await,
            Ok(None) => {}
            Err(err) => {
                tracing::error!(agent = %row.id, error = %err, "cannot record why an agent's file does not load");
            }
        }
    }

    /// After `row` was written: the scheduler plans it again and the change is announced.
    async fn announce(&self, row: &AgentRow, event: fn(Agent) -> Message) {
        self.inner.scheduler.agent_changed(&row.id);
        announce(&self.inner.realtime, row, event(event_view(row))).await;
    }
}

impl Freshen for AgentFiles {
    /// `agent` as its file says now: when the file's modification time is not the one last
    /// read (or the file appeared or vanished since), the directory is read again first.
    fn freshen(&self, agent: AgentRow) -> BoxFuture<'_, AgentRow> {
        Box::pin(async move {
            let Some(file) = &agent.file else {
                return agent;
            };
            let deleted = file.error.as_deref() == Some(DELETED);
            let changed = match modified_ns(Path::new(&file.path)).await {
                Some(on_disk) => deleted || on_disk != file.modified_ns,
                None => !deleted,
            };
            if !changed {
                return agent;
            }
            self.sync().await;
            match self.inner.store.agent(&agent.id).await {
                Ok(Some(row)) => row,
                _ => agent,
            }
        })
    }
}

/// The `*.md` files of `dir` (at most [`MAX_FILES`], by name) with their modification
/// times.
async fn list(dir: &Path) -> std::io::Result<HashMap<PathBuf, i64>> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut paths = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "md") {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.len() > MAX_FILES {
        tracing::warn!(dir = %dir.display(), files = paths.len(), "the agents directory holds more than {MAX_FILES} files: the rest are ignored");
        paths.truncate(MAX_FILES);
    }
    let mut files = HashMap::with_capacity(paths.len());
    for path in paths {
        if let Some(modified) = modified_ns(&path).await {
            files.insert(path, modified);
        }
    }
    Ok(files)
}

/// The modification time of the regular file at `path`, in nanoseconds since 1970; `None`
/// when there is no such file.
async fn modified_ns(path: &Path) -> Option<i64> {
    let metadata = tokio::fs::metadata(path).await.ok()?;
    if !metadata.is_file() {
        return None;
    }
    let since_epoch = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    // Also tells apart edits within one second, where file systems keep finer times.
    Some(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
}

/// Field errors in one line, for people: `name: …; model: …`.
fn describe(fields: &FieldErrors) -> String {
    fields
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join("; ")
}
