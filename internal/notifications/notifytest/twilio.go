package notifytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"
)

// TwilioServer speaks the part of Twilio's REST API the service uses —
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json — and checks what
// Twilio checks: the account in the path, HTTP basic auth with the account
// SID (or an API key) and its secret, a form body with To, From or
// MessagingServiceSid, and Body. It answers with Twilio's JSON shapes: the
// message resource (201), or an error {code, message, more_info, status}.
type TwilioServer struct {
	URL               string
	AccountSID, Token string // the credentials it accepts
	// MessagingServiceSID is accepted as a sender besides from-numbers.
	MessagingServiceSID string

	mu       sync.Mutex
	requests int          // well-formed requests, answered or refused
	sent     []url.Values // the messages it accepted
	answers  []int
	invalid  map[string]bool
}

// Answer sets the statuses of the next well-formed requests, taken in order
// before any is accepted: 429, 500 or 503 answer Twilio's error; 201 accepts.
func (s *TwilioServer) Answer(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, statuses...)
}

// Invalid makes the server refuse messages to number with 400, code 21211
// (not a valid phone number), as Twilio does.
func (s *TwilioServer) Invalid(number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalid[number] = true
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// NewTwilioServer starts a server for one account, closed at cleanup.
func NewTwilioServer(t testing.TB) *TwilioServer {
	t.Helper()
	s := &TwilioServer{AccountSID: "AC" + RandomHex(16), Token: RandomHex(16),
		invalid: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// RandomHex returns n random bytes in hex, for SIDs and tokens.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Messages are the messages accepted so far, as their forms.
func (s *TwilioServer) Messages() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.sent...)
}

// Requests counts the well-formed requests, accepted or refused.
func (s *TwilioServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *TwilioServer) serve(w http.ResponseWriter, r *http.Request) {
	path := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json"
	if r.URL.Path != path {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+
			" was not found")
		return
	}
	if r.Method != http.MethodPost {
		twilioError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != s.AccountSID || pass != s.Token {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct !=
		"application/x-www-form-urlencoded" {
		twilioError(w, http.StatusBadRequest, 20001, "Content-Type must be a form")
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioError(w, http.StatusBadRequest, 20001, "The form does not parse")
		return
	}
	f := r.PostForm
	to, from, service, body := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body")
	switch {
	case to == "":
		twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "" && service == "":
		twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case service != "" && service != s.MessagingServiceSID:
		twilioError(w, http.StatusBadRequest, 21701, "The Messaging Service Sid "+service+
			" is invalid.")
		return
	case body == "":
		twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case from != "" && !e164.MatchString(from):
		twilioError(w, http.StatusBadRequest, 21212, "The 'From' number "+from+
			" is not a valid phone number, shortcode, or alphanumeric sender ID.")
		return
	}
	s.mu.Lock()
	s.requests++
	status := http.StatusCreated
	if len(s.answers) > 0 {
		status, s.answers = s.answers[0], s.answers[1:]
	}
	invalid := s.invalid[to] || !e164.MatchString(to)
	if status == http.StatusCreated && !invalid {
		s.sent = append(s.sent, f)
	}
	s.mu.Unlock()
	switch {
	case status == http.StatusTooManyRequests:
		twilioError(w, status, 20429, "Too Many Requests")
	case status >= 500:
		twilioError(w, status, 20500, "Internal Server Error")
	case invalid:
		twilioError(w, http.StatusBadRequest, 21211, "The 'To' number "+to+
			" is not a valid phone number.")
	default:
		sid := "SM" + RandomHex(16)
		now := time.Now().UTC().Format(time.RFC1123Z)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{
			"sid": sid, "account_sid": s.AccountSID, "to": to, "from": from,
			"messaging_service_sid": nullIfEmpty(service), "body": body, "status": "queued",
			"num_segments": "1", "num_media": "0", "direction": "outbound-api",
			"api_version": "2010-04-01", "price": nil, "price_unit": "USD",
			"error_code": nil, "error_message": nil, "date_created": now, "date_updated": now,
			"date_sent": nil, "uri": path[:len(path)-len(".json")] + "/" + sid + ".json",
			"subresource_uris": map[string]string{"media": path[:len(path)-len(".json")] + "/" +
				sid + "/Media.json"},
		})
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// twilioError answers Twilio's error shape.
func twilioError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": message,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}
