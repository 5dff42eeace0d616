//! The io_uring event loop of one shard: multishot accept on the shard's own listener,
//! multishot recv into a provided-buffer ring, one `writev` in flight per connection, an
//! eventfd doorbell for cross-shard wake-ups and a periodic timeout for timers. All of a
//! turn's completions are handled first; then cross-shard input is taken, this turn's
//! batches are pushed, and every connection touched in the turn is flushed once.

mod bufring;

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use crate::cluster::dialer::{DialTarget, Dialed};
use crate::cluster::CLUSTER_SHARD;
use crate::conn::{CloseReason, Closing};
use crate::fanout::Mesh;
use crate::jetstream::commit::FileWrite;
use crate::jetstream::StreamId;
use crate::log_at;
use crate::mailbox::{Command, Mailbox};
use crate::shard::{ConnId, ReactorStats, Shard, SlotId, WsLeaf};
use bufring::BufRing;

/// Submission queue entries per ring.
const SQ_ENTRIES: u32 = 4096;
/// Completion queue entries: room for bursts of multishot completions.
const CQ_ENTRIES: u32 = 16384;
/// Provided receive buffers per shard, and their size: 128 x 64 KiB = 8 MiB per shard,
/// held only while data waits to be parsed. 64 KiB is the Go server's largest read buffer
/// (`maxBufSize`); against 256 x 32 KiB it gave 1 KiB-plus publishers fewer wake-ups and
/// about 10% more 16 KiB messages/s (results/README.md).
const RECV_BUFS: u16 = 128;
const RECV_BUF_SIZE: usize = 64 * 1024;
const BGID: u16 = 0;
/// Timer resolution for pings, write deadlines and shutdown checks.
const TICK: Duration = Duration::from_millis(100);
/// How often a shard with stalled publishers looks at them while idle: a quarter of one
/// stall's 2 ms wait.
const STALL_POLL: Duration = Duration::from_micros(500);
/// How long a shutting-down shard waits for connections to flush before it leaves anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

const OP_ACCEPT: u64 = 1;
const OP_RECV: u64 = 2;
const OP_WRITE: u64 = 3;
const OP_DOORBELL: u64 = 4;
const OP_TICK: u64 = 5;
const OP_CANCEL: u64 = 6;
/// A JetStream stream's log write, and the fsync linked to it (`id` is the stream).
const OP_FILE_WRITE: u64 = 7;
const OP_FILE_SYNC: u64 = 8;
/// A stream log's periodic fsync (`sync_interval`).
const OP_LOG_SYNC: u64 = 9;

/// Listener slots: the client port, the WebSocket port and, on the cluster shard, the
/// route port (the `id` of an accept).
const CLIENT_LISTENER: usize = 0;
const WS_LISTENER: usize = 1;
const ROUTE_LISTENER: usize = 2;
const LEAF_LISTENER: usize = 3;

fn user_data(op: u64, id: usize) -> u64 {
    (op << 56) | id as u64
}

/// A completion's result: bytes done, or the error its negative errno names.
fn io_result(res: i32) -> io::Result<usize> {
    usize::try_from(res).map_err(|_| io::Error::from_raw_os_error(-res))
}

/// The `id` of a stream write's completions: the stream, and the low bits of its batch
/// number (a stream has only a few writes in flight, of consecutive batches).
fn file_op_id(stream: StreamId, batch: u64) -> usize {
    ((batch as usize & 0xffff) << 32) | stream.0 as usize
}

fn split_user_data(ud: u64) -> (u64, usize) {
    (ud >> 56, (ud & ((1 << 56) - 1)) as usize)
}

/// Which optional io_uring setup flags the kernel accepted.
#[derive(Debug, Clone, Copy)]
pub enum RingMode {
    SingleIssuerDeferTaskrun,
    CoopTaskrun,
    Plain,
}

/// Sets a ring builder's optional flags.
type SetupFlags = fn(&mut io_uring::Builder);

/// Builds the ring with the cheapest completion mode the kernel allows.
pub fn new_ring() -> io::Result<(IoUring, RingMode)> {
    let attempts: [(RingMode, SetupFlags); 3] = [
        (RingMode::SingleIssuerDeferTaskrun, |b| {
            b.setup_single_issuer()
                .setup_defer_taskrun()
                .setup_coop_taskrun();
        }),
        (RingMode::CoopTaskrun, |b| {
            b.setup_coop_taskrun();
        }),
        (RingMode::Plain, |_| {}),
    ];
    let mut last = None;
    for (mode, set) in attempts {
        let mut b = IoUring::builder();
        b.setup_cqsize(CQ_ENTRIES);
        set(&mut b);
        match b.build(SQ_ENTRIES) {
            Ok(r) => return Ok((r, mode)),
            // Unknown flags give EINVAL; anything else will not improve with fewer flags.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::Unsupported)))
}

/// The reactor's view of a connection's socket.
#[derive(Debug)]
struct Slot {
    fd: RawFd,
    recv_armed: bool,
    writing: bool,
    shut: bool,
    /// The connection moves to another shard: the socket stays open, and is let go of once
    /// nothing in flight refers to it.
    handover: bool,
}

/// A stream write in flight: whether an fsync is linked to it, and what the write
/// returned while the fsync is still to come.
#[derive(Debug)]
struct FileOp {
    stream: StreamId,
    batch: u64,
    sync: bool,
    written: Option<i32>,
}

pub struct Reactor {
    // Declared first, so dropped first: the ring's teardown ends the receives still armed,
    // the writes in flight and the kernel's use of the buffer ring before the memory they
    // point into (the buffer ring, the shard's connections and stream logs) is freed.
    ring: IoUring,
    bufs: BufRing,
    shard: Shard,
    mesh: Arc<Mesh>,
    slots: Vec<Option<Slot>>,
    file_ops: Vec<FileOp>,
    listeners: [Option<OwnedFd>; 4],
    accepting: bool,
    doorbell_buf: Box<u64>,
    tick_ts: Box<types::Timespec>,
    shutdown: Arc<AtomicBool>,
    shutdown_since: Option<Instant>,
    mailbox: Arc<Mailbox>,
    turns: u64,
    /// Time spent blocked waiting for completions, and since when the reactor runs.
    parked: Duration,
    started: Instant,
    /// Scratch lists reused every turn.
    dirty: Vec<ConnId>,
    closed: Vec<ConnId>,
    handovers: Vec<ConnId>,
    rearm: Vec<ConnId>,
    recv_off: Vec<ConnId>,
    recv_on: Vec<ConnId>,
}

impl Reactor {
    pub fn new(
        shard: Shard,
        mesh: Arc<Mesh>,
        listeners: [Option<OwnedFd>; 4],
        ring: IoUring,
        shutdown: Arc<AtomicBool>,
        mailbox: Arc<Mailbox>,
    ) -> io::Result<Reactor> {
        let bufs = BufRing::new(&ring, BGID, RECV_BUFS, RECV_BUF_SIZE)?;
        Ok(Reactor {
            shard,
            mesh,
            slots: Vec::new(),
            file_ops: Vec::new(),
            bufs,
            listeners,
            accepting: false,
            doorbell_buf: Box::new(0),
            tick_ts: Box::new(types::Timespec::from(TICK)),
            shutdown,
            shutdown_since: None,
            mailbox,
            turns: 0,
            parked: Duration::ZERO,
            started: Instant::now(),
            dirty: Vec::new(),
            closed: Vec::new(),
            handovers: Vec::new(),
            rearm: Vec::new(),
            recv_off: Vec::new(),
            recv_on: Vec::new(),
            ring,
        })
    }

    fn push(&mut self, sqe: squeue::Entry) {
        loop {
            // SAFETY: every buffer an entry points to (iovecs, eventfd buffer, timespec)
            // is owned by the reactor or a live connection until its completion arrives.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return;
            }
            if let Err(e) = self.ring.submit() {
                log_at!(Error, "io_uring submit failed: {e}");
            }
        }
    }

    fn arm_accept(&mut self, which: usize) {
        let Some(fd) = self.listeners[which].as_ref().map(AsRawFd::as_raw_fd) else {
            return;
        };
        let sqe = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(user_data(OP_ACCEPT, which));
        self.push(sqe);
        self.accepting = true;
    }

    fn arm_doorbell(&mut self) {
        let fd = self.mesh.eventfd(self.shard.id);
        let sqe = opcode::Read::new(
            types::Fd(fd),
            (&mut *self.doorbell_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(user_data(OP_DOORBELL, 0));
        self.push(sqe);
    }

    fn arm_tick(&mut self) {
        let sqe = opcode::Timeout::new(&*self.tick_ts as *const types::Timespec)
            .build()
            .user_data(user_data(OP_TICK, 0));
        self.push(sqe);
    }

    fn arm_recv(&mut self, id: ConnId) {
        let Some(slot) = self.slots[id.slot()].as_mut() else {
            return;
        };
        if slot.recv_armed || slot.shut || slot.handover || self.shard.is_stalled(id) {
            return;
        }
        slot.recv_armed = true;
        let sqe = opcode::RecvMulti::new(types::Fd(slot.fd), BGID)
            .build()
            .user_data(user_data(OP_RECV, id.slot()));
        self.push(sqe);
    }

    /// Runs until shutdown has flushed every connection (or the grace period ran out).
    pub fn run(mut self) {
        self.arm_accept(CLIENT_LISTENER);
        self.arm_accept(WS_LISTENER);
        self.arm_accept(ROUTE_LISTENER);
        self.arm_accept(LEAF_LISTENER);
        self.arm_doorbell();
        self.arm_tick();
        loop {
            self.turns += 1;
            self.reap();
            self.shard.on_timers(Instant::now());
            self.shard.poll_mesh();
            self.apply_stalls();
            self.finish_turn();
            if let Some(since) = self.shutdown_since {
                let flushed = self.slots.iter().all(Option::is_none);
                if (flushed || since.elapsed() > SHUTDOWN_GRACE) && self.file_ops.is_empty() {
                    return;
                }
            }
            self.wait();
        }
    }

    /// Releases publishers whose stall ended and stops or resumes their socket reads: a
    /// stalled publisher's recv is cancelled so TCP pushes back on it.
    fn apply_stalls(&mut self) {
        self.shard.release_stalls(Instant::now());
        self.shard
            .take_recv_changes(&mut self.recv_off, &mut self.recv_on);
        for id in std::mem::take(&mut self.recv_off) {
            if self
                .slots
                .get(id.slot())
                .and_then(Option::as_ref)
                .is_some_and(|s| s.recv_armed)
            {
                self.cancel_recv(id);
            }
        }
        for id in std::mem::take(&mut self.recv_on) {
            self.arm_recv(id);
        }
    }

    fn cancel_recv(&mut self, id: ConnId) {
        let sqe = opcode::AsyncCancel::new(user_data(OP_RECV, id.slot()))
            .build()
            .user_data(user_data(OP_CANCEL, id.slot()));
        self.push(sqe);
    }

    /// Starts letting go of the sockets of connections that move to the cluster shard:
    /// their receive is cancelled first.
    fn start_handovers(&mut self) {
        self.shard.take_handovers(&mut self.handovers);
        for id in std::mem::take(&mut self.handovers) {
            let Some(slot) = self.slots.get_mut(id.slot()).and_then(Option::as_mut) else {
                continue;
            };
            slot.handover = true;
            if slot.recv_armed {
                self.cancel_recv(id);
            }
            self.try_hand_over(id);
        }
    }

    /// Lets go of a moving connection's socket once no receive or write refers to it and
    /// its transport wrote everything (a TLS handshake's last records), and sends it on.
    fn try_hand_over(&mut self, id: ConnId) {
        let Some(slot) = self.slots.get_mut(id.slot()).and_then(Option::as_mut) else {
            return;
        };
        if !slot.handover || slot.recv_armed || slot.writing {
            return;
        }
        let Some(conn) = self.shard.clients.conns.get(id) else {
            return;
        };
        if conn.closing.is_some() || slot.shut {
            // Closed meanwhile: it goes as any connection goes.
            slot.handover = false;
            self.maybe_release(id);
            return;
        }
        if conn.transport.as_ref().is_some_and(|t| !t.is_empty()) {
            // Its write completion comes back here.
            self.flush(id, Instant::now());
            return;
        }
        let Some(slot) = self.slots[id.slot()].take() else {
            return;
        };
        // SAFETY: our socket; no operation in flight refers to it any more, and its slot is
        // gone, so nothing else closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(slot.fd) };
        let Some(leaf) = self.shard.hand_over(id, fd) else {
            return;
        };
        if self.shard.id == CLUSTER_SHARD {
            self.adopt_ws_leaf(leaf);
        } else {
            self.mailbox.send(
                &self.mesh,
                CLUSTER_SHARD,
                Command::AdoptWsLeaf(Box::new(leaf)),
            );
        }
    }

    fn adopt_ws_leaf(&mut self, leaf: WsLeaf) {
        let WsLeaf { fd, peer, request } = leaf;
        let id = self.shard.adopt_ws_leaf(peer, request);
        self.add_slot(id, fd.into_raw_fd());
    }

    /// Blocks for completions unless other shards already sent something.
    fn wait(&mut self) {
        let must_spin = self.shard.has_overflow()
            || self.shard.has_jetstream_backlog()
            || !self.mesh.park(self.shard.id);
        let res = if must_spin {
            if self.shard.has_overflow() {
                std::thread::yield_now();
            }
            let zero = types::Timespec::new();
            let args = types::SubmitArgs::new().timespec(&zero);
            self.ring.submitter().submit_with_args(1, &args)
        } else {
            let parked_at = Instant::now();
            // A stalled publisher is released by time too, not only by a completion, and so
            // are the shard's timers.
            let stall = self.shard.has_stalls().then_some(STALL_POLL);
            let timer = self
                .shard
                .next_timer()
                .map(|at| at.saturating_duration_since(parked_at));
            let wake = match (stall, timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let r = match wake {
                Some(d) => {
                    let ts = types::Timespec::from(d);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.ring.submitter().submit_with_args(1, &args)
                }
                None => self.ring.submit_and_wait(1),
            };
            self.mesh.unpark(self.shard.id);
            self.parked += parked_at.elapsed();
            r
        };
        match res {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) => {}
            Err(e) => log_at!(Error, "io_uring wait failed: {e}"),
        }
    }

    fn reap(&mut self) {
        self.shard.now = Instant::now();
        loop {
            let cqe = match self.ring.completion().next() {
                Some(c) => c,
                None => break,
            };
            let (op, id) = split_user_data(cqe.user_data());
            let (res, flags) = (cqe.result(), cqe.flags());
            match op {
                OP_ACCEPT => self.on_accept(id, res, flags),
                OP_RECV => self.on_recv(ConnId::from_slot(id), res, flags),
                OP_WRITE => self.on_write(ConnId::from_slot(id), res),
                OP_DOORBELL => {
                    self.arm_doorbell();
                    self.handle_commands();
                }
                OP_TICK => {
                    self.on_tick();
                    self.arm_tick();
                }
                OP_FILE_WRITE => self.on_file_write(id, res),
                OP_FILE_SYNC => self.on_file_sync(id, res),
                OP_LOG_SYNC if res < 0 => {
                    log_at!(
                        Error,
                        "JetStream periodic sync failed: {}",
                        io::Error::from_raw_os_error(-res)
                    );
                }
                _ => {}
            }
        }
        for id in std::mem::take(&mut self.rearm) {
            self.arm_recv(id);
        }
    }

    /// Submits a stream's log write, linked to an fsync when it must be on disk before its
    /// acks leave (io_uring runs unlinked entries in any order).
    fn submit_file_write(&mut self, w: FileWrite) {
        let id = file_op_id(w.stream, w.batch);
        // A write longer than u32 cannot be: a turn's batch is bounded by what a turn reads.
        let write = opcode::Write::new(types::Fd(w.fd), w.ptr, w.len as u32)
            .offset(w.offset)
            .build()
            .user_data(user_data(OP_FILE_WRITE, id));
        if w.sync {
            // The link holds only within one submission: make room for both entries first.
            let free = {
                let sq = self.ring.submission();
                sq.capacity() - sq.len()
            };
            if free < 2 {
                if let Err(e) = self.ring.submit() {
                    log_at!(Error, "io_uring submit failed: {e}");
                }
            }
            self.push(write.flags(squeue::Flags::IO_LINK));
            let sync = opcode::Fsync::new(types::Fd(w.fd))
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(user_data(OP_FILE_SYNC, id));
            self.push(sync);
        } else {
            self.push(write);
        }
        self.file_ops.push(FileOp {
            stream: w.stream,
            batch: w.batch,
            sync: w.sync,
            written: None,
        });
    }

    fn file_op(&self, id: usize) -> Option<usize> {
        self.file_ops
            .iter()
            .position(|f| file_op_id(f.stream, f.batch) == id)
    }

    fn on_file_write(&mut self, id: usize, res: i32) {
        let Some(i) = self.file_op(id) else {
            return;
        };
        if self.file_ops[i].sync && res >= 0 {
            self.file_ops[i].written = Some(res);
            return;
        }
        // Without an fsync, or failed (its linked fsync is then cancelled).
        let op = self.file_ops.swap_remove(i);
        self.shard
            .jetstream_written(op.stream, op.batch, io_result(res));
    }

    fn on_file_sync(&mut self, id: usize, res: i32) {
        let Some(op) = self.file_op(id).map(|i| self.file_ops.swap_remove(i)) else {
            return;
        };
        let result = match (op.written, res) {
            // A short write breaks the link; the stream reports the short write itself.
            (Some(n), r) if r >= 0 || r == -libc::ECANCELED => io_result(n),
            (_, r) => io_result(r),
        };
        self.shard.jetstream_written(op.stream, op.batch, result);
    }

    /// Carries out the commands in the mailbox, if the doorbell was rung for them.
    fn handle_commands(&mut self) {
        for command in self.mailbox.take(self.shard.id) {
            match command {
                Command::Snapshot { query, reply } => {
                    let stats = ReactorStats {
                        turns: self.turns,
                        parked: self.parked,
                        running: self.started.elapsed(),
                    };
                    let _ = reply.send(self.shard.snapshot(&query, stats));
                }
                Command::LameDuck { reply } => {
                    self.stop_accepting();
                    let _ = reply.send(self.shard.enter_lame_duck());
                }
                Command::Close(clients) => self.shard.close_clients(&clients),
                Command::Reload {
                    server,
                    excess,
                    reply,
                } => {
                    let _ = reply.send(self.shard.reload(server, &excess));
                }
                // Not while stopping: the socket is dropped, and closed with it.
                Command::AdoptRoute(dialed) if self.accepting => {
                    let Dialed {
                        fd,
                        peer,
                        url,
                        target,
                        redial,
                    } = *dialed;
                    let id = match target {
                        DialTarget::Leaf(remote) => {
                            self.shard.adopt_leaf(peer, url, redial, remote)
                        }
                        DialTarget::Route(slot) => self.shard.adopt_route(peer, url, redial, slot),
                    };
                    self.add_slot(id, fd.into_raw_fd());
                }
                Command::AdoptWsLeaf(leaf) if self.accepting => self.adopt_ws_leaf(*leaf),
                Command::AdoptRoute(_) | Command::AdoptWsLeaf(_) => {}
                Command::Publish {
                    account,
                    subject,
                    payload,
                } => self.shard.publish_internal(account, &subject, &payload),
            }
        }
    }

    /// Stops listening, as the Go server closes its listener first on shutdown and in lame
    /// duck mode: new clients are refused instead of accepted and dropped, and the multishot
    /// accept ends.
    fn stop_accepting(&mut self) {
        if self.accepting {
            self.accepting = false;
            for l in self.listeners.iter().flatten() {
                // SAFETY: shutdown(2) on a socket this reactor owns; it stays open until drop.
                unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
            }
        }
    }

    fn on_tick(&mut self) {
        if self.shutdown.load(Ordering::Acquire) && self.shutdown_since.is_none() {
            self.shutdown_since = Some(Instant::now());
            self.stop_accepting();
            self.shard.shutdown();
        }
        self.shard.on_tick(Instant::now());
        for fd in self.shard.take_jetstream_syncs() {
            let sqe = opcode::Fsync::new(types::Fd(fd))
                .flags(types::FsyncFlags::DATASYNC)
                .build()
                .user_data(user_data(OP_LOG_SYNC, 0));
            self.push(sqe);
        }
    }

    fn on_accept(&mut self, which: usize, res: i32, flags: u32) {
        if !self.accepting {
            if res >= 0 {
                // SAFETY: a socket we just accepted and own.
                unsafe { libc::close(res) };
            }
            return;
        }
        if !cqueue::more(flags) {
            self.arm_accept(which);
        }
        if res < 0 {
            log_at!(
                Error,
                "Error accepting client connection: {}",
                io::Error::from_raw_os_error(-res)
            );
            return;
        }
        let fd = res;
        let raw = BorrowedRaw(fd);
        let sock = socket2::SockRef::from(&raw);
        let _ = sock.set_tcp_nodelay(true);
        let peer = sock
            .peer_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let id = match which {
            ROUTE_LISTENER => self.shard.accept_route(peer),
            LEAF_LISTENER => self.shard.accept_leaf(peer),
            _ => self.shard.accept(peer, which == WS_LISTENER),
        };
        self.add_slot(id, fd);
    }

    /// Gives a connection the shard registered its socket, and starts reading it.
    fn add_slot(&mut self, id: ConnId, fd: RawFd) {
        if self.slots.len() <= id.slot() {
            self.slots.resize_with(id.slot() + 1, || None);
        }
        self.slots[id.slot()] = Some(Slot {
            fd,
            recv_armed: false,
            writing: false,
            shut: false,
            handover: false,
        });
        self.arm_recv(id);
    }

    fn on_recv(&mut self, id: ConnId, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        if let Some(bid) = cqueue::buffer_select(flags) {
            if res > 0 {
                let data = self.bufs.get(bid, res as usize);
                self.shard.on_received(id, data);
            }
            self.bufs.recycle(bid);
        }
        let Some(slot) = self.slots[id.slot()].as_mut() else {
            return;
        };
        if !more {
            slot.recv_armed = false;
        }
        if res == 0 {
            if !slot.shut {
                self.shard.on_read_closed(id, CloseReason::ClientClosed);
            }
        } else if res < 0 && res != -libc::ENOBUFS && res != -libc::ECANCELED {
            if !slot.shut {
                // A reset is a read error too, as Go's readLoop reports it (`Read Error`).
                self.shard.on_read_closed(id, CloseReason::ReadError);
            }
        } else if !more {
            // Out of provided buffers (ENOBUFS), cancelled for a stall, or the kernel ended
            // the multishot: re-arm after this turn's buffers are back in the ring (not while
            // the connection is stalled; its release re-arms it).
            self.rearm.push(id);
        }
        self.try_hand_over(id);
        self.maybe_release(id);
    }

    fn on_write(&mut self, id: ConnId, res: i32) {
        let Some(slot) = self.slots[id.slot()].as_mut() else {
            return;
        };
        slot.writing = false;
        if res <= 0 {
            if !slot.shut {
                self.shard.on_write_error(id);
                // A connection already closing after a flush stays so, and would wait
                // for output that can no longer go.
                shut(slot);
            }
            self.maybe_release(id);
            return;
        }
        let fd = slot.fd;
        let Some(conn) = self.shard.clients.conns.get_mut(id) else {
            return;
        };
        if !conn.complete_write(res as usize) {
            if let Some(iovs) = conn.resume_write() {
                let sqe = writev(fd, iovs, id);
                slot.writing = true;
                self.push(sqe);
            }
            return;
        }
        // More may have been queued while this write was in flight.
        self.dirty.push(id);
        self.try_hand_over(id);
        self.maybe_release(id);
    }

    /// End of turn: flush every touched connection once, then push cross-shard batches.
    /// An `Ack` among them tells another shard that deliveries made here are on their way
    /// (a fenced PONG waits for it), so those writes are submitted before it leaves.
    fn finish_turn(&mut self) {
        for w in self.shard.commit_jetstream() {
            self.submit_file_write(w);
        }
        self.shard.take_dirty(&mut self.dirty);
        self.shard.take_closed(&mut self.closed);
        let now = Instant::now();
        let mut dirty = std::mem::take(&mut self.dirty);
        for &id in &dirty {
            self.flush(id, now);
        }
        dirty.clear();
        self.dirty = dirty;
        for id in std::mem::take(&mut self.closed) {
            self.flush(id, now);
        }
        self.start_handovers();
        if self.shard.has_staged_ack() {
            if let Err(e) = self.ring.submit() {
                log_at!(Error, "io_uring submit failed: {e}");
            }
        }
        self.shard.end_turn();
    }

    fn flush(&mut self, id: ConnId, now: Instant) {
        let Some(slot) = self.slots.get_mut(id.slot()).and_then(Option::as_mut) else {
            return;
        };
        let Some(conn) = self.shard.clients.conns.get_mut(id) else {
            return;
        };
        conn.queue_goodbye();
        match conn.closing {
            Some(Closing::Now) => {
                shut(slot);
                self.maybe_release(id);
                return;
            }
            Some(Closing::AfterFlush) if conn.flushed() && !slot.writing => {
                shut(slot);
                self.maybe_release(id);
                return;
            }
            _ => {}
        }
        if slot.writing || slot.shut {
            return;
        }
        if let Some(iovs) = conn.start_write(now) {
            let sqe = writev(slot.fd, iovs, id);
            slot.writing = true;
            self.push(sqe);
        }
    }

    /// Closes the socket and frees the connection once nothing in flight refers to it.
    fn maybe_release(&mut self, id: ConnId) {
        let Some(slot) = self.slots[id.slot()].as_mut() else {
            return;
        };
        let closing = self
            .shard
            .clients
            .conns
            .get(id)
            .is_none_or(|c| c.closing.is_some());
        if !closing {
            return;
        }
        if !slot.shut {
            // Output still to flush, or the transport's goodbyes still to queue:
            // finish_turn will shut it when done.
            let c = &self.shard.clients.conns[id];
            if c.closing == Some(Closing::AfterFlush)
                && (slot.writing || !c.flushed() || c.owes_goodbye())
            {
                return;
            }
            shut(slot);
        }
        if slot.recv_armed || slot.writing {
            return;
        }
        // SAFETY: our socket; no operation in flight refers to it any more.
        unsafe { libc::close(slot.fd) };
        self.slots[id.slot()] = None;
        self.shard.release(id);
    }
}

fn writev(fd: RawFd, iovs: &[libc::iovec], id: ConnId) -> squeue::Entry {
    opcode::Writev::new(types::Fd(fd), iovs.as_ptr(), iovs.len() as u32)
        .build()
        .user_data(user_data(OP_WRITE, id.slot()))
}

/// Shuts the socket down both ways, which ends its multishot recv and any pending write.
fn shut(slot: &mut Slot) {
    if !slot.shut {
        slot.shut = true;
        // SAFETY: plain syscall on our own socket.
        unsafe { libc::shutdown(slot.fd, libc::SHUT_RDWR) };
    }
}

/// A raw descriptor viewed as `AsFd` for socket2, without taking ownership.
struct BorrowedRaw(RawFd);

impl std::os::fd::AsFd for BorrowedRaw {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the descriptor stays open for the borrow's duration.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.0) }
    }
}
