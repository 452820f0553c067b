package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/funcsignalr/signalr"
)

// messageTarget is the client method every message invokes; the chat page
// handles it with connection.on("newMessage", ...).
const messageTarget = "newMessage"

// maxBodyBytes bounds a message body. The service takes REST bodies of up
// to 1 MB, and the body travels inside one.
const maxBodyBytes = 512 << 10

// principalHeader is the user id header App Service authentication sets.
const principalHeader = "x-ms-client-principal-id"

// negotiateHandler answers the SignalR clients' negotiate request with the
// URL and token of the service for hub chat.
//
// The user id comes from the x-ms-client-principal-id header when the
// request has it (the seed's authenticated negotiate, bound from
// {headers.x-ms-client-principal-id}); otherwise from the userId query
// parameter (a second binding, {query.userId}). With neither, the answer is
// 401: the chat identifies every message's sender, so no anonymous token is
// minted.
//
// The query fallback lets anyone claim any name, which suits a local demo
// only. Behind App Service authentication (or your own auth middleware that
// sets the header), remove the fallback so the header is the only source.
func negotiateHandler(byHeader, byQuery *signalr.Input) http.Handler {
	fromHeader := signalr.NegotiateHandler(byHeader)
	fromQuery := signalr.NegotiateHandler(byQuery)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.TrimSpace(r.Header.Get(principalHeader)) != "":
			fromHeader.ServeHTTP(w, r)
		case strings.TrimSpace(r.URL.Query().Get("userId")) != "":
			fromQuery.ServeHTTP(w, r)
		default:
			writeError(w, http.StatusUnauthorized,
				"negotiate needs a user id: sign in (App Service authentication sends the "+principalHeader+" header) or pass ?userId=<name>")
		}
	})
}

// messageHandler sends the request body, which must be one JSON value, as
// the only argument of newMessage to the audience chosen by audience: the
// seed's "broadcast", "send to a user" and "send to a group" functions.
//
// A message to a user who has no connection would be accepted by the service
// and reach nobody, so when presence is not nil (the app passes the
// *signalr.Client its output bindings share, which asks the REST API's
// user-exists operation), such a message is not sent and the answer is 404
// with {"error": "nobody named <user> is online"}. If the check itself fails,
// the message is sent anyway and the send reports the error.
func messageHandler(out *signalr.Output, presence userPresence, audience func(r *http.Request) signalr.Message) http.Handler {
	return withOutput(out, func(w http.ResponseWriter, r *http.Request, c *signalr.Collector) {
		body, status, err := readJSON(w, r)
		if err != nil {
			writeError(w, status, err.Error())
			return
		}
		m := audience(r)
		if m.UserID != "" && presence != nil {
			if online, err := presence.UserExists(r.Context(), hubName, m.UserID, nil); err == nil && !online {
				writeError(w, http.StatusNotFound, fmt.Sprintf("nobody named %s is online", m.UserID))
				return
			}
		}
		m.Target = messageTarget
		m.Arguments = []any{body}
		if err := c.AddMessage(m); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
		}
	})
}

// userPresence tells whether a user has a connection to the hub;
// *signalr.Client has it.
type userPresence interface {
	UserExists(ctx context.Context, hub, user string, opts *signalr.ExistsOptions) (bool, error)
}

// toEveryone, toUser and toGroup choose a message's audience.
func toEveryone(*http.Request) signalr.Message { return signalr.Message{} }

func toUser(r *http.Request) signalr.Message {
	return signalr.Message{UserID: r.PathValue("userId")}
}

func toGroup(r *http.Request) signalr.Message {
	return signalr.Message{GroupName: r.PathValue("group")}
}

func toConnection(r *http.Request) signalr.Message {
	return signalr.Message{ConnectionID: r.PathValue("connectionId")}
}

// askTarget is the client method askHandler invokes; a client answers with
// connection.on("ask", (question) => answer).
const askTarget = "ask"

// askTimeout bounds how long askHandler waits for the client's answer.
const askTimeout = 20 * time.Second

// invoker asks a client for a result; *signalr.Client has it.
type invoker interface {
	Invoke(ctx context.Context, hub, connectionID, target string, args []any, opts *signalr.InvokeOptions) (json.RawMessage, error)
}

// askHandler invokes ask(body) on the client of the connection named in the
// path and answers 200 with {"answer": <what the client's handler
// returned>}: a client result. sender is the Client the bindings share
// (it is used when it can invoke; otherwise the route answers 501). An
// unknown connection is 404; a client that throws, disconnects or does not
// answer in time is 502 with the reason.
func askHandler(sender any) http.Handler {
	c, _ := sender.(invoker)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c == nil {
			writeError(w, http.StatusNotImplemented, "asking a client needs a signalr.Client; this server sends through something else")
			return
		}
		body, status, err := readJSON(w, r)
		if err != nil {
			writeError(w, status, err.Error())
			return
		}
		answer, err := c.Invoke(r.Context(), hubName, r.PathValue("connectionId"), askTarget, []any{body}, &signalr.InvokeOptions{Timeout: askTimeout})
		var re *signalr.ResponseError
		switch {
		case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
			writeError(w, http.StatusNotFound, fmt.Sprintf("no connection %s", r.PathValue("connectionId")))
			return
		case err != nil:
			writeError(w, http.StatusBadGateway, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(struct {
			Answer json.RawMessage `json:"answer"`
		}{answer})
	})
}

// groupActionHandler adds the user named in the path to the group named in
// the path, or removes it: the seed's group management functions. The
// membership belongs to the user, so it applies to all of the user's
// connections, present and future.
func groupActionHandler(out *signalr.Output, action signalr.GroupActionType) http.Handler {
	return withOutput(out, func(w http.ResponseWriter, r *http.Request, c *signalr.Collector) {
		err := c.AddGroupAction(signalr.GroupAction{
			Action:    action,
			UserID:    r.PathValue("userId"),
			GroupName: r.PathValue("group"),
		})
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
		}
	})
}

// withOutput is signalr.WithOutputFunc, answering 204 No Content when the
// handler wrote nothing and everything was delivered. (When delivery fails,
// WithOutput answers 502 with the service's reason.)
func withOutput(out *signalr.Output, h func(w http.ResponseWriter, r *http.Request, c *signalr.Collector)) http.Handler {
	inner := signalr.WithOutputFunc(out, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w}
		inner.ServeHTTP(rw, r)
		if rw.status == 0 {
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// readJSON reads the request body, which must be exactly one JSON value of at
// most maxBodyBytes. On failure it returns the status to answer with.
func readJSON(w http.ResponseWriter, r *http.Request) (json.RawMessage, int, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var body json.RawMessage
	if err := dec.Decode(&body); err != nil {
		status, err := badBody("the body is not a JSON value", err)
		return nil, status, err
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		status, err := badBody("the body has more after its JSON value", err)
		return nil, status, err
	}
	return body, 0, nil
}

// badBody explains why decoding a body failed with err (nil when a second
// value was decoded).
func badBody(what string, err error) (int, error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d bytes", tooLarge.Limit)
	case err == io.EOF:
		return http.StatusBadRequest, errors.New(`the body is empty; send a JSON value, such as {"text":"hi"}`)
	case err == nil:
		return http.StatusBadRequest, errors.New(`the body holds more than one JSON value; send one, such as {"text":"hi"}`)
	default:
		return http.StatusBadRequest, fmt.Errorf("%s: %v", what, err)
	}
}

// writeError answers with status and the JSON body {"error": msg}, the shape
// the library's own handlers use.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// statusWriter records the status a handler answered with (200 for a body
// written without WriteHeader).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
