//! A list loaded a page at a time, newest first, that follows a topic: the first page is a
//! [`live`] resource (so the server renders it), further pages are appended in the browser
//! as the reader scrolls to the end ([`LoadMore`]), and the topic's events edit the list in
//! place.

use std::sync::Arc;

use hatchery_shared::{
    api::Page,
    realtime::{Envelope, Topic},
};
use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::{
    api,
    live::{self, LiveLoad},
};

/// Where the first page is: a path with its query.
type FirstPage = Arc<dyn Fn() -> String + Send + Sync>;

/// A list loaded page by page. Cheap to copy.
pub struct Paged<T: Send + Sync + 'static> {
    /// The first page, then each further page appended to it, edited by live events.
    list: LiveLoad<Page<T>>,
    /// Why loading a further page failed.
    more_failure: RwSignal<Option<String>>,
    /// Whether a further page is being loaded (one at a time).
    loading_more: RwSignal<bool>,
    first_page: StoredValue<FirstPage>,
    topic: StoredValue<Topic>,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

impl<T> Paged<T>
where
    T: Clone + DeserializeOwned + Send + Sync + 'static,
{
    /// A list whose first page is `GET first_page()`, whose changes `topic` announces; it
    /// loads again from the start whenever `first_page()` changes (a filter, say). Further
    /// pages add `cursor=` to that path.
    pub fn new(topic: Topic, first_page: impl Fn() -> String + Send + Sync + 'static) -> Self {
        let first_page: FirstPage = Arc::new(first_page);
        Self {
            list: live::load(topic.clone(), {
                let first_page = Arc::clone(&first_page);
                move || first_page()
            }),
            more_failure: RwSignal::new(None),
            loading_more: RwSignal::new(false),
            first_page: StoredValue::new(first_page),
            topic: StoredValue::new(topic),
        }
    }

    /// Keeps the list current with its topic for as long as the calling component lives:
    /// `on_event` applies each event (with [`Self::prepend`], [`Self::replace`],
    /// [`Self::remove`]); see [`live::follow`].
    pub fn follow(&self, on_event: impl Fn(&Envelope) + 'static) {
        live::follow(self.list, self.topic.get_value(), on_event);
    }

    /// The items so far, `None` until the first page has come (tracked; read it inside
    /// `<Suspense>` or `<Transition>`).
    pub fn items(&self) -> Option<Vec<T>> {
        live::state(self.list).map(|page| page.map(|page| page.items).unwrap_or_default())
    }

    /// Whether a further page exists (tracked).
    pub fn has_more(&self) -> bool {
        self.next_cursor().is_some()
    }

    /// The cursor of the next page, `None` on the last (tracked).
    fn next_cursor(&self) -> Option<String> {
        self.list.with(|list| match list {
            Some(Ok(live)) => live.state.next_cursor.clone(),
            _ => None,
        })
    }

    /// Why the list, or its last further page, could not be loaded (tracked).
    pub fn failure(&self) -> Option<String> {
        self.list.failure().or_else(|| self.more_failure.get())
    }

    /// Puts `item` first, unless an item with the same `key` is already listed (a new item
    /// announced live).
    pub fn prepend<K: PartialEq>(&self, item: &T, key: impl Fn(&T) -> K) {
        self.edit(|items| {
            if !items.iter().any(|listed| key(listed) == key(item)) {
                items.insert(0, item.clone());
            }
        });
    }

    /// Replaces the listed item with the same `key` as `item` (a change announced live).
    pub fn replace<K: PartialEq>(&self, item: &T, key: impl Fn(&T) -> K) {
        self.edit(|items| {
            if let Some(slot) = items.iter_mut().find(|listed| key(listed) == key(item)) {
                *slot = item.clone();
            }
        });
    }

    /// Removes the items `remove` picks (a deletion announced live, or done here).
    pub fn remove(&self, remove: impl Fn(&T) -> bool) {
        self.edit(|items| items.retain(|item| !remove(item)));
    }

    /// Loads the first page again, replacing the items.
    pub fn reload(&self) {
        self.more_failure.set(None);
        self.list.refetch();
    }

    /// Loads the next page and appends it to the items, unless one is loading already.
    pub fn load_more(&self) {
        if self.loading_more.get_untracked() {
            return;
        }
        let Some(cursor) = untrack(|| self.next_cursor()) else {
            return;
        };
        let first_page = self
            .first_page
            .with_value(|first_page| untrack(|| first_page()));
        let path = api::page_after(&first_page, &cursor);
        let (list, more_failure, loading_more) = (self.list, self.more_failure, self.loading_more);
        loading_more.set(true);
        leptos::task::spawn_local(async move {
            let loaded = api::get::<Page<T>>(&path).await;
            loading_more.set(false);
            match loaded {
                Ok(more) => {
                    more_failure.set(None);
                    live::edit(list, |page| {
                        page.items.extend(more.items);
                        page.next_cursor = more.next_cursor;
                    });
                }
                Err(failure) => more_failure.set(Some(failure.message)),
            }
        });
    }

    fn edit(&self, edit: impl FnOnce(&mut Vec<T>)) {
        live::edit(self.list, |page| edit(&mut page.items));
    }
}

/// The end of a [`Paged`] list: a "Load more" button (for keyboards, and to try again after
/// a page failed) that also presses itself when it scrolls into view, so that reading on
/// loads the next page. Gone on the last page.
#[component]
pub fn LoadMore<T>(
    /// The list whose next page it loads.
    records: Paged<T>,
) -> impl IntoView
where
    T: Clone + DeserializeOwned + Send + Sync + 'static,
{
    let button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move || {
        // Observed again after each page: the first report says whether the end is still
        // in view (a page too short to fill the screen), and then the next one loads too.
        records.next_cursor();
        if let Some(button) = button.get() {
            let watch = in_view::Watch::new(&button, move || records.load_more());
            on_cleanup(move || watch.take().stop());
        }
    });
    view! {
        <Show when=move || records.has_more()>
            <button class="button load-more" node_ref=button on:click=move |_| records.load_more()>
                "Load more"
            </button>
        </Show>
    }
}

/// Telling when an element scrolls into view (the browser's `IntersectionObserver`).
#[cfg(feature = "hydrate")]
mod in_view {
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

    /// How far below the window an element counts as in view: the next page starts loading
    /// a little before the end is reached.
    const AHEAD: &str = "0px 0px 400px 0px";

    /// A watch on one element, with the callback the browser calls.
    pub struct Watch {
        observer: IntersectionObserver,
        _report: Closure<dyn Fn(Vec<IntersectionObserverEntry>)>,
    }

    impl Watch {
        /// Calls `in_view` whenever `element` comes into view, and once at the start if it
        /// is, until [`Watch::stop`].
        pub fn new(element: &web_sys::Element, in_view: impl Fn() + 'static) -> SendWrapper<Self> {
            let report = Closure::<dyn Fn(Vec<IntersectionObserverEntry>)>::new(
                move |entries: Vec<IntersectionObserverEntry>| {
                    if entries
                        .iter()
                        .any(IntersectionObserverEntry::is_intersecting)
                    {
                        in_view();
                    }
                },
            );
            let options = IntersectionObserverInit::new();
            options.set_root_margin(AHEAD);
            let observer =
                IntersectionObserver::new_with_options(report.as_ref().unchecked_ref(), &options)
                    .expect("the browser has IntersectionObserver");
            observer.observe(element);
            SendWrapper::new(Self {
                observer,
                _report: report,
            })
        }

        /// Stops watching; the callback goes with `self`.
        pub fn stop(self) {
            self.observer.disconnect();
        }
    }
}
