// Package event holds the envelope every Emporium event travels in and the
// payload types that services share. It is the only code services have in common
// besides the platform library.
package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Envelope is an event as it travels on the bus, with CloudEvents attribute names.
// Type is also the subject it is published on: <service>.<entity>.<event>.
type Envelope struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Source string          `json:"source"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// New wraps data in an envelope with a fresh UUIDv7 id and the current time.
func New(typ, source string, data any) (Envelope, error) {
	if err := ValidType(typ); err != nil {
		return Envelope{}, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("event %s: encode data: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Envelope{}, fmt.Errorf("event %s: new id: %w", typ, err)
	}
	return Envelope{ID: id.String(), Type: typ, Source: source, Time: time.Now().UTC(), Data: raw}, nil
}

// Decode unmarshals the envelope's data into v.
func (e Envelope) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s %s: decode data: %w", e.Type, e.ID, err)
	}
	return nil
}

// ValidType reports whether typ has the form <service>.<entity>.<event> in
// lower case letters, digits and underscores.
func ValidType(typ string) error {
	parts := strings.Split(typ, ".")
	if len(parts) != 3 {
		return fmt.Errorf("event type %q: want <service>.<entity>.<event>", typ)
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return fmt.Errorf("event type %q: want lower-case tokens", typ)
		}
	}
	return nil
}
