package customhandler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/funcsignalr/signalr"
)

// maxStringNesting bounds how many times a binding value may be a JSON
// string holding the JSON of the value: the host serializes a value it
// cannot turn into an object (JsonConvert.SerializeObject), and older hosts
// always sent strings, so one or two levels occur.
const maxStringNesting = 3

// invocationRequest is the body the host POSTs: {"Data":{…},"Metadata":{…}}.
// Keys are matched case-insensitively.
type invocationRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// decodeRequest checks body against the depth bound and decodes its
// envelope. It does not look inside the binding values.
func decodeRequest(body []byte, maxDepth int) (*invocationRequest, error) {
	if err := checkDepth(body, maxDepth); err != nil {
		return nil, err
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New(`the body is not a JSON object; the host sends {"Data":{…},"Metadata":{…}}`)
	}
	var req invocationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("the body is not the host's invocation JSON: %v", err)
	}
	if req.Data == nil {
		return nil, errors.New(`the body has no "Data" object; the host puts the trigger and input values there`)
	}
	return &req, nil
}

// checkDepth reports an error when data nests arrays and objects deeper
// than max. It only counts brackets outside strings; json.Unmarshal checks
// the rest.
func checkDepth(data []byte, max int) error {
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return fmt.Errorf("the body nests arrays and objects more than %d deep", max)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// unwrapString returns raw with up to maxStringNesting levels of JSON string
// removed: a value the host sent as a string holding its JSON. A string
// that does not hold JSON is returned as it was (still a JSON string).
func unwrapString(raw json.RawMessage) json.RawMessage {
	for range maxStringNesting {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '"' {
			return raw
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return raw
		}
		inner := []byte(strings.TrimSpace(s))
		if !json.Valid(inner) {
			return raw
		}
		raw = inner
	}
	return raw
}

// isNull reports whether raw is JSON null (after unwrapping strings, so
// the host's "null" counts).
func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(unwrapString(raw))) == "null"
}

// kind names the JSON type of raw for error messages.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// decodeObject unmarshals raw, an object or a string holding one, into v.
func decodeObject(raw json.RawMessage, v any) error {
	raw = unwrapString(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("want a JSON object (or a string holding one), got %s", kind(raw))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errors.New(describeJSONError(err))
	}
	return nil
}

// httpTriggerData is the value of an httpTrigger binding, as the host's
// HttpRequestExtensions.GetRequestAsJObject writes it.
type httpTriggerData struct {
	URL    string `json:"Url"`
	Method string `json:"Method"`
	// Query is an object of string values (hosts since 2020-09) or a
	// string holding one (earlier hosts).
	Query json.RawMessage `json:"Query"`
	// Headers map each name to an array of values (or one string).
	Headers map[string]json.RawMessage `json:"Headers"`
	// Params are the route parameters.
	Params map[string]json.RawMessage `json:"Params"`
	// Body is the body as a string; base64 for application/octet-stream
	// and multipart bodies. Absent when the request had no Content-Length.
	Body json.RawMessage `json:"Body"`
}

// decodeHTTPRequest turns an httpTrigger value into the *http.Request a
// plain Go server would have received: method, URL (with its query), Host,
// headers, body and route parameters as path values.
func decodeHTTPRequest(raw json.RawMessage, maxBody int64) (*http.Request, error) {
	var d httpTriggerData
	if err := decodeObject(raw, &d); err != nil {
		return nil, err
	}
	if d.Method == "" {
		return nil, errors.New(`"Method" is missing`)
	}
	if d.URL == "" {
		return nil, errors.New(`"Url" is missing`)
	}
	u, err := url.Parse(d.URL)
	if err != nil || !u.IsAbs() {
		// The URL is left out: its query may hold a token.
		return nil, errors.New(`"Url" is not an absolute URL`)
	}
	header := http.Header{}
	for name, v := range d.Headers {
		values, err := stringValues(v)
		if err != nil {
			return nil, fmt.Errorf(`"Headers" %q: %v`, truncate(name), err)
		}
		for _, s := range values {
			header.Add(name, s)
		}
	}
	query, err := decodeQuery(d.Query)
	if err != nil {
		return nil, err
	}
	if u.RawQuery == "" && len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	body, err := decodeBody(d.Body, header.Get("Content-Type"), maxBody)
	if err != nil {
		return nil, err
	}
	r, err := http.NewRequest(d.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf(`"Method" %q: %v`, truncate(d.Method), err)
	}
	if len(body) == 0 {
		r.Body = http.NoBody
	}
	// As net/http's server does: Host moves from the headers to r.Host,
	// and RequestURI is the request line's target.
	if h := header.Get("Host"); h != "" {
		r.Host = h
	}
	header.Del("Host")
	r.Header = header
	r.RequestURI = u.RequestURI()
	for name, v := range d.Params {
		s, err := scalarString(v)
		if err != nil {
			return nil, fmt.Errorf(`"Params" %q: %v`, truncate(name), err)
		}
		r.SetPathValue(name, s)
	}
	return r, nil
}

// decodeQuery reads the Query value: an object of strings, a string holding
// one, or nothing.
func decodeQuery(raw json.RawMessage) (url.Values, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := decodeObject(raw, &m); err != nil {
		return nil, fmt.Errorf(`"Query": %v`, err)
	}
	q := url.Values{}
	for k, v := range m {
		s, err := scalarString(v)
		if err != nil {
			return nil, fmt.Errorf(`"Query" %q: %v`, truncate(k), err)
		}
		q.Set(k, s)
	}
	return q, nil
}

// decodeBody reads the Body value: a string, base64 for the media types
// the host sends as bytes (application/octet-stream, multipart/*).
func decodeBody(raw json.RawMessage, contentType string, maxBody int64) ([]byte, error) {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf(`"Body" must be a string, got %s`, kind(raw))
	}
	if int64(len(s)) > maxBody {
		return nil, fmt.Errorf(`"Body" is larger than %d bytes`, maxBody)
	}
	if binaryMediaType(contentType) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf(`"Body" of a %s request must be base64, as the host sends bytes: %v`, contentType, err)
		}
		return b, nil
	}
	return []byte(s), nil
}

// binaryMediaType reports whether the host sends a body of this type as
// bytes (Utility.IsMediaTypeOctetOrMultipart).
func binaryMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/")
}

// stringValues reads a header's values: an array of strings or one string.
func stringValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var vs []string
		if err := json.Unmarshal(raw, &vs); err != nil {
			return nil, errors.New("want an array of strings")
		}
		return vs, nil
	}
	s, err := scalarString(raw)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// scalarString reads a string, number or boolean as text; null is "".
func scalarString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("want a string, got nothing")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '{', '[':
		return "", fmt.Errorf("want a string, got %s", kind(raw))
	case 'n':
		return "", nil
	}
	return string(raw), nil
}

// errNoConnectionInfo is returned by Resolve when the host passed null.
var errNoConnectionInfo = errors.New("the Functions host resolved no connection info (null): its security token validator rejected the request, or the binding failed")

// decodeConnectionInfo reads a signalRConnectionInfo value: the object
// {"url","accessToken"} or a string holding it. null decodes to a zero
// ConnectionInfo and reports false.
func decodeConnectionInfo(raw json.RawMessage) (signalr.ConnectionInfo, bool, error) {
	if isNull(raw) {
		return signalr.ConnectionInfo{}, false, nil
	}
	var v struct {
		URL         *string `json:"url"`
		AccessToken *string `json:"accessToken"`
	}
	if err := decodeObject(raw, &v); err != nil {
		return signalr.ConnectionInfo{}, false, errors.New(`want {"url":…,"accessToken":…} (an object or a string holding one): ` + err.Error())
	}
	if v.URL == nil || *v.URL == "" {
		return signalr.ConnectionInfo{}, false, errors.New(`"url" is missing`)
	}
	if v.AccessToken == nil {
		return signalr.ConnectionInfo{}, false, errors.New(`"accessToken" is missing`)
	}
	return signalr.ConnectionInfo{URL: *v.URL, AccessToken: *v.AccessToken}, true, nil
}

// describeJSONError words a decoding error by the property and the JSON
// type at fault, without Go type names or values it may quote (a token,
// say).
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("want an object, got a JSON %s", te.Value)
		}
		return fmt.Sprintf("%q must not be a JSON %s", te.Field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	return "not valid JSON"
}

// invocationData is a signalRTrigger value: the extension's
// InvocationContext serialized with its PascalCase property names.
type invocationData struct {
	Arguments    []json.RawMessage `json:"Arguments"`
	Error        *string           `json:"Error"`
	Category     string            `json:"Category"`
	Event        string            `json:"Event"`
	Hub          string            `json:"Hub"`
	ConnectionID string            `json:"ConnectionId"`
	UserID       *string           `json:"UserId"`
	Headers      map[string]string `json:"Headers"`
	Query        map[string]string `json:"Query"`
	Claims       map[string]string `json:"Claims"`
}

// decodeInvocation turns a signalRTrigger value into the InvocationContext
// the Upstream gives a handler, with the binding's parameter names.
func decodeInvocation(raw json.RawMessage, names []string) (*signalr.InvocationContext, error) {
	var d invocationData
	if err := decodeObject(raw, &d); err != nil {
		return nil, err
	}
	if d.ConnectionID == "" {
		return nil, errors.New(`"ConnectionId" is missing`)
	}
	if d.Category == "" || d.Event == "" {
		return nil, errors.New(`"Category" and "Event" are required`)
	}
	inv := &signalr.InvocationContext{
		Category:     d.Category,
		Event:        d.Event,
		Hub:          d.Hub,
		ConnectionID: d.ConnectionID,
		Claims:       d.Claims,
	}
	if d.Error != nil {
		inv.Error = *d.Error
	}
	if d.UserID != nil {
		inv.UserID = *d.UserID
	}
	if d.Arguments != nil {
		inv.Arguments = make([]signalr.Argument, len(d.Arguments))
		for i, a := range d.Arguments {
			inv.Arguments[i] = signalr.JSONArgument(bytes.Clone(a))
		}
	}
	if len(d.Headers) > 0 {
		inv.Headers = make(http.Header, len(d.Headers))
		for k, v := range d.Headers {
			inv.Headers.Set(k, v)
		}
	}
	if len(d.Query) > 0 {
		inv.Query = make(url.Values, len(d.Query))
		for k, v := range d.Query {
			inv.Query.Set(k, v)
		}
	}
	inv.SetParameterNames(names)
	return inv, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// readBody reads at most max bytes of r, reporting a larger body.
func readBody(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %v", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("the body is larger than %d bytes (Options.MaxBodyBytes)", max)
	}
	return b, nil
}
