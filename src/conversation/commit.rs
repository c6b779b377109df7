//! A round of briefs committed together: each brief moves its handoff on and queues (or refreshes) its
//! delivery job, with its audit entries and the owner rotation, in one transaction.

use crate::store::{BriefCommit, PipelineStore, StoreResult};

use super::lifecycle::after_brief;

/// Record the briefs of ready handoffs and queue their delivery jobs, in one transaction. A `job` of `None`
/// means nothing to act on: the handoff is closed. A handoff that received a message since its conversation
/// was read is left collecting (it is made again). `rotations` (pool, positions handed out) advance those
/// owner pools' round robins in the same transaction, and each routed brief's owner is recorded (open
/// handoffs per owner decide `least_open_tasks` and capacity).
pub async fn commit_briefs(
    store: &dyn PipelineStore,
    commits: &[BriefCommit],
    rotations: &[(String, u64)],
) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    for commit in commits {
        let transition = after_brief(commit.job.is_some());
        let Some(version) = tx.record_brief(&commit.handoff_id, &commit.brief, transition, commit.now).await? else {
            continue;
        };
        if let Some(job) = &commit.job {
            tx.queue_job(&commit.handoff_id, job, version, commit.now).await?;
        }
        if let Some(assignment) = &commit.assignment {
            tx.assign_owner(&commit.handoff_id, assignment, commit.now).await?;
        }
        for entry in &commit.audit {
            tx.insert_audit(entry).await?;
        }
    }
    for (pool, used) in rotations.iter().filter(|(_, used)| *used > 0) {
        tx.advance_rotation(pool, *used).await?;
    }
    tx.commit().await
}
