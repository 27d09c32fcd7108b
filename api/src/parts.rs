//! The uploads' part buffers: a fixed number of `PART_SIZE` buffers shared by every upload,
//! so the memory uploads hold is bounded (count x 5 MiB) whatever the concurrency. An upload
//! takes a buffer before it reads bytes into it and gives it back once that part is in S3;
//! when all are taken it waits without reading, so TCP backpressure makes the client's
//! upload slower, never failed. Buffers are kept for reuse: no allocation per part.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use tokio::sync::{Semaphore, SemaphorePermit};

pub struct PartBuffers {
    permits: Semaphore,
    free: Mutex<Vec<BytesMut>>,
    count: usize,
    size: usize,
    allocated: AtomicUsize,
}

impl PartBuffers {
    /// `count` buffers of `size` bytes each (a count of 0 is taken as 1).
    pub fn new(count: usize, size: usize) -> PartBuffers {
        let count = count.max(1);
        PartBuffers {
            permits: Semaphore::new(count),
            free: Mutex::new(Vec::with_capacity(count)),
            count,
            size,
            allocated: AtomicUsize::new(0),
        }
    }

    /// A buffer, waiting until one is free.
    pub async fn acquire(&self) -> PartBuffer<'_> {
        let Ok(permit) = self.permits.acquire().await else {
            unreachable!("PartBuffers owns its semaphore and never closes it")
        };
        let reused = self.free.lock().map(|mut free| free.pop()).unwrap_or(None);
        let buf = reused.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            BytesMut::with_capacity(self.size)
        });
        PartBuffer {
            buf,
            pool: self,
            _permit: permit,
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

    #[test]
    fn fill_stops_at_the_part_size() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = PartBuffers::new(1, 10);
        rt.block_on(async {
            let mut b = pool.acquire().await;
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
        let pool = PartBuffers::new(2, 16);
        let a = pool.acquire().await;
        let b = pool.acquire().await;
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
        let pool = PartBuffers::new(1, 8);
        let mut b = pool.acquire().await;
        b.fill(b"12345678");
        let part = b.take();
        let held = part.clone();
        drop(part);
        // Still referenced (a request that has not finished): not reusable yet.
        drop(b);
        let mut b = pool.acquire().await;
        assert_eq!(pool.allocated(), 2);
        assert_eq!(&held[..], b"12345678", "a held part is never overwritten");
        drop(held);
        b.fill(b"abcdefgh");
        let part = b.take();
        drop(part);
        drop(b);
        let mut b = pool.acquire().await;
        assert_eq!(pool.allocated(), 2, "the released allocation was reused");
        let ptr = b.buf.as_ptr();
        b.fill(b"x");
        let part = b.take();
        drop(part);
        drop(b);
        let b = pool.acquire().await;
        assert_eq!(b.buf.as_ptr(), ptr, "the same allocation, not a copy");
    }
}
