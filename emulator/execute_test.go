package emulator_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// executeBatch is an :execute body of n commands: kind(group prefix+i)
// for JoinGroup and LeaveGroup, a send of i for SendMessage.
func executeBatch(kind, prefix string, n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if kind == "SendMessage" {
			b.WriteString(`{"type":"SendMessage","message":{"target":"m","arguments":[` + strconv.Itoa(i) + `]}}`)
			continue
		}
		b.WriteString(`{"type":"` + kind + `","group":"` + prefix + strconv.Itoa(i) + `"}`)
	}
	b.WriteByte(']')
	return b.String()
}

// TestExecuteRefusesMoreThanMaxCommands: the command count is bounded, and
// the 400 names the bound.
func TestExecuteRefusesMoreThanMaxCommands(t *testing.T) {
	s := newServer(t, nil)
	connect(t, s, "chat", "u1")
	path := "/api/hubs/chat/:execute?api-version=2024-12-01"
	wantStatus(t, rest(t, s, http.MethodPost, path, executeBatch("JoinGroup", "g", emulator.MaxExecuteCommands)), 202, "")
	resp := rest(t, s, http.MethodPost, path, executeBatch("JoinGroup", "h", emulator.MaxExecuteCommands+1))
	wantStatus(t, resp, 400, "Error.InvalidArgument")
	var body struct{ Message string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Contains(t, body.Message, strconv.Itoa(emulator.MaxExecuteCommands))
	// Nothing of the refused batch was applied.
	assert.Empty(t, s.Emulator.Snapshot("chat").Groups["h0"])
}

// TestExecuteBatchLetsOtherCallsThrough runs an :execute of the largest
// size against 300 connections (100 for sends) and, meanwhile, other REST calls on the
// same hub. Those calls must see the batch half done (its first group
// joined, its last not yet): a batch that held the hub's lock throughout
// would let none of them in before it ended. The figures are logged for
// BENCHMARKS.md; no assertion depends on them.
func TestExecuteBatchLetsOtherCallsThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 300 connections")
	}
	for _, kind := range []string{"JoinGroup", "LeaveGroup", "SendMessage"} {
		t.Run(kind, func(t *testing.T) {
			// The clients send no pings: a batch slowed down by the race
			// detector must not outlast ClientTimeout.
			s := newServer(t, &emulator.Options{ClientTimeout: 10 * time.Minute})
			conns := 300
			if kind == "SendMessage" {
				// Each step is a WebSocket write: fewer connections keep
				// the test's 100,000 writes affordable under -race.
				conns = 100
			}
			clients := make([]*client, conns)
			for i := range clients {
				clients[i] = connect(t, s, "chat", "u"+strconv.Itoa(i))
			}
			n := emulator.MaxExecuteCommands
			path := "/api/hubs/chat/:execute?api-version=2024-12-01"
			if kind == "LeaveGroup" {
				wantStatus(t, rest(t, s, http.MethodPost, path, executeBatch("JoinGroup", "g", n)), 202, "")
			}
			// Every concurrent call is timed.
			var latencies []time.Duration
			timed := func(method, path, body string) int {
				t0 := time.Now()
				status := rest(t, s, method, path, body).StatusCode
				latencies = append(latencies, time.Since(t0))
				return status
			}
			first, last := "/api/hubs/chat/groups/g0", "/api/hubs/chat/groups/g"+strconv.Itoa(n-1)
			// halfDone reports whether the batch is visibly in progress.
			halfDone := func() bool {
				if kind == "JoinGroup" {
					return timed(http.MethodHead, first, "") == 200 && timed(http.MethodHead, last, "") == 404
				}
				return timed(http.MethodHead, first, "") == 404 && timed(http.MethodHead, last, "") == 200
			}

			body := executeBatch(kind, "g", n)
			token := mint(t, testKey, s.URL+"/api/hubs/chat/:execute", nil)
			type result struct {
				status int
				err    error
				took   time.Duration
			}
			done := make(chan result, 1)
			// The race detector on a busy machine makes a batch slow: give
			// it longer than httpClient's 10 s.
			batchClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
			start := time.Now()
			go func() {
				req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := batchClient.Do(req)
				took := time.Since(start)
				if err != nil {
					done <- result{err: err, took: took}
					return
				}
				resp.Body.Close()
				done <- result{status: resp.StatusCode, took: took}
			}()

			sawHalfDone, during := false, 0
			var batch result
			if kind == "SendMessage" {
				// Once u7 has the batch's first message, the batch is
				// running; a send to u7 made now must not wait for the
				// batch's end, so u7 gets it before the batch's last.
				u7 := clients[7]
				require.Equal(t, "0", string(u7.nextMessage().Arguments[0]))
				require.Equal(t, 202, timed(http.MethodPost, "/api/hubs/chat/users/u7/:send"+v2024, `{"target":"probe","arguments":[]}`))
				for {
					m := u7.nextMessage()
					if m.Target == "probe" {
						sawHalfDone = true
						break
					}
					if string(m.Arguments[0]) == strconv.Itoa(n-1) {
						break
					}
				}
			}
		loop:
			for {
				select {
				case batch = <-done:
					break loop
				default:
				}
				require.Equal(t, 200, timed(http.MethodHead, "/api/hubs/chat/users/u7", ""))
				if kind != "SendMessage" && halfDone() {
					sawHalfDone = true
				}
				select {
				case batch = <-done:
					break loop
				default:
					during++
				}
			}
			require.NoError(t, batch.err)
			require.Equal(t, 202, batch.status)
			slices.Sort(latencies)
			p50, worst := time.Duration(0), time.Duration(0)
			if len(latencies) > 0 {
				p50, worst = latencies[len(latencies)/2], latencies[len(latencies)-1]
			}
			t.Logf("%d %s commands x %d connections: batch %v; %d concurrent calls, p50 %v, max %v",
				n, kind, conns, batch.took.Round(time.Millisecond), len(latencies), p50.Round(10*time.Microsecond), worst.Round(10*time.Microsecond))
			assert.True(t, sawHalfDone, "no concurrent call saw the batch in progress: the batch held the hub throughout")
			assert.Positive(t, during, "no concurrent call completed before the batch did")
		})
	}
}
