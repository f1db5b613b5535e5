//! `vouch presentation`: making and verifying presentations.

use crate::*;

pub(crate) fn presentation(command: PresentationCommand) -> Result<ExitCode> {
    match command {
        PresentationCommand::Create {
            key,
            challenge,
            domain,
            suite,
            credentials,
        } => {
            let pair = keyfile::read(&key)?;
            let credentials = credentials
                .iter()
                .map(|path| read_json_file(path))
                .collect::<Result<Vec<_>>>()?;
            let vp = vouch_core::presentation::create(
                &pair,
                credentials,
                &challenge,
                &domain,
                suite,
                Utc::now(),
            )?;
            print_json(&vp)?;
            Ok(ExitCode::SUCCESS)
        }
        PresentationCommand::Verify {
            challenge,
            domain,
            verify: args,
        } => {
            let vp = read_json_limited(std::io::stdin().lock(), "stdin", MAX_PRESENTATION_BYTES)?;
            let presented: Vec<&Value> = vp["verifiableCredential"]
                .as_array()
                .map(|list| list.iter().collect())
                .unwrap_or_default();
            let known = Known::read(&args, &presented)?;
            let verifier = known.verifier(&args);
            let verified =
                vouch_core::presentation::verify_presentation(&vp, &challenge, &domain, &verifier);
            print_report(&verified.report, args.json)
        }
    }
}
