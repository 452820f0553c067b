// Package httpjson writes the JSON error answers of the library's own
// HTTP handlers (negotiate and the upstream endpoint): {"error": message}.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// WriteError answers status with the body {"error": message} and a JSON
// Content-Type that browsers may not sniff into something else.
func WriteError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{message})
}
