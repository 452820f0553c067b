package emulator

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// serveREST2024 serves the operations added by 2023-07-01 and 2024-12-01,
// whatever api-version a request names, once the route matched and the
// token was accepted; it reports false for the older operations, which
// runREST serves.
func (e *Emulator) serveREST2024(w http.ResponseWriter, r *http.Request, version apiVersion, route restRoute, p routeParams) bool {
	switch route.op {
	case restapi.GetAccessKey:
		e.serveAccessKey(w, r, version)
		return true
	case restapi.Execute, restapi.GenerateClientToken, restapi.InvokeConnection,
		restapi.SendToConnectionStream, restapi.CompleteConnectionStream, restapi.ListConnectionsInGroup:
	default:
		return false
	}
	query := r.URL.Query()
	hubName, problem := restHubName(p.hub, query.Get("application"))
	if problem == "" {
		problem = checkParams(route, p, nil)
	}
	if problem == "" && route.op != restapi.ListConnectionsInGroup && route.op != restapi.Execute && route.op != restapi.GenerateClientToken {
		problem = checkStreamID(route, p.stream)
	}
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return true
	}
	h := e.hub(hubName, false)
	switch route.op {
	case restapi.InvokeConnection:
		e.serveInvoke(w, r, version, h, p.connection)
	case restapi.SendToConnectionStream, restapi.CompleteConnectionStream:
		e.serveStream(w, r, version, route, h, p)
	case restapi.ListConnectionsInGroup:
		e.serveGroupConnections(w, r, version, h, p.group)
	case restapi.Execute:
		e.serveExecute(w, r, version, h)
	case restapi.GenerateClientToken:
		e.serveGenerateToken(w, r, version, hubName)
	}
	return true
}

// checkStreamID applies the swagger's rule to a stream id: 1 to 100
// characters, not only white space.
func checkStreamID(route restRoute, stream string) string {
	for _, segment := range route.pattern {
		if segment != "{stream}" {
			continue
		}
		switch {
		case !utf8.ValidString(stream):
			return "the stream id is not valid UTF-8"
		case strings.TrimSpace(stream) == "":
			return "the stream id is empty or only white space"
		case utf8.RuneCountInString(stream) > 100:
			return "the stream id is longer than 100 characters"
		}
	}
	return ""
}
