package signalr

import (
	"context"
	"sync"
	"sync/atomic"
)

// flushConcurrently delivers items with at most c.out.concurrency in
// flight, each only after the earlier items it conflicts with (see
// orderItems) have finished.
func (c *Collector) flushConcurrently(ctx context.Context, items []pendingItem, errs []error) {
	waits, next := orderItems(items)
	workers := min(c.out.concurrency, len(items))
	var wg sync.WaitGroup
	if independent(waits) {
		// Nothing to order: hand out indexes with one atomic counter.
		var nextIndex atomic.Int64
		wg.Add(workers)
		for range workers {
			go func() {
				defer wg.Done()
				for i := int(nextIndex.Add(1) - 1); i < len(items); i = int(nextIndex.Add(1) - 1) {
					errs[i] = c.deliver(ctx, &items[i])
				}
			}()
		}
		wg.Wait()
		return
	}
	ready := make(chan int, len(items))
	for i, w := range waits {
		if w == 0 {
			ready <- i
		}
	}
	var (
		mu        sync.Mutex
		remaining = len(items)
	)
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for i := range ready {
				errs[i] = c.deliver(ctx, &items[i])
				mu.Lock()
				for _, d := range next[i] {
					if waits[d]--; waits[d] == 0 {
						ready <- int(d)
					}
				}
				if remaining--; remaining == 0 {
					close(ready)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// independent reports whether no item waits for another.
func independent(waits []int32) bool {
	for _, w := range waits {
		if w != 0 {
			return false
		}
	}
	return true
}

// orderItems builds the dependency graph of a flush. Item i waits for
// waits[i] earlier items; when item j finishes, the items in next[j] have
// one fewer to wait for. An item depends on the latest earlier item that
// touches each of its keys (user, group, connection); a broadcast or a close
// of every connection depends on everything since the previous one and
// everything after depends on it; a removeAll depends on every group
// operation since the previous removeAll, and every later group operation
// depends on it. The edges are a transitive reduction in spirit: ordering
// through chains keeps the graph linear in the number of items.
func orderItems(items []pendingItem) (waits []int32, next [][]int32) {
	n := len(items)
	waits = make([]int32, n)
	next = make([][]int32, n)
	mark := make([]int, n) // mark[j] == i+1 when i already depends on j
	lastUser := map[string]int{}
	lastGroup := map[string]int{}
	lastConn := map[string]int{}
	lastBarrier, lastAllGroups := -1, -1
	var sinceBarrier, groupOps []int
	for i := range items {
		dep := func(j int) {
			if j < 0 || mark[j] == i+1 {
				return
			}
			mark[j] = i + 1
			waits[i]++
			next[j] = append(next[j], int32(i))
		}
		k := items[i].keys()
		dep(lastBarrier)
		if k.barrier {
			for _, j := range sinceBarrier {
				dep(j)
			}
			clear(lastUser)
			clear(lastGroup)
			clear(lastConn)
			sinceBarrier, groupOps = sinceBarrier[:0], groupOps[:0]
			lastBarrier, lastAllGroups = i, -1
			continue
		}
		if k.user != "" {
			if j, ok := lastUser[k.user]; ok {
				dep(j)
			}
			lastUser[k.user] = i
		}
		if k.conn != "" {
			if j, ok := lastConn[k.conn]; ok {
				dep(j)
			}
			lastConn[k.conn] = i
		}
		if k.group != "" {
			if j, ok := lastGroup[k.group]; ok {
				dep(j)
			}
			dep(lastAllGroups)
			lastGroup[k.group] = i
			groupOps = append(groupOps, i)
		}
		if k.allGroups {
			dep(lastAllGroups)
			for _, j := range groupOps {
				dep(j)
			}
			groupOps = groupOps[:0]
			lastAllGroups = i
		}
		sinceBarrier = append(sinceBarrier, i)
	}
	return waits, next
}

// itemKeys is what an item touches.
type itemKeys struct {
	barrier           bool // touches everything
	allGroups         bool // touches every group
	user, group, conn string
}

func messageKeys(m *Message) itemKeys {
	if m.UserID == "" && m.GroupName == "" && m.ConnectionID == "" {
		return itemKeys{barrier: true}
	}
	return itemKeys{user: m.UserID, group: m.GroupName, conn: m.ConnectionID}
}

func actionKeys(a *GroupAction) itemKeys {
	return itemKeys{user: a.UserID, conn: a.ConnectionID, group: a.GroupName, allGroups: a.Action == GroupActionRemoveAll}
}
