//! The daemons of a run: one, or several instances sharing one PostgreSQL store (`--instances`), each a child
//! process on ports of its own. Webhooks are spread over them as a load balancer would ([`crate::load::Target`]).

use anyhow::Context;

use super::child::{DaemonProcess, DaemonSetup};

/// Every instance of the run, in start order (`a`, `b`, `c`, ...).
#[derive(Debug)]
pub struct Fleet {
    pub instances: Vec<DaemonProcess>,
}

impl Fleet {
    /// Starts every instance together (their migrations meet under PostgreSQL's advisory lock), then waits for each
    /// to be ready.
    pub async fn start(setups: Vec<DaemonSetup>) -> anyhow::Result<Self> {
        let starting = setups.into_iter().map(DaemonProcess::start);
        let instances = futures::future::try_join_all(starting).await?;
        Ok(Self { instances })
    }

    /// The highest resident set any instance reached, in KiB.
    pub fn sample_rss(&mut self) -> u64 {
        self.instances.iter_mut().map(DaemonProcess::sample_rss).max().unwrap_or(0)
    }

    pub fn restarts(&self) -> u32 {
        self.instances.iter().map(|i| i.restarts).sum()
    }

    /// Ends a held delivery on every instance. A CRM paused through the admin API is resumed in place; HubSpot's
    /// held limits end by a restart: all instances are killed before any starts again with HubSpot's limits, so no
    /// instance delivers on the held limits beside one on the real ones.
    pub async fn release_delivery(&mut self) -> anyhow::Result<()> {
        if self.instances.iter().all(DaemonProcess::held_by_pause) {
            for instance in &mut self.instances {
                instance.resume_crm().await.context("resuming the CRM")?;
            }
            return Ok(());
        }
        for instance in &mut self.instances {
            instance.kill9().await?;
        }
        for instance in &mut self.instances {
            instance.start_released().await.context("restarting an instance with HubSpot's limits")?;
        }
        Ok(())
    }

    /// SIGTERM to every instance still running; the highest peak RSS of any, in KiB.
    pub async fn stop(self) -> anyhow::Result<u64> {
        let mut peak = 0;
        for instance in self.instances {
            peak = peak.max(instance.stop().await?);
        }
        Ok(peak)
    }
}
