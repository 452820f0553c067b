package emulator

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeTask struct {
	run func()
}

func (f fakeTask) poolWrite() { f.run() }

func (p *writerPool) runningWorkers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// Every task queued is run once, by at most base workers at a time, and the
// workers end when nothing waits.
func TestWriterPoolRunsEveryTaskAndEnds(t *testing.T) {
	p := &writerPool{base: 2}
	var done sync.WaitGroup
	var ran, inFlight, most atomic.Int64
	for range 1000 {
		done.Add(1)
		p.add(fakeTask{func() {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			ran.Add(1)
			inFlight.Add(-1)
			done.Done()
		}})
	}
	done.Wait()
	require.Equal(t, int64(1000), ran.Load())
	require.LessOrEqual(t, most.Load(), int64(2), "at most base workers run while none is stalled")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, p.wait(ctx), "the workers end")
	require.Zero(t, p.runningWorkers())
}

// A task that blocks holds its worker alone: once the worker has been in
// it for stallAfter, a stand-in runs the task queued behind it, with no
// more work arriving to prompt it.
func TestWriterPoolStartsAStandInForAStalledWorker(t *testing.T) {
	p := &writerPool{base: 1}
	release := make(chan struct{})
	started := make(chan struct{})
	p.add(fakeTask{func() { close(started); <-release }})
	<-started
	other := make(chan struct{})
	p.add(fakeTask{func() { close(other) }})
	select {
	case <-other:
	case <-time.After(10 * time.Second):
		t.Fatal("no stand-in worker ran the queued task")
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, p.wait(ctx), "the workers end")
}

// While work keeps coming, the list of waiting connections holds what
// waits, not every connection ever added.
func TestWriterPoolReadyListStaysBounded(t *testing.T) {
	p := &writerPool{base: 1}
	var left atomic.Int64
	left.Store(100_000)
	finished := make(chan struct{})
	most := 0
	var task fakeTask
	task = fakeTask{func() {
		p.mu.Lock()
		most = max(most, cap(p.ready))
		p.mu.Unlock()
		switch n := left.Add(-1); {
		case n > 0:
			p.add(task) // another turn: the pool is never empty
		case n == 0:
			close(finished)
		}
	}}
	p.add(task)
	p.add(task)
	<-finished
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, p.wait(ctx))
	require.Less(t, most, 8192, "the list grew with the adds")
}
