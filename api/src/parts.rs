//! The uploads' part buffers: a fixed number of `PART_SIZE` buffers shared by every upload,
//! so the memory uploads hold is bounded (count x 5 MiB) whatever the concurrency. An upload
//! takes a buffer before it reads bytes into it and gives it back once that part is in S3;
//! when all are taken it waits without reading, so TCP backpressure makes the client's
//! upload slower. Buffers are kept for reuse: no allocation per part.
//!
//! The wait is bounded too, since a waiting upload still holds its connection and what was
//! read of it: at most `Queue::max_waiting` uploads wait at once, each for at most
//! `Queue::max_wait`. Past either, `acquire` answers `Busy` and the upload is refused (503
//! `server_busy`), so an overload is shed at once instead of piling up connections
//! (memory) that their clients have long given up on.
//!
//! Once a wait has run out, the server is overloaded: for the next `max_wait`, an upload
//! that has no buffer yet (`admit`) may wait only while fewer than `Queue::overload_waiting`
//! uploads wait (by default as many as there are buffers: about one part's store each), and
//! is refused at once past that. The uploads refused in an overload then hear so at once
//! rather than after the whole wait, and those let in wait briefly, instead of a long
//! queue in which most waits run out. An upload already storing parts (`acquire`) keeps the
//! whole queue: refusing it would throw away what it stored. Every wait that runs out keeps
//! the server overloaded for another `max_wait` (as a router's CoDel queue sheds load while
//! its delay stays above target).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// How uploads wait for a buffer when all are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    /// Uploads that may wait at once; one more is refused without waiting.
    pub max_waiting: usize,
    /// How long one upload may wait.
    pub max_wait: Duration,
    /// Uploads with no buffer yet that may wait at once while the server is overloaded (a
    /// wait ran out within the last `max_wait`); at most `max_waiting`.
    pub overload_waiting: usize,
}

/// Why `acquire` handed out no buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// `max_waiting` uploads were already waiting.
    QueueFull,
    /// No buffer came free within `max_wait`.
    Waited(Duration),
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Busy::QueueFull => write!(
                f,
                "every part buffer is in use and the queue for them is full"
            ),
            Busy::Waited(d) => write!(f, "no part buffer came free within {} s", d.as_secs_f64()),
        }
    }
}

pub struct PartBuffers {
    permits: Semaphore,
    free: Mutex<Vec<BytesMut>>,
    count: usize,
    size: usize,
    allocated: AtomicUsize,
    queue: Queue,
    waiting: AtomicUsize,
    refused: AtomicUsize,
    /// Until when the server counts as overloaded (a wait ran out within `max_wait`).
    overloaded_until: Mutex<Option<Instant>>,
}

/// Counts one waiting upload until dropped (also when its request is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PartBuffers {
    /// `count` buffers of `size` bytes each (a count of 0 is taken as 1), waited for as
    /// `queue` says.
    pub fn new(count: usize, size: usize, queue: Queue) -> PartBuffers {
        let count = count.max(1);
        PartBuffers {
            permits: Semaphore::new(count),
            free: Mutex::new(Vec::with_capacity(count)),
            count,
            size,
            allocated: AtomicUsize::new(0),
            queue,
            waiting: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            overloaded_until: Mutex::new(None),
        }
    }

    /// An upload's first buffer: as [`PartBuffers::acquire`], but while the server is
    /// overloaded it waits only behind fewer than `overload_waiting` others (see the module's
    /// documentation).
    pub async fn admit(&self) -> Result<PartBuffer<'_>, Busy> {
        let max_waiting = if self.overloaded() {
            self.queue.overload_waiting.min(self.queue.max_waiting)
        } else {
            self.queue.max_waiting
        };
        self.take(max_waiting).await
    }

    /// A buffer: at once if one is free, else after waiting in the queue (first come, first
    /// served) within its bounds.
    pub async fn acquire(&self) -> Result<PartBuffer<'_>, Busy> {
        self.take(self.queue.max_waiting).await
    }

    /// Whether a wait has run out within the last `max_wait`.
    pub fn overloaded(&self) -> bool {
        self.overloaded_until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    async fn take(&self, max_waiting: usize) -> Result<PartBuffer<'_>, Busy> {
        let permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => self.wait(max_waiting).await.inspect_err(|busy| {
                self.refused.fetch_add(1, Ordering::Relaxed);
                if let Busy::Waited(_) = busy {
                    if let Ok(mut until) = self.overloaded_until.lock() {
                        *until = Some(Instant::now() + self.queue.max_wait);
                    }
                }
            })?,
        };
        let reused = self.free.lock().map(|mut free| free.pop()).unwrap_or(None);
        let buf = reused.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            BytesMut::with_capacity(self.size)
        });
        Ok(PartBuffer {
            buf,
            pool: self,
            _permit: permit,
        })
    }

    async fn wait(&self, max: usize) -> Result<SemaphorePermit<'_>, Busy> {
        self.waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| Busy::QueueFull)?;
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.queue.max_wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => unreachable!("PartBuffers owns its semaphore and never closes it"),
            Err(_) => Err(Busy::Waited(self.queue.max_wait)),
        }
    }

    /// How many buffers exist at most.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The size of each buffer (one S3 part).
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many buffers uploads hold right now.
    pub fn in_use(&self) -> usize {
        self.count - self.permits.available_permits()
    }

    /// How many uploads are waiting for a buffer right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How many times an upload was refused a buffer (`Busy`) since the start.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    /// How many buffers were ever allocated; stays at most `count` while buffers are reused.
    pub fn allocated(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }
}

/// One part's buffer, borrowed from `PartBuffers` until dropped.
pub struct PartBuffer<'a> {
    buf: BytesMut,
    pool: &'a PartBuffers,
    _permit: SemaphorePermit<'a>,
}

impl PartBuffer<'_> {
    /// Appends as much of `bytes` as fits in the part; returns what did not fit.
    pub fn fill<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let n = bytes.len().min(self.pool.size - self.buf.len());
        self.buf.extend_from_slice(&bytes[..n]);
        &bytes[n..]
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.pool.size
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes so far, for a request body, without copying; the allocation returns to the
    /// pool when this buffer is dropped after the request has let go of them.
    pub fn take(&mut self) -> Bytes {
        self.buf.split().freeze()
    }
}

impl Drop for PartBuffer<'_> {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        // Succeeds once every `Bytes` from `take` is gone; else the allocation is freed with
        // the last of them and the next `acquire` allocates a new one.
        if buf.try_reclaim(self.pool.size) {
            if let Ok(mut free) = self.pool.free.lock() {
                free.push(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const QUEUE: Queue = Queue {
        max_waiting: 8,
        max_wait: Duration::from_secs(60),
        overload_waiting: 8,
    };

    #[test]
    fn fill_stops_at_the_part_size() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = PartBuffers::new(1, 10, QUEUE);
        rt.block_on(async {
            let mut b = pool.acquire().await.unwrap();
            assert_eq!(b.fill(b"abcd"), b"");
            assert_eq!(b.fill(b"efghijkl"), b"kl");
            assert!(b.is_full());
            assert_eq!(b.len(), 10);
            assert_eq!(&b.take()[..], b"abcdefghij");
            assert!(b.is_empty());
            assert_eq!(b.fill(b"kl"), b"");
            assert_eq!(b.as_slice(), b"kl");
        });
    }

    #[tokio::test]
    async fn at_most_count_buffers_are_out_and_the_next_waits() {
        let pool = PartBuffers::new(2, 16, QUEUE);
        let a = pool.acquire().await.unwrap();
        let b = pool.acquire().await.unwrap();
        assert_eq!(pool.in_use(), 2);
        let waiting = tokio::time::timeout(Duration::from_millis(50), pool.acquire()).await;
        assert!(waiting.is_err(), "a third buffer was handed out");
        drop(a);
        assert_eq!(pool.in_use(), 1);
        let c = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
            .await
            .expect("a returned buffer is handed out again");
        assert_eq!(pool.in_use(), 2);
        drop((b, c));
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.allocated(), 2, "the returned buffer was reused");
    }

    #[tokio::test]
    async fn a_taken_part_comes_back_once_released() {
        let pool = PartBuffers::new(1, 8, QUEUE);
        let mut b = pool.acquire().await.unwrap();
        b.fill(b"12345678");
        let part = b.take();
        let held = part.clone();
        drop(part);
        // Still referenced (a request that has not finished): not reusable yet.
        drop(b);
        let mut b = pool.acquire().await.unwrap();
        assert_eq!(pool.allocated(), 2);
        assert_eq!(&held[..], b"12345678", "a held part is never overwritten");
        drop(held);
        b.fill(b"abcdefgh");
        let part = b.take();
        drop(part);
        drop(b);
        let mut b = pool.acquire().await.unwrap();
        assert_eq!(pool.allocated(), 2, "the released allocation was reused");
        let ptr = b.buf.as_ptr();
        b.fill(b"x");
        let part = b.take();
        drop(part);
        drop(b);
        let b = pool.acquire().await.unwrap();
        assert_eq!(b.buf.as_ptr(), ptr, "the same allocation, not a copy");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_a_long_wait_ends() {
        let queue = Queue {
            max_waiting: 1,
            max_wait: Duration::from_millis(300),
            overload_waiting: 1,
        };
        let pool = PartBuffers::new(1, 8, queue);
        let held = pool.acquire().await.unwrap();
        // One upload waits; the next is refused without waiting, while the first still waits.
        let (first, second) = tokio::join!(pool.acquire(), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(pool.waiting(), 1);
            let started = std::time::Instant::now();
            let refused = pool.acquire().await.err();
            (refused, started.elapsed())
        });
        assert_eq!(first.err(), Some(Busy::Waited(queue.max_wait)));
        assert_eq!(second.0, Some(Busy::QueueFull));
        assert!(
            second.1 < Duration::from_millis(100),
            "refused after {:?}",
            second.1
        );
        assert_eq!((pool.waiting(), pool.refused()), (0, 2));
        // A buffer that comes free within the wait is handed to the waiting upload.
        let (got, ()) = tokio::join!(pool.acquire(), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        });
        assert!(got.is_ok());
        assert_eq!(pool.waiting(), 0);
    }

    /// Once a wait has run out, a new upload may wait only behind fewer than
    /// `overload_waiting` others and is refused at once past that, while an upload already
    /// storing parts keeps the whole queue; once no wait has run out for `max_wait`, new uploads
    /// have the whole queue again.
    #[tokio::test]
    async fn after_a_wait_runs_out_new_uploads_have_a_shorter_queue() {
        let queue = Queue {
            max_waiting: 8,
            max_wait: Duration::from_millis(600),
            overload_waiting: 1,
        };
        let pool = PartBuffers::new(1, 8, queue);
        let held = pool.acquire().await.unwrap();
        assert!(!pool.overloaded());
        // Two new uploads wait at once: the queue is not short yet.
        let (a, b) = tokio::join!(pool.admit(), pool.admit());
        assert_eq!(a.err(), Some(Busy::Waited(queue.max_wait)));
        assert_eq!(b.err(), Some(Busy::Waited(queue.max_wait)));
        assert!(pool.overloaded());

        // One new upload waits; the next is refused at once; a later part still waits.
        let refused = |started: Instant, busy: Option<Busy>| (busy, started.elapsed());
        let (first, second, part) = tokio::join!(
            pool.admit(),
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                assert_eq!(pool.waiting(), 1);
                let started = Instant::now();
                refused(started, pool.admit().await.err())
            },
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tokio::time::timeout(Duration::from_millis(100), pool.acquire())
                    .await
                    .is_err()
            }
        );
        assert_eq!(first.err(), Some(Busy::Waited(queue.max_wait)));
        assert_eq!(second.0, Some(Busy::QueueFull));
        assert!(second.1 < Duration::from_millis(100), "{:?}", second.1);
        assert!(part, "a later part was refused instead of waiting");

        // No wait runs out for `max_wait`: two new uploads wait at once again.
        tokio::time::sleep(queue.max_wait).await;
        assert!(!pool.overloaded());
        let (a, b, ()) = tokio::join!(pool.admit(), pool.admit(), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(held);
        });
        // One gets the freed buffer; the other waited (not refused at once) while it is held.
        let outcomes = [a.as_ref().err().copied(), b.as_ref().err().copied()];
        assert!(
            outcomes.contains(&None) && outcomes.contains(&Some(Busy::Waited(queue.max_wait))),
            "{outcomes:?}"
        );
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_the_queue() {
        let queue = Queue {
            max_waiting: 1,
            max_wait: Duration::from_secs(60),
            overload_waiting: 1,
        };
        let pool = PartBuffers::new(1, 8, queue);
        let _held = pool.acquire().await.unwrap();
        // The request went away while waiting (its client hung up).
        let gone = tokio::time::timeout(Duration::from_millis(50), pool.acquire()).await;
        assert!(gone.is_err());
        assert_eq!(pool.waiting(), 0, "a cancelled wait still counted");
        let next = tokio::time::timeout(Duration::from_millis(50), pool.acquire()).await;
        assert!(
            next.is_err(),
            "the queue has room again: this one waits, not refused"
        );
    }
}
