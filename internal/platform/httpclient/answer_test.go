package httpclient

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

type line struct {
	ProductID string `json:"product_id"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
}

func TestProblemPassthrough(t *testing.T) {
	t.Parallel()
	var v errs.Validation
	v.Add("items.0.quantity", "must be at least 1")
	v.Add("ttl_seconds", "must be positive")
	lines := []line{{ProductID: "p1", Requested: 3, Available: 1}}
	tests := []struct {
		name string
		sent error // what the downstream's handler returns
		want *errs.Error
	}{
		{
			name: "conflict with extra members",
			sent: errs.New(errs.Conflict, "insufficient_stock", "not enough stock").
				With(map[string]any{"lines": lines}),
			want: &errs.Error{Kind: errs.Conflict, Code: "insufficient_stock",
				Message: "not enough stock"},
		},
		{
			// The fields name the internal request, not the end user's.
			name: "validation with field errors",
			sent: v.Err(),
			want: &errs.Error{Kind: errs.Invalid, Code: "validation_failed",
				Message: "the request is not valid"},
		},
		{
			name: "validation with its own code",
			sent: errs.New(errs.Invalid, "cart_empty", "the cart is empty"),
			want: &errs.Error{Kind: errs.Invalid, Code: "cart_empty",
				Message: "the cart is empty"},
		},
		{
			name: "not found",
			sent: errs.New(errs.NotFound, "product_not_found", "no such product"),
			want: &errs.Error{Kind: errs.NotFound, Code: "product_not_found",
				Message: "no such product"},
		},
		{
			name: "precondition failed",
			sent: errs.New(errs.PreconditionFailed, "precondition_failed", "version moved on"),
			want: &errs.Error{Kind: errs.PreconditionFailed, Code: "precondition_failed",
				Message: "version moved on"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				web.WriteError(w, r, tt.sent)
			})
			c := newClient(t, s, nil)
			err := c.PostJSON(testContext(t, 10*time.Second), "/internal/reservations", "k1",
				map[string]string{"reservation_id": "r1"}, nil)
			got := asError(t, err)
			if got.Kind != tt.want.Kind || got.Code != tt.want.Code ||
				got.Message != tt.want.Message || got.RetryAfter != tt.want.RetryAfter ||
				!reflect.DeepEqual(got.Fields, tt.want.Fields) {
				t.Errorf("got %v %q %q %v %v\nwant %v %q %q %v %v", got.Kind, got.Code,
					got.Message, got.RetryAfter, got.Fields, tt.want.Kind, tt.want.Code,
					tt.want.Message, tt.want.RetryAfter, tt.want.Fields)
			}
			// Returned from the caller's own handler, it answers what the
			// downstream answered, less a 422's field list.
			sent := web.ProblemFor(tt.sent)
			for _, f := range sent.Errors { // kept for the log
				if !strings.Contains(err.Error(), f.Field) {
					t.Errorf("the error %q does not name the downstream's field %s", err, f.Field)
				}
			}
			sent.Errors = nil
			gotJSON, _ := json.Marshal(web.ProblemFor(err))
			wantJSON, _ := json.Marshal(sent)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("passed through problem = %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
	t.Run("extra members decode", func(t *testing.T) {
		t.Parallel()
		s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			web.WriteError(w, r, errs.New(errs.Conflict, "insufficient_stock", "short").
				With(map[string]any{"lines": lines}))
		})
		c := newClient(t, s, nil)
		err := c.PostJSON(testContext(t, 10*time.Second), "/internal/reservations", "", 1, nil)
		raw, ok := asError(t, err).Extra["lines"].(json.RawMessage)
		if !ok {
			t.Fatalf("Extra = %#v, want lines as json.RawMessage", asError(t, err).Extra)
		}
		var got []line
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("decode lines: %v", err)
		}
		if !reflect.DeepEqual(got, lines) {
			t.Errorf("lines = %+v, want %+v", got, lines)
		}
	})
}

func TestStatusWithoutProblemMapsToKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		wantKind errs.Kind
		wantCode string
	}{
		{http.StatusNotFound, errs.NotFound, "not_found"},
		{http.StatusGone, errs.NotFound, "not_found"},
		{http.StatusConflict, errs.Conflict, "conflict"},
		{http.StatusPreconditionFailed, errs.PreconditionFailed, "precondition_failed"},
		{http.StatusUnprocessableEntity, errs.Invalid, "validation_failed"},
		// Statuses that say this service made a bad call are its own fault.
		{http.StatusBadRequest, errs.Other, ""},
		{http.StatusUnauthorized, errs.Other, ""},
		{http.StatusForbidden, errs.Other, ""},
		{http.StatusMethodNotAllowed, errs.Other, ""},
		{http.StatusRequestEntityTooLarge, errs.Other, ""},
		{http.StatusUnsupportedMediaType, errs.Other, ""},
		{http.StatusTeapot, errs.Other, ""},
		// A peer rate limiting this service makes the peer unavailable to it.
		{http.StatusTooManyRequests, errs.Unavailable, "unavailable"},
		{http.StatusInternalServerError, errs.Unavailable, "unavailable"},
		{http.StatusNotImplemented, errs.Unavailable, "unavailable"},
		{http.StatusMovedPermanently, errs.Other, ""},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", "http://elsewhere.invalid/")
				w.WriteHeader(tt.status)
			})
			c := newClient(t, s, func(cfg *Config) { cfg.MaxAttempts = 1 })
			err := c.GetJSON(testContext(t, 10*time.Second), "/internal/products/p1", nil)
			got := asError(t, err)
			if got.Kind != tt.wantKind || got.Code != tt.wantCode {
				t.Errorf("kind, code = %v, %q; want %v, %q", got.Kind, got.Code, tt.wantKind,
					tt.wantCode)
			}
			if s.count() != 1 {
				t.Errorf("server saw %d requests, want 1", s.count())
			}
		})
	}
}

func TestUnavailableMessageHidesAddress(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusServiceUnavailable, "4"))
	c := newClient(t, s, func(cfg *Config) { cfg.MaxAttempts = 1 })
	err := c.GetJSON(testContext(t, 10*time.Second), "/internal/products", nil)
	p := web.ProblemFor(err)
	want := web.Problem{Type: "/problems/unavailable", Title: "Service Unavailable", Status: 503,
		Detail: "the catalog service is unavailable", Code: "unavailable"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("problem = %+v, want %+v", p, want)
	}
	if got := asError(t, err).RetryAfter; got != 4*time.Second {
		t.Errorf("RetryAfter = %v, want the upstream's 4s", got)
	}
}
