//! The executor pool: threads, queues, submission and shutdown.

use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::ExecError;
use super::placement::executor_for;
use super::plan::CorePlan;
use super::shard::Shard;
use super::stats::{Counters, ExecutorStats, PoolMonitor};

/// Where a job goes: to the executor owning a process, or to one executor by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// The executor that owns this process ID (see [`executor_for`]).
    Process(&'a str),
    /// Executor number `i` (`0..pool.len()`), for per-executor work such as checkpoints.
    Executor(usize),
}

impl<'a> From<&'a str> for Route<'a> {
    fn from(process: &'a str) -> Route<'a> {
        Route::Process(process)
    }
}

impl<'a> From<&'a String> for Route<'a> {
    fn from(process: &'a String) -> Route<'a> {
        Route::Process(process)
    }
}

/// What to do with queued jobs when the pool stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Run every job already queued, then stop.
    Drain,
    /// Drop queued jobs (their submitters get [`ExecError::ShutDown`]); finish the running one.
    Discard,
}

/// The body of a queued job: runs the caller's closure, books it ([`finish_job`]) and only
/// then sends the result, so a caller that has its result also sees it in the counters.
type RunJob<S> = Box<dyn FnOnce(&mut Shard<S>, Option<&str>, &Counters, u64) + Send>;

/// One queued job and the process it is for.
struct Job<S> {
    process: Option<String>,
    run: RunJob<S>,
}

/// The handle of one executor thread.
struct Executor<S> {
    queue: Option<mpsc::Sender<Job<S>>>,
    /// Jobs that run before anything in `queue` (dry-runs): at the next job boundary.
    urgent: Option<mpsc::Sender<Job<S>>>,
    counters: Arc<Counters>,
    discard: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A pool of executor threads, each owning a [`Shard`] of process states of type `S`.
///
/// A job for process `p` runs on executor [`executor_for`]`(p, pool.len())`, after every job
/// submitted for `p` before it (one FIFO queue per executor), and with `&mut` access to that
/// executor's shard. Executors have separate bounded queues: a full or busy executor makes only
/// its own submitters wait. Each executor also has an urgent lane ([`Pool::submit_urgent`])
/// whose jobs run at its next job boundary, ahead of its queue: a read that must not wait for
/// other processes' backlog goes there. Dropping the pool drains the queues and joins the
/// threads.
pub struct Pool<S: Send + 'static> {
    executors: Vec<Executor<S>>,
    monitor: PoolMonitor,
}

/// A submitted job's result, to wait for ([`Pending::wait`]) or await ([`Pending::result`]).
#[derive(Debug)]
pub struct Pending<R> {
    executor: usize,
    result: oneshot::Receiver<Result<R, ExecError>>,
}

impl<R> Pending<R> {
    /// The executor the job was queued on.
    pub fn executor(&self) -> usize {
        self.executor
    }

    /// Await the job's result.
    pub async fn result(self) -> Result<R, ExecError> {
        self.result.await.unwrap_or(Err(ExecError::ShutDown))
    }

    /// Block the calling thread until the job's result is there.
    pub fn wait(self) -> Result<R, ExecError> {
        block_on(self.result())
    }
}

impl<S: Send + 'static> Pool<S> {
    /// Start one executor per CPU of `plan`, each pinned to its CPU. Where the OS refuses the
    /// pinning, the executor logs a warning, runs unpinned and reports `pinned: false`.
    pub fn new(plan: &CorePlan, queue_depth: NonZeroUsize) -> Result<Pool<S>, ExecError> {
        if plan.is_empty() {
            return Err(ExecError::NoExecutors);
        }
        let cpus: Vec<Option<usize>> = plan.cpus.iter().copied().map(Some).collect();
        Pool::start(&cpus, queue_depth)
    }

    /// Start `executors` threads without pinning (tools and tests that want a fixed count
    /// whatever the machine).
    pub fn unpinned(
        executors: NonZeroUsize,
        queue_depth: NonZeroUsize,
    ) -> Result<Pool<S>, ExecError> {
        Pool::start(&vec![None; executors.get()], queue_depth)
    }

    fn start(cpus: &[Option<usize>], queue_depth: NonZeroUsize) -> Result<Pool<S>, ExecError> {
        let mut pool = Pool {
            executors: Vec::with_capacity(cpus.len()),
            monitor: PoolMonitor {
                counters: Arc::from(Vec::new()),
            },
        };
        for (index, cpu) in cpus.iter().enumerate() {
            // On error `pool` is dropped here, which stops the executors already started.
            pool.executors
                .push(spawn_executor(index, *cpu, queue_depth.get())?);
        }
        let counters: Vec<Arc<Counters>> =
            pool.executors.iter().map(|e| e.counters.clone()).collect();
        pool.monitor = PoolMonitor {
            counters: Arc::from(counters),
        };
        Ok(pool)
    }

    /// Number of executors.
    pub fn len(&self) -> usize {
        self.executors.len()
    }

    /// Always false: a started pool has at least one executor.
    pub fn is_empty(&self) -> bool {
        self.executors.is_empty()
    }

    /// The executor that owns `process` in this pool.
    pub fn executor_for(&self, process: &str) -> usize {
        executor_for(process, self.executors.len())
    }

    /// A cloneable view of the counters, for `~meta@1.0`.
    pub fn monitor(&self) -> PoolMonitor {
        self.monitor.clone()
    }

    /// One snapshot per executor.
    pub fn stats(&self) -> Vec<ExecutorStats> {
        self.monitor.snapshot()
    }

    /// Queue `job` and await its result; waits for queue space when the executor is full.
    pub async fn submit<'a, R, F>(
        &self,
        route: impl Into<Route<'a>>,
        job: F,
    ) -> Result<R, ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        self.enqueue(route, job).await?.result().await
    }

    /// Run `job` at its executor's next job boundary, ahead of every job in that executor's
    /// queue (the job running now finishes first), and await its result. The urgent lane is
    /// bounded as the queue is: when it is full this fails at once with [`ExecError::Busy`].
    /// Jobs for one process keep their order within each lane, not across the two.
    pub async fn submit_urgent<'a, R, F>(
        &self,
        route: impl Into<Route<'a>>,
        job: F,
    ) -> Result<R, ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        let (executor, job, pending) = self.prepare(route.into(), job)?;
        let lane = self
            .executors
            .get(executor)
            .and_then(|e| e.urgent.as_ref())
            .ok_or(ExecError::ShutDown)?;
        self.try_send(executor, lane, job)?;
        pending.result().await
    }

    /// Queue `job` and block until its result is there; blocks for queue space when full.
    /// Meant for threads outside the async runtime (CLI, benches).
    pub fn submit_blocking<'a, R, F>(
        &self,
        route: impl Into<Route<'a>>,
        job: F,
    ) -> Result<R, ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        self.enqueue_blocking(route, job)?.wait()
    }

    /// Queue `job` if its executor's queue has room, else fail at once with
    /// [`ExecError::Busy`] (an HTTP handler answers 503 instead of piling up work).
    pub fn try_submit<'a, R, F>(
        &self,
        route: impl Into<Route<'a>>,
        job: F,
    ) -> Result<Pending<R>, ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        let (executor, job, pending) = self.prepare(route.into(), job)?;
        self.try_send(executor, self.queue(executor)?, job)?;
        Ok(pending)
    }

    /// Put `job` on `lane` of `executor` if it has room, else fail with [`ExecError::Busy`].
    fn try_send(
        &self,
        executor: usize,
        lane: &mpsc::Sender<Job<S>>,
        job: Job<S>,
    ) -> Result<(), ExecError> {
        lane.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ExecError::Busy {
                executor,
                capacity: self.executors[executor].counters.capacity,
            },
            mpsc::error::TrySendError::Closed(_) => ExecError::ShutDown,
        })?;
        self.queued(executor);
        Ok(())
    }

    /// Queue `job`, awaiting queue space when the executor is full; the result comes later.
    pub async fn enqueue<'a, R, F>(
        &self,
        route: impl Into<Route<'a>>,
        job: F,
    ) -> Result<Pending<R>, ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        let (executor, job, pending) = self.prepare(route.into(), job)?;
        let queue = self.queue(executor)?;
        queue.send(job).await.map_err(|_| ExecError::ShutDown)?;
        self.queued(executor);
        Ok(pending)
    }

    /// Queue `job`, blocking the calling thread for queue space when the executor is full.
    pub fn enqueue_blocking<'a, R, F>(
        &self,
        route: impl Into<Route<'a>>,
        job: F,
    ) -> Result<Pending<R>, ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        let (executor, job, pending) = self.prepare(route.into(), job)?;
        let queue = self.queue(executor)?;
        block_on(queue.send(job)).map_err(|_| ExecError::ShutDown)?;
        self.queued(executor);
        Ok(pending)
    }

    /// Stop the pool: stop taking jobs, run (`Drain`) or drop (`Discard`) the queued ones,
    /// and join every executor thread.
    pub fn shutdown(mut self, mode: Shutdown) {
        self.stop(mode);
    }

    fn stop(&mut self, mode: Shutdown) {
        for executor in &mut self.executors {
            if mode == Shutdown::Discard {
                executor.discard.store(true, Relaxed);
            }
            // The last senders gone, the executor's receive loop ends after the queued jobs.
            executor.queue = None;
            executor.urgent = None;
        }
        for executor in &mut self.executors {
            if let Some(thread) = executor.thread.take()
                && thread.join().is_err()
            {
                tracing::error!(
                    executor = executor.counters.index,
                    "executor thread ended with a panic"
                );
            }
        }
    }

    fn queue(&self, executor: usize) -> Result<&mpsc::Sender<Job<S>>, ExecError> {
        self.executors
            .get(executor)
            .and_then(|e| e.queue.as_ref())
            .ok_or(ExecError::ShutDown)
    }

    fn queued(&self, executor: usize) {
        if let Some(e) = self.executors.get(executor) {
            e.counters.queued.fetch_add(1, Relaxed);
        }
    }

    /// Resolve the route and wrap `job` so that it sends its result (or its panic) back.
    #[allow(clippy::type_complexity)]
    fn prepare<R, F>(
        &self,
        route: Route<'_>,
        job: F,
    ) -> Result<(usize, Job<S>, Pending<R>), ExecError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Shard<S>) -> R + Send + 'static,
    {
        let (executor, process) = match route {
            Route::Process(id) => (self.executor_for(id), Some(id.to_string())),
            Route::Executor(i) if i < self.executors.len() => (i, None),
            Route::Executor(i) => {
                return Err(ExecError::NoSuchExecutor {
                    index: i,
                    count: self.executors.len(),
                });
            }
        };
        let (tx, rx) = oneshot::channel();
        let run: RunJob<S> = Box::new(
            move |shard: &mut Shard<S>, process: Option<&str>, counters: &Counters, start: u64| {
                let executor = shard.executor();
                let result = catch_unwind(AssertUnwindSafe(|| job(shard))).map_err(|payload| {
                    ExecError::Panicked {
                        executor,
                        process: process.map(str::to_string),
                        message: panic_message(payload.as_ref()),
                    }
                });
                finish_job(shard, process, counters, start, result.is_err());
                // The submitter may have gone away (a closed HTTP connection): fine.
                let _ = tx.send(result);
            },
        );
        let pending = Pending {
            executor,
            result: rx,
        };
        Ok((executor, Job { process, run }, pending))
    }
}

impl<S: Send + 'static> Drop for Pool<S> {
    fn drop(&mut self) {
        self.stop(Shutdown::Drain);
    }
}

impl<S: Send + 'static> std::fmt::Debug for Pool<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("executors", &self.monitor.snapshot())
            .finish()
    }
}

fn spawn_executor<S: Send + 'static>(
    index: usize,
    cpu: Option<usize>,
    capacity: usize,
) -> Result<Executor<S>, ExecError> {
    let (tx, rx) = mpsc::channel(capacity);
    let (urgent_tx, urgent_rx) = mpsc::channel(capacity);
    let counters = Arc::new(Counters::new(index, cpu, capacity));
    let discard = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name(format!("aocu-exec-{index}"))
        .spawn({
            let counters = counters.clone();
            let discard = discard.clone();
            let lanes = Lanes {
                queue: rx,
                urgent: urgent_rx,
            };
            move || run_executor(Shard::new(index, cpu), lanes, &counters, &discard)
        })
        .map_err(|source| ExecError::Spawn { index, source })?;
    Ok(Executor {
        queue: Some(tx),
        urgent: Some(urgent_tx),
        counters,
        discard,
        thread: Some(thread),
    })
}

/// The receiving ends of an executor's two lanes.
struct Lanes<S> {
    queue: mpsc::Receiver<Job<S>>,
    urgent: mpsc::Receiver<Job<S>>,
}

impl<S> Lanes<S> {
    /// The next job: an urgent one when there is one, else the queue's next; `None` once
    /// both lanes are closed and empty.
    fn next(&mut self) -> Option<Job<S>> {
        if let Ok(job) = self.urgent.try_recv() {
            return Some(job);
        }
        block_on(async {
            tokio::select! {
                biased;
                Some(job) = self.urgent.recv() => Some(job),
                job = self.queue.recv() => job,
            }
        })
        .or_else(|| self.urgent.try_recv().ok())
    }
}

/// The executor thread: pin, then run jobs (urgent ones first, each lane in its order) until
/// both lanes close.
fn run_executor<S>(
    mut shard: Shard<S>,
    mut lanes: Lanes<S>,
    counters: &Counters,
    discard: &AtomicBool,
) {
    if let Some(cpu) = shard.cpu() {
        let pinned = core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
        if !pinned {
            tracing::warn!(
                executor = shard.executor(),
                cpu,
                "cannot pin the executor thread to its CPU; it runs unpinned"
            );
        }
        shard.set_pinned(pinned);
        counters.pinned.store(pinned, Relaxed);
    }
    while let Some(job) = lanes.next() {
        counters.queued.fetch_sub(1, Relaxed);
        if discard.load(Relaxed) {
            continue; // dropping the job drops its result sender: the submitter sees ShutDown
        }
        let start = counters.now_ns();
        counters.job_since.store(start + 1, Relaxed);
        (job.run)(&mut shard, job.process.as_deref(), counters, start);
    }
}

/// Book a finished job in the executor's counters; after a panic, drop the process' state.
fn finish_job<S>(
    shard: &mut Shard<S>,
    process: Option<&str>,
    counters: &Counters,
    start: u64,
    panicked: bool,
) {
    if panicked {
        counters.jobs_panicked.fetch_add(1, Relaxed);
        // The job may have left the process' state half-changed: drop it, so that the next
        // job rebuilds it (from a checkpoint) instead of running on top of a broken one.
        if let Some(process) = process
            && shard.remove(process).is_some()
        {
            tracing::warn!(
                executor = shard.executor(),
                process,
                "a job panicked; the process' in-memory state was dropped"
            );
        }
    }
    let end = counters.now_ns();
    counters.job_since.store(0, Relaxed);
    counters
        .busy_ns
        .fetch_add(end.saturating_sub(start), Relaxed);
    counters.jobs_done.fetch_add(1, Relaxed);
    counters.processes.store(shard.len(), Relaxed);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a job panicked with a non-text payload".to_string()
    }
}

/// Wakes the thread that is blocked in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Run a future to completion on the calling thread, parking between polls. Unlike tokio's
/// `blocking_send`/`blocking_recv`, this never panics inside a runtime context (it only
/// blocks that thread, which the caller of a `_blocking` method asked for).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            // Spurious unparks only cost one more poll.
            Poll::Pending => std::thread::park(),
        }
    }
}
