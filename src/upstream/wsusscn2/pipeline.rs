//! How the inner CABs travel while a catalog is read: taken out of the outer CAB into a
//! [`Spool`] (memory, or an anonymous temporary file when large), parsed on worker threads,
//! and handed back to the caller in catalog order by [`ordered`], so that what a sync stores
//! does not depend on timing and the memory held stays bounded however slow the caller is.

use super::storage;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Inner CABs up to this size are held in memory; larger ones go to an anonymous temporary
/// file (the real ones are tens of MB, compressed).
const SPOOL_IN_MEMORY: usize = 64 << 20;

/// An inner CAB, taken out of the outer one: in memory (an exactly sized buffer, reused from
/// a pool when there is one), or in an anonymous temporary file when large.
pub enum Spool {
    Mem(io::Cursor<Vec<u8>>),
    File(File),
}

/// Buffers of inner CABs, reused: a new buffer of some MB per inner CAB would leave the
/// allocator's free lists fragmented and the process larger than what it uses.
#[derive(Default)]
pub struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// Takes the buffer of `spool` back, when it has one.
    pub fn put(&self, spool: Spool) {
        if let Spool::Mem(c) = spool {
            let mut v = c.into_inner();
            v.clear();
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(v);
        }
    }
}

impl Spool {
    /// Copies the `size` bytes of `r`, positioned at the start.
    pub fn fill(r: &mut dyn Read, size: u32, pool: Option<&Pool>) -> Result<Spool> {
        let mut spool = if size as usize <= SPOOL_IN_MEMORY {
            let mut v = pool.map(Pool::take).unwrap_or_default();
            v.reserve_exact(size as usize);
            r.read_to_end(&mut v)
                .map_err(|e| storage("read the catalog", e))?;
            Spool::Mem(io::Cursor::new(v))
        } else {
            let mut f = tempfile::tempfile().map_err(|e| storage("create a temporary file", e))?;
            io::copy(r, &mut f).map_err(|e| storage("write a temporary file", e))?;
            Spool::File(f)
        };
        spool
            .seek(SeekFrom::Start(0))
            .map_err(|e| storage("read a temporary file", e))?;
        Ok(spool)
    }
}

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spool::Mem(c) => c.read(buf),
            Spool::File(f) => f.read(buf),
        }
    }
}

impl Seek for Spool {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            Spool::Mem(c) => c.seek(to),
            Spool::File(f) => f.seek(to),
        }
    }
}

/// Where the producer of [`ordered`] puts its jobs.
pub struct Feed<J, T> {
    /// One place per job, in the order the jobs were made; the bound on it is what keeps the
    /// producer from running ahead of the caller.
    order: SyncSender<Receiver<Result<T>>>,
    /// A rendezvous with the workers: the producer holds at most the one job no worker has
    /// taken yet.
    jobs: SyncSender<(J, SyncSender<Result<T>>)>,
    /// The place of the job being made, until it goes to a worker.
    open: Option<SyncSender<Result<T>>>,
}

fn stopped() -> Error {
    Error::other("stopped")
}

impl<J, T> Feed<J, T> {
    /// Takes the next place in the order (waiting while the caller is too far behind), then
    /// makes the job with `make` and hands it to a worker. An error means the caller stopped
    /// or `make` failed; the producer is to return it.
    pub fn push(&mut self, make: impl FnOnce() -> Result<J>) -> Result<()> {
        let (place, result) = sync_channel(1);
        self.order.send(result).map_err(|_| stopped())?;
        self.open = Some(place);
        let job = make()?;
        let place = self.open.take().ok_or_else(stopped)?;
        self.jobs.send((job, place)).map_err(|_| stopped())
    }

    /// Delivers the producer's error in the place where it stopped.
    fn fail(mut self, e: Error) {
        let place = match self.open.take() {
            Some(place) => place,
            None => {
                let (place, result) = sync_channel(1);
                if self.order.send(result).is_err() {
                    return;
                }
                place
            }
        };
        let _ = place.send(Err(e));
    }
}

/// Runs `produce` on a thread of its own and `work` on `workers` threads, and calls `consume`
/// on the calling thread with the results in the order in which `produce` pushed the jobs.
/// At most `workers + 1` jobs are between being made and consumed (the one being consumed
/// among them); `produce` waits before making more. An error of `produce` comes in the place
/// of the job it was making. Returns how many results were consumed.
pub fn ordered<J: Send, T: Send>(
    workers: usize,
    produce: impl FnOnce(&mut Feed<J, T>) -> Result<()> + Send,
    work: impl Fn(J) -> Result<T> + Sync,
    consume: &mut dyn FnMut(T) -> Result<()>,
) -> Result<usize> {
    let (jobs, job_rx) = sync_channel::<(J, SyncSender<Result<T>>)>(0);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        // Made in the scope so that the caller's end is dropped, and the producer told to
        // stop, however `consume` ends.
        let (order, places) = sync_channel(workers);
        scope.spawn(move || {
            let mut feed = Feed {
                order,
                jobs,
                open: None,
            };
            if let Err(e) = produce(&mut feed) {
                feed.fail(e);
            }
        });
        for _ in 0..workers {
            let (job_rx, work) = (&job_rx, &work);
            // A worker keeps taking jobs until the producer is done, even once the caller
            // stopped: the producer must never wait for a worker that has gone.
            scope.spawn(move || {
                loop {
                    // Its own statement: the queue's lock is released before the work, or
                    // the workers would take turns instead of running side by side.
                    let next = job_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok((job, place)) = next else { break };
                    let _ = place.send(work(job));
                }
            });
        }
        let mut consumed = 0;
        for result in places.iter() {
            let result = result
                .recv()
                .map_err(|_| Error::other("internal: a catalog worker stopped early"))?;
            consume(result?)?;
            consumed += 1;
        }
        Ok(consumed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_come_in_order_and_the_producer_stays_bounded() {
        let made = AtomicUsize::new(0);
        let mut got = Vec::new();
        let n = ordered(
            3,
            |feed| {
                for i in 0..50u64 {
                    feed.push(|| {
                        made.fetch_add(1, Ordering::SeqCst);
                        Ok(i)
                    })?;
                }
                Ok(())
            },
            |i| {
                // Later jobs finish first.
                std::thread::sleep(std::time::Duration::from_micros((50 - i) * 20));
                Ok(i * 2)
            },
            &mut |v| {
                let ahead = made.load(Ordering::SeqCst) - got.len();
                assert!(ahead <= 4, "{ahead} jobs made ahead of the caller");
                got.push(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 50);
        assert_eq!(got, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn workers_run_side_by_side() {
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        ordered(
            2,
            |feed| {
                for i in 0..6u64 {
                    feed.push(|| Ok(i))?;
                }
                Ok(())
            },
            |i| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(50));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(i)
            },
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(most.load(Ordering::SeqCst), 2, "the workers took turns");
    }

    #[test]
    fn errors_come_in_their_place_and_stop_everything() {
        let mut got = Vec::new();
        let e = ordered(
            2,
            |feed| {
                for i in 0..10u64 {
                    feed.push(|| {
                        if i == 6 {
                            Err(Error::other("producer failed at 6"))
                        } else {
                            Ok(i)
                        }
                    })?;
                }
                Ok(())
            },
            |i| {
                if i == 8 {
                    Err(Error::other("never reached"))
                } else {
                    Ok(i)
                }
            },
            &mut |v| {
                got.push(v);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.message, "producer failed at 6");
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);

        let e = ordered(
            2,
            |feed| {
                for i in 0..1000u64 {
                    feed.push(|| Ok(i))?;
                }
                Ok(())
            },
            |i| {
                if i == 3 {
                    Err(Error::other("work 3"))
                } else {
                    Ok(i)
                }
            },
            &mut |v| {
                if v == 2 {
                    return Err(Error::other("caller stopped at 2"));
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.message, "caller stopped at 2");
    }
}
