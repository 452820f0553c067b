package signalr

import (
	"context"
	"encoding/json"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// SendStreamItemOptions tune SendStreamItem. Nil means the stream goes on.
type SendStreamItemOptions struct {
	// Completed marks the item as the stream's last: the stream completes
	// after it, as CompleteStream would without an error.
	Completed bool
	// AtMostOnce stops the retries once an attempt may have reached the
	// service, as SendMessageOptions.AtMostOnce does, so the client never
	// gets the item twice; the error then wraps ErrMaybeApplied.
	AtMostOnce bool
}

// CompleteStreamOptions tune CompleteStream. Nil means a successful end.
type CompleteStreamOptions struct {
	// Error, when set, ends the stream with this error for the client.
	Error string
}

// SendStreamItem sends item, encoded as JSON, on stream streamID of one
// connection: the client receives it as a StreamItem for that stream (the
// stream id is the invocation id of the client's stream request). It uses
// REST API 2024-12-01 whatever ClientOptions.APIVersion says. The swagger
// declares no body for this route; the item travels as the JSON request
// body. Like a send, it is not retried on a plain 500.
func (c *Client) SendStreamItem(ctx context.Context, hub, connectionID, streamID string, item any, opts *SendStreamItemOptions) error {
	a, err := streamArgs(hub, connectionID, streamID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(item)
	if err != nil {
		return outErrorf(ErrInvalidArgument, "the stream item cannot be encoded as JSON: %w", err)
	}
	if opts != nil && opts.Completed {
		a.query = []string{"completed", "true"}
	}
	_, err = c.doWith(ctx, restapi.SendToConnectionStream, &a, body, opts != nil && opts.AtMostOnce)
	return err
}

// CompleteStream ends stream streamID of one connection: the client
// receives a Completion for it, carrying opts.Error when set. It uses REST
// API 2024-12-01 whatever ClientOptions.APIVersion says.
func (c *Client) CompleteStream(ctx context.Context, hub, connectionID, streamID string, opts *CompleteStreamOptions) error {
	a, err := streamArgs(hub, connectionID, streamID)
	if err != nil {
		return err
	}
	if opts != nil && opts.Error != "" {
		a.reason = opts.Error
	}
	_, err = c.do(ctx, restapi.CompleteConnectionStream, &a, nil)
	return err
}

// maxStreamIDLength is the swagger's limit on streamId.
const maxStreamIDLength = 100

func streamArgs(hub, connectionID, streamID string) (routeArgs, error) {
	if err := checkID("connection id", connectionID); err != nil {
		return routeArgs{}, err
	}
	if err := checkID("stream id", streamID); err != nil {
		return routeArgs{}, err
	}
	if len([]rune(streamID)) > maxStreamIDLength {
		return routeArgs{}, outErrorf(ErrInvalidArgument, "stream id is %d characters long; the service takes at most %d", len([]rune(streamID)), maxStreamIDLength)
	}
	return routeArgs{hub: hub, connection: connectionID, stream: streamID}, nil
}
