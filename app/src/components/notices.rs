//! Notices published to the signed-in user's topic, shown as dismissible toasts.

use hatchery_shared::realtime::{Message, Notice, NoticeLevel, Topic};
use leptos::prelude::*;

use crate::realtime::{use_topic, use_ws_client};

/// How long a notice stays before it goes by itself.
const SHOWN_FOR_MS: u64 = 10_000;

/// The stack of toasts; follows `user:{id}` once the connection knows the user.
#[component]
pub fn Notices() -> impl IntoView {
    let user_id = use_ws_client().user_id;
    let notices = RwSignal::new(Vec::<(u64, Notice)>::new());
    view! {
        <div class="notices" aria-live="polite">
            {move || user_id.get().map(|user| view! { <UserTopic user notices /> })}
            <For each=move || notices.get() key=|(id, _)| *id let:item>
                <NoticeToast id=item.0 notice=item.1 notices />
            </For>
        </div>
    }
}

/// Follows the user's topic while mounted, adding each notice to the stack.
#[component]
fn UserTopic(user: String, notices: RwSignal<Vec<(u64, Notice)>>) -> impl IntoView {
    use_topic(
        Topic::user(&user),
        move |envelope| {
            if let Message::Notice(notice) = &envelope.message {
                let id = envelope.seq.unwrap_or_default();
                notices.update(|list| list.push((id, notice.clone())));
                set_timeout(
                    move || notices.update(|list| list.retain(|(other, _)| *other != id)),
                    std::time::Duration::from_millis(SHOWN_FOR_MS),
                );
            }
        },
        || {},
    );
}

#[component]
fn NoticeToast(id: u64, notice: Notice, notices: RwSignal<Vec<(u64, Notice)>>) -> impl IntoView {
    let class = match notice.level {
        NoticeLevel::Info => "notice notice-info",
        NoticeLevel::Warning => "notice notice-warning",
        NoticeLevel::Error => "notice notice-error",
    };
    view! {
        <div class=class role="alert">
            <span>{notice.text}</span>
            <button
                class="notice-dismiss"
                aria-label="Dismiss"
                on:click=move |_| notices.update(|list| list.retain(|(other, _)| *other != id))
            >
                "×"
            </button>
        </div>
    }
}
