//! The agent page's Schedule tab: the cron field and time zone with the schedule in words
//! and its next five times as they are typed, saving, and the times that were skipped.

use gloo_net::http::Method;
use hatchery_shared::api::agents::{Agent, AgentPatch, AgentSchedule, SchedulePreview};
use leptos::prelude::*;

use super::agents::short_time;
use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField, TimeZoneField},
};

/// How long typing must pause before the preview is asked for.
#[cfg(feature = "hydrate")]
const PREVIEW_DELAY_MS: u32 = 300;

/// The Schedule tab of the agent `agent_id`.
#[component]
pub fn ScheduleTab(agent_id: String) -> impl IntoView {
    let path = format!("/api/agents/{agent_id}/schedule");
    let current = api::load::<AgentSchedule>(move || path.clone());
    view! {
        <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading…"</p> }>
            {move || current.get().map(|loaded| match loaded {
                Ok(loaded) => view! {
                    <ScheduleForm agent_id=agent_id.clone() loaded current />
                }
                .into_any(),
                Err(failure) => view! {
                    <p class="form-error" role="alert">{failure.message}</p>
                }
                .into_any(),
            })}
        </Transition>
    }
}

/// The schedule form, filled with the schedule as `loaded`; `current` is the schedule as
/// saved, loaded again after each save.
#[component]
fn ScheduleForm(
    agent_id: String,
    loaded: AgentSchedule,
    current: api::Load<AgentSchedule>,
) -> impl IntoView {
    let schedule = RwSignal::new(loaded.schedule.unwrap_or_default());
    let time_zone = RwSignal::new(loaded.time_zone);
    let failure = RwSignal::new(None::<Failure>);
    let preview = RwSignal::new(None::<SchedulePreview>);

    // Each edit asks for a preview after a pause; only the latest answer is shown.
    let asked = StoredValue::new(0_u64);
    let ask = Action::new(move |(n, expression, zone): &(u64, String, String)| {
        let (n, expression, zone) = (*n, expression.clone(), zone.clone());
        api::on_page(async move {
            #[cfg(feature = "hydrate")]
            gloo_timers::future::TimeoutFuture::new(PREVIEW_DELAY_MS).await;
            if n != asked.get_value() {
                return None;
            }
            let query = [
                ("schedule", expression.as_str()),
                ("time_zone", zone.as_str()),
            ];
            Some(api::get_with::<SchedulePreview>("/api/schedule/preview", &query).await)
        })
    });
    Effect::new(move || {
        let expression = schedule.get().trim().to_owned();
        let zone = time_zone.get();
        asked.update_value(|n| *n += 1);
        if expression.is_empty() {
            preview.set(None);
            return;
        }
        ask.dispatch((asked.get_value(), expression, zone));
    });
    Effect::new(move || match ask.value().get() {
        Some(Some(Ok(answer))) => {
            preview.set(Some(answer));
            failure.set(None);
        }
        Some(Some(Err(err))) => {
            preview.set(None);
            failure.set(Some(err));
        }
        _ => {}
    });

    let id = agent_id.clone();
    let save = Action::new(move |_: &()| {
        let id = id.clone();
        let patch = AgentPatch {
            schedule: Some(
                Some(schedule.get_untracked().trim().to_owned()).filter(|s| !s.is_empty()),
            ),
            time_zone: Some(time_zone.get_untracked()),
            ..AgentPatch::default()
        };
        async move { api::send::<Agent, _>(Method::PATCH, &format!("/api/agents/{id}"), &patch).await }
    });
    let pending = save.pending();
    Effect::new(move || match save.value().get() {
        Some(Ok(_)) => current.refetch(),
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });

    view! {
        <section class="card narrow" aria-labelledby="schedule-heading">
            <h2 id="schedule-heading">"Schedule"</h2>
            <form novalidate on:submit=move |event| {
                event.prevent_default();
                failure.set(None);
                save.dispatch(());
            }>
                <TextField
                    label="Schedule"
                    name="schedule"
                    value=schedule
                    failure
                    hint="Cron: minute hour day month weekday, e.g. 0 9 * * 1-5. Empty: manual only."
                />
                <TimeZoneField value=time_zone failure />
                <div class="schedule-preview" data-testid="schedule-preview" aria-live="polite">
                    {move || preview.get().map(|preview| view! {
                        <p>{preview.description.unwrap_or_default()}</p>
                        <p class="muted">"Next runs (UTC):"</p>
                        <ol>
                            {preview.upcoming.iter().map(|at| view! { <li>{short_time(at)}</li> }).collect_view()}
                        </ol>
                    })}
                </div>
                <FormError failure />
                <div class="form-actions">
                    <button class="button primary" type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save schedule" }}
                    </button>
                </div>
            </form>
            {move || current.get().and_then(Result::ok).map(|current| view! { <SavedSchedule current /> })}
        </section>
    }
}

/// The schedule as saved: its next times (after any back-off) and its skipped times.
#[component]
fn SavedSchedule(current: AgentSchedule) -> impl IntoView {
    let upcoming = if current.upcoming.is_empty() {
        view! { <p class="muted">"Not scheduled: no schedule, or the agent is disabled."</p> }
            .into_any()
    } else {
        view! {
            <ol data-testid="upcoming">
                {current.upcoming.iter().map(|at| view! { <li>{short_time(at)}</li> }).collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <h3>"Saved schedule"</h3>
        <p>{current.description.or(current.schedule).unwrap_or_else(|| "Manual only".into())}
            " (" {current.time_zone} ")"</p>
        {upcoming}
        <h3>"Skipped times"</h3>
        {if current.skipped.is_empty() {
            view! { <p class="muted">"None."</p> }.into_any()
        } else {
            view! {
                <ul data-testid="skipped">
                    {current.skipped.into_iter().map(|skip| view! {
                        <li>{short_time(&skip.due_at)} ": " {skip.reason}</li>
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }}
    }
}
