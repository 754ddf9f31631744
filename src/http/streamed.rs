//! Answers sent as they are made: a large answer is written off the async threads, in
//! chunks that go out as the client takes them (a few in flight at most), so that its text
//! is never held whole beside the value it is made from.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Size of the chunks an answer is written in.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks in flight between the writer and the connection at most.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A body of the chunks `iter` makes, made on a blocking thread as the client takes them.
pub fn body(iter: impl Iterator<Item = Bytes> + Send + 'static) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        for chunk in iter {
            if tx.blocking_send(Ok(chunk)).is_err() {
                return; // the client went away
            }
        }
    });
    Body::from_stream(ReceiverStream(rx))
}

/// `value` as a JSON answer of `content_type`, serialized as it is sent.
pub fn json<T: Serialize + Send + 'static>(value: T, content_type: &'static str) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter { tx, chunk: Vec::with_capacity(CHUNK_BYTES) };
        let written = serde_json::to_writer(&mut writer, &value).map_err(std::io::Error::from).and_then(|()| writer.send());
        if let Err(e) = written {
            // The client went away, or (never for our answers) the value did not serialize:
            // the body ends with an error, and the client sees a broken answer, not a short one.
            let _ = writer.tx.blocking_send(Err(e));
        }
    });
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], Body::from_stream(ReceiverStream(rx))).into_response()
}

/// Writes into chunks of [`CHUNK_BYTES`], each sent when full.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    chunk: Vec<u8>,
}

impl ChunkWriter {
    /// Sends what is written so far.
    fn send(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES));
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunk.extend_from_slice(buf);
        if self.chunk.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A stream over an mpsc receiver.
struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_json_answer_arrives_whole_in_chunks() {
        let value: Vec<String> = (0..50_000).map(|i| format!("candidate {i}")).collect();
        let expected = serde_json::to_vec(&value).expect("json");
        let response = json(value, "application/json");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let mut body = response.into_body();
        let (mut received, mut chunks) = (Vec::new(), 0);
        while let Some(frame) = body.frame().await {
            let data = frame.expect("a frame").into_data().expect("data");
            assert!(data.len() <= CHUNK_BYTES + 64, "a chunk of {} bytes", data.len());
            received.extend_from_slice(&data);
            chunks += 1;
        }
        assert_eq!(received, expected);
        assert!(chunks > expected.len() / CHUNK_BYTES, "{chunks} chunks for {} bytes", expected.len());
    }
}
