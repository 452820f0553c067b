package emulator

import (
	"embed"
	"net/http"
	"strings"
)

// dashboardFiles is the dashboard: plain HTML, CSS and JavaScript, no
// build step, using only the control API.
//
//go:embed dashboard/index.html dashboard/dashboard.css dashboard/dashboard.js dashboard/servers.js
var dashboardFiles embed.FS

// serveDashboard serves GET / (the page) and /_emulator/static/<file>.
func serveDashboard(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "The dashboard takes GET.", http.StatusMethodNotAllowed)
		return
	}
	name := "index.html"
	if p := r.URL.Path; p != "/" {
		name = strings.TrimPrefix(p, dashboardPrefix)
	}
	data, err := dashboardFiles.ReadFile("dashboard/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.Error(w, "Not found: no such dashboard file.", http.StatusNotFound)
		return
	}
	switch {
	case strings.HasSuffix(name, ".html"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
	w.Header().Set("X-Frame-Options", "DENY")
	_, _ = w.Write(data)
}
