//! The cluster's record in DynamoDB: one item per cluster, its generation as the
//! condition of every write.

use aws_sdk_dynamodb::types::AttributeValue;
use swarmhook::cluster::StoreRecord;
use swarmhook::ports::{ClusterStore, PortError, WriteOutcome};

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
        let Some(item) = out.item() else {
            return Ok(StoreRecord::default());
        };
        let json = item
            .get("record")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| self.corrupt("the item has no record".into()))?;
        serde_json::from_str(json).map_err(|e| self.corrupt(e.to_string()))
    }

    async fn save(
        &self,
        record: &StoreRecord,
        expected_generation: u64,
    ) -> Result<WriteOutcome, PortError> {
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
        match result {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(e) if code_of(&e) == Some("ConditionalCheckFailedException") => {
                Ok(WriteOutcome::Conflict)
            }
            Err(e) => Err(port_error("PutItem", &self.table, e)),
        }
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
