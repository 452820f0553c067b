package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// TestConcurrentSendersKeepEachSendersOrder has several REST callers send
// at once, each one call after the other, mixing broadcasts (through the
// broadcast log), broadcasts with an exclusion, :execute, user, group and
// connection sends (through each connection's queue), some larger than a
// log chunk, to clients on every transport and protocol. Every client must
// get exactly what was addressed to it, each caller's calls in the order
// they completed.
func TestConcurrentSendersKeepEachSendersOrder(t *testing.T) {
	t.Parallel()
	// The clients are read one after the other while the senders run, so
	// a client may wait its turn with a full socket: the write and client
	// timeouts are long enough that only a lost or reordered message fails
	// the test, however slow the machine.
	s := newServer(t, &emulator.Options{KeepAliveInterval: 50 * time.Millisecond, WriteTimeout: 5 * time.Minute, ClientTimeout: 5 * time.Minute})
	type spec struct{ transport, protocol string }
	specs := []spec{
		{webSockets, "json"}, {webSockets, "messagepack"}, {serverSentEvents, "json"},
		{longPolling, "json"}, {longPolling, "messagepack"},
	}
	var clients []*hubClient
	for i := range 2 * len(specs) {
		sp := specs[i%len(specs)]
		clients = append(clients, connectOn(t, s, "chat", "u"+itoa(i), sp.transport, sp.protocol))
	}
	n := len(clients)
	for i, c := range clients {
		if i%2 == 0 {
			wantStatus(t, rest(t, s, http.MethodPut, "/api/v1/hubs/chat/groups/g/connections/"+c.id, ""), http.StatusOK, "")
		}
	}

	const senders, perSender = 4, 60
	// want[i] lists what client i must receive from each sender, in order.
	want := make([][senders][]string, n)
	type call struct{ method, path, body string }
	plans := make([][]call, senders)
	for k := range senders {
		for j := range perSender {
			arg := itoa(k) + ":" + itoa(j)
			if j%13 == 0 {
				arg += ":" + strings.Repeat("x", 20<<10) // more than a log chunk
			}
			body := sendBody("m", arg)
			var to []int
			var c call
			switch j % 6 {
			case 0:
				c = call{http.MethodPost, "/api/v1/hubs/chat", body}
				for i := range n {
					to = append(to, i)
				}
			case 1:
				x := (k + j) % n
				c = call{http.MethodPost, "/api/v1/hubs/chat?excluded=" + url.QueryEscape(clients[x].id), body}
				for i := range n {
					if i != x {
						to = append(to, i)
					}
				}
			case 2:
				x := (k + j) % n
				c = call{http.MethodPost, "/api/v1/hubs/chat/users/u" + itoa(x), body}
				to = []int{x}
			case 3:
				c = call{http.MethodPost, "/api/v1/hubs/chat/groups/g", body}
				for i := 0; i < n; i += 2 {
					to = append(to, i)
				}
			case 4:
				x := (k*7 + j) % n
				c = call{http.MethodPost, "/api/v1/hubs/chat/connections/" + url.PathEscape(clients[x].id), body}
				to = []int{x}
			case 5:
				c = call{http.MethodPost, "/api/hubs/chat/:execute?api-version=2023-07-01",
					`[{"type":"SendMessage","message":` + body + `}]`}
				for i := range n {
					to = append(to, i)
				}
			}
			plans[k] = append(plans[k], c)
			for _, i := range to {
				want[i][k] = append(want[i][k], arg)
			}
		}
	}

	var wg sync.WaitGroup
	for k := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range plans[k] {
				base, _, _ := strings.Cut(c.path, "?")
				token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
					"aud": s.URL + base, "exp": time.Now().Add(time.Hour).Unix(),
				}).SignedString([]byte(testKey))
				if err != nil {
					assert.NoError(t, err)
					return
				}
				req, _ := http.NewRequest(c.method, s.URL+c.path, strings.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := httpClient.Do(req)
				if err != nil {
					assert.NoError(t, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					assert.Fail(t, fmt.Sprintf("%s %s: status %d", c.method, c.path, resp.StatusCode))
					return
				}
			}
		}()
	}

	for i, c := range clients {
		var got [senders][]string
		total, expected := 0, 0
		for k := range senders {
			expected += len(want[i][k])
		}
		for total < expected {
			m := c.next()
			require.Equal(t, 1, m.Type, "client %d: %+v", i, m)
			require.Len(t, m.Arguments, 1)
			arg, ok := m.Arguments[0].(string)
			require.True(t, ok, "argument %v", m.Arguments[0])
			k, err := strconv.Atoi(arg[:strings.IndexByte(arg, ':')])
			require.NoError(t, err)
			got[k] = append(got[k], arg)
			total++
		}
		for k := range senders {
			if !equalStrings(want[i][k], got[k]) {
				w, _ := json.Marshal(trimmed(want[i][k]))
				g, _ := json.Marshal(trimmed(got[k]))
				require.FailNow(t, fmt.Sprintf("client %d (%s) from sender %d:\nwant %s\ngot  %s", i, c.protocol, k, w, g))
			}
		}
	}
	wg.Wait()
	// Nothing more arrives: no message went twice.
	wantStatus(t, rest(t, s, http.MethodPost, "/api/v1/hubs/chat", sendBody("end", "end")), http.StatusAccepted, "")
	for i, c := range clients {
		m := c.next()
		require.Equal(t, "end", m.Target, "client %d got %+v after everything", i, m)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// trimmed shortens the padded arguments for a readable failure.
func trimmed(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 20 {
			a = a[:20] + "…"
		}
		out[i] = a
	}
	return out
}
