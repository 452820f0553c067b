package signalr

import (
	"context"
	"time"
)

// NewTransportForBench is the Client's own transport constructor, so the
// output benchmark's bare loop sends through an identically configured
// http.Transport.
var NewTransportForBench = newTransport

// bindAt is Bind with the clock the input's client tokens are minted by
// (their iat, nbf and exp), so a test can compare them with fixed times.
func (b ConnectionInfoBinding) bindAt(opts *BindOptions, now func() time.Time) (*Input, error) {
	in, err := b.Bind(opts)
	if in != nil {
		in.now = now
	}
	return in, err
}

// listGroupMembers collects GroupMembers into a slice, stopping at the
// first error, which it returns with the members before it.
func (c *Client) listGroupMembers(ctx context.Context, hub, group string, opts *GroupMembersOptions) ([]GroupMember, error) {
	var out []GroupMember
	for m, err := range c.GroupMembers(ctx, hub, group, opts) {
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}
