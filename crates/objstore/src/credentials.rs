//! The one credential chain, given both to OpenDAL's S3 service and to our multipart
//! requests: explicit credentials first, then the AWS environment variables and the
//! profile files. The instance metadata service is never asked (it would mean a request to
//! a link-local address from wherever tgdl runs).

use reqsign_aws_v4::{Credential, DefaultCredentialProvider, StaticCredentialProvider};
use reqsign_core::{Context, NoopEnv, OsEnv, ProvideCredentialChain};
use reqsign_file_read_tokio::TokioFileRead;

use crate::config::StorageConfig;

/// What the credential providers may read: files always (profile files named by the
/// config), the process environment unless the config says to ignore it.
pub(crate) fn context(config: &StorageConfig) -> Context {
    let ctx = Context::new().with_file_read(TokioFileRead);
    if config.ignore_environment {
        ctx.with_env(NoopEnv)
    } else {
        ctx.with_env(OsEnv)
    }
}

pub(crate) fn chain(config: &StorageConfig) -> ProvideCredentialChain<Credential> {
    let mut builder = DefaultCredentialProvider::builder().no_imds();
    if config.ignore_environment {
        builder = builder
            .no_env()
            .no_profile()
            .no_sso()
            .no_web_identity()
            .no_process()
            .no_ecs();
    } else if let Some(profile) = config.profile.as_deref().filter(|p| !p.is_empty()) {
        builder = builder.with_profile(profile);
    }
    let mut chain = ProvideCredentialChain::new().push(builder.build());
    if let Some(given) = &config.credentials {
        let mut provider =
            StaticCredentialProvider::new(&given.access_key_id, &given.secret_access_key);
        if let Some(token) = &given.session_token {
            provider = provider.with_session_token(token);
        }
        chain = chain.push_front(provider);
    }
    chain
}
