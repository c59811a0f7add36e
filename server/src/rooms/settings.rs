//! What a create or an update of a room asks for, checked: every field's error at once, with
//! the name and description trimmed.

use hatchery_shared::api::{
    FieldErrors,
    rooms::{
        MAX_ROOM_DESCRIPTION_CHARS, MAX_ROOM_NAME_CHARS, MAX_ROUNDS_PER_MESSAGE, NewRoom, RoomPatch,
    },
};

use crate::store::{RoomChange, RoomRow};

/// The longest pass marker, in characters.
const MAX_PASS_MARKER_CHARS: usize = 40;
/// The fewest and most tokens of conversation a turn may see.
const CONTEXT_TOKENS: std::ops::RangeInclusive<u32> = 200..=100_000;
/// The highest daily cost cap accepted, in US dollars.
const MAX_DAILY_COST_CAP_USD: f64 = 1_000_000.0;

/// The fields of a new room, or every field's error.
pub fn new_change(new: &NewRoom) -> Result<RoomChange, FieldErrors> {
    checked(RoomChange {
        name: new.name.trim().to_owned(),
        description: new.description.trim().to_owned(),
        settings: new.settings.clone(),
    })
}

/// `current` with `patch` applied, or every field's error.
pub fn patched(current: &RoomRow, patch: RoomPatch) -> Result<RoomChange, FieldErrors> {
    let mut change = current.change.clone();
    if let Some(name) = patch.name {
        change.name = name.trim().to_owned();
    }
    if let Some(description) = patch.description {
        change.description = description.trim().to_owned();
    }
    if let Some(settings) = patch.settings {
        change.settings = settings;
    }
    checked(change)
}

fn checked(mut change: RoomChange) -> Result<RoomChange, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut wrong = |field: &str, message: String| {
        errors.insert(field.to_owned(), message);
    };
    let name_chars = change.name.chars().count();
    if name_chars == 0 || name_chars > MAX_ROOM_NAME_CHARS {
        wrong(
            "name",
            format!("write a name of 1 to {MAX_ROOM_NAME_CHARS} characters"),
        );
    }
    if change.description.chars().count() > MAX_ROOM_DESCRIPTION_CHARS {
        wrong(
            "description",
            format!("write at most {MAX_ROOM_DESCRIPTION_CHARS} characters"),
        );
    }
    let settings = &mut change.settings;
    if !(1..=MAX_ROUNDS_PER_MESSAGE).contains(&settings.max_rounds_per_message) {
        wrong(
            "settings.max_rounds_per_message",
            format!("choose 1 to {MAX_ROUNDS_PER_MESSAGE} rounds"),
        );
    }
    if settings.max_turns == 0 || i64::try_from(settings.max_turns).is_err() {
        wrong("settings.max_turns", "allow at least 1 turn".to_owned());
    }
    if let Some(cap) = settings.daily_cost_cap_usd
        && !(cap.is_finite() && (0.0..=MAX_DAILY_COST_CAP_USD).contains(&cap))
    {
        wrong(
            "settings.daily_cost_cap_usd",
            format!("give an amount of 0 to {MAX_DAILY_COST_CAP_USD} dollars, or leave it out"),
        );
    }
    settings.pass_marker = settings.pass_marker.trim().to_owned();
    let marker_chars = settings.pass_marker.chars().count();
    if marker_chars == 0 || marker_chars > MAX_PASS_MARKER_CHARS {
        wrong(
            "settings.pass_marker",
            format!("write a marker of 1 to {MAX_PASS_MARKER_CHARS} characters"),
        );
    }
    if !CONTEXT_TOKENS.contains(&settings.context_tokens) {
        wrong(
            "settings.context_tokens",
            format!(
                "choose {} to {} tokens",
                CONTEXT_TOKENS.start(),
                CONTEXT_TOKENS.end()
            ),
        );
    }
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use hatchery_shared::api::rooms::RoomSettings;

    use super::*;

    fn room(name: &str, settings: RoomSettings) -> NewRoom {
        NewRoom {
            name: name.into(),
            description: String::new(),
            settings,
            members: Vec::new(),
        }
    }

    #[test]
    fn defaults_are_valid_and_names_are_trimmed() {
        let change = new_change(&room("  Debate  ", RoomSettings::default())).unwrap();
        assert_eq!(change.name, "Debate");
        assert_eq!(change.settings, RoomSettings::default());
    }

    #[test]
    fn every_wrong_field_is_named_at_once() {
        let settings = RoomSettings {
            max_rounds_per_message: 0,
            max_turns: 0,
            daily_cost_cap_usd: Some(f64::NAN),
            pass_marker: "   ".into(),
            context_tokens: 10,
            ..RoomSettings::default()
        };
        let errors = new_change(&room(" ", settings)).unwrap_err();
        assert_eq!(
            errors.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "name",
                "settings.context_tokens",
                "settings.daily_cost_cap_usd",
                "settings.max_rounds_per_message",
                "settings.max_turns",
                "settings.pass_marker",
            ]
        );
    }
}
