package main

import (
	"embed"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// staticFS holds the chat page: HTML, CSS and JavaScript, no framework.
//
//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows the page's own scripts and styles only, so
// even a message that slipped past the page's escaping could not run script.
// connect-src must allow the SignalR Service (or emulator) origin, which
// negotiate only reveals at run time.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' http: https: ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageHandler serves the embedded chat page.
func pageHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// signalrJSPath is where npm installs the official browser client, relative
// to the repository root.
const signalrJSPath = "js/node_modules/@microsoft/signalr/dist/browser/signalr.min.js"

// npmHint says how to install the browser client.
const npmHint = "run `cd js && npm ci` in the repository (`make run` does it), or pass -signalr-js PATH to signalr.min.js"

// signalrJS serves the official @microsoft/signalr browser client, which
// npm installs and the repository does not commit, at
// /vendor/signalr.min.js (and its source map). It reads the file from disk
// on every request, so running npm ci while the example runs is enough.
type signalrJS struct {
	// candidates are the paths to try, in order.
	candidates []string
}

// newSignalRJS looks for signalr.min.js at override if it is set, otherwise
// below the working directory, the example's source directory and the
// executable's directory (bin/chat).
func newSignalRJS(override string) *signalrJS {
	if override != "" {
		return &signalrJS{candidates: []string{override}}
	}
	var roots []string
	if wd, err := os.Getwd(); err == nil {
		roots = append(roots, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		roots = append(roots, filepath.Join(filepath.Dir(file), "..", ".."))
	}
	if exe, err := os.Executable(); err == nil {
		roots = append(roots, filepath.Join(filepath.Dir(exe), ".."))
	}
	s := &signalrJS{}
	seen := map[string]bool{}
	for _, root := range roots {
		p := filepath.Join(root, filepath.FromSlash(signalrJSPath))
		if !seen[p] {
			seen[p] = true
			s.candidates = append(s.candidates, p)
		}
	}
	return s
}

// find returns the first candidate that is a file, or "".
func (s *signalrJS) find() string {
	for _, p := range s.candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// ServeHTTP serves /vendor/signalr.min.js and /vendor/signalr.min.js.map,
// or a 404 that says how to install them.
func (s *signalrJS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/vendor/")
	if name != "signalr.min.js" && name != "signalr.min.js.map" {
		http.NotFound(w, r)
		return
	}
	p := s.find()
	if p == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("the @microsoft/signalr browser client is not installed: " + npmHint + "\n"))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFile(w, r, filepath.Join(filepath.Dir(p), name))
}
