//! Calls to Hatchery's REST API from the browser, with its error body turned into a
//! [`Failure`] a form can show (a message, and a message per field), and the actions that
//! load a page's data when it mounts.

use std::collections::BTreeMap;

use gloo_net::http::{Method, RequestBuilder, Response};
use hatchery_shared::api::ErrorBody;
use leptos::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

/// Why a call failed, as the interface shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status (0 when the server did not answer).
    pub status: u16,
    /// A sentence for the person.
    pub message: String,
    /// What is wrong with each field, for forms.
    pub fields: BTreeMap<String, String>,
}

impl Failure {
    /// The error about `field`, if any.
    pub fn field(&self, field: &str) -> Option<String> {
        self.fields.get(field).cloned()
    }

    fn unreachable(err: impl std::fmt::Display) -> Self {
        Self {
            status: 0,
            message: format!("the server did not answer: {err}"),
            fields: BTreeMap::new(),
        }
    }
}

/// An action that runs `fetch` once the component creating it is mounted in the browser,
/// and again on each `dispatch(())`: a page's data, with a way to reload it.
pub fn fetch_now<O, Fu>(fetch: impl Fn() -> Fu + 'static) -> Action<(), O>
where
    O: Send + Sync + 'static,
    Fu: Future<Output = O> + 'static,
{
    let action = Action::new_local(move |_: &()| fetch());
    Effect::new(move || {
        action.dispatch(());
    });
    action
}

/// [`fetch_now`] of `GET path`.
pub fn get_now<T>(path: String) -> Action<(), Result<T, Failure>>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    fetch_now(move || {
        let path = path.clone();
        async move { get::<T>(&path).await }
    })
}

/// `GET path`, its JSON body on success.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let response = RequestBuilder::new(path)
        .send()
        .await
        .map_err(Failure::unreachable)?;
    read(response).await
}

/// `GET path?query`, with each `(name, value)` of `query` encoded; its JSON body on
/// success.
pub async fn get_with<T: DeserializeOwned>(
    path: &str,
    query: &[(&str, &str)],
) -> Result<T, Failure> {
    let response = RequestBuilder::new(path)
        .query(query.iter().copied())
        .send()
        .await
        .map_err(Failure::unreachable)?;
    read(response).await
}

/// `method path` with `body` as JSON, the answer's JSON body on success.
pub async fn send<T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: &impl Serialize,
) -> Result<T, Failure> {
    let request = RequestBuilder::new(path)
        .method(method)
        .json(body)
        .map_err(Failure::unreachable)?;
    let response = request.send().await.map_err(Failure::unreachable)?;
    read(response).await
}

/// `method path` without a body, for answers without one (204).
pub async fn call(method: Method, path: &str) -> Result<(), Failure> {
    let response = RequestBuilder::new(path)
        .method(method)
        .send()
        .await
        .map_err(Failure::unreachable)?;
    if response.ok() {
        Ok(())
    } else {
        Err(failure(response).await)
    }
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, Failure> {
    if !response.ok() {
        return Err(failure(response).await);
    }
    let status = response.status();
    response.json().await.map_err(|err| Failure {
        status,
        message: format!("unexpected answer from the server: {err}"),
        fields: BTreeMap::new(),
    })
}

async fn failure(response: Response) -> Failure {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => Failure {
            status,
            message: body.error.message,
            fields: body.error.fields,
        },
        Err(_) => Failure {
            status,
            message: format!("the server answered HTTP {status}"),
            fields: BTreeMap::new(),
        },
    }
}
