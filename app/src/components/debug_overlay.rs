//! The real-time debug overlay: Ctrl+Shift+D shows the last 200 frames in and out.

use leptos::{ev, prelude::*};

use crate::realtime::{frame_log::Direction, use_ws_client};

/// Hidden until Ctrl+Shift+D; lists frames newest first, with a filter on type or topic.
#[component]
pub fn DebugOverlay() -> impl IntoView {
    let frames = use_ws_client().frames;
    let open = RwSignal::new(false);
    let filter = RwSignal::new(String::new());
    let listener = window_event_listener(ev::keydown, move |event| {
        if event.ctrl_key() && event.shift_key() && event.key().eq_ignore_ascii_case("d") {
            event.prevent_default();
            open.update(|open| *open = !*open);
        }
    });
    on_cleanup(move || listener.remove());

    let rows = move || {
        let filter = filter.get();
        frames.with(|log| {
            log.newest_first()
                .filter(|record| record.matches(&filter))
                .map(|record| {
                    let time = format_time(record.at_ms);
                    let arrow = match record.direction {
                        Direction::In => "↓ in",
                        Direction::Out => "↑ out",
                    };
                    view! {
                        <tr>
                            <td>{time}</td>
                            <td>{arrow}</td>
                            <td>{record.kind.clone()}</td>
                            <td>{record.topic.clone().unwrap_or_default()}</td>
                            <td>{record.seq.map(|seq| seq.to_string()).unwrap_or_default()}</td>
                            <td class="num">{record.bytes}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <Show when=move || open.get()>
            <aside class="debug-overlay" role="dialog" aria-label="Real-time frames">
                <div class="debug-header">
                    <strong>"Real-time frames"</strong>
                    <span class="muted">{move || format!("{} kept", frames.with(|log| log.len()))}</span>
                    <input
                        type="search"
                        placeholder="Filter by type or topic"
                        aria-label="Filter frames"
                        prop:value=move || filter.get()
                        on:input=move |event| filter.set(event_target_value(&event))
                    />
                    <button class="button button-quiet" on:click=move |_| open.set(false)>"Close"</button>
                </div>
                <div class="debug-table">
                    <table>
                        <thead>
                            <tr>
                                <th>"Time"</th>
                                <th>"Dir"</th>
                                <th>"Type"</th>
                                <th>"Topic"</th>
                                <th>"Seq"</th>
                                <th class="num">"Bytes"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </aside>
        </Show>
    }
}

/// `HH:MM:SS.mmm` (UTC) of a time in milliseconds since the epoch.
fn format_time(at_ms: f64) -> String {
    let ms = at_ms as u64;
    let (secs, millis) = (ms / 1000, ms % 1000);
    format!(
        "{:02}:{:02}:{:02}.{millis:03}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}
