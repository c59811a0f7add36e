//! A list loaded a page at a time, newest first ("Load more"), that follows a topic: the
//! first page is a [`live`] resource (so the server renders it), further pages are appended
//! in the browser, and the topic's events edit the list in place.

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
        self.list
            .with(|list| matches!(list, Some(Ok(live)) if live.state.next_cursor.is_some()))
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

    /// Loads the next page and appends it to the items.
    pub fn load_more(&self) {
        let cursor = self.list.with_untracked(|list| match list {
            Some(Ok(live)) => live.state.next_cursor.clone(),
            _ => None,
        });
        let Some(cursor) = cursor else {
            return;
        };
        let first_page = self
            .first_page
            .with_value(|first_page| untrack(|| first_page()));
        let path = api::page_after(&first_page, &cursor);
        let (list, more_failure) = (self.list, self.more_failure);
        leptos::task::spawn_local(async move {
            match api::get::<Page<T>>(&path).await {
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
