//! The cluster's record in DynamoDB: one item per cluster, its generation as the
//! condition of every write.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use swarmhook::cluster::StoreRecord;
use swarmhook::ports::{ClusterStore, PortError, Saved};

use crate::error::{code_of, port_error};

pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    cluster: String,
}

impl DynamoStore {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        cluster: impl Into<String>,
    ) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            cluster: cluster.into(),
        }
    }

    /// The record an item holds (None: the item holds none, a table written by no one).
    fn record_of(&self, item: &HashMap<String, AttributeValue>) -> Result<StoreRecord, PortError> {
        let json = item
            .get("record")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| self.corrupt("the item has no record".into()))?;
        serde_json::from_str(json).map_err(|e| self.corrupt(e.to_string()))
    }

    fn corrupt(&self, why: String) -> PortError {
        PortError {
            operation: "reading the cluster record",
            target: format!("{}/{}", self.table, self.cluster),
            retryable: false,
            source: why.into(),
        }
    }
}

impl ClusterStore for DynamoStore {
    async fn load(&self) -> Result<StoreRecord, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("cluster", AttributeValue::S(self.cluster.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("GetItem", &self.table, e))?;
        match out.item() {
            None => Ok(StoreRecord::default()),
            Some(item) => self.record_of(item),
        }
    }

    async fn save(
        &self,
        record: &StoreRecord,
        expected_generation: u64,
    ) -> Result<Saved, PortError> {
        let json = serde_json::to_string(record).map_err(|e| self.corrupt(e.to_string()))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("cluster", AttributeValue::S(self.cluster.clone()))
            .item(
                "generation",
                AttributeValue::N(record.generation.to_string()),
            )
            .item("record", AttributeValue::S(json))
            // A lost race returns what won, which spares the loser a read.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .expression_attribute_names("#g", "generation")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_generation.to_string()),
            );
        // DynamoDB refuses attribute names its condition does not use.
        let put = if expected_generation == 0 {
            put.condition_expression("attribute_not_exists(#c) OR #g = :expected")
                .expression_attribute_names("#c", "cluster")
        } else {
            put.condition_expression("#g = :expected")
        };
        let result = put.send().await;
        let e = match result {
            Ok(_) => return Ok(Saved::Written),
            Err(e) => e,
        };
        if let Some(PutItemError::ConditionalCheckFailedException(lost)) = e.as_service_error() {
            // An item whose record cannot be read is read again (and reported) by load.
            let current = (lost.item())
                .and_then(|item| self.record_of(item).ok())
                .map(Box::new);
            return Ok(Saved::Lost { current });
        }
        if code_of(&e) == Some("ConditionalCheckFailedException") {
            return Ok(Saved::Lost { current: None });
        }
        Err(port_error("PutItem", &self.table, e))
    }

    async fn remove(&self) -> Result<(), PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("cluster", AttributeValue::S(self.cluster.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The table went first (or never was): there is no record to remove.
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(port_error("DeleteItem", &self.table, e)),
        }
    }
}
