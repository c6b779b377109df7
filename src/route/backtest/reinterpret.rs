//! Handoffs with no stored brief are interpreted again, by the daemon's own brief maker
//! ([`BriefMaker::make_brief`]), so the backtest reads them as the daemon would have.

use std::sync::Arc;

use handoffd_contract::brief::Brief;

use crate::config::Loaded;
use crate::conversation::brief::BriefMaker;
use crate::interpret::Interpreter;
use crate::store::{HandoffRow, PipelineStore};

pub struct Reinterpreter {
    maker: BriefMaker,
    store: Arc<dyn PipelineStore>,
}

/// What interpreting a handoff again gave.
pub enum Reread {
    /// A brief to route.
    Actionable(Box<Brief>),
    /// The conversation holds nothing to act on.
    NothingToActOn,
    /// The interpreter cannot read it.
    Failed(String),
}

impl Reinterpreter {
    /// The running configuration's interpreter (vocabulary, model) and brief maker.
    pub fn new(running: &Loaded, store: Arc<dyn PipelineStore>) -> anyhow::Result<Self> {
        let interpreter = Arc::new(Interpreter::load(&running.config.interpret, running.base_dir())?);
        let maker = BriefMaker::from_config(&running.config, interpreter, store.clone())?;
        Ok(Self { maker, store })
    }

    /// The brief of `handoff` as of its `ready_at` (the routing the brief maker adds is replaced by the
    /// backtest's own; the rotation it takes is a scratch copy).
    pub async fn reread(&self, handoff: &HandoffRow) -> anyhow::Result<Reread> {
        let mut stored = self.store.handoff_conversations(std::slice::from_ref(handoff)).await?;
        let Some(stored) = stored.pop() else { return Ok(Reread::Failed("its conversation is not stored".into())) };
        let mut scratch = self.maker.router.round().await?;
        Ok(match self.maker.make_brief(&stored, handoff.ready_at, &mut scratch).await {
            Ok(made) if made.brief.actionable => Reread::Actionable(Box::new(made.brief)),
            Ok(_) => Reread::NothingToActOn,
            Err(error) => Reread::Failed(format!("its conversation cannot be interpreted: {error}")),
        })
    }
}
