// Command dashboard-load is the load harness of the emulator's dashboard
// (js/support/dashboard-load.mjs drives it; BENCHMARKS.md has the figures).
// It runs an emulator in-process and opens -connections real WebSocket
// connections to one hub over loopback from a child process of its own
// (the same binary, so that each side has its own file descriptors), a
// third of them anonymous and the others spread over -users users, each
// user a member of one of -groups groups; one connection in ten is also
// added by id to the group "watchers". Once they are all connected it
// keeps a light steady traffic going through the REST API (a broadcast to
// the hub every 1/-broadcast-rate seconds and a send to one of the groups
// every 1/-group-rate seconds) and the child closes and redials one
// connection every 1/-churn-rate seconds, so that the dashboard's feed and
// tables have something to follow.
//
// It prints, one line each:
//
//	dashboard http://127.0.0.1:<port>/
//	ready <connections> <connect-ms>
//	status rss=<bytes> goroutines=<n> connections=<n>   (every 10 s)
//
// and runs until SIGINT or SIGTERM. It is a measuring tool, not a user
// command.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/internal/benchhub"
)

const hubName = "load"

// keyEnv hands the access key to the child process (not on its command
// line, where ps would show it).
const keyEnv = "DASHBOARD_LOAD_KEY"

type config struct {
	connections   int
	users, groups int
	broadcastRate float64
	groupRate     float64
	churnRate     float64
	port          int
	dialParallel  int
	dialTimeout   time.Duration
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("dashboard-load: ")
	var c config
	clientsOf := flag.String("clients-of", "", "internal: run as the client process, dialing this emulator base URL")
	flag.IntVar(&c.connections, "connections", 10000, "WebSocket connections to open")
	flag.IntVar(&c.users, "users", 2000, "distinct users over the connections that have one (two thirds)")
	flag.IntVar(&c.groups, "groups", 20, "groups the users are spread over (team-0 ... team-N-1)")
	flag.Float64Var(&c.broadcastRate, "broadcast-rate", 1, "REST broadcasts to the whole hub per second (0: none)")
	flag.Float64Var(&c.groupRate, "group-rate", 10, "REST sends to one group per second (0: none)")
	flag.Float64Var(&c.churnRate, "churn-rate", 2, "connections closed and redialed per second (0: none)")
	flag.IntVar(&c.port, "port", 0, "port of 127.0.0.1 to listen on (0: a free one)")
	flag.IntVar(&c.dialParallel, "dial-parallel", 64, "dials in flight")
	flag.DurationVar(&c.dialTimeout, "dial-timeout", 3*time.Minute, "bound on opening every connection")
	flag.Parse()
	if c.connections < 0 || c.users < 1 || c.groups < 1 || c.dialParallel < 1 {
		log.Fatal("-connections must be >= 0, -users, -groups and -dial-parallel >= 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *clientsOf != "" {
		err = runClients(ctx, *clientsOf, os.Getenv(keyEnv), c)
	} else {
		err = runEmulator(ctx, c)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// userOf is the user of connection i ("" for a third of them).
func userOf(i int, c config) string {
	if i%3 == 0 {
		return ""
	}
	return "user-" + strconv.Itoa(i%c.users)
}

func runEmulator(ctx context.Context, c config) error {
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	key := hex.EncodeToString(raw)
	emu, err := emulator.New(&emulator.Options{AccessKey: key})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.port))
	if err != nil {
		return err
	}
	srv := emulator.Serve(l, emu)
	defer srv.Close()
	fmt.Printf("dashboard %s/\n", srv.URL)

	// Every user joins its group before it connects: the membership
	// applies to its connections as they come.
	for u := 0; u < c.users; u++ {
		if err := emu.AddToGroup(hubName, emulator.Recipient{User: "user-" + strconv.Itoa(u)}, "team-"+strconv.Itoa(u%c.groups)); err != nil {
			return err
		}
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-clients-of", srv.URL, "-connections", strconv.Itoa(c.connections),
		"-users", strconv.Itoa(c.users), "-groups", strconv.Itoa(c.groups), "-churn-rate", strconv.FormatFloat(c.churnRate, 'g', -1, 64),
		"-dial-parallel", strconv.Itoa(c.dialParallel), "-dial-timeout", c.dialTimeout.String())
	child.Env = append(os.Environ(), keyEnv+"="+key)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe() // closed when this process ends: the child then exits
	if err != nil {
		return err
	}
	defer stdin.Close()
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		in := bufio.NewScanner(out)
		for in.Scan() {
			lines <- in.Text()
		}
		close(lines)
		exited <- child.Wait()
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "ready ") {
			return fmt.Errorf("the client process failed before it was ready (%q)", line)
		}
		fmt.Println(line)
	case <-ctx.Done():
		return nil
	}
	go func() {
		for range lines {
		}
	}()

	// One connection in ten joins "watchers" by id.
	cursor := ""
	for n := 0; ; {
		page, err := emu.Connections(hubName, &emulator.PageOptions{Cursor: cursor, Limit: emulator.MaxPageLimit})
		if err != nil {
			return err
		}
		for _, ci := range page.Connections {
			if n%10 == 0 {
				_ = emu.AddToGroup(hubName, emulator.Recipient{Connection: ci.ID}, "watchers")
			}
			n++
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}

	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	var wg sync.WaitGroup
	sender := newRESTSender(srv.URL, key)
	every := func(rate float64, do func(n int)) {
		if rate <= 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-trafficCtx.Done():
					return
				case <-tick.C:
					do(n)
				}
			}
		}()
	}
	every(c.broadcastRate, func(n int) {
		sender.send(trafficCtx, "/api/hubs/"+hubName+"/:send", `{"target":"tick","arguments":[`+strconv.Itoa(n)+`]}`)
	})
	every(c.groupRate, func(n int) {
		group := "team-" + strconv.Itoa(n%c.groups)
		sender.send(trafficCtx, "/api/hubs/"+hubName+"/groups/"+group+"/:send", `{"target":"teamNews","arguments":["news `+strconv.Itoa(n)+`"]}`)
	})
	every(0.1, func(int) {
		conns := 0
		for _, h := range emu.Hubs() {
			conns += h.Connections
		}
		fmt.Printf("status rss=%d goroutines=%d connections=%d rest-errors=%d\n", benchhub.RSS(), runtime.NumGoroutine(), conns, sender.errors.Load())
	})

	select {
	case <-ctx.Done():
	case err := <-exited:
		stopTraffic()
		wg.Wait()
		return fmt.Errorf("the client process ended: %v", err)
	}
	stopTraffic()
	wg.Wait()
	_ = stdin.Close()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = child.Process.Kill()
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return emu.Shutdown(shutdown)
}

// restSender posts to the emulator's REST API with server tokens.
type restSender struct {
	base, key string
	client    *http.Client
	errors    atomic.Int64
}

func newRESTSender(base, key string) *restSender {
	return &restSender{base: base, key: key, client: &http.Client{Timeout: 10 * time.Second}}
}

func (s *restSender) send(ctx context.Context, path, body string) {
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud": s.base + path, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(s.key))
	if err != nil {
		s.errors.Add(1)
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.errors.Add(1)
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		s.errors.Add(1)
	}
}

// runClients is the child process: it opens c.connections WebSocket
// connections to the emulator at base, prints "ready <n> <ms>", reads and
// discards what arrives, pings every 15 s, churns connections at
// c.churnRate, and ends when its stdin closes or ctx ends.
func runClients(ctx context.Context, base, key string, c config) error {
	if key == "" {
		return errors.New(keyEnv + " is empty: the client process is started by dashboard-load itself")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the parent closes stdin (or dies): stop
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	wsBase := "ws" + strings.TrimPrefix(base, "http") + "/client/?hub=" + hubName
	aud := base + "/client/?hub=" + hubName
	dial := func(i int) (*websocket.Conn, error) {
		claims := jwt.MapClaims{"aud": aud, "exp": time.Now().Add(24 * time.Hour).Unix()}
		if u := userOf(i, c); u != "" {
			claims["asrs.s.uid"] = u
		}
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
		if err != nil {
			return nil, err
		}
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		defer dcancel()
		ws, _, err := websocket.Dial(dctx, wsBase, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			return nil, err
		}
		ws.SetReadLimit(1 << 20)
		if err := ws.Write(dctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")); err != nil {
			ws.CloseNow()
			return nil, err
		}
		if _, data, err := ws.Read(dctx); err != nil || !strings.HasPrefix(string(data), "{}") {
			ws.CloseNow()
			return nil, fmt.Errorf("handshake: %q, %v", data, err)
		}
		return ws, nil
	}
	conns := make([]*websocket.Conn, c.connections)
	var mu sync.Mutex // guards conns during churn
	var wg sync.WaitGroup
	serveConn := func(ws *websocket.Conn) {
		defer wg.Done()
		ping := time.NewTicker(15 * time.Second)
		defer ping.Stop()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		for {
			select {
			case <-done:
				return
			case <-ping.C:
				wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
				err := ws.Write(wctx, websocket.MessageText, []byte("{\"type\":6}\x1e"))
				wcancel()
				if err != nil {
					ws.CloseNow()
					<-done
					return
				}
			}
		}
	}
	start := time.Now()
	deadline, dcancel := context.WithTimeout(ctx, c.dialTimeout)
	defer dcancel()
	var next atomic.Int64
	var errOnce sync.Once
	var dialErr error
	var dialers sync.WaitGroup
	for range c.dialParallel {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for i := int(next.Add(1) - 1); i < c.connections && deadline.Err() == nil; i = int(next.Add(1) - 1) {
				ws, err := dial(i)
				if err != nil {
					errOnce.Do(func() { dialErr = err })
					return
				}
				conns[i] = ws
				wg.Add(1)
				go serveConn(ws)
			}
		}()
	}
	dialers.Wait()
	if dialErr != nil { // read after dialers.Wait
		return fmt.Errorf("dialing: %w", dialErr)
	}
	if err := deadline.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%d connections were not open within -dial-timeout %v", c.connections-int(min(next.Load(), int64(c.connections))), c.dialTimeout)
	}
	fmt.Printf("ready %d %d\n", c.connections, time.Since(start).Milliseconds())

	if c.churnRate > 0 && c.connections > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / c.churnRate))
		defer tick.Stop()
		for n := 0; ctx.Err() == nil; n++ {
			select {
			case <-ctx.Done():
			case <-tick.C:
				i := (n * 7919) % c.connections
				mu.Lock()
				old := conns[i]
				mu.Unlock()
				_ = old.Close(websocket.StatusNormalClosure, "churn")
				ws, err := dial(i)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					return fmt.Errorf("redialing: %w", err)
				}
				mu.Lock()
				conns[i] = ws
				mu.Unlock()
				wg.Add(1)
				go serveConn(ws)
			}
		}
	}
	<-ctx.Done()
	mu.Lock()
	for _, ws := range conns {
		if ws != nil {
			ws.CloseNow()
		}
	}
	mu.Unlock()
	wg.Wait()
	return nil
}
