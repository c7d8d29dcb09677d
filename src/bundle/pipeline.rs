//! A SHA-256 computed on the second core: the bytes of a volume are handed, in blocks, to a
//! thread that does nothing but hash them, while the thread that reads (or writes) the volume
//! goes on with the per-entry work (its CRC-32 and SHA-256, staging). Reading a volume on one
//! thread hashes every byte twice (the volume's SHA-256 and its entry's), so this is what
//! lets both cores work on one volume without reading any byte twice.
//!
//! Memory stays small and bounded: blocks are reused once hashed, and at most `cap` of them
//! exist (those the caller holds included); the caller waits for the hashing thread when all
//! are in use. When no thread can be started, the hash is computed inline, with the same
//! result.

use sha2::{Digest, Sha256};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

/// Size of one block handed to the hashing thread: large enough that handing over costs
/// nothing next to hashing it, small enough that a few of them make a small pool.
pub(crate) const CHUNK: usize = 1 << 20;

/// A SHA-256 fed in order, computed by a thread of its own.
pub(crate) struct Sha256Behind {
    mode: Mode,
    /// Bytes given to [`Sha256Behind::update`] and not handed over yet (less than a block).
    pending: Vec<u8>,
}

enum Mode {
    /// No thread could be started: hashed on the caller's thread.
    Inline(Sha256),
    Thread(Worker),
}

struct Worker {
    /// Blocks to hash, in order; dropped to tell the thread that the stream ended.
    work: Option<Sender<Vec<u8>>>,
    /// Blocks hashed, emptied, back for reuse.
    free: Receiver<Vec<u8>>,
    handle: Option<JoinHandle<[u8; 32]>>,
    /// Blocks that exist (the caller's, queued, being hashed, back in `free`).
    allocated: usize,
    /// Blocks handed over and not taken back from `free` yet.
    in_flight: usize,
    cap: usize,
}

impl Sha256Behind {
    /// A hash whose blocks number at most `cap` (at least 2), unless the caller holds them
    /// all (then one more is made rather than wait for nothing).
    pub fn new(cap: usize) -> Sha256Behind {
        let (work_tx, work_rx) = mpsc::channel::<Vec<u8>>();
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("sha256".into())
            .spawn(move || {
                let mut sha = Sha256::new();
                for mut block in work_rx {
                    sha.update(&block);
                    block.clear();
                    // The caller may be gone (an error stopped it): the block is then dropped.
                    let _ = free_tx.send(block);
                }
                sha.finalize().into()
            });
        let mode = match spawned {
            Ok(handle) => Mode::Thread(Worker {
                work: Some(work_tx),
                free: free_rx,
                handle: Some(handle),
                allocated: 0,
                in_flight: 0,
                cap: cap.max(2),
            }),
            Err(_) => Mode::Inline(Sha256::new()),
        };
        Sha256Behind {
            mode,
            pending: Vec::new(),
        }
    }

    /// An empty block (capacity [`CHUNK`]) to fill and hand back with
    /// [`Sha256Behind::send`]; waits for the hashing thread when every block is in use.
    pub fn block(&mut self) -> Vec<u8> {
        match &mut self.mode {
            Mode::Inline(_) => Vec::with_capacity(CHUNK),
            Mode::Thread(w) => w.block(),
        }
    }

    /// Hashes `block` after everything given before.
    pub fn send(&mut self, block: Vec<u8>) {
        self.flush_pending();
        self.hand_over(block);
    }

    fn hand_over(&mut self, mut block: Vec<u8>) {
        if block.is_empty() {
            self.give_back(block);
            return;
        }
        match &mut self.mode {
            Mode::Inline(sha) => {
                sha.update(&block);
                block.clear();
            }
            Mode::Thread(w) => w.send(block),
        }
    }

    /// A block the caller took and did not fill.
    pub fn give_back(&mut self, block: Vec<u8>) {
        if let Mode::Thread(w) = &mut self.mode {
            drop(block);
            w.allocated -= 1;
        }
    }

    /// Hashes a copy of `bytes` after everything given before.
    pub fn update(&mut self, mut bytes: &[u8]) {
        if let Mode::Inline(sha) = &mut self.mode {
            sha.update(bytes);
            return;
        }
        while !bytes.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending = self.block();
            }
            let room = CHUNK - self.pending.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.pending.extend_from_slice(now);
            bytes = rest;
            if self.pending.len() == CHUNK {
                self.flush_pending();
            }
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let block = std::mem::take(&mut self.pending);
            self.hand_over(block);
        }
    }

    /// The SHA-256 of every byte given, in order.
    pub fn finalize(mut self) -> [u8; 32] {
        self.flush_pending();
        match &mut self.mode {
            Mode::Inline(sha) => std::mem::take(sha).finalize().into(),
            Mode::Thread(w) => w.finish(),
        }
    }
}

impl Worker {
    fn block(&mut self) -> Vec<u8> {
        let reused = match self.free.try_recv() {
            Ok(b) => Some(b),
            Err(_) if self.allocated < self.cap || self.in_flight == 0 => None,
            Err(_) => Some(self.free.recv().unwrap_or_else(|_| self.died())),
        };
        match reused {
            Some(b) => {
                self.in_flight -= 1;
                b
            }
            None => {
                self.allocated += 1;
                Vec::with_capacity(CHUNK)
            }
        }
    }

    fn send(&mut self, block: Vec<u8>) {
        let sent = self.work.as_ref().map(|w| w.send(block));
        if !matches!(sent, Some(Ok(()))) {
            self.died();
        }
        self.in_flight += 1;
    }

    fn finish(&mut self) -> [u8; 32] {
        self.work = None;
        let handle = self.handle.take().expect("the hashing thread");
        handle
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// The hashing thread stopped before its end: only a panic does that; it is raised here.
    fn died(&mut self) -> ! {
        self.work = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Err(p)) => std::panic::resume_unwind(p),
            _ => panic!("the hashing thread ended early"),
        }
    }
}

impl Drop for Worker {
    /// Abandoned (an error or a stop): the thread ends once it has hashed what it was given
    /// (a few blocks at most), and is waited for, so that none outlives its volume.
    fn drop(&mut self) {
        self.work = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 253) as u8).collect()
    }

    #[test]
    fn the_hash_behind_equals_the_hash_inline() {
        let bytes = data(5 * CHUNK + 12_345);
        let want = crate::hash::sha256(&bytes);
        // Pieces of every size, through update() and through blocks.
        let mut h = Sha256Behind::new(3);
        let mut at = 0;
        for (i, step) in [1usize, 7, 300_000, CHUNK, 2 * CHUNK + 5]
            .iter()
            .cycle()
            .enumerate()
        {
            if at >= bytes.len() {
                break;
            }
            let end = (at + step).min(bytes.len());
            if i % 2 == 0 {
                h.update(&bytes[at..end]);
            } else {
                for part in bytes[at..end].chunks(CHUNK) {
                    let mut b = h.block();
                    b.extend_from_slice(part);
                    h.send(b);
                }
            }
            at = end;
        }
        assert_eq!(h.finalize(), want);
        assert_eq!(Sha256Behind::new(2).finalize(), crate::hash::sha256(b""));
    }

    #[test]
    fn blocks_are_bounded_and_reused() {
        let mut h = Sha256Behind::new(3);
        let bytes = data(40 * CHUNK);
        for part in bytes.chunks(CHUNK) {
            let mut b = h.block();
            b.extend_from_slice(part);
            h.send(b);
        }
        if let Mode::Thread(w) = &h.mode {
            assert!(w.allocated <= 3, "{} blocks", w.allocated);
        }
        assert_eq!(h.finalize(), crate::hash::sha256(&bytes));
    }

    #[test]
    fn holding_every_block_does_not_wait_forever() {
        let mut h = Sha256Behind::new(2);
        let held: Vec<Vec<u8>> = (0..5)
            .map(|i| {
                let mut b = h.block();
                b.push(i);
                b
            })
            .collect();
        let mut all = Vec::new();
        for b in held {
            all.extend_from_slice(&b);
            h.send(b);
        }
        assert_eq!(h.finalize(), crate::hash::sha256(&all));
    }
}
