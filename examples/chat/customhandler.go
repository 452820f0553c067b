package main

import (
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/customhandler"
)

// newCustomHandler serves the example's functions to the Azure Functions
// host, with the same handlers as the plain server: the host resolves the
// connection info and sends the output items, so no connection string is
// needed for them. fsys holds the function folders (functions/ of the
// example). presence, when not nil, tells the handlers who is online, as in
// plain mode.
func newCustomHandler(fsys fs.FS, presence userPresence, logger *slog.Logger) (*customhandler.Server, error) {
	s, err := customhandler.New(fsys, &customhandler.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	byHeader, err := s.ConnectionInfo(fnNegotiate, "connectionInfo")
	if err != nil {
		return nil, err
	}
	byQuery, err := s.ConnectionInfo(fnNegotiate, "connectionInfoFromQuery")
	if err != nil {
		return nil, err
	}
	outputs := map[string]*signalr.Output{}
	for _, fn := range []string{fnMessages, fnUserMessages, fnGroupMessages, fnConnectionMessages, fnGroupAdd, fnGroupRemove} {
		if outputs[fn], err = s.Output(fn, "", nil); err != nil {
			return nil, err
		}
	}
	for fn, h := range apiFunctions(byHeader, byQuery, outputs, presence) {
		if err := s.HandleHTTP(fn, h); err != nil {
			return nil, err
		}
	}
	// The class-based hub of plain mode, once per function: each function
	// sends through its own signalR output binding, as the host reads it.
	h := &chatHub{presence: presence}
	for _, fn := range hubFunctions {
		var out *signalr.Output
		if fn.output {
			if out, err = s.Output(fn.function, "", nil); err != nil {
				return nil, err
			}
		}
		hub, err := signalr.NewHub(h, &signalr.HubOptions{
			Name:    hubName,
			Output:  out,
			Filters: []signalr.HubFilter{logFailures(logger)},
			Logger:  logger,
		})
		if err != nil {
			return nil, err
		}
		method := hub.Handler(fn.method)
		if method == nil {
			return nil, fmt.Errorf("%s: the hub has no method %s", fn.function, fn.method)
		}
		if err := s.HandleTrigger(fn.function, method); err != nil {
			return nil, fmt.Errorf("%s: %w", fn.function, err)
		}
	}
	return s, nil
}
