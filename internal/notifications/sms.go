package notifications

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	twilioapi "github.com/twilio/twilio-go/rest/api/v2010"

	"emporium/internal/platform/bus"
)

// SMS is a text message as the service sends it.
type SMS struct {
	ID   string `json:"id"` // the delivery's id
	To   string `json:"to"` // E.164
	Body string `json:"body"`
}

// Texter sends text messages: through Twilio, or into the outbox directory.
type Texter interface {
	// SendSMS sends s, returning an error marked bus.Permanent when no retry
	// can deliver it.
	SendSMS(ctx context.Context, s SMS) error
	// Provider names the texter in the delivery log ("twilio", "file").
	Provider() string
}

// TwilioConfig is how to reach Twilio's Messages API.
type TwilioConfig struct {
	// AccountSID is the account the messages are sent from (AC…).
	AccountSID string
	// AuthToken is the account's auth token; or APIKey (SK…) and APISecret
	// authenticate instead, when set.
	AuthToken, APIKey, APISecret string
	// From is the sending number (E.164), or MessagingServiceSID (MG…) a
	// messaging service that picks one; the service wins when both are set.
	From, MessagingServiceSID string
	// BaseURL replaces https://api.twilio.com (tests point it at their own
	// server).
	BaseURL string
	// Timeout bounds one request.
	Timeout time.Duration
}

// TwilioTexter sends SMS with twilio/twilio-go's Messages API
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json).
type TwilioTexter struct {
	api                *twilioapi.ApiService
	from, messagingSvc string
}

// NewTwilioTexter returns a texter for cfg.
func NewTwilioTexter(cfg TwilioConfig) (*TwilioTexter, error) {
	user, password := cfg.AccountSID, cfg.AuthToken
	if cfg.APIKey != "" {
		user, password = cfg.APIKey, cfg.APISecret
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, errors.New("TWILIO_API_BASE must be an http(s) URL")
	}
	c := &client.Client{
		Credentials: client.NewCredentials(user, password),
		HTTPClient: &http.Client{Timeout: cfg.Timeout,
			// As twilio-go's own client: a redirect is answered, not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}},
	}
	c.SetAccountSid(cfg.AccountSID)
	// A RequestHandler of our own rather than client.NewRequestHandler, which
	// reads TWILIO_EDGE and TWILIO_REGION from the environment behind the
	// configuration's back.
	handler := &client.RequestHandler{Client: &baseURLClient{Client: c, base: base}}
	return &TwilioTexter{api: twilioapi.NewApiService(handler), from: cfg.From,
		messagingSvc: cfg.MessagingServiceSID}, nil
}

// baseURLClient sends twilio-go's requests to another base URL.
type baseURLClient struct {
	*client.Client
	base *url.URL
}

// SendRequest sends the request to the same path under the base URL.
func (c *baseURLClient) SendRequest(method, rawURL string, data url.Values,
	headers map[string]any, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = c.base.Scheme, c.base.Host
	u.Path = strings.TrimSuffix(c.base.Path, "/") + u.Path
	return c.Client.SendRequest(method, u.String(), data, headers, body...)
}

// Provider is "twilio".
func (t *TwilioTexter) Provider() string { return ProviderTwilio }

// SendSMS creates the message at Twilio. Twilio's 4xx answers other than
// 429 (an invalid number, 21211; a number that opted out, 21610; bad
// credentials) are permanent; 429, 5xx and network errors may pass later.
// The request is bounded by the configured timeout (twilio-go takes no
// context).
func (t *TwilioTexter) SendSMS(_ context.Context, s SMS) error {
	params := &twilioapi.CreateMessageParams{}
	params.SetTo(s.To).SetBody(s.Body)
	if t.messagingSvc != "" {
		params.SetMessagingServiceSid(t.messagingSvc)
	} else {
		params.SetFrom(t.from)
	}
	_, err := t.api.CreateMessage(params)
	if err == nil {
		return nil
	}
	var rest *client.TwilioRestError
	if errors.As(err, &rest) && rest.Status >= 400 && rest.Status < 500 &&
		rest.Status != http.StatusTooManyRequests {
		return bus.Permanent(fmt.Errorf("twilio: %w", err))
	}
	return fmt.Errorf("twilio: %w", err)
}
