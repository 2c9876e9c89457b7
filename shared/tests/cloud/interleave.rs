//! Runs several deliveries at once on one thread, switching between them at every port
//! call in an order the test chooses: the interleavings concurrent functions could see.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Returns Pending once, then Ready: a point where another delivery may run.
pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// One delivery in progress.
pub type Running<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

struct Nothing;

impl Wake for Nothing {
    fn wake(self: Arc<Self>) {}
}

/// Polls the futures to completion, each time the one `choose(n)` picks among the `n`
/// still running; their results in the order given.
pub fn run_interleaved<T>(
    futures: Vec<Running<'_, T>>,
    mut choose: impl FnMut(usize) -> usize,
) -> Vec<T> {
    let waker = Waker::from(Arc::new(Nothing));
    let mut cx = Context::from_waker(&waker);
    let mut running: Vec<(usize, Running<'_, T>)> = futures.into_iter().enumerate().collect();
    let mut done: Vec<(usize, T)> = Vec::new();
    let mut polls = 0u64;
    while !running.is_empty() {
        polls += 1;
        assert!(polls < 1_000_000, "the deliveries never end");
        let pick = choose(running.len()) % running.len();
        if let Poll::Ready(value) = running[pick].1.as_mut().poll(&mut cx) {
            let (index, _) = running.remove(pick);
            done.push((index, value));
        }
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, v)| v).collect()
}
