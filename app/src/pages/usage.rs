//! `/usage`: runs, tokens and cost per day, agent or model over the last days, as SVG bar
//! charts, and today's spending against the daily cost caps.

use hatchery_shared::api::usage::{CapStatus, Caps, Usage, UsageGroup};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{self, Failure},
    components::bar_chart::BarChart,
    session::SignedIn,
};

/// Periods offered, in days.
const PERIODS: [u32; 3] = [7, 30, 90];

/// `/usage`.
#[component]
pub fn UsagePage() -> impl IntoView {
    view! {
        <Title text="Usage" />
        <SignedIn>
            <h1>"Usage"</h1>
            <CapsCard />
            <UsageCharts />
        </SignedIn>
    }
}

#[component]
fn UsageCharts() -> impl IntoView {
    let group = RwSignal::new(UsageGroup::Day);
    let days = RwSignal::new(30_u32);
    let usage = api::load::<Usage>(move || {
        let days = days.get().to_string();
        api::with_query(
            "/api/usage",
            &[("group_by", group.get().as_str()), ("days", &days)],
        )
    });
    view! {
        <section class="card" aria-labelledby="usage-heading">
            <div class="card-header">
                <h2 id="usage-heading">"Runs, tokens and cost"</h2>
                <div class="controls">
                    <label for="usage-group">"Group by"</label>
                    <select id="usage-group" on:change=move |event| {
                        let chosen = event_target_value(&event).parse().unwrap_or(UsageGroup::Day);
                        group.set(chosen);
                    }>
                        <option value="day" selected>"day"</option>
                        <option value="agent">"agent"</option>
                        <option value="model">"model"</option>
                    </select>
                    <label for="usage-period">"Period"</label>
                    <select id="usage-period" on:change=move |event| {
                        days.set(event_target_value(&event).parse().unwrap_or(30));
                    }>
                        {PERIODS.map(|n| view! {
                            <option value=n.to_string() selected=n == 30>{format!("the last {n} days")}</option>
                        }).collect_view()}
                    </select>
                </div>
            </div>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading usage…"</p> }>
                {move || usage.get().map(|loaded| match loaded {
                    Err(err) => failed(err),
                    Ok(usage) => charts(usage),
                })}
            </Transition>
        </section>
    }
}

fn failed(err: Failure) -> AnyView {
    view! { <p class="form-error" role="alert">"Cannot load the usage: " {err.message}</p> }
        .into_any()
}

fn charts(usage: Usage) -> AnyView {
    if usage.buckets.is_empty() {
        return view! { <p class="empty" data-testid="usage-empty">"No runs in this period."</p> }
            .into_any();
    }
    let per = match usage.group_by {
        UsageGroup::Day => "day",
        UsageGroup::Agent => "agent",
        UsageGroup::Model => "model",
    };
    let cost = usage
        .buckets
        .iter()
        .map(|bucket| (bucket.label.clone(), bucket.figures.cost_usd))
        .collect();
    let tokens = usage
        .buckets
        .iter()
        .map(|bucket| {
            let figures = bucket.figures;
            (
                bucket.label.clone(),
                (figures.prompt_tokens + figures.completion_tokens) as f64,
            )
        })
        .collect();
    let total = usage.total;
    view! {
        <p data-testid="usage-total">
            {format!(
                "{} runs, {} tokens, {} in all.",
                total.runs,
                total.prompt_tokens + total.completion_tokens,
                dollars(total.cost_usd)
            )}
        </p>
        <div class="charts">
            <BarChart title=format!("Cost per {per}") bars=cost format=dollars testid="chart-cost" />
            <BarChart title=format!("Tokens per {per}") bars=tokens format=count testid="chart-tokens" />
        </div>
    }
    .into_any()
}

fn dollars(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.01 {
        format!("${value:.4}")
    } else {
        format!("${value:.2}")
    }
}

fn count(value: f64) -> String {
    match value {
        v if v >= 1_000_000.0 => format!("{:.1}M", v / 1_000_000.0),
        v if v >= 1_000.0 => format!("{:.1}k", v / 1_000.0),
        v => format!("{v:.0}"),
    }
}

/// Today's spending against the caller's daily cost cap.
#[component]
fn CapsCard() -> impl IntoView {
    let caps = api::load::<Caps>(|| "/api/usage/caps".to_owned());
    view! {
        <section class="card" aria-labelledby="caps-heading" data-testid="caps">
            <h2 id="caps-heading">"Today's spending"</h2>
            <Transition>
                {move || caps.get().map(|result| match result {
                    Err(err) => failed(err),
                    Ok(caps) => match caps.user {
                        None => view! { <p class="muted">"No daily cost cap is set."</p> }.into_any(),
                        Some(cap) => cap_view(cap, &caps.resets_at).into_any(),
                    },
                })}
            </Transition>
        </section>
    }
}

fn cap_view(cap: CapStatus, resets_at: &str) -> impl IntoView {
    let used = if cap.cap_usd > 0.0 {
        (cap.spent_usd / cap.cap_usd).clamp(0.0, 1.0)
    } else {
        1.0
    };
    view! {
        <p>
            {format!(
                "{} of your daily cap of {} spent; {} left until {}.",
                dollars(cap.spent_usd),
                dollars(cap.cap_usd),
                dollars(cap.left_usd),
                super::agents::short_time(resets_at)
            )}
        </p>
        <meter min="0" max="1" value=used.to_string() aria-label="Share of the daily cap spent"></meter>
    }
}

#[cfg(test)]
mod tests {
    use super::{count, dollars};

    #[test]
    fn figures_read_naturally() {
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(0.0036), "$0.0036");
        assert_eq!(dollars(12.5), "$12.50");
        assert_eq!(count(950.0), "950");
        assert_eq!(count(12_300.0), "12.3k");
        assert_eq!(count(2_500_000.0), "2.5M");
    }
}
