//! A stand-in for CloudFormation's ResponseURL: a loopback HTTP endpoint that takes each
//! answer PUT to it, replies 200, and hands the body to the test.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::LabError;

pub struct AnswerCatcher {
    pub url: String,
    answers: mpsc::Receiver<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl AnswerCatcher {
    pub async fn start() -> Result<AnswerCatcher, LabError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| LabError::Unexpected(format!("binding the answer catcher: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| LabError::Unexpected(e.to_string()))?
            .port();
        let (tx, answers) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(socket);
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let mut socket = reader.into_inner();
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    let _ = tx.send(body).await;
                });
            }
        });
        Ok(AnswerCatcher {
            url: format!("http://127.0.0.1:{port}/answer"),
            answers,
            task,
        })
    }

    /// The next answer's body, or None if none comes within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        tokio::time::timeout(timeout, self.answers.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for AnswerCatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
