//! Upload progress by the byte, as the HTTP client takes a part's body to the socket.
//!
//! A part's body is one 8 MiB buffer, which the SDK hands over as a single frame, so counting
//! parts as they complete left the bar at 0 % for the first parts on a slow line (8 parts in
//! flight at 5 MiB/s: 13 s). An operation interceptor wraps the body just before it goes out
//! (`modify_before_transmit`: after signing and checksums, so nothing they cover changes) in a
//! body that yields the same bytes in 256 KiB slices (zero-copy) and counts each slice as the
//! client pulls it. The client pulls the next slice once it has written the previous ones, so
//! the count runs ahead of the wire by what the client queues (a few hundred KiB) and what
//! the kernel's send buffer holds (up to a few MiB per connection).
//!
//! A part sent again (a retry of the SDK) counts only the bytes past what its earlier attempts
//! counted, so progress stays monotone and ends exactly at the part's length.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::progress::Progress;

/// Bytes counted at a time.
const SLICE: usize = 256 << 10;

/// Counts one part's body (or a single PUT's) into a transfer's progress.
#[derive(Debug, Clone)]
pub struct CountPart {
    progress: Arc<Progress>,
    /// The most bytes any attempt of this part got out so far.
    counted: Arc<AtomicU64>,
}

impl CountPart {
    pub fn new(progress: Arc<Progress>) -> Self {
        Self {
            progress,
            counted: Arc::default(),
        }
    }

    /// Counts the rest of a part of `len` bytes, once the server confirmed it.
    pub fn finish(&self, len: u64) {
        self.count_up_to(len);
    }

    fn count_up_to(&self, sent: u64) {
        let before = self.counted.fetch_max(sent, Ordering::Relaxed);
        if sent > before {
            self.progress.add(sent - before);
        }
    }
}

impl Intercept for CountPart {
    fn name(&self) -> &'static str {
        "ssec-manager part progress"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request_mut();
        let body = request.take_body();
        let count = self.clone();
        *request.body_mut() = body.map_preserve_contents(move |inner| {
            SdkBody::from_body_1_x(Counted {
                inner,
                pending: Bytes::new(),
                sent: 0,
                count: count.clone(),
            })
        });
        Ok(())
    }
}

/// The same bytes as `inner`, in slices, counted as they are taken.
struct Counted {
    inner: SdkBody,
    /// What is left of the frame being sliced.
    pending: Bytes,
    /// Bytes this attempt gave out.
    sent: u64,
    count: CountPart,
}

impl Counted {
    fn next_slice(&mut self) -> Frame<Bytes> {
        let slice = self.pending.split_to(self.pending.len().min(SLICE));
        self.sent += slice.len() as u64;
        self.count.count_up_to(self.sent);
        Frame::data(slice)
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if !this.pending.is_empty() {
            return Poll::Ready(Some(Ok(this.next_slice())));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    this.pending = data;
                    Poll::Ready(Some(Ok(this.next_slice())))
                }
                Err(other) => Poll::Ready(Some(Ok(other))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = Body::size_hint(&self.inner);
        let pending = self.pending.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + pending);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    /// The wrapped body gives out exactly the same bytes, in slices, and counts them as they
    /// are taken; a second attempt counts nothing it already counted.
    #[tokio::test]
    async fn a_counted_body_keeps_its_bytes_and_counts_them_once() {
        let data: Vec<u8> = (0..(SLICE * 3 + 100)).map(|i| (i % 251) as u8).collect();
        let progress = Arc::new(Progress::default());
        let count = CountPart::new(progress.clone());
        let wrap = |count: &CountPart| {
            SdkBody::from(data.clone()).map_preserve_contents({
                let count = count.clone();
                move |inner| {
                    SdkBody::from_body_1_x(Counted {
                        inner,
                        pending: Bytes::new(),
                        sent: 0,
                        count: count.clone(),
                    })
                }
            })
        };
        let mut body = wrap(&count);
        assert_eq!(body.bytes(), Some(&data[..]), "contents kept for signing");
        let mut seen = vec![];
        let mut back = vec![];
        while let Some(frame) = body.frame().await {
            let piece = frame.unwrap().into_data().unwrap();
            assert!(piece.len() <= SLICE);
            back.extend_from_slice(&piece);
            seen.push(progress.done());
        }
        assert_eq!(back, data);
        assert_eq!(
            seen,
            [SLICE, 2 * SLICE, 3 * SLICE, 3 * SLICE + 100].map(|n| n as u64)
        );

        // A retry of the same part: nothing counted twice.
        let mut again = wrap(&count);
        while again.frame().await.is_some() {}
        count.finish(data.len() as u64);
        assert_eq!(progress.done(), data.len() as u64);
    }
}
