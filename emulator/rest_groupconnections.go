package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Paging of group connections.
const (
	defaultMaxPageSize = 200
	maxTop             = 1<<31 - 1
)

// groupMember is one entry of GroupMemberPagedValues.
type groupMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

// groupMembersAfter returns up to limit current members of group whose ids
// sort after after, in id order, and whether more follow. Paging by id
// keeps the order stable: a page neither repeats nor skips a member that
// stays in the group, whoever joins or leaves meanwhile.
func (h *hub) groupMembersAfter(group, after string, limit int) ([]groupMember, bool) {
	now := time.Now()
	h.mu.RLock()
	var members []groupMember
	for id, c := range h.groups[group] {
		if id > after && !expired(c.groups[group], now) {
			members = append(members, groupMember{id, c.user})
		}
	}
	h.mu.RUnlock()
	sort.Slice(members, func(i, j int) bool { return members[i].ConnectionID < members[j].ConnectionID })
	if len(members) > limit {
		return members[:limit], true
	}
	return members, false
}

// serveGroupConnections answers GET .../groups/{group}/connections with a
// page of members and, unless it is the last, an absolute nextLink that
// carries the continuation token and what is left of top.
func (e *Emulator) serveGroupConnections(w http.ResponseWriter, r *http.Request, version apiVersion, h *hub, group string) {
	query := r.URL.Query()
	pageSize, problem := intParam(query, "maxpagesize", 1, defaultMaxPageSize, defaultMaxPageSize)
	top := 0
	if problem == "" {
		top, problem = intParam(query, "top", 1, maxTop, 0)
	}
	after := ""
	if problem == "" && query.Get("continuationToken") != "" {
		raw, err := base64.RawURLEncoding.DecodeString(query.Get("continuationToken"))
		if err != nil || !utf8.Valid(raw) {
			problem = "continuationToken is not one this emulator issued; start again without it"
		}
		after = string(raw)
	}
	if problem != "" {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, problem)
		return
	}
	limit := pageSize
	if top > 0 {
		limit = min(limit, top)
	}
	var page struct {
		Value    []groupMember `json:"value"`
		NextLink string        `json:"nextLink,omitempty"`
	}
	page.Value = []groupMember{}
	more := false
	if h != nil {
		page.Value, more = h.groupMembersAfter(group, after, limit)
		if page.Value == nil {
			page.Value = []groupMember{}
		}
	}
	if top > 0 && len(page.Value) >= top {
		more = false
	}
	if more {
		next := url.Values{}
		for _, k := range []string{"api-version", "application"} {
			if v := query.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("maxpagesize", strconv.Itoa(pageSize))
		if top > 0 {
			next.Set("top", strconv.Itoa(top-len(page.Value)))
		}
		next.Set("continuationToken", base64.RawURLEncoding.EncodeToString([]byte(page.Value[len(page.Value)-1].ConnectionID)))
		withPort, _ := requestBases(r)
		page.NextLink = withPort + r.URL.EscapedPath() + "?" + next.Encode()
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	_ = json.NewEncoder(w).Encode(page)
}

// intParam reads an optional whole-number query parameter in [lo, hi].
func intParam(query url.Values, name string, lo, hi, def int) (int, string) {
	s := query.Get(name)
	if s == "" {
		return def, ""
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, name + " must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
	}
	return n, ""
}
