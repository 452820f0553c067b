package signalr

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// Router chooses the endpoints of a multi-endpoint Client for each
// operation. Each method gets the hub, the operation's id and every
// configured endpoint's current state, and returns the chosen ones (a
// subset of endpoints; the Client matches them by name and type). Returning
// none is not a silent drop: the operation fails with ErrNoEndpoint.
// Embed DefaultRouter to change only some decisions.
type Router interface {
	// NegotiateEndpoint picks the endpoint a client connects to. ctx is
	// ConnectionInfo's (for a negotiate handler, the request's).
	NegotiateEndpoint(ctx context.Context, hub string, endpoints []EndpointState) (EndpointState, error)
	// BroadcastEndpoints chooses where a broadcast (and closing every
	// connection, and Execute) goes.
	BroadcastEndpoints(hub string, endpoints []EndpointState) []EndpointState
	// UserEndpoints chooses where a user's sends, closes, existence checks
	// and removal from all groups go. Adding a user to a group, removing
	// it from one and UserInGroup go to the endpoints both UserEndpoints
	// and GroupEndpoints choose.
	UserEndpoints(hub, userID string, endpoints []EndpointState) []EndpointState
	// GroupEndpoints chooses where a group's sends, closes, existence
	// checks and member listings go.
	GroupEndpoints(hub, group string, endpoints []EndpointState) []EndpointState
	// ConnectionEndpoints chooses where a connection's sends, closes,
	// group changes, existence checks, invocations and streams go. (The
	// Client cannot know which endpoint holds a connection: an endpoint
	// that does not answers "not found", which is not an error when
	// another endpoint holds it.)
	ConnectionEndpoints(hub, connectionID string, endpoints []EndpointState) []EndpointState
}

// DefaultRouter follows the Azure SignalR Management SDK: a negotiate goes
// to an online Primary chosen at random, else to an online Secondary chosen
// at random, else it fails with ErrNoEndpoint (a negotiate handler answers
// 503 with Retry-After); every send goes to every online endpoint. With a
// single endpoint, that endpoint is chosen even while offline (so its own
// error is reported), as in the SDK. The zero value is ready to use.
type DefaultRouter struct{}

// NegotiateEndpoint picks at random among the online primaries, else the
// online secondaries.
func (DefaultRouter) NegotiateEndpoint(_ context.Context, hub string, endpoints []EndpointState) (EndpointState, error) {
	if len(endpoints) == 1 {
		return endpoints[0], nil
	}
	for _, t := range [...]EndpointType{Primary, Secondary} {
		n := 0
		for _, e := range endpoints {
			if e.Online && e.Type == t {
				n++
			}
		}
		if n == 0 {
			continue
		}
		pick := rand.IntN(n)
		for _, e := range endpoints {
			if e.Online && e.Type == t {
				if pick == 0 {
					return e, nil
				}
				pick--
			}
		}
	}
	return EndpointState{}, fmt.Errorf("%w: none of the %d endpoints of hub %s is online; try again later", ErrNoEndpoint, len(endpoints), hub)
}

// BroadcastEndpoints returns every online endpoint.
func (DefaultRouter) BroadcastEndpoints(_ string, endpoints []EndpointState) []EndpointState {
	return onlineEndpoints(endpoints)
}

// UserEndpoints returns every online endpoint.
func (DefaultRouter) UserEndpoints(_, _ string, endpoints []EndpointState) []EndpointState {
	return onlineEndpoints(endpoints)
}

// GroupEndpoints returns every online endpoint.
func (DefaultRouter) GroupEndpoints(_, _ string, endpoints []EndpointState) []EndpointState {
	return onlineEndpoints(endpoints)
}

// ConnectionEndpoints returns every online endpoint.
func (DefaultRouter) ConnectionEndpoints(_, _ string, endpoints []EndpointState) []EndpointState {
	return onlineEndpoints(endpoints)
}

func onlineEndpoints(endpoints []EndpointState) []EndpointState {
	if len(endpoints) == 1 {
		return endpoints
	}
	out := make([]EndpointState, 0, len(endpoints))
	for _, e := range endpoints {
		if e.Online {
			out = append(out, e)
		}
	}
	return out
}
