package emulator

import (
	"net/http"
	"net/url"
	"strings"
)

// restOp names one REST operation; both API versions share them.
type restOp int

const (
	opBroadcast restOp = iota + 1
	opSendUser
	opSendConnection
	opSendGroup
	opCloseAll
	opCloseGroup
	opCloseUser
	opCloseConnection
	opConnectionExists
	opGroupExists
	opUserExists
	opUserInGroup
	opAddConnectionToGroup
	opRemoveConnectionFromGroup
	opRemoveConnectionFromAllGroups
	opAddUserToGroup
	opRemoveUserFromGroup
	opRemoveUserFromAllGroups
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

// routeSpec is one operation with its paths and its success status in each
// API version.
type routeSpec struct {
	methods  []string
	paths    []string
	op       restOp
	status   int // api-version 2022-06-01
	statusV1 int
}

var (
	read = []string{http.MethodGet, http.MethodHead}
	post = []string{http.MethodPost}
	put  = []string{http.MethodPut}
	del  = []string{http.MethodDelete}
)

// routeSpecs is the REST API of swagger V20220601.json and v1.json. Send
// routes also answer without the /:send suffix and the membership routes in
// both segment orders, as the Azure emulator does.
var routeSpecs = []routeSpec{
	{post, []string{"hubs/{hub}/:send", "hubs/{hub}"}, opBroadcast, 202, 202},
	{post, []string{"hubs/{hub}/users/{user}/:send", "hubs/{hub}/users/{user}"}, opSendUser, 202, 202},
	{post, []string{"hubs/{hub}/connections/{connection}/:send", "hubs/{hub}/connections/{connection}"}, opSendConnection, 202, 202},
	{post, []string{"hubs/{hub}/groups/{group}/:send", "hubs/{hub}/groups/{group}"}, opSendGroup, 202, 202},
	{post, []string{"hubs/{hub}/:closeConnections"}, opCloseAll, 204, 204},
	{post, []string{"hubs/{hub}/groups/{group}/:closeConnections"}, opCloseGroup, 204, 204},
	{post, []string{"hubs/{hub}/users/{user}/:closeConnections"}, opCloseUser, 204, 204},
	{del, []string{"hubs/{hub}/connections/{connection}"}, opCloseConnection, 200, 202},
	{read, []string{"hubs/{hub}/connections/{connection}"}, opConnectionExists, 200, 200},
	{read, []string{"hubs/{hub}/groups/{group}"}, opGroupExists, 200, 200},
	{read, []string{"hubs/{hub}/users/{user}"}, opUserExists, 200, 200},
	{read, []string{"hubs/{hub}/users/{user}/groups/{group}", "hubs/{hub}/groups/{group}/users/{user}"}, opUserInGroup, 200, 200},
	{put, []string{"hubs/{hub}/groups/{group}/connections/{connection}", "hubs/{hub}/connections/{connection}/groups/{group}"}, opAddConnectionToGroup, 200, 200},
	{del, []string{"hubs/{hub}/groups/{group}/connections/{connection}", "hubs/{hub}/connections/{connection}/groups/{group}"}, opRemoveConnectionFromGroup, 200, 200},
	{del, []string{"hubs/{hub}/connections/{connection}/groups"}, opRemoveConnectionFromAllGroups, 200, 200},
	{put, []string{"hubs/{hub}/users/{user}/groups/{group}", "hubs/{hub}/groups/{group}/users/{user}"}, opAddUserToGroup, 200, 202},
	{del, []string{"hubs/{hub}/users/{user}/groups/{group}", "hubs/{hub}/groups/{group}/users/{user}"}, opRemoveUserFromGroup, 204, 202},
	{del, []string{"hubs/{hub}/users/{user}/groups"}, opRemoveUserFromAllGroups, 204, 200},
}

// routeTables holds the routes of each API version, built from routeSpecs.
var routeTables = buildRouteTables()

func buildRouteTables() map[apiVersion][]restRoute {
	tables := map[apiVersion][]restRoute{}
	for _, spec := range routeSpecs {
		for _, method := range spec.methods {
			for _, path := range spec.paths {
				pattern := strings.Split(path, "/")
				tables[api2022] = append(tables[api2022], restRoute{method, pattern, spec.op, spec.status})
				tables[apiV1] = append(tables[apiV1], restRoute{method, pattern, spec.op, spec.statusV1})
			}
		}
	}
	return tables
}

// routeParams are the unescaped path parameters of a matched route.
type routeParams struct {
	hub, user, group, connection string
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
		default:
			if got != want {
				return p, false
			}
		}
	}
	return p, true
}
