//! Sending a plan: one request, read back, verify every value; undo on a partial result.

use std::collections::BTreeMap;

use crate::admin::{BrokerAdmin, BrokerConfig};
use crate::params::{normalize, Param};

use super::error::ReloadError;
use super::plan::Plan;

/// Applies `plan.send` in one UPDATE_BROKER_CONFIG and verifies it by reading the config back.
/// Returns whether a request was sent (false: nothing to change). If some values did not take,
/// the ones that did are put back to their previous values, so the broker never keeps half a change.
pub async fn apply(admin: &BrokerAdmin, plan: &Plan) -> Result<bool, ReloadError> {
    if plan.send.is_empty() {
        return Ok(false);
    }
    admin.update_config(&plan.body()).await.map_err(ReloadError::Broker)?;
    let after = admin.config().await.map_err(ReloadError::Unverified)?;
    let sent: Vec<(&Param, String)> = plan.send.iter().map(|c| (c.param, c.to.clone())).collect();
    let missed = not_taken(&sent, &after);
    if missed.is_empty() {
        return Ok(true);
    }
    let undo: Vec<(&Param, String)> = plan
        .send
        .iter()
        .filter(|c| !missed.iter().any(|m| m == c.key))
        .filter_map(|c| Some((c.param, c.from.clone()?)))
        .collect();
    let rolled_back = undo.is_empty() || rollback(admin, &undo).await;
    Err(ReloadError::NotTaken { missed, rolled_back })
}

/// Keys whose value on the broker is not the one we sent.
pub fn not_taken(sent: &[(&Param, String)], config: &BrokerConfig) -> Vec<String> {
    sent.iter()
        .filter(|(param, want)| {
            let got = config.get(param.name);
            got.is_none_or(|got| normalize(param, got).as_deref() != Some(want.as_str()))
        })
        .map(|(param, _)| param.name.to_string())
        .collect()
}

async fn rollback(admin: &BrokerAdmin, undo: &[(&Param, String)]) -> bool {
    let body: BTreeMap<String, String> = undo.iter().map(|(p, v)| (p.name.to_string(), v.clone())).collect();
    if admin.update_config(&body).await.is_err() {
        return false;
    }
    match admin.config().await {
        Ok(config) => not_taken(undo, &config).is_empty(),
        Err(_) => false,
    }
}
