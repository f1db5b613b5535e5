//! `vouch key`: key pairs in key files.

use crate::*;

pub(crate) fn key(command: KeyCommand) -> Result<ExitCode> {
    match command {
        KeyCommand::Generate { out, json } => {
            let pair = KeyPair::generate();
            keyfile::write(&out, &pair)?;
            let did = did_key::did_of(&pair.public());
            if json {
                print_json(&serde_json::json!({ "did": did, "file": out }))?;
            } else {
                say(did.as_str())?;
            }
        }
        KeyCommand::Did { key, json } => {
            let did = did_key::did_of(&keyfile::read(&key)?.public());
            if json {
                print_json(&serde_json::json!({ "did": did }))?;
            } else {
                say(did.as_str())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
