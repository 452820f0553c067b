package emulator

import (
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

// Every task queued is run once, by at most base workers, and the workers
// end when nothing waits.
func TestWriterPoolRunsEveryTaskAndEnds(t *testing.T) {
	p := &writerPool{base: 2}
	var done sync.WaitGroup
	var ran atomic.Int64
	for range 1000 {
		done.Add(1)
		p.add(fakeTask{func() { ran.Add(1); done.Done() }})
	}
	done.Wait()
	require.Equal(t, int64(1000), ran.Load())
	require.Eventually(t, func() bool { return p.runningWorkers() == 0 }, 5*time.Second, time.Millisecond, "the workers end")
}

// A task that blocks holds its worker alone: once every worker has been in
// it for stallAfter, the next task gets a stand-in worker.
func TestWriterPoolStartsAStandInForAStalledWorker(t *testing.T) {
	p := &writerPool{base: 1}
	release := make(chan struct{})
	started := make(chan struct{})
	p.add(fakeTask{func() { close(started); <-release }})
	<-started
	other := make(chan struct{})
	// Queued while the only worker is blocked: it runs once the pool
	// finds the worker stalled, at an add after stallAfter.
	p.add(fakeTask{func() { close(other) }})
	deadline := time.After(10 * time.Second)
	for waiting := true; waiting; {
		select {
		case <-other:
			waiting = false
		case <-deadline:
			t.Fatal("no stand-in worker ran the queued task")
		case <-time.After(10 * time.Millisecond):
			p.add(fakeTask{func() {}}) // the next add looks again
		}
	}
	close(release)
	require.Eventually(t, func() bool { return p.runningWorkers() == 0 }, 5*time.Second, time.Millisecond, "the workers end")
}
