//! The message box under a conversation (a chat thread, a room): Enter sends, Shift+Enter
//! starts a new line, and the buttons beside it are the page's own.

use leptos::prelude::*;

/// A form with a textarea bound to `draft`; Enter or submitting calls `on_send`.
#[component]
pub fn Composer(
    /// The text being written.
    draft: RwSignal<String>,
    /// What the empty box says.
    placeholder: &'static str,
    /// Called to send what is written.
    #[prop(into)]
    on_send: Callback<()>,
    /// The buttons beside the box (a submit button sends).
    children: Children,
) -> impl IntoView {
    view! {
        <form class="composer" on:submit=move |event| {
            event.prevent_default();
            on_send.run(());
        }>
            <textarea
                aria-label="Message"
                placeholder=placeholder
                rows="3"
                prop:value=move || draft.get()
                on:input=move |event| draft.set(event_target_value(&event))
                on:keydown=move |event| {
                    if event.key() == "Enter" && !event.shift_key() {
                        event.prevent_default();
                        on_send.run(());
                    }
                }
            ></textarea>
            {children()}
        </form>
    }
}
