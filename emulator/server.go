package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Server is an Emulator listening on a free port of 127.0.0.1, in the manner
// of net/http/httptest.Server: start it in a test or an example, point the
// code under test at ConnectionString, and Close it.
type Server struct {
	// URL is the base URL of the server, http://127.0.0.1:<port>, with no
	// trailing slash.
	URL string
	// Emulator is the handler being served: its Snapshot shows what a hub
	// holds.
	Emulator *Emulator

	listener net.Listener
	http     *http.Server
	served   chan struct{}
}

// NewServer starts an Emulator configured by opts (nil means defaults) on a
// free port of 127.0.0.1, for tests and examples. As httptest.NewServer
// does, it panics when it cannot: when it cannot listen, or with New's
// error for bad options. Programs call New, which returns that error, and
// serve the Emulator themselves or with Serve.
func NewServer(opts *Options) *Server {
	e, err := New(opts)
	if err != nil {
		panic(err.Error())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("emulator: failed to listen on a port: %v", err))
	}
	return Serve(l, e)
}

// Serve starts serving e on l in a new goroutine and returns the running
// Server; Close stops both. The URL is built from l's address.
func Serve(l net.Listener, e *Emulator) *Server {
	s := &Server{
		URL:      "http://" + l.Addr().String(),
		Emulator: e,
		listener: l,
		http: &http.Server{
			Handler:           e,
			ReadHeaderTimeout: 10 * time.Second,
		},
		served: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.opts.logger.Error("serve failed", "error", err.Error())
		}
	}()
	return s
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int {
	if a, ok := s.listener.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	_, port, _ := net.SplitHostPort(s.listener.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

// ConnectionString returns the connection string that points the library,
// or any Azure SignalR SDK, at this server:
//
//	Endpoint=http://127.0.0.1;Port=<port>;AccessKey=<key>;Version=1.0;
func (s *Server) ConnectionString() string {
	return ConnectionString("http://127.0.0.1", s.Port(), s.Emulator.AccessKey())
}

// ConnectionString formats an emulator connection string for endpoint
// (scheme://host, no port), port and accessKey.
func ConnectionString(endpoint string, port int, accessKey string) string {
	return "Endpoint=" + endpoint + ";Port=" + strconv.Itoa(port) + ";AccessKey=" + accessKey + ";Version=1.0;"
}

// Close sends every client a Close message, waits (up to five seconds) for
// the connections to end, then stops the HTTP server and waits for its
// goroutines. It is safe to call more than once.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Emulator.Shutdown(ctx)
	_ = s.http.Close()
	<-s.served
}
