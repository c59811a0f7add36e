//! Form building blocks: a labelled text field with its error under it, the time zone
//! picker, and the error summary of a failed submit.

use leptos::prelude::*;

use crate::api::Failure;

/// A labelled input (or textarea) bound to `value`, showing `failure`'s error for `name`
/// under it and marking itself invalid for assistive technology.
#[component]
pub fn TextField(
    /// The visible label.
    label: &'static str,
    /// The field's name in the API (and its element id, prefixed).
    name: &'static str,
    /// The value, read and written.
    value: RwSignal<String>,
    /// The last failed submit, if any.
    failure: RwSignal<Option<Failure>>,
    /// The input type (`text` by default).
    #[prop(default = "text")]
    kind: &'static str,
    /// A textarea instead of an input.
    #[prop(optional)]
    multiline: bool,
    /// A hint shown under the label.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// The browser's autocomplete token.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// Values the browser offers to pick from (any other may be typed).
    #[prop(optional)]
    suggestions: &'static [&'static str],
) -> impl IntoView {
    let id = format!("field-{name}");
    let list_id = format!("{id}-suggestions");
    let list = (!suggestions.is_empty()).then(|| list_id.clone());
    let error_id = format!("{id}-error");
    let error = move || failure.get().and_then(|failure| failure.field(name));
    let invalid = move || error().is_some().to_string();
    let described = error_id.clone();
    let control = if multiline {
        view! {
            <textarea
                id=id.clone()
                name=name
                rows="4"
                aria-invalid=invalid
                aria-describedby=described
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id.clone()
                name=name
                type=kind
                autocomplete=autocomplete
                list=list
                aria-invalid=invalid
                aria-describedby=described
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
            {(!suggestions.is_empty()).then(|| view! {
                <datalist id=list_id>
                    {suggestions.iter().map(|value| view! { <option value=*value></option> }).collect_view()}
                </datalist>
            })}
        }
        .into_any()
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|hint| view! { <span class="hint">{hint}</span> })}
            {control}
            <p id=error_id class="field-error" aria-live="polite">{error}</p>
        </div>
    }
}

/// The message of a failed submit that is not about one field.
#[component]
pub fn FormError(failure: RwSignal<Option<Failure>>) -> impl IntoView {
    move || {
        failure
            .get()
            .filter(|failure| failure.fields.is_empty())
            .map(|failure| view! { <p class="form-error" role="alert">{failure.message}</p> })
    }
}

/// Time zones offered in the picker; any IANA name may be typed.
const TIME_ZONES: [&str; 12] = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// The `time_zone` field: a text input with common IANA names to pick from.
#[component]
pub fn TimeZoneField(
    /// The value, read and written.
    value: RwSignal<String>,
    /// The last failed submit, if any.
    failure: RwSignal<Option<Failure>>,
) -> impl IntoView {
    let error = move || failure.get().and_then(|failure| failure.field("time_zone"));
    view! {
        <div class="field">
            <label for="field-time_zone">"Time zone"</label>
            <input
                id="field-time_zone"
                name="time_zone"
                list="time-zones"
                aria-invalid=move || error().is_some().to_string()
                aria-describedby="field-time_zone-error"
                prop:value=move || value.get()
                on:input=move |event| value.set(event_target_value(&event))
            />
            <datalist id="time-zones">
                {TIME_ZONES.map(|zone| view! { <option value=zone></option> }).collect_view()}
            </datalist>
            <p id="field-time_zone-error" class="field-error" aria-live="polite">{error}</p>
        </div>
    }
}
