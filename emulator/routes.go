package emulator

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// restOp names one REST operation; both API versions share them. The
// routes come from the table the Client uses too (internal/restapi).
type restOp = restapi.Op

const (
	opBroadcast                     = restapi.Broadcast
	opSendUser                      = restapi.SendToUser
	opSendConnection                = restapi.SendToConnection
	opSendGroup                     = restapi.SendToGroup
	opCloseAll                      = restapi.CloseAll
	opCloseGroup                    = restapi.CloseGroup
	opCloseUser                     = restapi.CloseUser
	opCloseConnection               = restapi.CloseConnection
	opConnectionExists              = restapi.ConnectionExists
	opGroupExists                   = restapi.GroupExists
	opUserExists                    = restapi.UserExists
	opUserInGroup                   = restapi.UserInGroup
	opAddConnectionToGroup          = restapi.AddConnectionToGroup
	opRemoveConnectionFromGroup     = restapi.RemoveConnectionFromGroup
	opRemoveConnectionFromAllGroups = restapi.RemoveConnectionFromAllGroups
	opAddUserToGroup                = restapi.AddUserToGroup
	opRemoveUserFromGroup           = restapi.RemoveUserFromGroup
	opRemoveUserFromAllGroups       = restapi.RemoveUserFromAllGroups
)

// apiVersion tells the two REST API families apart: they share operations
// but not every success status.
type apiVersion int

const (
	api2022 apiVersion = iota // /api/..., api-version=2022-06-01
	apiV1                     // /api/v1/...
)

// restRoute is one method and path pattern. Pattern segments in braces are
// parameters; the others are literals.
type restRoute struct {
	method  string
	pattern []string
	op      restOp
	status  int
}

// routeTables holds the routes of each API version, built from the shared
// table. Both versions answer every path of an operation (its 2022-06-01
// path, its v1 path and its aliases: send routes also answer without the
// /:send suffix and membership routes in both segment orders, as the Azure
// emulator does), and existence checks answer GET as well as HEAD. The
// health probe is served on its own.
var routeTables = buildRouteTables()

func buildRouteTables() map[apiVersion][]restRoute {
	tables := map[apiVersion][]restRoute{}
	for i := range restapi.Routes {
		spec := &restapi.Routes[i]
		if spec.Kind == restapi.KindHealth {
			continue
		}
		methods := []string{spec.Method}
		if spec.Kind == restapi.KindExists {
			methods = []string{http.MethodGet, http.MethodHead}
		}
		for _, method := range methods {
			for _, path := range spec.Relative() {
				pattern := strings.Split(path, "/")
				tables[api2022] = append(tables[api2022], restRoute{method, pattern, spec.Op, spec.Status})
				tables[apiV1] = append(tables[apiV1], restRoute{method, pattern, spec.Op, spec.V1Status()})
			}
		}
	}
	return tables
}

// routeParams are the unescaped path parameters of a matched route.
type routeParams struct {
	hub, user, group, connection, stream string
}

// routeResult says how a request path matched the route table.
type routeResult int

const (
	routeFound routeResult = iota
	routeNotFound
	routeWrongMethod
	routeBadEscape
)

// matchRoute finds the route for method and the escaped path below the API
// prefix (such as "hubs/chat/users/a%2Fb/:send"). It splits on the escaped
// path, so an escaped "/" inside an id never creates a segment, and then
// unescapes each segment on its own.
func matchRoute(table []restRoute, method, escapedPath string) (restRoute, routeParams, routeResult) {
	raw := strings.Split(strings.TrimSuffix(escapedPath, "/"), "/")
	segments := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return restRoute{}, routeParams{}, routeBadEscape
		}
		segments[i] = u
	}
	result := routeNotFound
	for _, rt := range table {
		params, ok := matchPattern(rt.pattern, segments)
		if !ok {
			continue
		}
		if rt.method != method {
			result = routeWrongMethod
			continue
		}
		return rt, params, routeFound
	}
	return restRoute{}, routeParams{}, result
}

// allowedMethods lists the methods the path answers to, for a 405's Allow
// header.
func allowedMethods(table []restRoute, escapedPath string) string {
	raw := strings.Split(strings.TrimSuffix(escapedPath, "/"), "/")
	segments := make([]string, len(raw))
	for i, s := range raw {
		segments[i], _ = url.PathUnescape(s)
	}
	var methods []string
	seen := map[string]bool{}
	for _, rt := range table {
		if _, ok := matchPattern(rt.pattern, segments); ok && !seen[rt.method] {
			seen[rt.method] = true
			methods = append(methods, rt.method)
		}
	}
	return strings.Join(methods, ", ")
}

func matchPattern(pattern, segments []string) (routeParams, bool) {
	var p routeParams
	if len(pattern) != len(segments) {
		return p, false
	}
	for i, want := range pattern {
		got := segments[i]
		switch want {
		case "{hub}":
			p.hub = got
		case "{user}":
			p.user = got
		case "{group}":
			p.group = got
		case "{connection}":
			p.connection = got
		case "{stream}":
			p.stream = got
		default:
			if got != want {
				return p, false
			}
		}
	}
	return p, true
}
