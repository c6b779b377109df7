//! A round of briefs committed together: each brief moves its handoff on and queues (or refreshes) its
//! delivery job, with its audit entries and the owner rotation, in one transaction.

use crate::store::{BriefCommit, PipelineStore, StoreResult};

use super::lifecycle::after_brief;

/// Record the briefs of ready handoffs and queue their delivery jobs, in one transaction. A `job` of `None`
/// means nothing to act on: the handoff is closed. A handoff that received a message since its conversation
/// was read is left collecting (it is made again). `rotation` (pool, positions handed out) advances that
/// owner pool's round robin in the same transaction.
pub async fn commit_briefs(
    store: &dyn PipelineStore,
    commits: &[BriefCommit],
    rotation: Option<(&str, u64)>,
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
        for entry in &commit.audit {
            tx.insert_audit(entry).await?;
        }
    }
    if let Some((pool, used)) = rotation.filter(|(_, used)| *used > 0) {
        tx.advance_rotation(pool, used).await?;
    }
    tx.commit().await
}
