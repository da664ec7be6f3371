//! Long token operations (an RSA-4096 key generation takes seconds to minutes on some
//! tokens) never freeze a page: the operation runs as its own task; if it has not ended
//! within [`INLINE`], the browser is sent (303) to a job page that refreshes itself until
//! the outcome is there. The operation is the same service call either way, under a gate of
//! its own, so the request's timeout does not give it up half-way.
//!
//! Jobs live in this process's memory (a restart loses the page, never the operation's
//! outcome, which the audit log and the object lists hold), bounded, visible only to the
//! tenant that started them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hyper::{Response, StatusCode};

use super::html::{self, esc};
use super::{ApiError, Body, Session, html_response};

/// How long a request waits for its operation before handing it to a job page.
const INLINE: Duration = Duration::from_secs(2);
/// Jobs kept at once; the oldest finished ones go first.
const MAX_JOBS: usize = 1000;

enum State {
    Running,
    /// Where the result is shown.
    Done(String),
    Failed(ApiError),
}

struct Job {
    tenant: String,
    title: String,
    started: Instant,
    state: State,
}

fn jobs() -> &'static Mutex<HashMap<String, Job>> {
    static JOBS: OnceLock<Mutex<HashMap<String, Job>>> = OnceLock::new();
    JOBS.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, Job>> {
    jobs().lock().unwrap_or_else(|e| e.into_inner())
}

/// What became of an operation handed to [`run`].
pub enum Outcome {
    /// It ended in time: the page to go to, or the refusal to show beside the form.
    Finished(Result<String, ApiError>),
    /// Still running: the job page to go to.
    Deferred(String),
}

/// Run `work` (which answers the URL that shows its result), waiting [`INLINE`] for it.
pub async fn run<F>(s: &Session, title: &str, work: F) -> Outcome
where
    F: Future<Output = Result<String, ApiError>> + Send + 'static,
{
    let mut handle = tokio::spawn(work);
    match tokio::time::timeout(INLINE, &mut handle).await {
        Ok(joined) => Outcome::Finished(joined.unwrap_or_else(|_| Err(ApiError::internal()))),
        Err(_) => {
            let id = uuid::Uuid::new_v4().to_string();
            {
                let mut map = lock();
                if map.len() >= MAX_JOBS {
                    let oldest = map
                        .iter()
                        .filter(|(_, j)| !matches!(j.state, State::Running))
                        .min_by_key(|(_, j)| j.started)
                        .map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        map.remove(&k);
                    }
                }
                map.insert(
                    id.clone(),
                    Job {
                        tenant: s.live.principal.tenant.clone(),
                        title: title.to_owned(),
                        started: Instant::now(),
                        state: State::Running,
                    },
                );
            }
            let job = id.clone();
            tokio::spawn(async move {
                let state = match handle.await {
                    Ok(Ok(url)) => State::Done(url),
                    Ok(Err(e)) => State::Failed(e),
                    Err(_) => State::Failed(ApiError::internal()),
                };
                if let Some(j) = lock().get_mut(&job) {
                    j.state = state;
                }
            });
            Outcome::Deferred(format!("/console/jobs/{id}"))
        }
    }
}

/// `GET /console/jobs/{id}`: running (refreshing every second), done (a link to the
/// result) or failed (the API's error). Another tenant's job is a 404.
pub fn page(s: &Session, id: &str) -> Result<Response<Body>, ApiError> {
    let map = lock();
    let job = map
        .get(id)
        .filter(|j| j.tenant == s.live.principal.tenant)
        .ok_or_else(ApiError::not_found)?;
    let secs = job.started.elapsed().as_secs();
    let (body, status) = match &job.state {
        State::Running => (
            format!(
                "<p class=\"progress\" role=\"status\" data-refresh=\"1\">{} is running in the \
                 token ({secs} s so far). This page refreshes itself; you may also leave it, \
                 the operation carries on.</p><progress></progress>",
                esc(&job.title)
            ),
            StatusCode::OK,
        ),
        State::Done(url) => (
            format!(
                "<p class=\"ok\" role=\"status\">{} is done.</p><p><a id=\"job-result\" \
                 href=\"{}\">Show the result</a></p>",
                esc(&job.title),
                esc(url)
            ),
            StatusCode::OK,
        ),
        State::Failed(e) => (
            html::error_summary(&e.message, e.code.as_str(), &e.details, &[]),
            StatusCode::OK,
        ),
    };
    let mut resp = html_response(
        status,
        html::page(&job.title, Some(&s.live), &super::pages::nav(s), &body),
    );
    if matches!(job.state, State::Running) {
        // A refresh header, not inline script: the CSP forbids that.
        resp.headers_mut()
            .insert("refresh", hyper::header::HeaderValue::from_static("1"));
    }
    Ok(resp)
}
