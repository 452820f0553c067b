package signalr

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// generateClientToken asks the service to mint a client access token for
// hub (POST :generateToken) for userID ("" means anonymous), valid for
// lifetime rounded up to whole minutes (the service's unit; zero means its
// default of 60 minutes), and returns it with the client URL,
// <client endpoint>/client/?hub=<hub>, as a negotiate endpoint returns
// them. It is Client.ConnectionInfo with ClientOptions.ClientTokensFromService.
// It uses REST API 2023-07-01 unless the Client is set to a later version;
// v1 has no equivalent.
func (c *Client) generateClientToken(ctx context.Context, hub, userID string, lifetime time.Duration) (ConnectionInfo, error) {
	if lifetime < 0 {
		return ConnectionInfo{}, outErrorf(ErrInvalidArgument, "ClientTokenOptions.Lifetime %v is negative; use 0 for the default", lifetime)
	}
	a := routeArgs{hub: hub}
	if err := checkText("ClientTokenOptions.UserID", userID); err != nil {
		return ConnectionInfo{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if userID != "" {
		a.query = append(a.query, "userId", userID)
	}
	if lifetime > 0 {
		minutes := int64((lifetime + time.Minute - 1) / time.Minute)
		if minutes > 1<<31-1 {
			return ConnectionInfo{}, outErrorf(ErrInvalidArgument, "ClientTokenOptions.Lifetime %v is too long", lifetime)
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
