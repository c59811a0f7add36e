//! A bar chart drawn as SVG: one bar per labelled value, a scale on the left, each bar's
//! figure in its tooltip and in a table for screen readers.

use leptos::prelude::*;

/// The drawing's size in SVG units; it scales to its container.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
/// Room for the scale on the left and the labels underneath.
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 12.0;
/// At most this many labels under the bars; the others are left out to stay legible.
const MAX_LABELS: usize = 12;

/// A bar chart of `bars` (label, value), each value shown through `format`.
#[component]
pub fn BarChart(
    /// What the chart shows, as its accessible name.
    title: String,
    /// The bars, in order.
    bars: Vec<(String, f64)>,
    /// How a value is written.
    format: fn(f64) -> String,
    /// The `data-testid` of the figure.
    testid: &'static str,
) -> impl IntoView {
    let max = bars.iter().map(|(_, value)| *value).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 {
        (HEIGHT - TOP - BOTTOM) / max
    } else {
        0.0
    };
    let slot = (WIDTH - LEFT) / bars.len().max(1) as f64;
    let every = bars.len().div_ceil(MAX_LABELS).max(1);
    let baseline = HEIGHT - BOTTOM;
    let rects = bars
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let height = value * scale;
            let x = LEFT + i as f64 * slot + slot * 0.15;
            let width = slot * 0.7;
            let tip = format!("{label}: {}", format(*value));
            let caption = (i % every == 0).then(|| {
                view! {
                    <text x=x + width / 2.0 y=baseline + 16.0 text-anchor="middle" class="chart-label">
                        {shorten(label)}
                    </text>
                }
            });
            view! {
                <rect class="chart-bar" x=x y=baseline - height width=width height=height>
                    <title>{tip}</title>
                </rect>
                {caption}
            }
        })
        .collect_view();
    let ticks = [0.0, 0.5, 1.0]
        .map(|share| {
            let y = baseline - share * max * scale;
            view! {
                <line class="chart-grid" x1=LEFT x2=WIDTH y1=y y2=y />
                <text x=LEFT - 6.0 y=y + 4.0 text-anchor="end" class="chart-label">{format(share * max)}</text>
            }
        })
        .collect_view();
    let rows = bars
        .iter()
        .map(|(label, value)| view! { <tr><th scope="row">{label.clone()}</th><td>{format(*value)}</td></tr> })
        .collect_view();
    view! {
        <figure class="chart" data-testid=testid>
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title>
                {ticks}
                {rects}
            </svg>
            <table class="visually-hidden">
                <tbody>{rows}</tbody>
            </table>
        </figure>
    }
}

/// A label short enough to sit under a bar.
fn shorten(label: &str) -> String {
    const MAX: usize = 12;
    if label.chars().count() <= MAX {
        label.to_owned()
    } else {
        format!("{}…", label.chars().take(MAX - 1).collect::<String>())
    }
}
