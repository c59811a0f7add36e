//! The built-in tools an agent may be allowed to call: their descriptions for the model,
//! and running one call with its own timeout, off the async threads where it computes.

pub mod calculator;
pub mod current_time;
pub mod http_request;

use std::time::Duration;

use chrono::Utc;
use hatchery_shared::api::agents::Tool;
use serde::Deserialize;
use serde_json::json;

use self::http_request::HttpToolConfig;
use super::provider::ToolSpec;

/// Why a tool call failed; the text goes back to the model as the call's result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments are not what the tool takes.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The tool ran and failed.
    #[error("failed: {0}")]
    Failed(String),
    /// The tool took longer than its timeout.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The request is not allowed (such as a private address).
    #[error("refused: {0}")]
    Refused(String),
    /// The agent may not call this tool, or no such tool exists.
    #[error("unknown tool {0:?}")]
    Unknown(String),
}

/// How the tools run.
#[derive(Debug, Clone)]
pub struct ToolConfig {
    /// The longest one call may take.
    pub timeout: Duration,
    /// Limits of `http_request`.
    pub http: HttpToolConfig,
}

impl Default for ToolConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            http: HttpToolConfig::default(),
        }
    }
}

/// How `tool` is described to the model.
pub fn spec(tool: Tool) -> ToolSpec {
    let (description, parameters) = match tool {
        Tool::CurrentTime => (
            "The current date and time in a time zone.",
            json!({
                "type": "object",
                "properties": {
                    "time_zone": {"type": "string", "description": "IANA name, such as Europe/Paris; default UTC"}
                }
            }),
        ),
        Tool::HttpRequest => (
            "Fetch a public URL with GET, or send a body with POST. Returns the status and the body (cut off if long).",
            json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "method": {"type": "string", "enum": ["GET", "POST"]},
                    "body": {"type": "string"}
                },
                "required": ["url"]
            }),
        ),
        Tool::Calculator => (
            "Evaluate an arithmetic expression, such as (2 + 3) * 4 or math::sqrt(2).",
            json!({
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"]
            }),
        ),
    };
    ToolSpec {
        name: tool.as_str().to_owned(),
        description: description.to_owned(),
        parameters,
    }
}

#[derive(Deserialize)]
struct TimeZoneArgs {
    time_zone: Option<String>,
}

#[derive(Deserialize)]
struct ExpressionArgs {
    expression: String,
}

/// The name of the tool `name` as metrics label it: a known tool's own name, or
/// `unknown` for any other name a model makes up (so that the label set stays fixed).
pub fn label(name: &str) -> &'static str {
    name.parse::<Tool>().map_or("unknown", Tool::as_str)
}

/// Runs one call of `name` with its JSON `arguments`, if `allowed` includes it, within the
/// configured timeout; the result (or the error's text) goes back to the model.
pub async fn call(
    name: &str,
    arguments: &str,
    allowed: &[Tool],
    config: &ToolConfig,
) -> Result<String, ToolError> {
    let tool = name
        .parse::<Tool>()
        .ok()
        .filter(|tool| allowed.contains(tool))
        .ok_or_else(|| ToolError::Unknown(name.to_owned()))?;
    let arguments = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    let work = async {
        match tool {
            Tool::CurrentTime => {
                let args: TimeZoneArgs = parse(arguments)?;
                current_time::at(Utc::now(), args.time_zone.as_deref())
            }
            Tool::Calculator => {
                let args: ExpressionArgs = parse(arguments)?;
                tokio::task::spawn_blocking(move || calculator::evaluate(&args.expression))
                    .await
                    .map_err(|err| ToolError::Failed(err.to_string()))?
            }
            Tool::HttpRequest => http_request::send(parse(arguments)?, &config.http).await,
        }
    };
    tokio::time::timeout(config.timeout, work)
        .await
        .map_err(|_| ToolError::TimedOut(config.timeout))?
}

fn parse<T: serde::de::DeserializeOwned>(arguments: &str) -> Result<T, ToolError> {
    serde_json::from_str(arguments).map_err(|err| ToolError::BadArguments(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_allowed_tools_run() {
        let config = ToolConfig::default();
        let all = [Tool::Calculator, Tool::CurrentTime];
        assert_eq!(
            call("calculator", r#"{"expression": "6 * 7"}"#, &all, &config).await,
            Ok("42".into())
        );
        assert!(matches!(
            call("calculator", "{}", &[Tool::CurrentTime], &config).await,
            Err(ToolError::Unknown(_))
        ));
        assert!(matches!(
            call("calculator", "not json", &all, &config).await,
            Err(ToolError::BadArguments(_))
        ));
        assert!(call("current_time", "", &all, &config).await.is_ok());
    }

    #[test]
    fn every_tool_has_an_object_schema() {
        use strum::IntoEnumIterator;
        for tool in Tool::iter() {
            assert_eq!(spec(tool).parameters["type"], "object");
        }
    }
}
