//! `vouch agent`: an owner's answer to an approval request, signed with their owner key.

use crate::*;

pub(crate) fn agent(command: AgentCommand) -> Result<ExitCode> {
    match command {
        AgentCommand::BindingProof {
            key,
            definition,
            node,
        } => {
            let pair = keyfile::read(&key)?;
            let proof =
                NodeClient::new(node_url(&node)?).binding_proof(&pair, &definition, Utc::now())?;
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
            let client = NodeClient::new(node_url(&node)?);
            let pending = client.approval(&id)?;
            // What is approved, shown before it is signed.
            eprintln!(
                "{} asks {} on {} with {} (under {})",
                pending["agent"].as_str().unwrap_or("?"),
                pending["request"]["action"].as_str().unwrap_or("?"),
                pending["request"]["resource"].as_str().unwrap_or("?"),
                pending["request"]["arguments"],
                pending["credential"].as_str().unwrap_or("?"),
            );
            let decided = client.decide_approval(
                &pair,
                &pending,
                if refuse { "refuse" } else { "approve" },
            )?;
            print_json(&decided)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
