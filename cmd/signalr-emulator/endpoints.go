package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/funcsignalr/signalr/emulator"
)

// endpointSpec is one endpoint of -endpoints: its name and, optionally, the
// type an app gives it (in the setting name only: the emulator serves both
// the same way).
type endpointSpec struct{ name, typ string }

// parseEndpoints reads -endpoints: a count (3 gives e1, e2, e3) or a
// comma-separated list of names, each optionally name:primary or
// name:secondary.
func parseEndpoints(v string) ([]endpointSpec, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > 16 {
			return nil, fmt.Errorf("-endpoints %d: give 1 to 16 endpoints, or a list of names", n)
		}
		out := make([]endpointSpec, n)
		for i := range out {
			out[i] = endpointSpec{name: "e" + strconv.Itoa(i+1)}
		}
		return out, nil
	}
	var out []endpointSpec
	seen := map[string]bool{}
	for _, item := range strings.Split(v, ",") {
		name, typ, _ := strings.Cut(strings.TrimSpace(item), ":")
		if !validEndpointName(name) {
			return nil, fmt.Errorf("-endpoints: %q is not an endpoint name; use letters, digits and '-', e.g. -endpoints east,west:secondary", item)
		}
		if typ != "" && !strings.EqualFold(typ, "primary") && !strings.EqualFold(typ, "secondary") {
			return nil, fmt.Errorf("-endpoints: %q: the type after ':' is primary or secondary", item)
		}
		if seen[strings.ToLower(name)] {
			return nil, fmt.Errorf("-endpoints: %q is given twice", name)
		}
		seen[strings.ToLower(name)] = true
		out = append(out, endpointSpec{name: name, typ: strings.ToLower(typ)})
	}
	if len(out) > 16 {
		return nil, errors.New("-endpoints: at most 16 endpoints")
	}
	return out, nil
}

// setting is the environment variable an app reads the endpoint from.
func (s endpointSpec) setting() string {
	if s.typ == "" {
		return "Azure__SignalR__Endpoints__" + s.name
	}
	return "Azure__SignalR__Endpoints__" + s.name + "__" + s.typ
}

// endpointsConfig is what runEndpoints needs beyond the emulator options.
type endpointsConfig struct {
	host   string
	port   int       // of the first endpoint; 0 picks free ones
	record string    // -record: one file per endpoint, see recordFile
	faults faultFlag // each armed on the endpoints it names (all, without endpoint=)
}

// recordFile is the record file of endpoint name for -record path: the
// name before the extension (traffic.jsonl, east: traffic.east.jsonl).
func recordFile(path, name string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + name + ext
}

// runEndpoints serves one emulator per endpoint, each on its own port
// (port, port+1, ...; 0 picks free ones) with its own state, dashboard,
// control API (take one offline with POST /_emulator/api/faults
// {"offline":true} on its port), record file and faults, and prints one
// "setting=connection string" line per endpoint. One failing stops them
// all.
func runEndpoints(ctx context.Context, specs []endpointSpec, opts *emulator.Options, cfg endpointsConfig, stdout, stderr io.Writer, logger *slog.Logger) error {
	type ep struct {
		emu       *emulator.Emulator
		listeners []net.Listener
	}
	var eps []ep
	var records []*os.File
	// Shutdown flushes each record before serve returns, so the files
	// close after every endpoint has stopped.
	defer func() {
		for _, f := range records {
			f.Close()
		}
	}()
	var made []*emulator.Emulator // every emulator made, served or not
	// closeAll undoes a start that failed half way: it closes the
	// listeners and shuts the emulators down (ending their records).
	closeAll := func() {
		for _, e := range eps {
			for _, l := range e.listeners {
				l.Close()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		for _, emu := range made {
			_ = emu.Shutdown(ctx)
		}
	}
	armed := 0
	for i, s := range specs {
		o := *opts
		if cfg.record != "" {
			path := recordFile(cfg.record, s.name)
			f, err := createRecord(path)
			if err != nil {
				closeAll()
				return fmt.Errorf("endpoint %s: %w", s.name, err)
			}
			records = append(records, f)
			o.Record = f
			logger.Info("recording traffic", "endpoint", s.name, "file", path)
		}
		emu, err := emulator.New(&o)
		if err != nil {
			closeAll()
			return err
		}
		made = append(made, emu)
		for _, f := range cfg.faults.forEndpoint(s.name) {
			if _, err := emu.AddFault(f); err != nil {
				closeAll()
				return fmt.Errorf("-fault: %w", err)
			}
			armed++
		}
		p := cfg.port
		if p != 0 {
			p += i
		}
		ls, err := listen(cfg.host, p)
		if err != nil {
			closeAll()
			return fmt.Errorf("endpoint %s: %w", s.name, err)
		}
		eps = append(eps, ep{emu, ls})
	}
	if armed > 0 {
		fmt.Fprintf(stderr, "\n*** WARNING: %d FAULT(S) INJECTED over %d endpoint(s): these emulators misbehave on purpose (-fault). Clear them with DELETE /_emulator/api/faults on each endpoint's port. ***\n\n", armed, len(specs))
	}
	for i, s := range specs {
		actual := eps[i].listeners[0].Addr().(*net.TCPAddr).Port
		fmt.Fprintf(stdout, "%s=%s\n", s.setting(), emulator.ConnectionString("http://"+endpointHost(cfg.host), actual, eps[i].emu.AccessKey()))
		logger.Info("endpoint", "name", s.name, "addr", net.JoinHostPort(cfg.host, strconv.Itoa(actual)), "faults", len(eps[i].emu.Faults()), "offline", "POST /_emulator/api/faults {\"offline\":true}")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(eps))
	for i, e := range eps {
		go func() {
			err := serve(ctx, e.emu, e.listeners, logger.With("endpoint", specs[i].name))
			cancel() // one stopping stops the others
			errs <- err
		}()
	}
	var first error
	for range eps {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// validEndpointName allows letters, digits, '-' and single '_'.
func validEndpointName(name string) bool {
	if name == "" || strings.Contains(name, "__") {
		return false
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
