//! The executor pool: placement, ordering, concurrency, back-pressure, panics, pinning,
//! shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // libc calls to observe the node (each `unsafe` says why it is sound).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use aocu::exec::{
    CorePlan, ExecError, ExecutorsSetting, Pool, Route, Shard, Shutdown, executor_for,
};

fn n(v: usize) -> NonZeroUsize {
    NonZeroUsize::new(v).unwrap()
}

/// AO-style process IDs: 43 characters of base64url, like real ones.
fn ids(count: usize) -> Vec<String> {
    use base64::Engine;
    (0..count)
        .map(|i| {
            let digest = blake3::hash(format!("process-{i}").as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_bytes())
        })
        .collect()
}

/// Two IDs that the pool places on different executors.
fn on_two_executors<S: Send + 'static>(pool: &Pool<S>) -> (String, String) {
    let all = ids(64);
    let a = all[0].clone();
    let b = all
        .iter()
        .find(|id| pool.executor_for(id) != pool.executor_for(&a))
        .expect("64 ids all on one executor")
        .clone();
    (a, b)
}

/// A barrier whose wait gives up after a while, so that a broken pool fails the test
/// instead of hanging it.
struct TimedBarrier {
    count: Mutex<usize>,
    all_here: Condvar,
    parties: usize,
}

impl TimedBarrier {
    fn new(parties: usize) -> Arc<TimedBarrier> {
        Arc::new(TimedBarrier {
            count: Mutex::new(0),
            all_here: Condvar::new(),
            parties,
        })
    }

    /// True when every party arrived within the timeout.
    fn wait(&self, timeout: Duration) -> bool {
        let mut count = self.count.lock().unwrap();
        *count += 1;
        self.all_here.notify_all();
        let (count, result) = self
            .all_here
            .wait_timeout_while(count, timeout, |c| *c < self.parties)
            .unwrap();
        drop(count);
        !result.timed_out()
    }
}

#[test]
fn placement_is_stable_and_balanced() {
    let ids = ids(64);
    for executors in 1..=8 {
        let mut load = vec![0usize; executors];
        for id in &ids {
            let e = executor_for(id, executors);
            assert!(e < executors);
            assert_eq!(e, executor_for(id, executors), "placement must not change");
            load[e] += 1;
        }
        let fair = 64 / executors;
        assert!(
            load.iter().all(|l| *l >= 1 && *l <= 2 * fair),
            "{executors} executors: {load:?}"
        );
    }
    // Pinned values: the rule (blake3, first 8 bytes little-endian, jump hash) must never
    // change, or a restarted node would look for warm processes on the wrong executors.
    let pinned: Vec<usize> = ids[..8].iter().map(|id| executor_for(id, 4)).collect();
    assert_eq!(pinned, GOLDEN_4);
    let pinned: Vec<usize> = ids[..8].iter().map(|id| executor_for(id, 7)).collect();
    assert_eq!(pinned, GOLDEN_7);
    let pool: Pool<()> = Pool::unpinned(n(4), n(8)).unwrap();
    assert!(
        ids.iter()
            .all(|id| pool.executor_for(id) == executor_for(id, 4))
    );
}

// Computed outside this crate: `b3sum` for the hashes and the paper's jump hash in Python.
const GOLDEN_4: [usize; 8] = [3, 2, 3, 0, 3, 2, 2, 0];
const GOLDEN_7: [usize; 8] = [3, 5, 3, 0, 3, 5, 5, 0];

#[test]
fn jobs_of_one_process_run_strictly_in_order() {
    let pool: Pool<Vec<usize>> = Pool::unpinned(n(3), n(16)).unwrap();
    let ids = ids(6);
    let mut pending = Vec::new();
    for seq in 0..200 {
        for id in &ids {
            let key = id.clone();
            let job = move |shard: &mut Shard<Vec<usize>>| {
                shard.get_or_insert_with(&key, Vec::new).push(seq);
            };
            // Alternate the ways in: the order must hold whichever is used.
            if seq % 2 == 0 {
                pending.push(pool.enqueue_blocking(id, job).unwrap());
            } else {
                pool.submit_blocking(id, job).unwrap();
            }
        }
    }
    for p in pending {
        p.wait().unwrap();
    }
    for id in &ids {
        let key = id.clone();
        let seen = pool
            .submit_blocking(id, move |shard| shard.get(&key).cloned())
            .unwrap()
            .unwrap();
        assert_eq!(seen, (0..200).collect::<Vec<_>>(), "{id}");
    }
}

#[test]
fn processes_on_different_executors_run_concurrently() {
    let pool: Pool<()> = Pool::unpinned(n(2), n(4)).unwrap();
    let (a, b) = on_two_executors(&pool);
    let barrier = TimedBarrier::new(2);
    // Each job waits inside its executor for the other: both can only pass if both executors
    // run at the same time.
    let jobs: Vec<_> = [a, b]
        .iter()
        .map(|id| {
            let barrier = barrier.clone();
            pool.try_submit(id, move |_| barrier.wait(Duration::from_secs(30)))
                .unwrap()
        })
        .collect();
    for job in jobs {
        assert!(
            job.wait().unwrap(),
            "the two executors did not run together"
        );
    }
}

#[test]
fn a_busy_executor_does_not_starve_the_others() {
    let pool: Pool<u64> = Pool::unpinned(n(2), n(4)).unwrap();
    let (a, b) = on_two_executors(&pool);
    let (release, blocked) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let stuck = pool
        .try_submit(&a, move |_| {
            let _ = started_tx.send(());
            blocked.recv_timeout(Duration::from_secs(30)).is_ok()
        })
        .unwrap();
    // Wait until `a`'s executor really holds the job: on a loaded machine it may not have
    // picked it up yet when `b`'s jobs are done.
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    // 200 jobs for `b` finish while `a`'s executor is held (more than a queue's worth, so
    // each one has to be taken by b's executor).
    for i in 0..200u64 {
        let key = b.clone();
        let total = pool
            .submit_blocking(&b, move |shard| {
                let t = shard.get_or_insert_with(&key, || 0);
                *t += i;
                *t
            })
            .unwrap();
        assert_eq!(total, i * (i + 1) / 2);
    }
    let stats = pool.stats();
    assert!(stats[pool.executor_for(&a)].busy);
    release.send(()).unwrap();
    assert!(stuck.wait().unwrap());
}

#[test]
fn full_queue_pushes_back() {
    let pool: Pool<Vec<u32>> = Pool::unpinned(n(1), n(2)).unwrap();
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, blocked) = mpsc::channel::<()>();
    let first = pool
        .try_submit("p", move |_| {
            started_tx.send(()).unwrap();
            blocked.recv_timeout(Duration::from_secs(30)).is_ok()
        })
        .unwrap();
    started.recv().unwrap(); // the executor holds the first job: the queue is empty again
    let push = |v: u32| move |s: &mut Shard<Vec<u32>>| s.get_or_insert_with("p", Vec::new).push(v);
    let queued: Vec<_> = (1..=2)
        .map(|v| pool.try_submit("p", push(v)).unwrap())
        .collect();
    match pool.try_submit("p", push(99)) {
        Err(ExecError::Busy { executor, capacity }) => assert_eq!((executor, capacity), (0, 2)),
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(pool.stats()[0].queue_depth, 2);

    // The async way in waits: polled now, it is not ready.
    let waiting = pool.enqueue("p", push(3));
    let mut waiting = Box::pin(waiting);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(waiting.as_mut().poll(&mut cx), Poll::Pending));

    release.send(()).unwrap();
    assert!(first.wait().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let third = runtime.block_on(waiting).unwrap();
    for q in queued {
        q.wait().unwrap();
    }
    third.wait().unwrap();
    // The blocking way in waits for room too, and everything ran in submission order.
    for v in 4..10 {
        pool.enqueue_blocking("p", push(v)).unwrap();
    }
    let seen = pool
        .submit_blocking("p", |s| s.get("p").cloned().unwrap_or_default())
        .unwrap();
    assert_eq!(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn urgent_jobs_run_at_the_next_job_boundary_ahead_of_the_queue() {
    let pool: Pool<Vec<&'static str>> = Pool::unpinned(n(1), n(8)).unwrap();
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, blocked) = mpsc::channel::<()>();
    // A long evaluation of `busy` runs; four more jobs of other processes wait behind it.
    let running = pool
        .try_submit("busy", move |s| {
            started_tx.send(()).unwrap();
            let released = blocked.recv_timeout(Duration::from_secs(30)).is_ok();
            s.get_or_insert_with("log", Vec::new).push("running");
            released
        })
        .unwrap();
    started.recv().unwrap();
    let log = |entry: &'static str| {
        move |s: &mut Shard<Vec<&'static str>>| s.get_or_insert_with("log", Vec::new).push(entry)
    };
    let queued: Vec<_> = ["q1", "q2", "q3", "q4"]
        .into_iter()
        .map(|entry| pool.try_submit(entry, log(entry)).unwrap())
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let urgent = {
        let pool = &pool;
        runtime.block_on(async move {
            let urgent = pool.submit_urgent("dry", log("urgent"));
            let mut urgent = Box::pin(urgent);
            let mut cx = Context::from_waker(Waker::noop());
            // Queued, not run: the running job ends first (a job boundary).
            assert!(matches!(urgent.as_mut().poll(&mut cx), Poll::Pending));
            release.send(()).unwrap();
            urgent.await
        })
    };
    urgent.unwrap();
    assert!(running.wait().unwrap());
    for q in queued {
        q.wait().unwrap();
    }
    let seen = pool
        .submit_blocking("log", |s| s.get("log").cloned().unwrap_or_default())
        .unwrap();
    assert_eq!(seen, ["running", "urgent", "q1", "q2", "q3", "q4"]);
}

#[test]
fn a_panicking_job_is_an_error_and_the_executor_survives() {
    let pool: Pool<String> = Pool::unpinned(n(1), n(8)).unwrap();
    pool.submit_blocking("good", |s| s.insert("good", "kept".into()))
        .unwrap();
    pool.submit_blocking("bad", |s| s.insert("bad", "half-changed".into()))
        .unwrap();
    let err = pool
        .submit_blocking("bad", |_| -> () { panic!("boom {}", 42) })
        .unwrap_err();
    match &err {
        ExecError::Panicked {
            executor,
            process,
            message,
        } => {
            assert_eq!(*executor, 0);
            assert_eq!(process.as_deref(), Some("bad"));
            assert_eq!(message, "boom 42");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert!(err.to_string().contains("boom 42"));
    // Same executor, next jobs run; the panicking process' state is gone, the other's is not.
    let (good, bad) = pool
        .submit_blocking("good", |s| (s.get("good").cloned(), s.get("bad").cloned()))
        .unwrap();
    assert_eq!((good.as_deref(), bad), (Some("kept"), None));
    let stats = &pool.stats()[0];
    assert_eq!((stats.jobs_panicked, stats.jobs_done), (1, 4));
    assert_eq!(stats.processes, 1);
}

#[test]
fn executors_run_on_their_planned_cpus() {
    let cpu = aocu::hw::cpu::discover();
    let plan = CorePlan::new(&ExecutorsSetting::All, &cpu).unwrap();
    assert_eq!(plan.len(), cpu.allowed_cpus.len());
    let pool: Pool<()> = Pool::new(&plan, n(4)).unwrap();
    for (i, planned) in plan.cpus.iter().enumerate() {
        let (pinned, cpu, running_on) = pool
            .submit_blocking(Route::Executor(i), |s| {
                // SAFETY: sched_getcpu has no preconditions; it returns -1 on failure.
                let now = unsafe { libc::sched_getcpu() };
                (s.pinned(), s.cpu(), now)
            })
            .unwrap();
        assert_eq!(cpu, Some(*planned));
        assert_eq!(pool.stats()[i].pinned, pinned);
        if pinned {
            assert_eq!(running_on, *planned as i32, "executor {i}");
        } else {
            eprintln!("executor {i}: pinning refused by the OS; running unpinned");
        }
    }
    let json = pool.monitor().to_json();
    assert_eq!(json["count"], plan.len());
    assert_eq!(json["executors"][0]["cpu"], plan.cpus[0]);
    assert!(matches!(
        pool.try_submit(Route::Executor(plan.len()), |_| ()),
        Err(ExecError::NoSuchExecutor { .. })
    ));
}

#[test]
fn stats_count_jobs_processes_and_busy_time() {
    let pool: Pool<u8> = Pool::unpinned(n(2), n(64)).unwrap();
    let ids = ids(10);
    for id in &ids {
        let key = id.clone();
        pool.submit_blocking(id, move |s| {
            s.insert(&key, 1);
            // Some real work, so that busy time is above zero on any clock.
            (0..10_000u64).fold(0u64, |a, b| a ^ b.wrapping_mul(0x9E37))
        })
        .unwrap();
    }
    let stats = pool.stats();
    assert_eq!(stats.iter().map(|s| s.jobs_done).sum::<u64>(), 10);
    assert_eq!(stats.iter().map(|s| s.processes).sum::<usize>(), 10);
    for s in &stats {
        assert!(s.busy_ns <= s.uptime_ns);
        assert_eq!(s.queue_capacity, 64);
        assert_eq!(s.cpu, None);
        assert!(!s.pinned);
    }
    assert!(stats.iter().map(|s| s.busy_ns).sum::<u64>() > 0);
    let json = pool.monitor().to_json();
    assert_eq!(json["jobs-done"], 10);
    assert_eq!(json["processes"], 10);
    assert!(json["executors"][1]["utilization"].is_number());
}

#[test]
fn shutdown_drains_or_discards() {
    let ran = Arc::new(AtomicUsize::new(0));
    let pool: Pool<()> = Pool::unpinned(n(2), n(128)).unwrap();
    for id in ids(100) {
        let ran = ran.clone();
        pool.enqueue_blocking(&id, move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    pool.shutdown(Shutdown::Drain);
    assert_eq!(ran.load(Ordering::SeqCst), 100);

    // Dropping drains as well.
    let pool: Pool<()> = Pool::unpinned(n(1), n(128)).unwrap();
    for _ in 0..50 {
        let ran = ran.clone();
        pool.try_submit("p", move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 150);

    // Discard: the running job finishes, the queued ones report ShutDown.
    let pool: Pool<()> = Pool::unpinned(n(1), n(8)).unwrap();
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, blocked) = mpsc::channel::<()>();
    let running = pool
        .try_submit("p", move |_| {
            started_tx.send(()).unwrap();
            blocked.recv_timeout(Duration::from_secs(30)).is_ok()
        })
        .unwrap();
    started.recv().unwrap();
    let queued: Vec<_> = (0..3)
        .map(|_| pool.try_submit("p", |_| ()).unwrap())
        .collect();
    let stopper = std::thread::spawn(move || pool.shutdown(Shutdown::Discard));
    // Give the stopper time to mark the queues for discarding before the held job ends; a
    // slow machine only makes this test weaker (jobs run), never fail for the wrong reason.
    std::thread::sleep(Duration::from_millis(200));
    release.send(()).unwrap();
    stopper.join().unwrap();
    assert!(running.wait().unwrap());
    for q in queued {
        assert!(matches!(q.wait(), Err(ExecError::ShutDown)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_submit_from_many_tasks() {
    let pool: Arc<Pool<u64>> = Arc::new(Pool::unpinned(n(2), n(4)).unwrap());
    let mut tasks = Vec::new();
    for id in ids(8) {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..100 {
                let key = id.clone();
                last = pool
                    .submit(&id, move |s| {
                        let c = s.get_or_insert_with(&key, || 0);
                        *c += 1;
                        *c
                    })
                    .await
                    .unwrap();
            }
            last
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 100);
    }
    // The blocking way works from a blocking task inside the runtime too.
    let p = pool.clone();
    let n = tokio::task::spawn_blocking(move || p.submit_blocking("x", |s| s.len()))
        .await
        .unwrap()
        .unwrap();
    assert!(n >= 1);
}
