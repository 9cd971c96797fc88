//! A request whose head the HTTP layer cannot read (a request line that does not
//! parse, a URL over its limit, headers over theirs) is answered by hyper itself,
//! before callsheet sees a request: a status line and an empty body. [`Enveloped`]
//! wraps each connection so that those answers carry callsheet's envelope too, like
//! every other refusal: `{"r":…,"msg":…,"message":…}` naming what was wrong and the
//! limit, with hyper's status kept (400, 414, 431).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most headers a request may carry.
pub const MAX_HEADERS: usize = 100;
/// The most bytes a request's head may take (hyper's read buffer; bodies are read in
/// pieces of it).
pub const MAX_HEAD_BYTES: usize = 400 * 1024;

/// The refusal of a head over its limits.
pub fn head_too_large() -> String {
    format!("request headers too large: the limit is {MAX_HEADERS} headers and {} KiB", MAX_HEAD_BYTES / 1024)
}

/// The bytes of a request's head as it came: its request line and its headers.
pub fn head_bytes<B>(req: &axum::http::Request<B>) -> usize {
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum();
    line + headers + 2
}

/// hyper's own answers, by their status line, with the envelope each gets.
fn envelope_for(status_line: &[u8]) -> Option<(u8, String)> {
    Some(match status_line {
        b"HTTP/1.1 400 Bad Request" => {
            (1, "malformed HTTP request: the request line or a header cannot be read".into())
        }
        b"HTTP/1.1 414 URI Too Long" => {
            (9, "URL too long: the limit is 65534 bytes; send long lists in the request body".into())
        }
        b"HTTP/1.1 431 Request Header Fields Too Large" => (9, head_too_large()),
        _ => return None,
    })
}

/// The answer to write instead of `head`, when `head` is one of hyper's own empty
/// answers to an unreadable request: the same head with a JSON body.
fn enveloped(head: &[u8]) -> Option<Vec<u8>> {
    // callsheet's own answers always have a body: an empty one with `connection:
    // close` is hyper's.
    if !head.ends_with(b"\r\n\r\n") || !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.split_once("\r\n")?;
    if !rest.contains("content-length: 0\r\n") || !rest.contains("connection: close\r\n") {
        return None;
    }
    let (r, msg) = envelope_for(status_line.as_bytes())?;
    let body = serde_json::json!({"r": r, "msg": msg, "message": msg}).to_string();
    let headers =
        rest.trim_end_matches("\r\n").replace("content-length: 0", &format!("content-length: {}", body.len()));
    Some(format!("{status_line}\r\ncontent-type: application/json\r\n{headers}\r\n\r\n{body}").into_bytes())
}

/// A connection whose writes pass through unchanged, but for hyper's empty answers to
/// an unreadable request, which go out with an envelope.
pub struct Enveloped<S> {
    inner: S,
    /// Bytes of a replaced answer not yet written.
    pending: Vec<u8>,
}

impl<S> Enveloped<S> {
    pub fn new(inner: S) -> Self {
        Enveloped { inner, pending: Vec::new() }
    }
}

impl<S: AsyncWrite + Unpin> Enveloped<S> {
    /// Writes what is pending of a replaced answer; ready once it is all written.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Enveloped<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Enveloped<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            std::task::ready!(this.drain(cx))?;
        }
        if let Some(answer) = enveloped(buf) {
            // Taken whole: what the socket does not take now goes with the flush.
            this.pending = answer;
            return match this.drain(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper's answers without a body come as one piece.
        let mut pieces = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (pieces.next(), pieces.next())
            && (!this.pending.is_empty() || enveloped(only).is_some())
        {
            return Pin::new(this).poll_write(cx, only);
        }
        if !this.pending.is_empty() {
            std::task::ready!(this.drain(cx))?;
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_empty_answers_get_an_envelope_and_others_pass() {
        let head = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 22:39:54 GMT\r\n\r\n";
        let answer = String::from_utf8(enveloped(head).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\
                 date: Sun, 06 Dec 2026 22:39:54 GMT",
                body.len()
            )
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["r"], 9);
        assert_eq!(body["msg"], body["message"]);
        for head in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n{}",
        ] {
            assert_eq!(enveloped(head), None, "{}", String::from_utf8_lossy(head));
        }
    }
}
