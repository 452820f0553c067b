package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"

	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/restapi"
)

// MaxGroupMembersPageSize is the largest page the service serves.
const MaxGroupMembersPageSize = 200

// GroupMember is one connection in a group.
type GroupMember struct {
	// ConnectionID identifies the connection.
	ConnectionID string `json:"connectionId"`
	// UserID is the connection's user, or "" for an anonymous one.
	UserID string `json:"userId,omitempty"`
}

// GroupMembersOptions tune GroupMembers. Nil means
// pages of the service's default size (200) and no cap.
type GroupMembersOptions struct {
	// MaxPageSize is the number of members per request, 1 to
	// MaxGroupMembersPageSize; zero means the service's default.
	MaxPageSize int
	// Top caps the number of members returned across all pages; zero
	// means all of them.
	Top int
}

// groupMembersPage is the service's GroupMemberPagedValues.
type groupMembersPage struct {
	Value    []GroupMember `json:"value"`
	NextLink string        `json:"nextLink"`
}

// GroupMembers returns the connections in group, one page per request,
// following the service's nextLink until the last page (or Top members).
// It uses REST API 2024-12-01 whatever ClientOptions.APIVersion says.
// Each page's request is retried like the other reads. An error ends the
// sequence: it is yielded once, with a zero GroupMember. Stopping the loop
// early sends no further request. To collect a small group, append in the
// loop; Top caps how many there are.
//
//	for m, err := range client.GroupMembers(ctx, "chat", "room1", nil) {
//		if err != nil { return err }
//		fmt.Println(m.ConnectionID, m.UserID)
//	}
func (c *Client) GroupMembers(ctx context.Context, hub, group string, opts *GroupMembersOptions) iter.Seq2[GroupMember, error] {
	return func(yield func(GroupMember, error) bool) {
		var o GroupMembersOptions
		if opts != nil {
			o = *opts
		}
		fail := func(err error) { yield(GroupMember{}, err) }
		if o.MaxPageSize < 0 || o.MaxPageSize > MaxGroupMembersPageSize {
			fail(outErrorf(ErrInvalidArgument, "GroupMembersOptions.MaxPageSize %d is out of range; use 1 to %d, or 0 for the default", o.MaxPageSize, MaxGroupMembersPageSize))
			return
		}
		if o.Top < 0 {
			fail(outErrorf(ErrInvalidArgument, "GroupMembersOptions.Top %d is negative; use 0 for no cap", o.Top))
			return
		}
		a := routeArgs{hub: hub, group: group}
		if err := checkArgs(&a, restapi.ListConnectionsInGroup); err != nil {
			fail(err)
			return
		}
		if c.multi != nil {
			c.multi.groupMembers(ctx, hub, group, &o, yield)
			return
		}
		if o.MaxPageSize > 0 {
			a.query = append(a.query, "maxpagesize", strconv.Itoa(o.MaxPageSize))
		}
		if o.Top > 0 {
			a.query = append(a.query, "top", strconv.Itoa(o.Top))
		}
		var data []byte
		if _, err := c.call(ctx, restapi.ListConnectionsInGroup, &a, nil, callOpts{out: &data}); err != nil {
			fail(err)
			return
		}
		returned := 0
		for {
			var page groupMembersPage
			if err := hubproto.CheckJSONDepth(data); err != nil {
				fail(fmt.Errorf("signalr: list connections in group: the response: %w", err))
				return
			}
			if err := json.Unmarshal(data, &page); err != nil {
				fail(fmt.Errorf("signalr: list connections in group: the response is not a page of members: %w", err))
				return
			}
			for _, m := range page.Value {
				if !yield(m, nil) {
					return
				}
				returned++
				if o.Top > 0 && returned >= o.Top {
					return
				}
			}
			if page.NextLink == "" {
				return
			}
			aud, rawURL, err := c.sameOrigin(page.NextLink)
			if err != nil {
				fail(err)
				return
			}
			data = nil
			if _, err := c.send(ctx, &restapi.Routes[restapi.ListConnectionsInGroup], aud, rawURL, nil, callOpts{out: &data}, nil); err != nil {
				fail(err)
				return
			}
		}
	}
}

// sameOrigin checks that link, an absolute URL from the service, points at
// the Client's own endpoint (the bearer token must not go elsewhere; a
// default port may be written or left out) and returns its audience (the
// URL without the query) and the URL to request, rebuilt on the Client's
// base with link's escaped path and query as they are.
func (c *Client) sameOrigin(link string) (aud, rawURL string, err error) {
	refuse := fmt.Errorf("signalr: list connections in group: the service's nextLink does not point at %s; refusing to send the token elsewhere", c.base)
	u, perr := url.Parse(link)
	if perr != nil || !u.IsAbs() || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "", "", refuse
	}
	base, perr := url.Parse(c.base)
	if perr != nil || !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Hostname(), base.Hostname()) || effectivePort(u) != effectivePort(base) {
		return "", "", refuse
	}
	path := u.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		return "", "", refuse
	}
	aud = c.base + path
	rawURL = aud
	if u.RawQuery != "" {
		rawURL += "?" + u.RawQuery
	}
	return aud, rawURL, nil
}

// effectivePort is u's port, or the scheme's default.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
