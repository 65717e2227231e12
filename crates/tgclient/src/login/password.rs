//! The 2FA password: `account.getPassword`, the SRP proof, `auth.checkPassword`.

use mtcrypto::Zeroizing;
use rand::SeedableRng;
use rand::rngs::{OsRng, StdRng};
use tl_types::api::{enums, functions, types};

use super::LoginError;
use crate::client::Client;
use crate::error::ClientError;
use crate::policy;
use crate::store::SelfUser;

/// Attempts when the server says the SRP session changed under us (`SRP_ID_INVALID`).
const SRP_ATTEMPTS: usize = 2;

impl Client {
    /// The hint of the account's 2FA password (`None` without a hint or password).
    pub async fn password_hint(&self) -> Result<Option<String>, ClientError> {
        let enums::account::Password::Password(password) =
            self.invoke(&functions::account::GetPassword {}).await?;
        Ok(password.hint)
    }

    /// Completes a login that needs the 2FA password.
    pub async fn check_password(&self, password: &str) -> Result<SelfUser, LoginError> {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let mut last = None;
        for _ in 0..SRP_ATTEMPTS {
            let enums::account::Password::Password(state) =
                self.invoke(&functions::account::GetPassword {}).await?;
            let check = srp_answer(&state, password.clone()).await?;
            match self
                .invoke(&functions::auth::CheckPassword { password: check })
                .await
            {
                Ok(authorization) => return self.finish_login(authorization),
                Err(error) => match error.rpc() {
                    Some(rpc) if policy::is(rpc, "SRP_ID_INVALID") => last = Some(error),
                    Some(rpc) if policy::is(rpc, "PASSWORD_HASH_INVALID") => {
                        return Err(LoginError::WrongPassword(rpc.message.clone()));
                    }
                    _ => return Err(LoginError::Client(error)),
                },
            }
        }
        Err(last.map_or(
            LoginError::Unexpected("SRP retries exhausted"),
            LoginError::Client,
        ))
    }
}

/// The `inputCheckPasswordSRP` for `state` and `password`. The PBKDF2 stretching takes a
/// while, so it runs off the async threads.
async fn srp_answer(
    state: &types::account::Password,
    password: Zeroizing<Vec<u8>>,
) -> Result<enums::InputCheckPasswordSRP, LoginError> {
    if !state.has_password {
        return Err(LoginError::NoPassword);
    }
    let (Some(algo), Some(srp_b), Some(srp_id)) =
        (&state.current_algo, state.srp_b.clone(), state.srp_id)
    else {
        return Err(LoginError::Unexpected(
            "account.password without the SRP parameters",
        ));
    };
    let enums::PasswordKdfAlgo::SHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(algo) = algo
    else {
        return Err(LoginError::Unsupported("this password algorithm"));
    };
    let algo = (**algo).clone();
    let g = u32::try_from(algo.g).map_err(|_| LoginError::Unexpected("negative SRP g"))?;
    let proof = tokio::task::spawn_blocking(move || {
        let mut rng = StdRng::from_rng(OsRng).map_err(|e| ClientError::Random(e.to_string()))?;
        mtcrypto::srp_client_proof(
            &password,
            &algo.salt1,
            &algo.salt2,
            g,
            &algo.p,
            &srp_b,
            &mut rng,
        )
        .map_err(|_| LoginError::Unexpected("the server's SRP parameters failed the checks"))
    })
    .await
    .map_err(|_| LoginError::Unexpected("the SRP computation was cancelled"))??;
    Ok(types::InputCheckPasswordSRP {
        srp_id,
        a: proof.a.to_vec(),
        m1: proof.m1.to_vec(),
    }
    .into())
}
