//! `/logs`: the audit log and, for admins, the system log, as two tabs. The tab and its
//! filters live in the URL (`/logs?tab=system&level=warn&run=…`), so a filtered view can be
//! shared; each row opens to its fields and links to its run, agent, room or request. The
//! System tab can follow new records live (the `logs` topic).

use hatchery_shared::{
    api::{
        accounts::Role,
        audit::{AuditAction, AuditRecord},
        logs::{LogCategory, LogLevel, LogRecord},
    },
    realtime::{Message, Topic},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_query_map},
};
use strum::IntoEnumIterator;

use super::agents::short_time;
use crate::{
    api,
    paged::{LoadMore, Paged},
    session::{SignedIn, use_session},
};

/// The filters of each tab, by query parameter, in the order the form shows them.
const AUDIT_FILTERS: [&str; 4] = ["action", "target_kind", "target_id", "actor"];
const SYSTEM_FILTERS: [&str; 5] = ["level", "category", "text", "run", "request"];

/// `/logs`.
#[component]
pub fn LogsPage() -> impl IntoView {
    view! {
        <Title text="Logs" />
        <SignedIn>
            <h1>"Logs"</h1>
            <Logs />
        </SignedIn>
    }
}

#[component]
fn Logs() -> impl IntoView {
    let query = use_query_map();
    let session = use_session();
    let is_admin = move || session.user().is_some_and(|user| user.role == Role::Admin);
    let system =
        Memo::new(move |_| query.with(|query| query.get("tab").as_deref() == Some("system")));
    view! {
        <nav class="tabs" role="tablist" aria-label="Logs">
            <A
                href="/logs?tab=audit"
                attr:role="tab"
                attr:aria-selected=move || (!system.get()).to_string()
                attr:class=move || if system.get() { "tab" } else { "tab active" }
            >
                "Audit"
            </A>
            {move || is_admin().then(|| view! {
                <A
                    href="/logs?tab=system"
                    attr:role="tab"
                    attr:aria-selected=move || system.get().to_string()
                    attr:class=move || if system.get() { "tab active" } else { "tab" }
                >
                    "System"
                </A>
            })}
        </nav>
        {move || match (system.get(), is_admin()) {
            (false, _) => view! { <AuditTab /> }.into_any(),
            (true, true) => view! { <SystemTab /> }.into_any(),
            (true, false) => view! {
                <p class="empty" role="status">"Only admins can read the system log."</p>
            }
            .into_any(),
        }}
    }
}

/// The value of each of `names` in the page's URL, as query pairs (those given only).
fn filters_in_url(names: &'static [&'static str]) -> Memo<Vec<(&'static str, String)>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|query| {
            names
                .iter()
                .filter_map(|name| {
                    query
                        .get(name)
                        .filter(|value| !value.is_empty())
                        .map(|value| (*name, value))
                })
                .collect()
        })
    })
}

/// The filters of a tab as they are being edited, one signal per query parameter of
/// `names` (in its order), starting from the URL's.
#[derive(Clone, Copy)]
struct Draft {
    tab: &'static str,
    names: &'static [&'static str],
    values: StoredValue<Vec<RwSignal<String>>>,
}

impl Draft {
    fn new(
        tab: &'static str,
        names: &'static [&'static str],
        filters: Memo<Vec<(&'static str, String)>>,
    ) -> Self {
        let values = names
            .iter()
            .map(|name| {
                RwSignal::new(filters.with_untracked(|filters| {
                    filters
                        .iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.clone())
                        .unwrap_or_default()
                }))
            })
            .collect();
        Self {
            tab,
            names,
            values: StoredValue::new(values),
        }
    }

    /// The signal of the filter `name`.
    fn field(&self, name: &str) -> RwSignal<String> {
        let index = self
            .names
            .iter()
            .position(|known| *known == name)
            .expect("a filter of this tab");
        self.values.with_value(|values| values[index])
    }

    /// The page's URL with these filters.
    fn url(&self) -> String {
        let mut pairs = vec![("tab", self.tab.to_owned())];
        self.values.with_value(|values| {
            for (name, value) in self.names.iter().zip(values) {
                let value = value.get_untracked();
                if !value.trim().is_empty() {
                    pairs.push((name, value.trim().to_owned()));
                }
            }
        });
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        api::with_query("/logs", &pairs)
    }
}

/// A text input bound to the filter `name` of `draft`.
fn text_filter(draft: Draft, name: &'static str, label: &'static str) -> impl IntoView {
    let value = draft.field(name);
    view! {
        <label>{label}
            <input name=name prop:value=move || value.get() on:input=move |event| value.set(event_target_value(&event)) />
        </label>
    }
}

/// A choice of `options` (values and labels) bound to the filter `name` of `draft`.
fn choice_filter(
    draft: Draft,
    name: &'static str,
    label: &'static str,
    options: Vec<(&'static str, String)>,
) -> impl IntoView {
    let value = draft.field(name);
    view! {
        <label>{label}
            <select name=name on:change=move |event| value.set(event_target_value(&event))>
                <option value="">"any"</option>
                {options.into_iter().map(|(option, text)| view! {
                    <option value=option selected=move || value.get() == option>{text}</option>
                }).collect_view()}
            </select>
        </label>
    }
}

/// A form of `draft`'s filters that puts them in the URL when submitted.
#[component]
fn FilterForm(draft: Draft, children: Children) -> impl IntoView {
    let navigate = use_navigate();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        navigate(&draft.url(), Default::default());
    };
    view! {
        <form class="filters" on:submit=on_submit aria-label="Filters">
            {children()}
            <button class="button" type="submit">"Filter"</button>
            <A href=format!("/logs?tab={}", draft.tab) attr:class="button small">"Clear"</A>
        </form>
    }
}

/// The first page of `path` with `filters`.
fn first_page(path: &str, filters: &[(&str, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![("limit", "50")];
    pairs.extend(filters.iter().map(|(key, value)| (*key, value.as_str())));
    api::with_query(path, &pairs)
}

/// The records of `records` (of the log called `name`), one `row` each keyed by `key`,
/// with "Load more"; `testid` names the list for tests.
fn record_list<T>(
    records: Paged<T>,
    name: &'static str,
    testid: &'static str,
    key: fn(&T) -> String,
    row: fn(T) -> AnyView,
) -> impl IntoView
where
    T: Clone + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading records…"</p> }>
            {move || records.failure().map(|message| view! {
                <p class="form-error" role="alert">{format!("Cannot load {name}: {message}")}</p>
            })}
            {move || records.items().map(|items| {
                if items.is_empty() {
                    view! { <p class="empty" data-testid=format!("{testid}-empty")>"No records match."</p> }.into_any()
                } else {
                    view! {
                        <ul class="log" data-testid=testid>
                            <For each=move || items.clone() key=key children=row />
                        </ul>
                    }
                    .into_any()
                }
            })}
            <LoadMore records=records />
        </Transition>
    }
}

#[component]
fn AuditTab() -> impl IntoView {
    let filters = filters_in_url(&AUDIT_FILTERS);
    let draft = Draft::new("audit", &AUDIT_FILTERS, filters);
    let user_id = use_session().user_id_now();
    // The audit log has no live events; the user's topic serves the list's subscription.
    let records = Paged::<AuditRecord>::new(Topic::user(&user_id), move || {
        first_page("/api/audit", &filters.get())
    });
    view! {
        <section class="card" aria-label="Audit log">
            <FilterForm draft>
                {choice_filter(draft, "action", "Action", AuditAction::iter().map(|a| (a.as_str(), a.as_str().to_owned())).collect())}
                {text_filter(draft, "target_kind", "Object kind")}
                {text_filter(draft, "target_id", "Object id")}
                {text_filter(draft, "actor", "Actor id")}
            </FilterForm>
            {record_list(records, "the audit log", "audit", |record| record.id.clone(), |record| audit_row(record).into_any())}
        </section>
    }
}

/// Where the object of an audit record is, when it has a page.
fn object_link(kind: &str, id: &str) -> Option<String> {
    match kind {
        "agent" => Some(format!("/agents/{id}")),
        "room" => Some(format!("/rooms/{id}")),
        "run" => Some(format!("/runs/{id}")),
        _ => None,
    }
}

/// A record's request id, linked to the system log's records of that request.
fn request_cell(request_id: Option<String>) -> AnyView {
    match request_id {
        Some(id) => {
            let href = api::with_query("/logs", &[("tab", "system"), ("request", &id)]);
            view! { <A href=href>{id}</A> }.into_any()
        }
        None => "—".into_any(),
    }
}

fn audit_row(record: AuditRecord) -> impl IntoView {
    let actor = record
        .actor_user_id
        .clone()
        .unwrap_or_else(|| "system".to_owned());
    let object = format!("{} {}", record.target_kind, record.target_id);
    view! {
        <li data-record=record.id.clone() data-action=record.action.as_str()>
            <details>
                <summary>
                    <time datetime=record.at.clone()>{short_time(&record.at)}</time>
                    " " <span class="badge">{record.action.as_str()}</span>
                    " " <strong>{actor}</strong>
                    " " <span class="muted">{object.clone()}</span>
                    " — " {record.summary.clone()}
                </summary>
                <dl class="fields">
                    <dt>"Object"</dt>
                    <dd>{match object_link(&record.target_kind, &record.target_id) {
                        Some(href) => view! { <A href=href>{object}</A> }.into_any(),
                        None => object.into_any(),
                    }}</dd>
                    <dt>"Token"</dt><dd>{record.actor_token_id.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Client"</dt><dd>{record.client_address.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>"Request"</dt>
                    <dd>{request_cell(record.request_id.clone())}</dd>
                </dl>
            </details>
        </li>
    }
}

#[component]
fn SystemTab() -> impl IntoView {
    let filters = filters_in_url(&SYSTEM_FILTERS);
    let draft = Draft::new("system", &SYSTEM_FILTERS, filters);
    let tail = RwSignal::new(false);
    let records = Paged::<LogRecord>::new(Topic::logs(), move || {
        first_page("/api/logs", &filters.get())
    });
    records.follow(move |envelope| {
        if let Message::LogRecords(batch) = &envelope.message
            && tail.get_untracked()
        {
            let shown = filters.get_untracked();
            for record in batch
                .records
                .iter()
                .filter(|record| matches(record, &shown))
            {
                records.prepend(record, |r| r.id.clone());
            }
        }
    });
    view! {
        <section class="card" aria-label="System log">
            <FilterForm draft>
                {choice_filter(draft, "level", "Level", LogLevel::iter().map(|l| (l.as_str(), format!("{} and above", l.as_str()))).collect())}
                {choice_filter(draft, "category", "Category", LogCategory::iter().map(|c| (c.as_str(), c.as_str().to_owned())).collect())}
                {text_filter(draft, "text", "Text")}
                {text_filter(draft, "run", "Run")}
                {text_filter(draft, "request", "Request")}
            </FilterForm>
            <label class="toggle">
                <input type="checkbox" data-testid="live-tail" on:change=move |event| tail.set(event_target_checked(&event)) />
                " Live tail"
            </label>
            {record_list(records, "the system log", "system-log", |record| record.id.clone(), |record| system_row(record).into_any())}
        </section>
    }
}

/// Whether a record tailed live belongs in the list the `filters` show.
fn matches(record: &LogRecord, filters: &[(&str, String)]) -> bool {
    filters.iter().all(|(name, value)| match *name {
        "level" => value
            .parse::<LogLevel>()
            .is_ok_and(|level| level.and_above().contains(&record.level)),
        "category" => record.category.as_str() == value,
        "text" => record
            .message
            .to_lowercase()
            .contains(&value.to_lowercase()),
        "run" => record.run_id.as_deref() == Some(value.as_str()),
        "request" => record.request_id.as_deref() == Some(value.as_str()),
        _ => true,
    })
}

fn system_row(record: LogRecord) -> impl IntoView {
    let level = record.level.as_str();
    let fields = serde_json::to_string_pretty(&record.fields).unwrap_or_default();
    view! {
        <li data-record=record.id.clone() data-level=level>
            <details>
                <summary>
                    <time datetime=record.at.clone()>{short_time(&record.at)}</time>
                    " " <span class=format!("badge badge-{level}")>{level}</span>
                    " " <span class="muted">{record.category.as_str()}</span>
                    " " {record.message.clone()}
                </summary>
                <dl class="fields">
                    <dt>"Run"</dt>
                    <dd>{match record.run_id.clone() {
                        Some(id) => view! { <A href=format!("/runs/{id}")>{id}</A> }.into_any(),
                        None => "—".into_any(),
                    }}</dd>
                    <dt>"Request"</dt>
                    <dd>{request_cell(record.request_id.clone())}</dd>
                </dl>
                <pre class="fields-json">{fields}</pre>
            </details>
        </li>
    }
}
