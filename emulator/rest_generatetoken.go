package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// serveGenerateToken answers POST :generateToken with a client token for
// <this endpoint>/client/?hub=<hub>, for userId, valid for minutesToExpire
// (default 60), signed with the access key.
func (e *Emulator) serveGenerateToken(w http.ResponseWriter, r *http.Request, version apiVersion, hubName string) {
	query := r.URL.Query()
	minutes := int64(60)
	if s := query.Get("minutesToExpire"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, "minutesToExpire must be a whole number of minutes, 1 or more")
			return
		}
		minutes = n
	}
	userID := query.Get("userId")
	if !utf8.ValidString(userID) {
		writeRESTError(w, r, version, http.StatusBadRequest, codeInvalidArgument, "userId is not valid UTF-8")
		return
	}
	withPort, _ := requestBases(r)
	now := time.Now()
	claims := jwt.MapClaims{
		"aud": withPort + "/client/?hub=" + strings.ToLower(hubName),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Duration(minutes) * time.Minute).Unix(),
	}
	if userID != "" {
		claims["nameid"] = userID
		claims["asrs.s.uid"] = userID
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(e.key)
	if err != nil {
		writeRESTError(w, r, version, http.StatusInternalServerError, "Error.Internal", "could not sign the token")
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Token string `json:"token"`
	}{token})
}
