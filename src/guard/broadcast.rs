//! BROADCASTING consumers keep their offsets on the clients (LocalFileOffsetStore), so the
//! broker cannot see how far they are. Each online client is asked through the broker
//! (GET_CONSUMER_RUNNING_INFO, what `mqadmin consumerStatus` does), and each client's backlog
//! counts on its own: every broadcast client must receive every message.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::admin::{bounded, AdminError, BrokerAdmin, ClientProgress, TopicOffsets};

use super::read::BrokerOffsets;
use super::rows::{behind, push_row, Kind, Row};

/// One client to ask: (group, client id).
type Client = (String, String);

/// Rows for every online BROADCASTING client's backlog, and the reasons some could not be told
/// (a client that did not answer, or answered with something unreadable).
pub async fn broadcast_rows(
    admin: &Arc<BrokerAdmin>,
    read: &BrokerOffsets,
    stats: &BTreeMap<String, TopicOffsets>,
    concurrency: usize,
) -> Result<(Vec<Row>, Vec<String>), AdminError> {
    let clients: Vec<Client> = read
        .consumers
        .iter()
        .filter(|(_, online)| online.is_broadcasting())
        .flat_map(|(group, online)| online.clients.iter().map(move |c| (group.clone(), c.clone())))
        .collect();
    let broker_name = read.broker_name().to_string();
    // A client's failure is that client's "cannot tell", not a failed check: collect each answer.
    let answers = bounded(admin, clients, concurrency, move |admin, (group, client): &Client| {
        let (group, client, broker_name) = (group.clone(), client.clone(), broker_name.clone());
        async move { Ok(Some(admin.client_progress(&group, &client, &broker_name).await)) }
    })
    .await?;
    let (mut rows, mut unknown) = (Vec::new(), Vec::new());
    for ((group, client), answer) in answers {
        match answer {
            Ok(progress) if progress.message_model == "CLUSTERING" => {} // its offsets are committed on the broker
            Ok(progress) => client_rows(&mut rows, read, stats, &group, &client, &progress),
            Err(e) => unknown.push(format!(
                "BROADCASTING consumer {client} of group {group} did not report its offsets ({e}); \
                 its backlog cannot be told"
            )),
        }
    }
    Ok((rows, unknown))
}

/// One row per subscribed topic on this broker: max − the client's own offset, per queue; a
/// queue the client has no offset for yet counts from the minimum.
fn client_rows(
    rows: &mut Vec<Row>,
    read: &BrokerOffsets,
    stats: &BTreeMap<String, TopicOffsets>,
    group: &str,
    client: &str,
    progress: &ClientProgress,
) {
    let Some(online) = read.consumers.get(group) else { return };
    for topic in &online.topics {
        let Some(queues) = stats.get(topic) else { continue };
        let position: BTreeMap<u32, i64> = queues
            .keys()
            .filter_map(|q| progress.offsets.get(&(topic.clone(), *q)).map(|off| (*q, *off)))
            .filter(|(_, off)| *off >= 0)
            .collect();
        let row = Row {
            group: Some(group.to_string()),
            client: Some(client.to_string()),
            topic: topic.clone(),
            kind: Kind::Broadcast,
            queues_behind: 0,
            messages: 0,
            blocks: true,
        };
        push_row(rows, row, behind(queues, &position));
    }
}
