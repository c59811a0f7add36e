//! A list loaded a page at a time, newest first ("Load more"): the items so far, the cursor
//! of the next page, the last error, and whether the first page has come.

use std::future::Future;

use hatchery_shared::api::Page;
use leptos::prelude::*;

use crate::api::Failure;

/// What one load brought: the cursor it was for, and the page.
type Loaded<T> = (Option<String>, Result<Page<T>, Failure>);

/// A list loaded page by page. Cheap to copy.
pub struct Paged<T: Send + Sync + 'static> {
    /// The items loaded so far, in order.
    pub items: RwSignal<Vec<T>>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: RwSignal<Option<String>>,
    /// Why the last load failed.
    pub failure: RwSignal<Option<String>>,
    /// Whether the first page has come (or failed).
    pub loaded_once: RwSignal<bool>,
    load: Action<Option<String>, Loaded<T>>,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

impl<T: Clone + Send + Sync + 'static> Paged<T> {
    /// A list whose pages `fetch(cursor)` loads; the first page loads at once.
    pub fn new<F, Fut>(fetch: F) -> Self
    where
        F: Fn(Option<String>) -> Fut + 'static,
        Fut: Future<Output = Result<Page<T>, Failure>> + 'static,
    {
        let paged = Self {
            items: RwSignal::new(Vec::new()),
            next_cursor: RwSignal::new(None),
            failure: RwSignal::new(None),
            loaded_once: RwSignal::new(false),
            load: Action::new_local(move |cursor: &Option<String>| {
                let cursor = cursor.clone();
                let page = fetch(cursor.clone());
                async move { (cursor, page.await) }
            }),
        };
        Effect::new(move || {
            paged.reload();
        });
        Effect::new(move || {
            let Some((cursor, result)) = paged.load.value().get() else {
                return;
            };
            match result {
                Ok(page) => {
                    if cursor.is_none() {
                        paged.items.set(page.items);
                    } else {
                        paged.items.update(|list| list.extend(page.items));
                    }
                    paged.next_cursor.set(page.next_cursor);
                    paged.failure.set(None);
                }
                Err(err) => paged.failure.set(Some(err.message)),
            }
            paged.loaded_once.set(true);
        });
        paged
    }

    /// Puts `item` first, unless an item with the same `key` is already listed (a new item
    /// announced live).
    pub fn prepend<K: PartialEq>(&self, item: &T, key: impl Fn(&T) -> K) {
        self.items.update(|list| {
            if !list.iter().any(|listed| key(listed) == key(item)) {
                list.insert(0, item.clone());
            }
        });
    }

    /// Replaces the listed item with the same `key` as `item` (a change announced live).
    pub fn replace<K: PartialEq>(&self, item: &T, key: impl Fn(&T) -> K) {
        self.items.update(|list| {
            if let Some(slot) = list.iter_mut().find(|listed| key(listed) == key(item)) {
                *slot = item.clone();
            }
        });
    }

    /// Loads the first page again, replacing the items.
    pub fn reload(&self) {
        self.load.dispatch(None);
    }

    /// Loads the next page after the items so far.
    pub fn load_more(&self) {
        self.load.dispatch(self.next_cursor.get_untracked());
    }
}
