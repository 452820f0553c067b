package signalr

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/funcsignalr/signalr/internal/httpjson"
)

// NegotiateHandler returns the negotiate endpoint for in: it answers POST (and
// GET) with the ConnectionInfo JSON, {"url":...,"accessToken":...}, which the
// official SignalR clients follow as a redirect to the service. Mount it at a
// path ending in /negotiate and point the client at the path before it, for
// example mux.Handle("POST /api/negotiate", h) with
// withUrl("https://app.example/api").
//
// Errors are JSON bodies {"error":"..."}: 401 when a binding expression
// refers to a missing header (App Service authentication leaves
// x-ms-client-principal-id out for anonymous callers), 400 for a missing
// query parameter or a bad hub or claim, 405 for other methods, 503 when an
// identity-based connection has no signing key (ErrNoAccessKey), 500 for
// anything else. Wrap the handler with CORS for browser clients on another
// origin.
func NegotiateHandler(in *Input) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			w.Header().Set("Allow", "POST, GET")
			httpjson.WriteError(w, http.StatusMethodNotAllowed, "negotiate accepts POST and GET")
			return
		}
		info, err := in.Resolve(r)
		if err != nil {
			setRetryAfter(w, err)
			httpjson.WriteError(w, negotiateStatus(err), err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(info)
	})
}

// negotiateStatus maps a Resolve error to an HTTP status.
func negotiateStatus(err error) int {
	var missing *BindingDataError
	switch {
	case errors.As(err, &missing):
		if missing.Source == "headers" {
			return http.StatusUnauthorized
		}
		return http.StatusBadRequest
	case errors.Is(err, ErrInvalidHubName), errors.Is(err, ErrInvalidClaim), errors.Is(err, ErrTokenTooLong):
		return http.StatusBadRequest
	case errors.Is(err, ErrNoEndpoint):
		// No endpoint is online: the health probes may bring one back.
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrNoAccessKey):
		// The service (or the credential) did not hand out a signing
		// key; a later call may succeed.
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// setRetryAfter sets Retry-After when err says no endpoint is online: the
// seconds until the next health probe round.
func setRetryAfter(w http.ResponseWriter, err error) {
	var ne *noEndpointError
	if errors.As(err, &ne) {
		secs := int((ne.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
}
