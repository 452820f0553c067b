package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/funcsignalr/signalr"
)

// The control routes of REST API 2023-07-01 and 2024-12-01:
//
//	POST /control/invoke?connectionId=C&target=T[&timeout=D]
//	     body: the arguments as a JSON array. Answers 200 {"result": R},
//	     or 502 {"failure": "client error"|"connection closed"|"timeout",
//	     "message": M} for an *InvokeError, or 502 {"status": S,
//	     "code": C} for another *ResponseError.
//	POST /control/execute
//	     body: {"filter": F, "commands": [...]} where F is built with the
//	     library's typed filter builder from {"op": "eq"|"ne"|"startswith",
//	     "field": "userId"|"connectionId", "value": V}, {"op": "in",
//	     "field": ..., "values": [...]}, {"op": "ingroup", "value": G},
//	     {"op": "and"|"or", "of": [F...]}, {"op": "not", "of": [F]} or
//	     {"op": "raw", "value": "<OData>"}; commands are {"type":
//	     "SendMessage", "target": T, "arguments": [...]}, {"type":
//	     "JoinGroup"|"LeaveGroup", "group": G} or {"type":
//	     "CloseConnection", "reason": R}.
func registerREST2024(mux *http.ServeMux, client *signalr.Client) {
	mux.HandleFunc("POST /control/invoke", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var args []any
		if body, _ := io.ReadAll(r.Body); len(body) > 0 {
			if err := json.Unmarshal(body, &args); err != nil {
				http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		opts := &signalr.InvokeOptions{}
		if d, err := time.ParseDuration(q.Get("timeout")); err == nil {
			opts.Timeout = d
		}
		result, err := client.Invoke(r.Context(), hub, q.Get("connectionId"), q.Get("target"), args, opts)
		w.Header().Set("Content-Type", "application/json")
		var ie *signalr.InvokeError
		var re *signalr.ResponseError
		switch {
		case err == nil:
			_ = json.NewEncoder(w).Encode(map[string]json.RawMessage{"result": result})
		case errors.As(err, &ie):
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"failure": string(ie.Failure), "message": ie.Message})
		case errors.As(err, &re):
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": re.StatusCode, "code": re.ErrorCode})
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /control/execute", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Filter   *filterSpec `json:"filter"`
			Commands []struct {
				Type      string `json:"type"`
				Target    string `json:"target"`
				Arguments []any  `json:"arguments"`
				Group     string `json:"group"`
				Reason    string `json:"reason"`
			} `json:"commands"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		filter, err := req.Filter.build()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var commands []signalr.Command
		for _, c := range req.Commands {
			switch c.Type {
			case "SendMessage":
				commands = append(commands, signalr.SendMessageCommand{Target: c.Target, Arguments: c.Arguments})
			case "JoinGroup":
				commands = append(commands, signalr.JoinGroupCommand{Group: c.Group})
			case "LeaveGroup":
				commands = append(commands, signalr.LeaveGroupCommand{Group: c.Group})
			case "CloseConnection":
				commands = append(commands, signalr.CloseConnectionCommand{Reason: c.Reason})
			default:
				http.Error(w, "unknown command type "+c.Type, http.StatusBadRequest)
				return
			}
		}
		if err := client.Execute(r.Context(), hub, filter, commands, nil); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// filterSpec is a JSON description of a filter, built with the typed
// builder.
type filterSpec struct {
	Op     string        `json:"op"`
	Field  string        `json:"field"`
	Value  string        `json:"value"`
	Values []string      `json:"values"`
	Of     []*filterSpec `json:"of"`
}

func (f *filterSpec) build() (signalr.Filter, error) {
	if f == nil {
		return signalr.Filter{}, nil
	}
	field := signalr.FilterField(f.Field)
	var sub []signalr.Filter
	for _, s := range f.Of {
		b, err := s.build()
		if err != nil {
			return b, err
		}
		sub = append(sub, b)
	}
	var out signalr.Filter
	switch f.Op {
	case "eq":
		out = signalr.Eq(field, f.Value)
	case "ne":
		out = signalr.Ne(field, f.Value)
	case "startswith":
		out = signalr.StartsWith(field, f.Value)
	case "in":
		out = signalr.In(field, f.Values...)
	case "ingroup":
		out = signalr.InGroup(f.Value)
	case "and":
		out = signalr.And(sub...)
	case "or":
		out = signalr.Or(sub...)
	case "not":
		if len(sub) != 1 {
			return out, fmt.Errorf("not takes one filter")
		}
		out = signalr.Not(sub[0])
	case "raw":
		out = signalr.RawFilter(f.Value)
	default:
		return out, fmt.Errorf("unknown filter op %q", f.Op)
	}
	return out, out.Err()
}
