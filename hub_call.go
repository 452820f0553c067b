package signalr

import (
	"context"
	"fmt"
	"sync"
)

// HubCall is one call of a hub method or connection event: the
// InvocationContext (the calling connection, its user, claims, query and
// headers, and the upstream request's headers) and the helpers that send
// through the hub's Output. Get it with HubCallFromContext in a hub method
// or filter. What the helpers queue is sent, in order, after the method
// returns (also when it returns an error, but not when it panics); an
// undelivered item fails the call with a *HubDeliveryError.
type HubCall struct {
	*InvocationContext

	hub    *Hub
	col    *Collector
	mu     sync.Mutex
	closes []pendingClose
}

type pendingClose struct{ id, reason string }

type hubCallKey struct{}

// hubContext is the context a hub method gets: its parent, and the HubCall
// that Value returns for hubCallKey.
type hubContext struct {
	context.Context
	call HubCall
	self context.Context // this hubContext, for reflect.Value.Call
}

// Value returns the HubCall for hubCallKey, else the parent's value.
func (c *hubContext) Value(key any) any {
	if _, ok := key.(hubCallKey); ok {
		return &c.call
	}
	return c.Context.Value(key)
}

// HubCallFromContext returns the HubCall of the hub method or filter ctx
// was given to, or nil outside a hub.
func HubCallFromContext(ctx context.Context) *HubCall {
	c, _ := ctx.Value(hubCallKey{}).(*HubCall)
	return c
}

// Collector returns the Collector the helpers queue into, for items they do
// not cover; nil when the hub has no Output.
func (c *HubCall) Collector() *Collector { return c.col }

// Clients addresses client connections of the hub; see HubClients.
func (c *HubCall) Clients() HubClients {
	if c.InvocationContext == nil {
		return HubClients{col: c.col}
	}
	return HubClients{col: c.col, caller: c.ConnectionID}
}

// Groups changes group membership in the hub; see HubGroups.
func (c *HubCall) Groups() HubGroups { return HubGroups{col: c.col} }

// CloseConnection closes the client connection connectionID (the caller's
// own, c.ConnectionID, too) after what was queued before it is delivered,
// with reason passed to the client. The hub's Output must send through a
// ConnectionCloser such as *Client.
func (c *HubCall) CloseConnection(connectionID, reason string) error {
	if c.col == nil {
		return errNoHubOutput
	}
	if err := checkID("connection id", connectionID); err != nil {
		return err
	}
	c.mu.Lock()
	c.closes = append(c.closes, pendingClose{connectionID, reason})
	c.mu.Unlock()
	return nil
}

var errNoHubOutput = fmt.Errorf("%w: the hub has no Output to send through; set HubOptions.Output", ErrInvalidHub)
