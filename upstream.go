package signalr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/funcsignalr/signalr/internal/httpjson"
	"github.com/funcsignalr/signalr/internal/hubproto"
	"github.com/funcsignalr/signalr/internal/upstreamwire"
)

// Canonical forms of the headers, for direct lookups in http.Header on the
// hot path (Header.Get canonicalizes its argument every call).
var (
	keyConnectionID = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderConnectionID)
	keyHub          = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderHub)
	keyCategory     = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderCategory)
	keyEvent        = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderEvent)
	keyUserID       = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderUserID)
	keyUserClaims   = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderUserClaims)
	keyClientQuery  = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderClientQuery)
	keySignature    = textproto.CanonicalMIMEHeaderKey(upstreamwire.HeaderSignature)
)

// header returns the first value of the canonical key in h.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// DefaultMaxUpstreamBody is the largest upstream body an Upstream reads
// when UpstreamOptions.MaxBodySize is zero.
const DefaultMaxUpstreamBody = 1 << 20

// TriggerHandler handles one upstream event. For a blocking invocation the
// result becomes the client's invocation result (nil means no result) and
// an error becomes the Completion's error, with err.Error() as the text the
// client sees. For connected, an error rejects the connection.
type TriggerHandler interface {
	ServeTrigger(ctx context.Context, inv *InvocationContext) (result any, err error)
}

// TriggerHandlerFunc adapts a function to TriggerHandler.
type TriggerHandlerFunc func(ctx context.Context, inv *InvocationContext) (any, error)

// ServeTrigger calls f.
func (f TriggerHandlerFunc) ServeTrigger(ctx context.Context, inv *InvocationContext) (any, error) {
	return f(ctx, inv)
}

// UpstreamOptions configure an Upstream. The nil value means: connection
// strings from DefaultSettings, 1 MiB bodies, no logging.
type UpstreamOptions struct {
	// Bind tells Handle where each trigger's connection string comes from
	// (the connection string of its Client, else its ConnectionString,
	// else the trigger's setting); its access key is one the upstream
	// signature may be made with.
	//
	// An identity-based connection string (AuthType=azure, azure.msi,
	// azure.app, aad) has no access key, and the service signs upstream
	// requests with keys the app does not hold. As in the Functions
	// extension, once any configured connection string is identity-based
	// the X-ASRS-Signature check is skipped for every request. Protect the
	// upstream another way then: configure the upstream's auth in the
	// service (Auth type ManagedIdentity) and check that token in front of
	// the handler (App Service authentication does), put a secret in the
	// upstream URL template (such as ?code=<key>) and check it, or keep
	// the endpoint off the public network.
	Bind *BindOptions
	// ConnectionStrings add access keys that sign upstream requests, such
	// as the secondary key and the keys of other service endpoints.
	ConnectionStrings []*ConnectionString
	// MaxBodySize bounds a request body; zero means DefaultMaxUpstreamBody.
	// A larger body is answered 413.
	MaxBodySize int64
	// Logger receives handler failures that no client can see: a failed
	// send (non-blocking invocation) or disconnected handler. Nil means
	// nothing is logged (the failure is still answered with 500).
	Logger *slog.Logger
}

// Upstream is the http.Handler of the serverless upstream endpoint (for
// Functions apps, DefaultUpstreamPath). The service POSTs connection events
// and client invocations to it; Upstream checks the signature, decodes the
// body (JSON or MessagePack) and dispatches by (hub, category, event),
// matched case-insensitively, to the TriggerHandler registered for them, the
// way http.ServeMux dispatches by pattern. For a blocking invocation it
// answers the framed Completion the service relays to the client.
//
// Responses follow the Functions extension: 405 for a method other than
// POST, 415 for a body that is neither JSON nor MessagePack, 400 for an empty
// hub, category or event header or a body nested deeper than
// MaxNestingDepth, 404 when no handler matches, 401 for a bad
// or missing signature, 403 when a connected handler fails, 413 for a body
// over the limit, 500 for a body that cannot be decoded or whose target is
// not the event, and for a failed non-blocking handler; 200 otherwise. Every
// error response is a JSON object {"error": "..."} that names the problem.
//
// An Upstream is safe for concurrent use; handlers may be added while it
// serves. The zero value is an Upstream with default options, like
// NewUpstream(nil).
type Upstream struct {
	opts UpstreamOptions

	mu       sync.RWMutex
	handlers map[triggerKey]*triggerEntry
	keys     []*accessKey
	// identityEndpoint is set once an identity-based connection string
	// is configured: it has no key, so signatures are not checked.
	identityEndpoint bool
}

type triggerKey struct{ hub, category, event string }

type triggerEntry struct {
	binding TriggerBinding
	handler TriggerHandler
}

// NewUpstream returns an Upstream with no handlers; opts may be nil.
// Errors wrap ErrInvalidArgument and name the option at fault.
func NewUpstream(opts *UpstreamOptions) (*Upstream, error) {
	u := &Upstream{}
	if opts != nil {
		u.opts = *opts
	}
	if u.opts.MaxBodySize < 0 {
		return nil, fmt.Errorf("%w: UpstreamOptions.MaxBodySize is negative; use 0 for the default", ErrInvalidArgument)
	}
	for i, cs := range u.opts.ConnectionStrings {
		if cs.usable() != nil {
			return nil, fmt.Errorf("%w: UpstreamOptions.ConnectionStrings[%d] is not a parsed connection string; use ParseConnectionString", ErrInvalidArgument, i)
		}
		u.addKey(cs)
	}
	return u, nil
}

// addKey accepts signatures made with cs's access key, once per distinct
// key; an identity-based cs turns signature checks off, as in the
// Functions extension. u.mu must be held or u not yet shared.
func (u *Upstream) addKey(cs *ConnectionString) {
	if cs.IdentityBased() {
		u.identityEndpoint = true
		return
	}
	for _, k := range u.keys {
		if hmac.Equal(k.key, cs.key) {
			return
		}
	}
	k := &accessKey{key: cs.key}
	k.macs.New = func() any { return hmac.New(sha256.New, k.key) }
	u.keys = append(u.keys, k)
}

// accessKey computes upstream signatures with one access key; its HMAC
// states are pooled, as every upstream request needs one.
type accessKey struct {
	key  []byte
	macs sync.Pool
}

// mac appends HMAC-SHA256(key, connection id) to dst.
func (k *accessKey) mac(dst []byte, connectionID string) []byte {
	h := k.macs.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, connectionID)
	dst = h.Sum(dst)
	k.macs.Put(h)
	return dst
}

// Handle registers h for b's (hub, category, event). It checks b, loads its
// connection string (see UpstreamOptions.Bind) so that its access key
// validates signatures, and fails for a (hub, category, event) already
// registered. Errors wrap ErrInvalidBinding, ErrMissingSetting,
// ErrInvalidConnectionString or ErrInvalidHubName.
func (u *Upstream) Handle(b TriggerBinding, h TriggerHandler) error {
	category, err := b.check()
	if err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("%w: signalRTrigger %q: handler is nil", ErrInvalidBinding, b.Name)
	}
	css, err := u.connectionStrings(b)
	if err != nil {
		return fmt.Errorf("signalRTrigger %q: %w", b.Name, err)
	}
	key := triggerKey{strings.ToLower(b.HubName), category, strings.ToLower(b.Event)}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.handlers == nil {
		u.handlers = make(map[triggerKey]*triggerEntry)
	}
	if _, dup := u.handlers[key]; dup {
		return fmt.Errorf("%w: duplicated key parameter hub: %s, category: %s, event: %s", ErrInvalidBinding, b.HubName, category, b.Event)
	}
	for _, cs := range css {
		u.addKey(cs)
	}
	u.handlers[key] = &triggerEntry{binding: b, handler: h}
	return nil
}

// connectionStrings are the connection strings whose keys sign b's
// requests: those of UpstreamOptions.Bind's Client (the one the output
// bindings share; every endpoint's, for a multi-endpoint Client), else its
// ConnectionString, else b's setting and, when the settings can be listed,
// every endpoint under EndpointsSection (each service instance signs with
// its own key).
func (u *Upstream) connectionStrings(b TriggerBinding) ([]*ConnectionString, error) {
	if err := u.opts.Bind.check(); err != nil {
		return nil, err
	}
	if o := u.opts.Bind; o != nil && o.Client != nil {
		if m := o.Client.multi; m != nil {
			css := make([]*ConnectionString, len(m.eps))
			for i, e := range m.eps {
				css[i] = e.ep.ConnectionString
			}
			return css, nil
		}
		return []*ConnectionString{o.Client.cs}, nil
	}
	cs, err := resolveConnectionString(b.ConnectionStringSetting, u.opts.Bind)
	if err != nil {
		return nil, err
	}
	css := []*ConnectionString{cs}
	if o := u.opts.Bind; o == nil || o.ConnectionString == nil {
		settings := u.opts.Bind.withDefaults().Settings
		if _, ok := settings.(SettingsLister); ok {
			eps, err := EndpointsFromSettings(settings, b.ConnectionStringSetting)
			if err != nil {
				return nil, err
			}
			for _, e := range eps {
				css = append(css, e.ConnectionString)
			}
		}
	}
	return css, nil
}

// HandleFunc registers f for b's (hub, category, event); see Handle.
func (u *Upstream) HandleFunc(b TriggerBinding, f func(ctx context.Context, inv *InvocationContext) (any, error)) error {
	if f == nil {
		return fmt.Errorf("%w: signalRTrigger %q: handler is nil", ErrInvalidBinding, b.Name)
	}
	return u.Handle(b, TriggerHandlerFunc(f))
}

// ServeHTTP dispatches one upstream request; see Upstream.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u == nil {
		httpjson.WriteError(w, http.StatusInternalServerError, "signalr: the Upstream is nil; create it with NewUpstream")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpjson.WriteError(w, http.StatusMethodNotAllowed, "upstream requests use POST, not "+r.Method)
		return
	}
	contentType := header(r.Header, "Content-Type")
	media, err := contentType, error(nil)
	if media != hubproto.ContentTypeJSON && media != hubproto.ContentTypeMessagePack {
		media, _, err = mime.ParseMediaType(contentType)
	}
	msgpackBody := strings.EqualFold(media, hubproto.ContentTypeMessagePack)
	if err != nil || !msgpackBody && !strings.EqualFold(media, hubproto.ContentTypeJSON) {
		httpjson.WriteError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not supported; upstream bodies are %s or %s", r.Header.Get("Content-Type"), hubproto.ContentTypeJSON, hubproto.ContentTypeMessagePack))
		return
	}
	hub, category, event := header(r.Header, keyHub), header(r.Header, keyCategory), header(r.Header, keyEvent)
	for _, h := range [...]struct{ name, value string }{{upstreamwire.HeaderHub, hub}, {upstreamwire.HeaderCategory, category}, {upstreamwire.HeaderEvent, event}} {
		if h.value == "" {
			httpjson.WriteError(w, http.StatusBadRequest, "header "+h.name+" is missing or empty")
			return
		}
	}
	key := triggerKey{strings.ToLower(hub), strings.ToLower(category), strings.ToLower(event)}
	u.mu.RLock()
	entry := u.handlers[key]
	keys, unsigned := u.keys, u.identityEndpoint
	u.mu.RUnlock()
	if entry == nil {
		httpjson.WriteError(w, http.StatusNotFound, fmt.Sprintf("no trigger handler for hub %q, category %q, event %q", hub, category, event))
		return
	}
	connID := header(r.Header, keyConnectionID)
	if problem := checkSignature(header(r.Header, keySignature), connID, keys); problem != "" && !unsigned {
		httpjson.WriteError(w, http.StatusUnauthorized, problem)
		return
	}
	body, err := u.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			httpjson.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", u.maxBody()))
			return
		}
		httpjson.WriteError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	proto := hubproto.JSON
	if msgpackBody {
		proto = hubproto.MessagePack
	}
	msg, err := decodeBody(proto, body)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, hubproto.ErrTooDeep) {
			// Refused before any handler or recursive decoder sees it.
			status = http.StatusBadRequest
		}
		httpjson.WriteError(w, status, err.Error())
		return
	}
	inv := &InvocationContext{
		Arguments:    msg.Arguments,
		Error:        msg.Error,
		Category:     category,
		Event:        event,
		Hub:          hub,
		ConnectionID: connID,
		UserID:       header(r.Header, keyUserID),
		InvocationID: msg.InvocationID,
		Headers:      r.Header,
		Query:        parseClientQuery(header(r.Header, keyClientQuery)),
		Claims:       parseClaims(header(r.Header, keyUserClaims)),
		names:        entry.binding.ParameterNames,
	}
	want := hubproto.TypeInvocation
	if key.category == CategoryConnections {
		want = hubproto.TypeOpenConnection
		if key.event == EventDisconnected {
			want = hubproto.TypeCloseConnection
		}
	}
	if msg.Type != want {
		httpjson.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("body has message type %d; %s/%s takes type %d", msg.Type, category, event, want))
		return
	}
	if want == hubproto.TypeInvocation && !strings.EqualFold(msg.Target, event) {
		httpjson.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("invocation target %q does not match %s %q", msg.Target, upstreamwire.HeaderEvent, event))
		return
	}
	u.dispatch(w, r.Context(), entry, inv, proto)
}

// maxBody is UpstreamOptions.MaxBodySize with its default.
func (u *Upstream) maxBody() int64 {
	if u.opts.MaxBodySize > 0 {
		return u.opts.MaxBodySize
	}
	return DefaultMaxUpstreamBody
}

// logger is UpstreamOptions.Logger, or one that discards.
func (u *Upstream) logger() *slog.Logger {
	if u.opts.Logger != nil {
		return u.opts.Logger
	}
	return discardLogger
}

var discardLogger = slog.New(slog.DiscardHandler)

// readBody reads the request body, up to MaxBodySize. A body of known
// length is read in one allocation.
func (u *Upstream) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if n := r.ContentLength; n >= 0 {
		if n > u.maxBody() {
			return nil, &http.MaxBytesError{Limit: u.maxBody()}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, u.maxBody()))
}

// dispatch runs the handler and answers as the event requires.
func (u *Upstream) dispatch(w http.ResponseWriter, ctx context.Context, entry *triggerEntry, inv *InvocationContext, proto hubproto.Protocol) {
	var result any
	var err error
	if n := len(entry.binding.ParameterNames); n > 0 && n != len(inv.Arguments) {
		err = fmt.Errorf("%s takes %d argument(s) (%s), the client sent %d", inv.Event, n, strings.Join(entry.binding.ParameterNames, ", "), len(inv.Arguments))
	} else {
		result, err = entry.handler.ServeTrigger(ctx, inv)
	}
	switch strings.ToLower(inv.Category) {
	case CategoryConnections:
		if err == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		if strings.EqualFold(inv.Event, EventConnected) {
			httpjson.WriteError(w, http.StatusForbidden, "connection rejected: "+err.Error())
			return
		}
		u.logger().Error("signalr: disconnected handler failed", "hub", inv.Hub, "connection", inv.ConnectionID, "error", err)
		httpjson.WriteError(w, http.StatusInternalServerError, "disconnected handler failed: "+err.Error())
		return
	}
	if inv.InvocationID == "" {
		if err != nil {
			u.logger().Error("signalr: hub method failed", "hub", inv.Hub, "method", inv.Event, "connection", inv.ConnectionID, "error", err)
			httpjson.WriteError(w, http.StatusInternalServerError, inv.Event+" failed: "+err.Error())
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	completion := encodeCompletion(proto, inv.InvocationID, result, err)
	w.Header().Set("Content-Type", proto.ContentType())
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(completion))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(completion)
}

// parseClientQuery parses X-ASRS-Client-Query, with or without its "?".
func parseClientQuery(raw string) url.Values {
	q, _ := url.ParseQuery(strings.TrimPrefix(raw, "?"))
	return q
}

// parseClaims parses X-ASRS-User-Claims ("type: value, type: value") as the
// Functions extension does: split on ",", then on ": "; keys trimmed; the
// first value of a type wins.
func parseClaims(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	claims := make(map[string]string)
	for _, part := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(part, ": ")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := claims[k]; !seen && k != "" {
			claims[k] = strings.TrimSpace(v)
		}
	}
	return claims
}
