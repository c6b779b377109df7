//! HubSpot's answers (status, headers, body; several for batched and paged calls) through the
//! connector's decoding, classification and matching: errors are fine, panics are not, and the
//! outcomes keep the promises the deliverer relies on. Input format: `fuzzing::parse_script`.
#![no_main]

use handoffd_contract::crm::{CrmError, TaskWriteOutcome};
use handoffd_hubspot::fuzzing::{Parsed, Request, parse_cursor, parse_script, replay};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((request, answers)) = parse_script(data) else { return };
    let replay = replay(&request, &answers);
    assert!(replay.calls <= answers.len());
    let statuses = answers[..replay.calls].iter().map(|a| a.status.as_u16()).collect::<Vec<_>>();

    match &replay.result {
        // Each class only comes from the answer that means it.
        Err(CrmError::RateLimited { .. }) => assert!(statuses.contains(&429), "rate limited without a 429"),
        Err(CrmError::Auth(_)) => {
            assert!(statuses.iter().any(|s| matches!(s, 401 | 403)), "auth error without 401/403")
        }
        Err(CrmError::Rejected { status, .. }) => {
            assert!((400..500).contains(status) && !matches!(status, 401 | 403 | 429), "rejected with {status}");
            assert!(statuses.contains(status), "rejected with a status no answer had");
        }
        Err(_) => {}
        Ok(parsed) => check(&request, parsed, replay.wants_more),
    }
});

fn check(request: &Request, parsed: &Parsed, wants_more: bool) {
    match (request, parsed) {
        // One outcome per input, in input order, under the caller's external key.
        (Request::CreateTasks { keys, .. }, Parsed::TaskWrites(outcomes)) => {
            assert_eq!(outcomes.len(), keys.len());
            for (outcome, key) in outcomes.iter().zip(keys) {
                if let TaskWriteOutcome::Written(task) = outcome {
                    assert_eq!(task.external_key.as_ref(), Some(key));
                }
            }
        }
        (Request::UpdateTasks { tasks, .. }, Parsed::TaskWrites(outcomes)) => {
            assert_eq!(outcomes.len(), tasks.len());
            for (outcome, (_, key)) in outcomes.iter().zip(tasks) {
                if let TaskWriteOutcome::Written(task) = outcome {
                    assert_eq!(task.external_key.as_ref(), Some(key));
                }
            }
        }
        // Only tasks that carry a key asked for, each once.
        (Request::FindTasks { keys }, Parsed::Tasks(found)) => {
            let mut ids = std::collections::HashSet::new();
            for task in found {
                assert!(task.external_key.as_ref().is_some_and(|k| keys.contains(k)), "{task:?} was not asked for");
                assert!(ids.insert(&task.task_id), "task {} found twice", task.task_id);
            }
        }
        // The next cursor reads back and never goes back in time.
        (Request::ChangedContacts { cursor }, Parsed::ContactPage(page)) if !wants_more => {
            let since = cursor.as_deref().map_or(0, |c| parse_cursor(c).expect("the cursor was accepted").0);
            if let Some(next) = &page.next_cursor {
                let (next_since, _) = parse_cursor(next).expect("the connector reads its own cursor back");
                assert!(next_since >= since, "the feed went back from {since} to {next_since}");
            }
        }
        _ => {}
    }
}
