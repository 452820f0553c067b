package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// GenerateClientTokenOptions tune GenerateClientToken. Nil means an
// anonymous token valid for the service's default of 60 minutes.
type GenerateClientTokenOptions struct {
	// UserID is the user the token identifies; "" means anonymous.
	UserID string
	// Lifetime of the token, rounded up to whole minutes (the service's
	// unit); zero means the service's default of 60 minutes.
	Lifetime time.Duration
}

// GenerateClientToken asks the service to mint a client access token for
// hub (POST :generateToken), so the app needs no access key, and returns
// it with the client URL, <client endpoint>/client/?hub=<hub>, as a
// negotiate endpoint returns them. It uses REST API 2023-07-01 unless the
// Client is set to a later version; v1 has no equivalent.
func (c *Client) GenerateClientToken(ctx context.Context, hub string, opts *GenerateClientTokenOptions) (ConnectionInfo, error) {
	var o GenerateClientTokenOptions
	if opts != nil {
		o = *opts
	}
	if o.Lifetime < 0 {
		return ConnectionInfo{}, outErrorf(ErrInvalidArgument, "GenerateClientTokenOptions.Lifetime %v is negative; use 0 for the default", o.Lifetime)
	}
	a := routeArgs{hub: hub}
	if err := checkText("GenerateClientTokenOptions.UserID", o.UserID); err != nil {
		return ConnectionInfo{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if o.UserID != "" {
		a.query = append(a.query, "userId", o.UserID)
	}
	if o.Lifetime > 0 {
		minutes := int64((o.Lifetime + time.Minute - 1) / time.Minute)
		if minutes > 1<<31-1 {
			return ConnectionInfo{}, outErrorf(ErrInvalidArgument, "GenerateClientTokenOptions.Lifetime %v is too long", o.Lifetime)
		}
		a.query = append(a.query, "minutesToExpire", strconv.FormatInt(minutes, 10))
	}
	var data []byte
	if _, err := c.call(ctx, restapi.GenerateClientToken, &a, nil, callOpts{out: &data}); err != nil {
		return ConnectionInfo{}, err
	}
	var resp struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || resp.Token == "" {
		return ConnectionInfo{}, fmt.Errorf("signalr: generate client token: the response holds no token")
	}
	return ConnectionInfo{URL: c.cs.clientURL(hub), AccessToken: resp.Token}, nil
}
