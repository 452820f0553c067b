package emulator

import (
	"encoding/json"
	"net/http"
)

// serveAccessKey answers GET /api/auth/accessKey (and /api/v1/auth/accessKey,
// which the SDKs call) with the current signing key and its id: client
// tokens signed with it, naming KeyId in their kid header, are accepted by
// negotiate and the client endpoint. The REST gate has accepted the
// caller's token; in identity mode the caller must be a Microsoft Entra
// one.
func (e *Emulator) serveAccessKey(w http.ResponseWriter, r *http.Request, version apiVersion) {
	s := e.ident
	if s.issuerKey != nil && !isEntraToken(bearerToken(r, false)) {
		writeRESTError(w, r, version, http.StatusForbidden, "Error.Forbidden", "the access key is handed out to Microsoft Entra callers only; this caller signs with the access key already")
		return
	}
	kid, key := s.currentKey()
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		KeyID     string `json:"KeyId"`
		AccessKey string `json:"AccessKey"`
	}{kid, string(key)})
}
