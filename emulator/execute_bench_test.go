package emulator

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkExecuteJoinGroups applies MaxExecuteCommands JoinGroups of
// distinct groups to 300 connections: "execute" is the :execute path
// (chunked lock, maps sized once), "baseline" the joins one by one under
// one lock, as :execute did before. Compare the two as a ratio.
func BenchmarkExecuteJoinGroups(b *testing.B) {
	commands := make([]execCommand, MaxExecuteCommands)
	for i := range commands {
		commands[i] = execCommand{kind: "JoinGroup", group: "g" + strconv.Itoa(i)}
	}
	setup := func() (*hub, []*connection) {
		h := newHub("bench")
		conns := make([]*connection, 300)
		for i := range conns {
			c := &connection{id: "c" + strconv.Itoa(i), groups: map[string]time.Time{}}
			h.conns[c.id] = c
			conns[i] = c
		}
		return h, conns
	}
	b.Run("execute", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			h, _ := setup()
			b.StartTimer()
			h.execute(nil, commands)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(commands)*300), "ns/join")
	})
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			h, conns := setup()
			b.StartTimer()
			h.mu.Lock()
			for _, cmd := range commands {
				for _, c := range conns {
					h.join(c, cmd.group, time.Time{})
				}
			}
			h.mu.Unlock()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(commands)*300), "ns/join")
	})
}
