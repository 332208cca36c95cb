//! The topic and subscription-group tables, read in pages where the broker serves them so.
//!
//! A broker with tens of thousands of topics or groups can have a table larger than one frame
//! (16 MiB by default). RocketMQ 5.3.4 added paging to both reads (apache/rocketmq PR 9468,
//! `AdminBrokerProcessor.getAllTopicConfig` / `getAllSubscriptionGroup`): a request that carries a
//! start row, a row count and the table's `dataVersion` gets those rows of the table sorted by name,
//! and its answer names the table's total size (`totalTopicNum` / `totalGroupNum`). A broker that
//! does not page (before 5.3.4, or `enableSplitMetadata=false`) ignores the fields and answers the
//! whole table without a total, so the same request serves every release.
//!
//! If the table changes between pages, the broker starts again from row 0 (the `dataVersion` sent
//! no longer matches its own); so does this reader, a bounded number of times.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::remoting::codes::request::{GET_ALL_SUBSCRIPTIONGROUP_CONFIG, GET_ALL_TOPIC_CONFIG};
use crate::remoting::{json, Command, RemotingError};

use super::broker::BrokerAdmin;
use super::error::{AdminError, DecodeError};

/// One of the two paged tables: its request and the names of its paging fields.
pub(super) struct Table {
    code: i32,
    what: &'static str,
    start_field: &'static str,
    rows_field: &'static str,
    total_field: &'static str,
    rows_key: &'static str,
}

pub(super) const TOPICS: Table = Table {
    code: GET_ALL_TOPIC_CONFIG,
    what: "topic configs",
    start_field: "topicSeq",
    rows_field: "maxTopicNum",
    total_field: "totalTopicNum",
    rows_key: "topicConfigTable",
};

pub(super) const GROUPS: Table = Table {
    code: GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
    what: "subscription groups",
    start_field: "groupSeq",
    rows_field: "maxGroupNum",
    total_field: "totalGroupNum",
    rows_key: "subscriptionGroupTable",
};

/// Rows asked for per page. The broker serves at most its `splitMetadataSize` (2,000 by default)
/// whatever is asked; 2,000 topic configs are well under a megabyte.
pub const PAGE_ROWS: usize = 2000;

/// A table whose `dataVersion` moves during every one of this many reads is given up on.
const RESTARTS: usize = 3;

/// Where one page left the read.
enum Next {
    Done,
    More,
}

/// The whole table as one document, the shape of a single unpaged answer: the first page's
/// document with every later page's rows (and per-row side tables) merged in. For seeding, which
/// writes the document out.
pub(super) async fn read_document(admin: &BrokerAdmin, table: &Table) -> Result<Value, AdminError> {
    Ok(read::<Document>(admin, table).await?.0.unwrap_or(Value::Null))
}

/// The table's rows, typed, each page read row by row: a check never holds the table as a
/// document (at 10,000 groups that tree was half of `serve`'s peak memory).
pub(super) async fn read_rows<T: DeserializeOwned>(
    admin: &BrokerAdmin,
    table: &Table,
) -> Result<BTreeMap<String, T>, AdminError> {
    Ok(read::<Rows<T>>(admin, table).await?.rows)
}

/// What a read keeps of its pages: the whole document, or typed rows.
trait Pages: Default {
    type Page;
    /// One page and its `dataVersion` (as JSON text, to send back and compare).
    fn parse(body: &[u8], table: &Table) -> Result<(Self::Page, Option<String>), DecodeError>;
    /// Adds a page. An empty page after the first ends the read: the table shrank under it.
    fn add(&mut self, page: Self::Page, table: &Table) -> Next;
    fn rows(&self, table: &Table) -> usize;
}

async fn read<P: Pages>(admin: &BrokerAdmin, table: &Table) -> Result<P, AdminError> {
    let mut restarts = 0;
    let mut pages = P::default();
    // The first page's dataVersion, sent with every later request of the same pass.
    let mut version: Option<String> = None;
    loop {
        let mut request = Command::request(table.code)
            .with_ext(table.start_field, pages.rows(table).to_string())
            .with_ext(table.rows_field, PAGE_ROWS.to_string());
        if let Some(v) = &version {
            request = request.with_ext("dataVersion", v.as_str());
        }
        let answer = match admin.call(request).await {
            Err(source @ RemotingError::TooLarge { .. }) => {
                return Err(AdminError::TableTooLarge { what: table.what, source: Box::new(source) })
            }
            other => other?,
        };
        let (page, page_version) = P::parse(&answer.body, table).map_err(|e| admin.decode_err(table.what, e))?;
        let Some(total) = answer.ext_fields.get(table.total_field) else {
            pages.add(page, table); // a broker that does not page: this is the whole table
            return Ok(pages);
        };
        let total: usize = total.trim().parse().map_err(|_| {
            admin.decode_err(table.what, DecodeError::Shape(format!("{} is {total:?}", table.total_field)))
        })?;
        // The table moved since the first page: the broker started again from row 0, so do we.
        if version.is_some() && page_version != version {
            restarts += 1;
            if restarts > RESTARTS {
                let why = format!("the table changed during each of {RESTARTS} paged reads; try again");
                return Err(admin.decode_err(table.what, DecodeError::Shape(why)));
            }
            pages = P::default();
            version = None;
        }
        if version.is_none() {
            version = page_version;
        }
        let next = pages.add(page, table);
        if matches!(next, Next::Done) || pages.rows(table) >= total {
            return Ok(pages);
        }
    }
}

/// The pages merged into one document.
#[derive(Default)]
struct Document(Option<Value>);

impl Pages for Document {
    type Page = Value;

    fn parse(body: &[u8], _: &Table) -> Result<(Value, Option<String>), DecodeError> {
        let page = json::parse(body)?;
        let version = page.get("dataVersion").map(Value::to_string);
        Ok((page, version))
    }

    fn add(&mut self, page: Value, table: &Table) -> Next {
        match self.0.as_mut() {
            Some(doc) => merge(doc, page, table.rows_key),
            None => {
                self.0 = Some(page);
                Next::More
            }
        }
    }

    fn rows(&self, table: &Table) -> usize {
        self.0.as_ref().map_or(0, |d| rows(d, table.rows_key))
    }
}

/// The pages' rows, typed.
struct Rows<T> {
    rows: BTreeMap<String, T>,
    started: bool,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows { rows: BTreeMap::new(), started: false }
    }
}

impl<T: DeserializeOwned> Pages for Rows<T> {
    type Page = Vec<(String, T)>;

    fn parse(body: &[u8], table: &Table) -> Result<(Self::Page, Option<String>), DecodeError> {
        let page = super::stats::rows_of(body, table.rows_key)?;
        Ok((page.rows, page.rest.get("dataVersion").map(Value::to_string)))
    }

    fn add(&mut self, page: Self::Page, _: &Table) -> Next {
        let first = !std::mem::replace(&mut self.started, true);
        if !first && page.is_empty() {
            return Next::Done;
        }
        if self.rows.is_empty() {
            // The first (or only) page built at once from its rows sorted, not row by row: an
            // unpaged 10,000-row table comes in hash order, and inserting it searched the growing
            // map once per row (the broker pages in name order, so later pages append).
            self.rows = page.into_iter().collect();
        } else {
            self.rows.extend(page);
        }
        Next::More
    }

    fn rows(&self, _: &Table) -> usize {
        self.rows.len()
    }
}

fn rows(doc: &Value, key: &str) -> usize {
    doc.get(key).and_then(Value::as_object).map_or(0, |m| m.len())
}

/// Adds a later page's rows, and its side tables keyed by row (topic queue mappings, forbidden
/// groups), to the document. An empty page ends the read: the table shrank under it.
fn merge(doc: &mut Value, page: Value, rows_key: &str) -> Next {
    let Value::Object(page) = page else { return Next::Done };
    let empty = page.get(rows_key).and_then(Value::as_object).is_none_or(|m| m.is_empty());
    for (key, value) in page {
        if let (Value::Object(more), Some(Value::Object(have))) = (value, doc.get_mut(&key)) {
            if !key.ends_with("ataVersion") {
                have.extend(more);
            }
        }
    }
    if empty {
        Next::Done
    } else {
        Next::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_merge_rows_and_side_tables_but_not_versions() {
        let mut doc = json!({"dataVersion": {"counter": 1}, "topicConfigTable": {"a": {}}, "mapping": {"a": 1}});
        let page = json!({"dataVersion": {"counter": 9}, "topicConfigTable": {"b": {}}, "mapping": {"b": 2}});
        assert!(matches!(merge(&mut doc, page, "topicConfigTable"), Next::More));
        assert_eq!(rows(&doc, "topicConfigTable"), 2);
        assert_eq!(doc["mapping"], json!({"a": 1, "b": 2}));
        assert_eq!(doc["dataVersion"], json!({"counter": 1}), "the first page's version stands");
        let empty = json!({"topicConfigTable": {}});
        assert!(matches!(merge(&mut doc, empty, "topicConfigTable"), Next::Done));
    }
}
