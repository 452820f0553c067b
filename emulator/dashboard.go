package emulator

import "net/http"

// serveDashboard serves the dashboard page and its files.
func serveDashboard(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "Not found: this SignalR Service emulator serves /client/negotiate, /client/, /api/ and /_emulator/api/.", http.StatusNotFound)
}
