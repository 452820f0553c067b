// Package validate holds the name rules of the SignalR Service REST API
// (api-version 2022-06-01 swagger), shared by the library and the emulator so
// that both accept and reject exactly the same names.
package validate

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/funcsignalr/signalr/internal/textutil"
)

// MaxGroupNameLength is the longest group name accepted, as the Azure
// emulator caps it.
const MaxGroupNameLength = 1024

// ErrInvalidName is wrapped by every error this package returns.
var ErrInvalidName = errors.New("invalid name")

// HubName reports whether hub matches the service's pattern
// ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$, and says what is wrong if not.
func HubName(hub string) error {
	if hub == "" {
		return fmt.Errorf("%w: hub name is empty; set it to a name such as \"chat\"", ErrInvalidName)
	}
	if len(hub) > 128 {
		return fmt.Errorf("%w: hub name %q is %d characters long; the limit is 128", ErrInvalidName, textutil.Truncate(hub, maxEchoedName), len(hub))
	}
	for i := 0; i < len(hub); i++ {
		c := hub[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 {
			if !letter {
				return fmt.Errorf("%w: hub name %q must start with an ASCII letter", ErrInvalidName, textutil.Truncate(hub, maxEchoedName))
			}
			continue
		}
		if letter || c >= '0' && c <= '9' || strings.IndexByte("_`,.[]", c) >= 0 {
			continue
		}
		return fmt.Errorf("%w: hub name %q contains %q; only ASCII letters, digits and _`,.[] are allowed", ErrInvalidName, textutil.Truncate(hub, maxEchoedName), rune(c))
	}
	return nil
}

// GroupName reports whether group is a valid group name: 1 to 1024
// characters, not all of them white space (pattern ^(?!\s+$).+$).
func GroupName(group string) error {
	if group == "" {
		return fmt.Errorf("%w: group name is empty", ErrInvalidName)
	}
	if len(group) > MaxGroupNameLength {
		return fmt.Errorf("%w: group name is %d bytes long; the limit is %d", ErrInvalidName, len(group), MaxGroupNameLength)
	}
	if strings.TrimFunc(group, unicode.IsSpace) == "" {
		return fmt.Errorf("%w: group name is only white space", ErrInvalidName)
	}
	if strings.ContainsAny(group, "\r\n") {
		return fmt.Errorf("%w: group name contains a line break", ErrInvalidName)
	}
	return nil
}

// maxEchoedName bounds a name echoed in an error.
const maxEchoedName = 40
