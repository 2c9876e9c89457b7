//! A swarm-wide script run on a manager: the recorded managers are asked in turn, and
//! the first that runs it successfully answers.

use crate::cluster::StoreRecord;
use crate::ports::{NodeEngine, PortError, ScriptOutput};

/// What the first recorded manager that ran `script` successfully printed; None when
/// none could.
pub(crate) async fn on_a_manager<E: NodeEngine>(
    engine_port: &E,
    record: &StoreRecord,
    script: &str,
) -> Result<Option<ScriptOutput>, PortError> {
    Ok(answering_manager(engine_port, record, script)
        .await?
        .map(|(_, out)| out))
}

/// As `on_a_manager`, with the machine of the manager that answered.
pub(crate) async fn answering_manager<E: NodeEngine>(
    engine_port: &E,
    record: &StoreRecord,
    script: &str,
) -> Result<Option<(String, ScriptOutput)>, PortError> {
    for manager in &record.managers {
        if let Some(out) = engine_port.run(&manager.instance_id, script).await? {
            if out.exit_code == 0 {
                return Ok(Some((manager.instance_id.clone(), out)));
            }
        }
    }
    Ok(None)
}
