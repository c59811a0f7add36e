//! A connection's outbound queue: replies and replays, bounded in frames and bytes, filled
//! without waiting, and the cursors of the topics it follows, drained in batches by the
//! connection's single writer.
//!
//! Every queued frame counts against the limits. One that does not fit marks the connection
//! as a slow consumer (close 4409) instead of waiting or growing: one slow socket never slows
//! a publisher or other sockets. Live events are not queued: the writer reads them from each
//! followed topic's [feed](super::feed), which holds them once for every follower. The
//! connection's reader reads the client's next request only while the queue is at most half
//! full ([`Outbox::has_room`]), so a client that sends without reading is held back by its
//! own socket.

use std::{
    sync::{Mutex, PoisonError},
    task::Poll,
};

use futures_util::task::AtomicWaker;
use hatchery_shared::realtime::CloseCode;
use tokio_util::sync::CancellationToken;

use super::{
    feed::{Cursor, Read},
    wire::WireFrame,
};

/// The most a queue may hold before its connection counts as a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Frames waiting to be written.
    pub frames: usize,
    /// Bytes waiting to be written (as they go on the wire, frame headers included).
    pub bytes: usize,
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The server closes it with this code.
    Close(CloseCode),
    /// The client closed it or went away: nothing more can be sent.
    ClientGone,
}

/// The outbound queue of one connection.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the writer when frames arrive or the connection must close (cheaper than a
    /// `Notify` on the per-delivery path: an atomic swap when the writer already woke).
    writer: AtomicWaker,
    /// Wakes the reader once the writer has drained the queue.
    reader: AtomicWaker,
    /// Cancelled once the connection must close; interrupts a writer stuck on the socket.
    closing: CancellationToken,
    limits: QueueLimits,
}

#[derive(Debug, Default)]
struct Queue {
    /// Oldest first. The writer takes it whole by swapping in its own emptied list.
    items: Vec<Queued>,
    /// The frames among `items`.
    frames: usize,
    bytes: usize,
    /// Set once: how the connection ends. Nothing is queued after it.
    ending: Option<Ending>,
}

/// Something for the writer, in the order it must act on them.
#[derive(Debug)]
enum Queued {
    /// A frame to send.
    Frame(WireFrame),
    /// From here on, also send the live events of a topic (after the `subscribed` reply
    /// and any replay queued before it).
    Follow(Cursor),
}

/// The writer's side of a connection: what it sends next, and where it reads live events.
#[derive(Debug, Default)]
pub struct Batch {
    /// The frames to write now, in order; the writer clears it once they are written.
    pub frames: Vec<WireFrame>,
    /// The queue as last taken, kept to swap with the next one.
    taken: Vec<Queued>,
    /// The topics followed.
    cursors: Vec<Cursor>,
    /// The last batch held more than one frame.
    under_load: bool,
}

/// The most frames one batch takes from the feeds; the writer comes back for the rest.
const MAX_BATCH_FRAMES: usize = 1024;

impl Outbox {
    /// An empty queue with these limits.
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            queue: Mutex::default(),
            writer: AtomicWaker::new(),
            reader: AtomicWaker::new(),
            closing: CancellationToken::new(),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a frame: a live event, a reply or a replayed event. Returns false when it did
    /// not fit: the connection is then closing as a slow consumer and its queue is dropped.
    pub fn push(&self, frame: &WireFrame) -> bool {
        let mut queue = self.lock();
        if queue.ending.is_some() {
            return true;
        }
        if !self.fits(&queue, 1, frame.wire_len()) {
            queue.items.clear();
            queue.frames = 0;
            queue.bytes = 0;
            queue.ending = Some(Ending::Close(CloseCode::SlowConsumer));
            drop(queue);
            self.closing.cancel();
            self.writer.wake();
            return false;
        }
        // The writer was woken by the push that made the queue non-empty, and it takes the
        // whole queue when it runs: later pushes need not wake it again.
        let was_empty = queue.items.is_empty();
        queue.frames += 1;
        queue.bytes += frame.wire_len();
        queue.items.push(Queued::Frame(frame.clone()));
        drop(queue);
        if was_empty {
            self.writer.wake();
        }
        true
    }

    /// Has the writer read the live events of a topic from `cursor`, once it has sent what
    /// is queued before.
    pub fn follow(&self, cursor: Cursor) {
        let mut queue = self.lock();
        if queue.ending.is_some() {
            return;
        }
        let was_empty = queue.items.is_empty();
        queue.items.push(Queued::Follow(cursor));
        drop(queue);
        if was_empty {
            self.writer.wake();
        }
    }

    /// Wakes the writer: a topic it waits on has a new event.
    pub fn wake(&self) {
        self.writer.wake();
    }

    fn fits(&self, queue: &Queue, frames: usize, bytes: usize) -> bool {
        queue.frames + frames <= self.limits.frames && queue.bytes + bytes <= self.limits.bytes
    }

    /// Whether `frames` frames of `bytes` bytes in all would fit now (a replay checks this
    /// first, and is refused rather than closing the connection).
    pub fn would_fit(&self, frames: usize, bytes: usize) -> bool {
        self.fits(&self.lock(), frames, bytes)
    }

    /// Whether the queue is at most half full, so that the client's next request may be
    /// read and answered.
    pub fn has_room(&self) -> bool {
        self.half_empty(&self.lock())
    }

    fn half_empty(&self, queue: &Queue) -> bool {
        queue.frames <= self.limits.frames / 2 && queue.bytes <= self.limits.bytes / 2
    }

    /// Completes once the queue [has room](Self::has_room) again, or the connection ends.
    /// One reader.
    pub async fn room(&self) {
        std::future::poll_fn(|cx| {
            self.reader.register(cx.waker());
            if self.has_room() || self.lock().ending.is_some() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Ends the connection (the first reason wins): the writer sends the close frame, if
    /// any, and stops.
    pub fn end(&self, ending: Ending) {
        let mut queue = self.lock();
        if queue.ending.is_none() {
            queue.ending = Some(ending);
        }
        drop(queue);
        self.closing.cancel();
        self.writer.wake();
        self.reader.wake();
    }

    /// Asks the writer to close the connection with `code` (the first reason wins).
    pub fn close(&self, code: CloseCode) {
        self.end(Ending::Close(code));
    }

    /// Waits until there is something to send: puts every queued frame, then the new events
    /// of the topics followed, in `batch.frames` (which must be empty) and returns `None`;
    /// or returns how the connection ends. One writer.
    ///
    /// A writer under load (its last batch held more than one frame) lets every other task
    /// that is ready run before it looks (it yields), so that what they publish goes out in
    /// the same write: each write costs a system call and a packet. A writer that sends one
    /// frame at a time sends it at once.
    pub async fn next_batch(&self, batch: &mut Batch) -> Option<Ending> {
        debug_assert!(batch.frames.is_empty(), "the last batch was written");
        loop {
            if batch.under_load {
                tokio::task::yield_now().await;
            }
            if let Poll::Ready(taken) =
                std::future::poll_fn(|cx| Poll::Ready(self.take(cx, batch))).await
            {
                batch.under_load = batch.frames.len() > 1;
                return taken;
            }
            // Nothing yet, and the writer's waker is registered: sleep until it is woken.
            let mut slept = false;
            std::future::poll_fn(|_| {
                if std::mem::replace(&mut slept, true) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    /// Moves every queued frame, then the new events of the topics followed, to
    /// `batch.frames`: ready unless there was nothing, or with how the connection ends.
    fn take(&self, cx: &mut std::task::Context<'_>, batch: &mut Batch) -> Poll<Option<Ending>> {
        // Register before looking, so that a push or an event between the look and the wait
        // wakes us.
        self.writer.register(cx.waker());
        let mut queue = self.lock();
        if let Some(ending) = queue.ending {
            return Poll::Ready(Some(ending));
        }
        // Only a reader held back by a full queue waits to be woken.
        let reader_waits = !self.half_empty(&queue);
        std::mem::swap(&mut queue.items, &mut batch.taken);
        queue.frames = 0;
        queue.bytes = 0;
        drop(queue);
        if reader_waits {
            self.reader.wake();
        }
        let Batch {
            frames,
            taken,
            cursors,
            ..
        } = batch;
        for item in taken.drain(..) {
            match item {
                Queued::Frame(frame) => frames.push(frame),
                Queued::Follow(cursor) => cursors.push(cursor),
            }
        }
        // A replaced subscription's cursor finds itself gone here.
        cursors.retain(|cursor| cursor.read(frames, MAX_BATCH_FRAMES) != Read::Gone);
        if frames.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }

    /// Completes once the connection must close (and at once on every later poll).
    pub fn closing(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.closing.cancelled()
    }

    /// How many frames wait in the queue (live events wait in their feeds).
    pub fn depth(&self) -> usize {
        self.lock().frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `text`: its header is two bytes.
    fn frame(text: &str) -> WireFrame {
        WireFrame::text(text.to_owned())
    }

    const LIMITS: QueueLimits = QueueLimits {
        frames: 3,
        bytes: 16,
    };

    #[tokio::test]
    async fn frames_come_out_in_order_in_one_batch() {
        let outbox = Outbox::new(LIMITS);
        assert!(outbox.push(&frame("hello")));
        assert!(outbox.push(&frame("a")));
        assert!(outbox.push(&frame("b")));

        let mut batch = Batch::default();
        assert_eq!(outbox.next_batch(&mut batch).await, None);

        assert_eq!(batch.frames, ["hello", "a", "b"].map(frame));
        assert_eq!(outbox.depth(), 0);
    }

    #[tokio::test]
    async fn too_many_frames_make_a_slow_consumer() {
        let outbox = Outbox::new(LIMITS);
        for text in ["1", "2", "3"] {
            assert!(outbox.push(&frame(text)));
        }

        assert!(!outbox.push(&frame("4")));

        assert_eq!(
            outbox.next_batch(&mut Batch::default()).await,
            Some(Ending::Close(CloseCode::SlowConsumer))
        );
        assert_eq!(outbox.depth(), 0, "the queue is dropped");
        outbox.closing().await;
    }

    #[tokio::test]
    async fn too_many_bytes_make_a_slow_consumer() {
        let outbox = Outbox::new(LIMITS);
        assert!(outbox.push(&frame("123456789")));

        assert!(!outbox.push(&frame("12345")));

        assert_eq!(
            outbox.next_batch(&mut Batch::default()).await,
            Some(Ending::Close(CloseCode::SlowConsumer))
        );
    }

    #[tokio::test]
    async fn replies_count_against_the_limits_and_hold_back_the_reader() {
        let outbox = std::sync::Arc::new(Outbox::new(LIMITS));
        assert!(outbox.push(&frame("pong")));
        assert!(outbox.has_room());
        assert!(outbox.push(&frame("pong")));
        assert!(!outbox.has_room(), "more than half full");
        assert!(!outbox.would_fit(1, 5));
        let reader = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.room().await })
        };
        tokio::task::yield_now().await;
        assert!(!reader.is_finished());

        outbox.next_batch(&mut Batch::default()).await;

        reader.await.unwrap();
        assert!(outbox.push(&frame("pong")));
        assert!(outbox.push(&frame("pong")));
        assert!(
            !outbox.push(&frame("pong")),
            "a reply that does not fit closes too"
        );
        assert_eq!(
            outbox.next_batch(&mut Batch::default()).await,
            Some(Ending::Close(CloseCode::SlowConsumer))
        );
    }

    #[tokio::test]
    async fn draining_makes_room_again() {
        let outbox = Outbox::new(LIMITS);
        for _ in 0..10 {
            assert!(outbox.push(&frame("123")));
            assert!(outbox.push(&frame("456")));
            outbox.next_batch(&mut Batch::default()).await;
        }
        assert!(outbox.push(&frame("789")));
        let mut batch = Batch::default();
        assert_eq!(outbox.next_batch(&mut batch).await, None, "still open");
        assert_eq!(batch.frames, [frame("789")]);
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_frame_pushed_later() {
        let outbox = std::sync::Arc::new(Outbox::new(LIMITS));
        let writer = {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let mut batch = Batch::default();
                outbox.next_batch(&mut batch).await;
                batch.frames
            })
        };
        tokio::task::yield_now().await;

        outbox.push(&frame("late"));

        assert_eq!(writer.await.unwrap(), [frame("late")]);
    }

    #[tokio::test]
    async fn the_first_close_reason_wins() {
        let outbox = Outbox::new(LIMITS);
        outbox.close(CloseCode::HeartbeatTimeout);
        outbox.end(Ending::ClientGone);
        assert_eq!(
            outbox.next_batch(&mut Batch::default()).await,
            Some(Ending::Close(CloseCode::HeartbeatTimeout))
        );
    }
}
