//! HubSpot answers replayed through the connector's own decoding, classification and matching,
//! with no network: for the `hubspot_responses` fuzz target and for regression tests. Not part
//! of the connector's API; it may change at any time.
//!
//! Each call runs the functions the connector runs on a real answer, in the same order: the
//! budget headers, the status check (non-2xx classified into [`CrmError`], `Retry-After`
//! included), the JSON decoding, then the call's own processing (batch results matched to
//! inputs and refused batches split, search pages, the change feed's cursor, ...). Only the
//! HTTP exchange is replaced, by a list of answers taken in order.

use std::collections::HashSet;

use handoffd_contract::crm::{ContactPage, CrmContact, CrmError, CrmOwner, LiveBudget, TaskWriteOutcome};
use handoffd_contract::task::{TaskRef, TaskState};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::client::{check, decode};
use crate::contacts::{Cursor, changes, collect_contacts, existing_id, to_contact};
use crate::limits::BudgetTracker;
use crate::owners::to_owner;
use crate::tasks::{
    BatchWrite, CREATE_TASKS, UPDATE_TASKS, collect_found, created_key, report_external_keys, task_state, updated_key,
};
use crate::wire::{BatchResponse, CrmObject, Owner, Page};

/// The call the answers belong to, with what the connector would have sent.
#[derive(Clone, Debug)]
pub enum Request {
    /// `batch/create` of tasks with these external keys, `max_batch` per call.
    CreateTasks { keys: Vec<String>, max_batch: usize },
    /// `batch/update` of `(task id, external key)` pairs, `max_batch` per call.
    UpdateTasks { tasks: Vec<(String, String)>, max_batch: usize },
    /// `batch/read` of these task ids, `max_batch` per call.
    TaskStates { ids: Vec<String>, max_batch: usize },
    /// Task search by external key, page after page.
    FindTasks { keys: Vec<String> },
    /// One contact search, page after page.
    FindContacts,
    /// One page of the contact change feed, from a stored cursor.
    ChangedContacts { cursor: Option<String> },
    /// Contact creation (a 409 names the existing contact).
    CreateContact,
    /// The owners list, page after page.
    ListOwners,
}

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What the connector made of the answers.
#[derive(Debug)]
pub struct Replay {
    pub result: Result<Parsed, CrmError>,
    /// The budget read off the answers' headers.
    pub budget: LiveBudget,
    /// Answers taken (each stands for one HTTP call).
    pub calls: usize,
    /// Whether the connector would have made another call when the answers ran out (the
    /// result then holds what was gathered so far; unsent task writes read "not sent").
    pub wants_more: bool,
}

#[derive(Debug)]
pub enum Parsed {
    TaskWrites(Vec<TaskWriteOutcome>),
    Tasks(Vec<TaskRef>),
    TaskStates(Vec<TaskState>),
    Contacts(Vec<CrmContact>),
    ContactPage(ContactPage),
    Contact(CrmContact),
    /// A 409 to a contact creation: the id HubSpot named, which the connector then looks up.
    ContactExists {
        existing_id: Option<String>,
    },
    Owners(Vec<CrmOwner>),
}

/// The answers, taken in order the way `Api::json` takes one real answer each.
struct Script<'a> {
    answers: std::slice::Iter<'a, Answer>,
    budget: BudgetTracker,
    calls: usize,
    wants_more: bool,
}

impl Script<'_> {
    /// The next answer decoded as `T`; `None` (and `wants_more`) once there are none left.
    fn json<T: DeserializeOwned>(&mut self, what: &str) -> Option<Result<T, CrmError>> {
        let Some(answer) = self.answers.next() else {
            self.wants_more = true;
            return None;
        };
        self.calls += 1;
        self.budget.record(&answer.headers);
        Some(check(answer.status, &answer.headers, answer.body.clone(), what).and_then(|(_, body)| decode(&body, what)))
    }
}

/// Replays `answers` as the connector's answers to `request`.
pub fn replay(request: &Request, answers: &[Answer]) -> Replay {
    let mut script = Script { answers: answers.iter(), budget: BudgetTracker::default(), calls: 0, wants_more: false };
    let result = run(request, &mut script);
    Replay { result, budget: script.budget.current(), calls: script.calls, wants_more: script.wants_more }
}

// The loops below mirror the connector's (which interleave HTTP calls); every decision inside
// them is taken by the connector's own functions.
fn run(request: &Request, script: &mut Script<'_>) -> Result<Parsed, CrmError> {
    match request {
        Request::CreateTasks { keys, max_batch } => {
            let mut batches = BatchWrite::new(keys, *max_batch, CREATE_TASKS, created_key);
            while let Some(range) = batches.next_batch() {
                let Some(answer) = script.json::<BatchResponse>(CREATE_TASKS) else { break };
                batches.record(range, answer)?;
            }
            Ok(Parsed::TaskWrites(batches.finish()))
        }
        Request::UpdateTasks { tasks, max_batch } => {
            let ids = tasks.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
            let mut batches = BatchWrite::new(&ids, *max_batch, UPDATE_TASKS, updated_key);
            while let Some(range) = batches.next_batch() {
                let Some(answer) = script.json::<BatchResponse>(UPDATE_TASKS) else { break };
                batches.record(range, answer)?;
            }
            let mut outcomes = batches.finish();
            report_external_keys(&mut outcomes, tasks.iter().map(|(_, key)| key));
            Ok(Parsed::TaskWrites(outcomes))
        }
        Request::TaskStates { ids, max_batch } => {
            let mut states = Vec::new();
            for _ in ids.chunks((*max_batch).max(1)) {
                let Some(answer) = script.json::<BatchResponse>("read task states") else { break };
                states.extend(answer?.results.iter().map(task_state));
            }
            Ok(Parsed::TaskStates(states))
        }
        Request::FindTasks { keys } => {
            let wanted = keys.iter().collect::<HashSet<_>>();
            let (mut seen, mut found) = (HashSet::new(), Vec::new());
            'chunks: for _ in keys.chunks(100) {
                loop {
                    let Some(page) = script.json::<Page<CrmObject>>("find tasks by handoff id") else { break 'chunks };
                    let page = page?;
                    collect_found(&page, &wanted, &mut seen, &mut found);
                    if page.continue_after().is_none() {
                        break;
                    }
                }
            }
            Ok(Parsed::Tasks(found))
        }
        Request::FindContacts => {
            let (mut seen, mut found) = (HashSet::new(), Vec::new());
            while let Some(page) = script.json::<Page<CrmObject>>("search contacts") {
                let page = page?;
                collect_contacts(&page, &mut seen, &mut found);
                if page.continue_after().is_none() {
                    break;
                }
            }
            Ok(Parsed::Contacts(found))
        }
        Request::ChangedContacts { cursor } => {
            let cursor = Cursor::resume(cursor.as_deref())?;
            match script.json::<Page<CrmObject>>("list changed contacts") {
                Some(page) => Ok(Parsed::ContactPage(changes(&cursor, &page?))),
                None => Err(no_answer()),
            }
        }
        Request::CreateContact => match script.json::<CrmObject>("create a contact") {
            Some(Ok(object)) => Ok(Parsed::Contact(to_contact(&object))),
            Some(Err(CrmError::Rejected { status: 409, message })) => {
                Ok(Parsed::ContactExists { existing_id: existing_id(&message) })
            }
            Some(Err(e)) => Err(e),
            None => Err(no_answer()),
        },
        Request::ListOwners => {
            let mut owners = Vec::new();
            let mut after: Option<String> = None;
            while let Some(page) = script.json::<Page<Owner>>("list owners") {
                let page = page?;
                owners.extend(page.results.iter().map(to_owner));
                match page.continue_after() {
                    Some(next) if after.as_deref() != Some(next) => after = Some(next.to_owned()),
                    _ => break,
                }
            }
            Ok(Parsed::Owners(owners))
        }
    }
}

fn no_answer() -> CrmError {
    CrmError::Protocol("no answer to replay".into())
}

/// A change-feed cursor as the connector reads it back: `(since_ms, after)`.
pub fn parse_cursor(text: &str) -> Result<(i64, Option<String>), CrmError> {
    Cursor::parse(text).map(|c| (c.since_ms, c.after))
}

/// Reads a replay script: a request line, then answers written like HTTP/1.1 responses.
///
/// ```text
/// create_tasks 100 h-1 h-2      (or update_tasks MAX ID..., task_states MAX ID..., find_tasks KEY...,
/// HTTP 207                       find_contacts, changed_contacts [CURSOR], create_contact, list_owners)
/// retry-after: 2
///
/// {"results": [...], "errors": [...]}
/// HTTP 201
/// ...
/// ```
///
/// Each answer runs to the next line that starts with `HTTP `. `None` when the request line is
/// not one of the above; malformed answers and headers are skipped (reqwest never hands those over).
pub fn parse_script(input: &[u8]) -> Option<(Request, Vec<Answer>)> {
    let (line, rest) = split_line(input);
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let strings = |words: std::str::SplitWhitespace<'_>| words.map(str::to_owned).collect::<Vec<_>>();
    // The connector's policy keeps batches within 1..=100.
    let batch = |word: Option<&str>| word.and_then(|w| w.parse::<usize>().ok()).unwrap_or(100).clamp(1, 100);
    let request = match words.next()? {
        "create_tasks" => Request::CreateTasks { max_batch: batch(words.next()), keys: strings(words) },
        "update_tasks" => {
            let max_batch = batch(words.next());
            Request::UpdateTasks {
                tasks: strings(words).into_iter().map(|id| (id.clone(), format!("h-{id}"))).collect(),
                max_batch,
            }
        }
        "task_states" => Request::TaskStates { max_batch: batch(words.next()), ids: strings(words) },
        "find_tasks" => Request::FindTasks { keys: strings(words) },
        "find_contacts" => Request::FindContacts,
        "changed_contacts" => Request::ChangedContacts { cursor: words.next().map(str::to_owned) },
        "create_contact" => Request::CreateContact,
        "list_owners" => Request::ListOwners,
        _ => return None,
    };
    let mut answers = Vec::new();
    let mut rest = rest.strip_prefix(b"HTTP ").unwrap_or(rest);
    while !rest.is_empty() {
        let end = find(rest, b"\nHTTP ");
        let (chunk, next) = match end {
            Some(at) => (&rest[..at], &rest[at + b"\nHTTP ".len()..]),
            None => (rest, &[][..]),
        };
        rest = next;
        if let Some(answer) = parse_answer(chunk) {
            answers.push(answer);
        }
    }
    Some((request, answers))
}

/// `STATUS\nname: value\n...\n\nBODY`
fn parse_answer(chunk: &[u8]) -> Option<Answer> {
    let (status, mut rest) = split_line(chunk);
    let status = std::str::from_utf8(status).ok()?.trim().parse::<u16>().ok()?;
    let status = StatusCode::from_u16(status).ok()?;
    let mut headers = HeaderMap::new();
    loop {
        let (line, next) = split_line(rest);
        rest = next;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = reqwest::header::HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = reqwest::header::HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    Some(Answer { status, headers, body: rest.to_vec() })
}

/// The bytes before the first newline, and those after it.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[]),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_script(script: &str) -> Replay {
        let (request, answers) = parse_script(script.as_bytes()).expect("a valid script");
        replay(&request, &answers)
    }

    #[test]
    fn scripts_read_like_http_answers() {
        let (request, answers) = parse_script(
            b"create_tasks 7 h-1 h-2\nHTTP 429\nRetry-After: 3\nbad header\n\n{\"message\":\"slow\"}\nHTTP 201\n\n{}",
        )
        .unwrap();
        assert!(matches!(request, Request::CreateTasks { max_batch: 7, ref keys } if keys.len() == 2));
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answers[0].headers["retry-after"], "3");
        assert_eq!(answers[0].body, b"{\"message\":\"slow\"}");
        assert_eq!(answers[1].body, b"{}");
        assert!(parse_script(b"delete_everything\nHTTP 200\n\n{}").is_none());
    }

    #[test]
    fn a_207_is_matched_to_inputs_by_key() {
        let replay = run_script(concat!(
            "create_tasks 100 h-1 h-2\nHTTP 207\nX-HubSpot-RateLimit-Remaining: 12\n\n",
            r#"{"results":[{"id":"9","objectWriteTraceId":"h-2"}],"errors":[{"message":"bad owner","context":{"objectWriteTraceId":["h-1"]}}]}"#,
        ));
        let Ok(Parsed::TaskWrites(outcomes)) = replay.result else { panic!("{replay:?}") };
        assert_eq!(outcomes[0], TaskWriteOutcome::Rejected { message: "bad owner".into() });
        assert_eq!(
            outcomes[1],
            TaskWriteOutcome::Written(TaskRef { task_id: "9".into(), external_key: Some("h-2".into()) })
        );
        assert_eq!(replay.budget.window_remaining, Some(12));
    }

    #[test]
    fn a_refused_batch_is_split_until_the_bad_input_stands_alone() {
        let replay = run_script(concat!(
            "create_tasks 100 h-1 h-2\nHTTP 400\n\n{\"message\":\"bad owner\"}\n",
            "HTTP 201\n\n{\"results\":[{\"id\":\"1\",\"properties\":{\"handoffd_handoff_id\":\"h-1\"}}]}\n",
            "HTTP 400\n\n{\"message\":\"bad owner\"}",
        ));
        let Ok(Parsed::TaskWrites(outcomes)) = replay.result else { panic!("{replay:?}") };
        assert!(matches!(&outcomes[0], TaskWriteOutcome::Written(t) if t.task_id == "1"));
        assert_eq!(outcomes[1], TaskWriteOutcome::Rejected { message: "bad owner (400)".into() });
        assert_eq!((replay.calls, replay.wants_more), (3, false));
    }

    #[test]
    fn a_failure_after_a_written_batch_is_an_unknown_outcome() {
        let replay = run_script(concat!(
            "create_tasks 1 h-1 h-2\nHTTP 201\n\n{\"results\":[]}\n",
            "HTTP 429\nretry-after: 2\n\n{\"message\":\"limit\"}",
        ));
        assert!(matches!(replay.result, Err(CrmError::OutcomeUnknown(_))), "{replay:?}");
    }

    #[test]
    fn a_conflict_names_the_existing_contact() {
        let replay =
            run_script("create_contact\nHTTP 409\n\n{\"message\":\"Contact already exists. Existing ID: 42\"}");
        assert!(matches!(replay.result, Ok(Parsed::ContactExists { existing_id: Some(ref id) }) if id == "42"));
    }

    // The hubspot_responses fuzz target's first crash, as minimised.
    #[test]
    fn fuzz_crash_huge_retry_after() {
        let replay = run_script("find_contacts\nHTTP 429\nretry-after: 400000000000000000000");
        assert!(matches!(replay.result, Err(CrmError::RateLimited { retry_after: Some(_), .. })), "{replay:?}");
    }

    #[test]
    fn paging_stops_on_an_empty_page_and_a_repeated_cursor() {
        let page = r#"{"results":[{"id":"52"}],"paging":{"next":{"after":"1"}}}"#;
        let replay = run_script(&format!("list_owners\nHTTP 200\n\n{page}\nHTTP 200\n\n{page}\nHTTP 200\n\n{page}"));
        assert_eq!(replay.calls, 2);
        let replay = run_script("find_contacts\nHTTP 200\n\n{\"results\":[],\"paging\":{\"next\":{\"after\":\"1\"}}}");
        assert!(matches!(replay.result, Ok(Parsed::Contacts(ref c)) if c.is_empty()));
        assert!(!replay.wants_more);
    }
}
