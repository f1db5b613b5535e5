//! `vouch agent`: an owner's answer to an approval request, signed with their owner key.

use crate::*;
use vouch_api::node::public::OwnerVerdict;

pub(crate) fn agent(command: AgentCommand) -> Result<ExitCode> {
    match command {
        AgentCommand::BindingProof {
            key,
            definition,
            node,
        } => {
            let pair = keyfile::read(&key)?;
            let proof =
                OrgNode::new(node_url(&node)?).binding_proof(&pair, &definition, Utc::now())?;
            print_json(&proof)?;
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Approve {
            owner_key,
            id,
            node,
            refuse,
        } => {
            let pair = keyfile::read(&owner_key)?;
            let org = OrgNode::new(node_url(&node)?);
            let pending = org.client().approval(&id)?;
            // What is approved, shown before it is signed: the request as the node holds it,
            // whose hash is what the owner signs.
            let shown = vouch_core::capability::Request::from_json(&pending.request)?;
            eprintln!(
                "{} asks {} on {} with {} (under {})",
                pending.agent,
                shown.action,
                shown.resource,
                serde_json::Value::Object(shown.arguments.clone()),
                pending.credential,
            );
            let verdict = if refuse {
                OwnerVerdict::Refuse
            } else {
                OwnerVerdict::Approve
            };
            let decided = org.decide_approval(&pair, &pending, verdict)?;
            print_json(&decided)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
