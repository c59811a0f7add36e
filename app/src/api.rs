//! Calls to Hatchery's REST API, with its error body turned into a [`Failure`] a form can
//! show (a message, and a message per field), and [`load`]: a page's data, loaded while the
//! server renders the page and handed to the browser with the HTML.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use gloo_net::http::{Method, RequestBuilder, Response};
use hatchery_shared::api::{ErrorBody, Page};
use leptos::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

/// Why a call failed, as the interface shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status (0 when the server did not answer).
    pub status: u16,
    /// A sentence for the person.
    pub message: String,
    /// What is wrong with each field, for forms.
    pub fields: BTreeMap<String, String>,
}

impl Failure {
    /// The error about `field`, if any.
    pub fn field(&self, field: &str) -> Option<String> {
        self.fields.get(field).cloned()
    }

    fn unreachable(err: impl std::fmt::Display) -> Self {
        Self {
            status: 0,
            message: format!("the server did not answer: {err}"),
            fields: BTreeMap::new(),
        }
    }
}

/// A page's data: the JSON answer to `GET path()`, loaded again whenever `path()` changes
/// and on [`Load::refetch`] (see [`load_with`]).
pub fn load<T>(path: impl Fn() -> String + Send + Sync + 'static) -> Load<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    load_with(path, |path| get::<T>(&path))
}

/// What `fetch(source())` answers, loaded again whenever `source()` changes and on
/// [`Load::refetch`]. Read it inside `<Suspense>` or `<Transition>`: the server waits for it
/// before it sends the page. The browser does not load again what the page came with: each
/// `GET` the server answered while rendering travels with the HTML (see [`PAGE_DATA_ID`]),
/// and the same `GET` made while the page hydrates is answered from it at once.
pub fn load_with<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Load<T>
where
    S: Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    let reloads = RwSignal::new(0_u64);
    let flags = Arc::new(LoadFlags::default());
    let fetch = Arc::new(fetch);
    let value = AsyncDerived::new({
        let flags = Arc::clone(&flags);
        move || {
            reloads.track();
            let source = source();
            let run = flags.runs.fetch_add(1, Ordering::Relaxed) + 1;
            flags.loading.store(true, Ordering::Relaxed);
            flags.missed.store(false, Ordering::Relaxed);
            let first = fetch(source.clone());
            let (fetch, flags) = (Arc::clone(&fetch), Arc::clone(&flags));
            async move {
                let mut loaded = first.await;
                // A change announced while loading may be missing from what loaded.
                for _ in 0..MAX_LOADS_AFTER_A_CHANGE {
                    if !flags.missed.swap(false, Ordering::Relaxed) {
                        break;
                    }
                    loaded = fetch(source.clone()).await;
                }
                // An older run ending while a newer one loads leaves it loading.
                if flags.runs.load(Ordering::Relaxed) == run {
                    flags.loading.store(false, Ordering::Relaxed);
                }
                loaded
            }
        }
    });
    Load {
        value,
        reloads,
        flags: StoredValue::new(flags),
    }
}

/// How often a load starts again because changes were announced while it ran, at most.
const MAX_LOADS_AFTER_A_CHANGE: usize = 3;

/// Whether a [`Load`] is loading, and whether a change was announced meanwhile.
#[derive(Debug, Default)]
struct LoadFlags {
    /// How many loads have started; the latest one's result is the one kept.
    runs: AtomicU64,
    loading: AtomicBool,
    missed: AtomicBool,
}

/// Data loaded by [`load`]: `None` while it loads. Cheap to copy.
#[derive(Debug)]
pub struct Load<T: Send + Sync + 'static> {
    value: AsyncDerived<Result<T, Failure>>,
    reloads: RwSignal<u64>,
    flags: StoredValue<Arc<LoadFlags>>,
}

impl<T: Send + Sync + 'static> Clone for Load<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Load<T> {}

impl<T: Send + Sync + 'static> Load<T> {
    /// The data, or why it could not be loaded; `None` while it loads (tracked).
    pub fn get(&self) -> Option<Result<T, Failure>>
    where
        T: Clone,
    {
        self.value.get()
    }

    /// Applies `read` to what [`Self::get`] would return, without cloning it (tracked).
    pub fn with<R>(&self, read: impl FnOnce(&Option<Result<T, Failure>>) -> R) -> R {
        self.value.with(read)
    }

    /// [`Self::with`], untracked.
    pub fn with_untracked<R>(&self, read: impl FnOnce(&Option<Result<T, Failure>>) -> R) -> R {
        self.value.with_untracked(read)
    }

    /// Why the data could not be loaded, if it could not (tracked).
    pub fn failure(&self) -> Option<String> {
        self.value.with(|loaded| match loaded {
            Some(Err(failure)) => Some(failure.message.clone()),
            _ => None,
        })
    }

    /// Loads the data again.
    pub fn refetch(&self) {
        self.reloads.update(|n| *n += 1);
    }

    /// Changes the data in place (a change made here, or announced live); does nothing
    /// after it failed. While it loads, the load starts again instead once it ends: writing
    /// then would throw away what is loading, and what loads may predate the change.
    pub fn edit(&self, edit: impl FnOnce(&mut T)) {
        let loading = self
            .flags
            .with_value(|flags| flags.loading.load(Ordering::Relaxed));
        if loading {
            self.flags
                .with_value(|flags| flags.missed.store(true, Ordering::Relaxed));
            return;
        }
        self.value.update(|loaded| {
            if let Some(Ok(value)) = loaded {
                edit(value);
            }
        });
    }
}

/// `GET path?query`, with each `(name, value)` of `query` encoded; its JSON body on
/// success.
pub fn get_with<T: DeserializeOwned + 'static>(
    path: &str,
    query: &[(&str, &str)],
) -> impl Future<Output = Result<T, Failure>> + Send + 'static + use<T> {
    get(&with_query(path, query))
}

/// `path?query`, with each `(name, value)` of `query` encoded.
pub fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    if encoded.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{encoded}")
    }
}

/// `GET path`, its JSON body on success.
pub fn get<T: DeserializeOwned + 'static>(
    path: &str,
) -> impl Future<Output = Result<T, Failure>> + Send + 'static + use<T> {
    Client::current().get(path.to_owned())
}

/// Every page of `GET first` (a list's path with its query), its items in order.
pub fn get_all<T: DeserializeOwned + Send + 'static>(
    first: &str,
) -> impl Future<Output = Result<Vec<T>, Failure>> + Send + 'static + use<T> {
    let client = Client::current();
    let first = first.to_owned();
    async move {
        let mut all = Vec::new();
        let mut path = first.clone();
        loop {
            let page = client.get::<Page<T>>(path).await?;
            all.extend(page.items);
            let Some(cursor) = page.next_cursor else {
                return Ok(all);
            };
            path = page_after(&first, &cursor);
        }
    }
}

/// The page of the list at `first` (a path with its query) that `cursor` points to.
pub fn page_after(first: &str, cursor: &str) -> String {
    let separator = if first.contains('?') { '&' } else { '?' };
    let cursor: String = form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
    format!("{first}{separator}cursor={cursor}")
}

/// Where a `GET` goes: over HTTP in the browser; through [`ServerApi`] while the server
/// renders a page.
#[derive(Clone)]
struct Client {
    #[cfg(not(feature = "hydrate"))]
    server: Option<ServerApi>,
}

impl Client {
    /// The client for the current page (reads the context, so call it synchronously).
    fn current() -> Self {
        Self {
            #[cfg(not(feature = "hydrate"))]
            server: use_context::<ServerApi>(),
        }
    }

    #[cfg(feature = "hydrate")]
    fn get<T: DeserializeOwned + 'static>(
        &self,
        path: String,
    ) -> impl Future<Output = Result<T, Failure>> + Send + 'static + use<T> {
        let came_with_page = page_data::answer(&path);
        on_page(async move {
            if let Some((status, body)) = came_with_page {
                return decode(status, body.as_bytes());
            }
            let response = RequestBuilder::new(&path)
                .send()
                .await
                .map_err(Failure::unreachable)?;
            read(response).await
        })
    }

    #[cfg(not(feature = "hydrate"))]
    fn get<T: DeserializeOwned + 'static>(
        &self,
        path: String,
    ) -> impl Future<Output = Result<T, Failure>> + Send + 'static + use<T> {
        let server = self.server.clone();
        async move {
            let Some(server) = server else {
                return Err(Failure::unreachable("no API to call while rendering"));
            };
            let (status, body) = (server.0)(path).await;
            decode(status, &body)
        }
    }
}

/// The id of the `<script type="application/json">` element in which the server sends, with
/// a page, the answers to the `GET`s it made while rendering it: an object from each path
/// to `[status, body]`.
pub const PAGE_DATA_ID: &str = "hatchery-page-data";

/// Call once the page has hydrated: from then on, every `GET` asks the server.
pub fn page_hydrated() {
    #[cfg(feature = "hydrate")]
    page_data::forget();
}

/// The answers a page came with (see [`PAGE_DATA_ID`]), used while it hydrates.
#[cfg(feature = "hydrate")]
mod page_data {
    use std::{cell::RefCell, collections::HashMap};

    use leptos::prelude::document;

    type Answers = HashMap<String, (u16, String)>;

    thread_local! {
        /// Read from the page on first use; emptied once the page has hydrated.
        static ANSWERS: RefCell<Option<Answers>> = const { RefCell::new(None) };
    }

    /// The answer the page came with to `GET path`, while it hydrates.
    pub fn answer(path: &str) -> Option<(u16, String)> {
        ANSWERS.with(|answers| {
            answers
                .borrow_mut()
                .get_or_insert_with(from_document)
                .get(path)
                .cloned()
        })
    }

    /// Forgets the answers: they were true when the page was rendered.
    pub fn forget() {
        ANSWERS.with(|answers| *answers.borrow_mut() = Some(Answers::new()));
    }

    fn from_document() -> Answers {
        document()
            .get_element_by_id(super::PAGE_DATA_ID)
            .and_then(|element| element.text_content())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }
}

/// What [`ServerApi`] answers: the status and the body.
#[cfg(not(feature = "hydrate"))]
pub type ServerAnswer = std::pin::Pin<Box<dyn Future<Output = (u16, Vec<u8>)> + Send>>;

/// The server's own REST API as pages call it while the server renders them: `GET path` on
/// behalf of the caller whose page it is. The server provides one through context for each
/// page it renders, so that a page's data comes from the same handlers as over HTTP.
#[cfg(not(feature = "hydrate"))]
#[derive(Clone)]
pub struct ServerApi(Arc<dyn Fn(String) -> ServerAnswer + Send + Sync>);

#[cfg(not(feature = "hydrate"))]
impl ServerApi {
    /// The API that answers `GET path` with `get(path)`.
    pub fn new(get: impl Fn(String) -> ServerAnswer + Send + Sync + 'static) -> Self {
        Self(Arc::new(get))
    }
}

/// `method path` with `body` as JSON, the answer's JSON body on success (from the
/// browser: actions people take).
pub fn send<T: DeserializeOwned + 'static, B: Serialize>(
    method: Method,
    path: &str,
    body: &B,
) -> impl Future<Output = Result<T, Failure>> + Send + 'static + use<T, B> {
    let path = path.to_owned();
    let body = serde_json::to_string(body);
    on_page(async move {
        let body = body.map_err(Failure::unreachable)?;
        let response = RequestBuilder::new(&path)
            .method(method)
            .header("Content-Type", "application/json")
            .body(body)
            .map_err(Failure::unreachable)?
            .send()
            .await
            .map_err(Failure::unreachable)?;
        read(response).await
    })
}

/// `method path` without a body, for answers without one (204), from the browser.
pub fn call(
    method: Method,
    path: &str,
) -> impl Future<Output = Result<(), Failure>> + Send + 'static + use<> {
    let path = path.to_owned();
    on_page(async move {
        let response = RequestBuilder::new(&path)
            .method(method)
            .send()
            .await
            .map_err(Failure::unreachable)?;
        if response.ok() {
            Ok(())
        } else {
            read::<()>(response).await
        }
    })
}

/// `future` as a `Send` future, for actions: browser futures are not `Send`, but they only
/// ever run (and are dropped) on the page's one thread. The server never runs them.
pub fn on_page<F: Future>(future: F) -> send_wrapper::SendWrapper<F> {
    send_wrapper::SendWrapper::new(future)
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, Failure> {
    let status = response.status();
    let body = response.binary().await.map_err(Failure::unreachable)?;
    decode(status, &body)
}

/// The JSON body of a successful answer (an empty one, as of a 204, reads as `null`, which
/// `()` takes), or the [`Failure`] its error body describes.
fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, Failure> {
    if (200..300).contains(&status) {
        let body = if body.is_empty() { b"null" } else { body };
        return serde_json::from_slice(body).map_err(|err| Failure {
            status,
            message: format!("unexpected answer from the server: {err}"),
            fields: BTreeMap::new(),
        });
    }
    Err(match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => Failure {
            status,
            message: body.error.message,
            fields: body.error.fields,
        },
        Err(_) => Failure {
            status,
            message: format!("the server answered HTTP {status}"),
            fields: BTreeMap::new(),
        },
    })
}

#[cfg(all(test, not(target_family = "wasm")))]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use leptos::prelude::*;
    use tokio::sync::Notify;

    use super::{Failure, Load, load_with};

    fn loaded(load: Load<Vec<&'static str>>) -> Option<Result<Vec<&'static str>, Failure>> {
        load.with_untracked(Clone::clone)
    }

    #[tokio::test]
    async fn a_change_announced_while_loading_loads_again_and_one_after_applies_in_place() {
        let _ = any_spawner::Executor::init_tokio();
        let owner = Owner::new();
        owner.set();
        let fetches = Arc::new(AtomicUsize::new(0));
        let first_may_end = Arc::new(Notify::new());
        let load = load_with(|| (), {
            let (fetches, first_may_end) = (Arc::clone(&fetches), Arc::clone(&first_may_end));
            move |()| {
                let fetch = fetches.fetch_add(1, Ordering::SeqCst) + 1;
                let first_may_end = Arc::clone(&first_may_end);
                async move {
                    if fetch == 1 {
                        // Read before "b" was added, answered after it was announced.
                        first_may_end.notified().await;
                        Ok(vec!["a"])
                    } else {
                        Ok(vec!["a", "b"])
                    }
                }
            }
        });

        load.edit(|items| items.push("b"));
        first_may_end.notify_one();
        for _ in 0..200 {
            if loaded(load).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(loaded(load), Some(Ok(vec!["a", "b"])));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        load.edit(|items| items.push("c"));
        assert_eq!(loaded(load), Some(Ok(vec!["a", "b", "c"])));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}
