//! 4.9.x DLedger mode: the commit log is a Raft group, and its members answer DLedger's own
//! requests on their `dLegerPeers` port (the same remoting frames, JSON bodies). The broker's
//! role follows the leader (its role handler rewrites brokerId/brokerRole), so the term and leader
//! explain a role change; they are shown, never used to decide the role.
//!
//! METADATA names the leader but leaves the term unset. The term comes from a HEART_BEAT that
//! carries term -1 on behalf of another peer: a member answers any heartbeat of an older term
//! with EXPIRED_TERM and its current term before it looks at anything else, and changes nothing
//! (`DLedgerLeaderElector.handleHeartBeat`, dledger 0.3.1.2 as 4.9.6 ships it).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::remoting::{json, Client, ClientOptions, Command};

use super::error::{AdminError, DecodeError};

/// DLedgerRequestCode.METADATA and HEART_BEAT.
const METADATA: i32 = 50_000;
const HEART_BEAT: i32 = 51_002;
/// DLedgerResponseCode.SUCCESS and EXPIRED_TERM, in the body's `code`.
const DLEDGER_SUCCESS: i64 = 200;
const EXPIRED_TERM: i64 = 403;

/// One member's view of its DLedger group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DLedgerView {
    /// None when the group has no other peer to send the term probe on behalf of.
    pub term: Option<i64>,
    /// The leader's member id (`n0`); None during an election.
    pub leader_id: Option<String>,
    /// The leader's DLedger address, from the group's peers.
    pub leader_addr: Option<String>,
}

/// A broker's own DLedger member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DLedgerMember {
    pub group: String,
    pub self_id: String,
    pub addr: String,
    /// Another member's id (the term probe is sent on its behalf).
    pub other: Option<String>,
}

/// The broker's own DLedger member, from its config: `dLegerGroup`, `dLegerSelfId` and its
/// address in `dLegerPeers` (`n0-host:port;n1-host:port`). None unless `enableDLegerCommitLog`.
pub fn own_member(config: &super::BrokerConfig) -> Option<DLedgerMember> {
    let on = config.get("enableDLegerCommitLog").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let group = config.get("dLegerGroup")?.trim().to_string();
    let self_id = config.get("dLegerSelfId")?.trim().to_string();
    let mut peers = peers(config.get("dLegerPeers")?);
    let addr = peers.remove(&self_id)?;
    let other = peers.into_keys().next();
    on.then_some(DLedgerMember { group, self_id, addr, other })
}

fn peers(list: &str) -> BTreeMap<String, String> {
    list.split(';')
        .filter_map(|p| p.trim().split_once('-'))
        .map(|(id, addr)| (id.to_string(), addr.to_string()))
        .collect()
}

/// One DLedger member, asked at its own address.
pub struct DLedgerAdmin {
    client: Client,
    member: DLedgerMember,
}

impl DLedgerAdmin {
    pub fn new(member: &DLedgerMember, opts: ClientOptions) -> DLedgerAdmin {
        DLedgerAdmin { client: Client::new(member.addr.clone(), opts), member: member.clone() }
    }

    /// The member's view of its group: METADATA (leader), then the term probe.
    pub async fn view(&self) -> Result<DLedgerView, AdminError> {
        let m = &self.member;
        let metadata = serde_json::json!({
            "group": m.group, "remoteId": m.self_id, "localId": "rocketmq-sidecar", "code": 0, "term": -1
        });
        let (leader_id, leader_addr) = self.ask(METADATA, metadata, "DLedger metadata", leader_from_body).await?;
        let term = match &m.other {
            Some(other) => {
                let probe = serde_json::json!({
                    "group": m.group, "remoteId": m.self_id, "localId": other, "leaderId": other, "code": 0, "term": -1
                });
                Some(self.ask(HEART_BEAT, probe, "DLedger term", term_from_body).await?)
            }
            None => None,
        };
        Ok(DLedgerView { term, leader_id, leader_addr })
    }

    async fn ask<T>(
        &self,
        code: i32,
        body: serde_json::Value,
        what: &'static str,
        decode: fn(&[u8]) -> Result<T, DecodeError>,
    ) -> Result<T, AdminError> {
        let resp = self.client.invoke(Command::request(code).with_body(body.to_string().into_bytes())).await?;
        decode(&resp.body).map_err(|reason| AdminError::Decode { what, addr: self.client.addr().to_string(), reason })
    }
}

fn body_json(body: &[u8]) -> Result<serde_json::Value, DecodeError> {
    Ok(json::parse(body)?)
}

/// MetadataResponse: `{"code":200,"group":..,"leaderId":"n1","peers":{"n0":"host:port",..}}`.
fn leader_from_body(body: &[u8]) -> Result<(Option<String>, Option<String>), DecodeError> {
    let v = body_json(body)?;
    let code = v.get("code").and_then(|c| c.as_i64()).ok_or("no code")?;
    if code != DLEDGER_SUCCESS {
        return Err(format!("DLedger answered code {code}").into());
    }
    let leader_id = v.get("leaderId").and_then(|l| l.as_str()).map(str::to_string);
    let leader_addr = leader_id
        .as_ref()
        .and_then(|id| v.get("peers").and_then(|p| p.get(id.as_str())).and_then(|a| a.as_str()).map(str::to_string));
    Ok((leader_id, leader_addr))
}

/// The term probe's answer: `{"code":403,"term":3}` (EXPIRED_TERM with the member's term).
fn term_from_body(body: &[u8]) -> Result<i64, DecodeError> {
    let v = body_json(body)?;
    let code = v.get("code").and_then(|c| c.as_i64()).ok_or("no code")?;
    let term = v.get("term").and_then(|t| t.as_i64()).filter(|t| *t >= 0);
    match (code, term) {
        (EXPIRED_TERM, Some(term)) => Ok(term),
        _ => Err(format!("unexpected answer to the term probe: code {code}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_term_and_own_member() {
        let body = br#"{"code":200,"group":"g","leaderId":"n1","peers":{"n0":"h:1","n1":"h:2"},"term":-1}"#;
        assert_eq!(leader_from_body(body).unwrap(), (Some("n1".into()), Some("h:2".into())));
        assert!(leader_from_body(br#"{"code":502}"#).is_err());
        assert_eq!(term_from_body(br#"{"code":403,"term":3}"#).unwrap(), 3);
        assert!(term_from_body(br#"{"code":200,"term":-1}"#).is_err());
        let config: super::super::BrokerConfig = [
            ("enableDLegerCommitLog", "true"),
            ("dLegerGroup", "g"),
            ("dLegerSelfId", "n1"),
            ("dLegerPeers", "n0-h:1;n1-h:2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let m = own_member(&config).unwrap();
        assert_eq!((m.self_id.as_str(), m.addr.as_str(), m.other.as_deref()), ("n1", "h:2", Some("n0")));
    }
}
