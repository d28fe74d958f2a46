//! Running the throttle and API key steps (defined in `steps::traffic`): token buckets and
//! quota counters in `portico-state`.

use crate::account::Limits;
use crate::exchange::Exchange;
use crate::gateway::Gateway;
use crate::gateway_response::GatewayError;
use crate::steps::traffic::{ACCOUNT, ApiKey, KeySource, Throttle};
use portico_state::throttle::{BucketKey, Check};

const X_API_KEY: http::HeaderName = http::HeaderName::from_static("x-api-key");

/// An account rate at or above this is no limit: the account bucket is skipped (a bucket every
/// request of every worker shares is the one contended lock on the plain path).
const UNLIMITED_RATE: f64 = 1e9;

impl Gateway {
    /// The account throttle in force, `None` when it limits nothing.
    fn account_limits(&self) -> Option<Limits> {
        let l = self.accounts.throttle();
        (l.rate < UNLIMITED_RATE).then_some(l)
    }

    /// The throttle step of a method that requires no key.
    pub(crate) fn throttle(&self, t: &Throttle) -> Result<(), GatewayError> {
        let mut checks =
            [Check::new(BucketKey::Account { account: ACCOUNT }, Limits::new(0.0, 0)); 3];
        let n = t.checks(self.account_limits(), None, &mut checks);
        if n == 0 {
            return Ok(());
        }
        self.state
            .throttle
            .try_acquire(&checks[..n])
            .map_err(|_| GatewayError::throttled())
    }

    /// The API key step.
    pub(crate) fn api_key(
        &self,
        step: &ApiKey,
        x: &mut Exchange<'_>,
        parts: &http::request::Parts,
    ) -> Result<(), GatewayError> {
        let presented = match step.source {
            KeySource::Header => parts.headers.get(X_API_KEY).and_then(|v| v.to_str().ok()),
            KeySource::Authorizer => x.identity.usage_identifier_key.as_deref(),
        };
        let key = match self
            .accounts
            .admit(presented, &x.stage.api_id, &x.stage.stage_name)
        {
            Ok(k) => k,
            Err(why) => {
                tracing::debug!(api = %x.stage.api_id, ?why, "API key refused");
                return Err(GatewayError::invalid_api_key());
            }
        };
        // Known from here on, also to the access log of a throttled request.
        let key = &*x.identity.api_key.insert(key);
        let mut checks =
            [Check::new(BucketKey::Account { account: ACCOUNT }, Limits::new(0.0, 0)); 3];
        let n = step
            .throttle
            .checks(self.account_limits(), Some(key), &mut checks);
        if n > 0 && self.state.throttle.try_acquire(&checks[..n]).is_err() {
            return Err(GatewayError::throttled());
        }
        if let Some(quota) = &key.plan.quota {
            let now = self.now_epoch_seconds();
            if self
                .state
                .quotas
                .try_consume(&key.plan.id, &key.id, quota, now)
                .is_err()
            {
                return Err(GatewayError::quota_exceeded());
            }
        }
        Ok(())
    }
}
