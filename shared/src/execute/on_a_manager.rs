//! A swarm-wide script run on a manager: the recorded managers are asked in turn, and
//! the first that runs it successfully answers.

use crate::cluster::StoreRecord;
use crate::ports::{NodeEngine, PortError, ScriptOutput};

/// What the first recorded manager that ran `script` successfully printed; None when
/// none could.
pub(super) async fn on_a_manager<E: NodeEngine>(
    engine_port: &E,
    record: &StoreRecord,
    script: &str,
) -> Result<Option<ScriptOutput>, PortError> {
    for manager in &record.managers {
        if let Some(out) = engine_port.run(&manager.instance_id, script).await? {
            if out.exit_code == 0 {
                return Ok(Some(out));
            }
        }
    }
    Ok(None)
}
