package payments

import (
	"io"
	"net/http"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/openapi"
	"emporium/internal/platform/web"
)

// Handler serves the payments' public routes.
type Handler struct {
	svc    *Service
	router *web.Router
}

// NewHandler routes the public API of API.md's Payments section to svc.
func NewHandler(svc *Service) *Handler {
	h := &Handler{svc: svc, router: web.NewRouter()}
	r := h.router
	r.HandleFunc("GET /api/v1/payments/{id}", auth.RequireUser(h.payment))
	r.HandleFunc("POST /api/v1/payments/{id}/confirm", auth.RequireUser(h.confirm))
	r.HandleFunc("POST /webhooks/stripe", h.webhook)
	r.Handle("GET /openapi/payments.yaml", openapi.Handler(OpenAPI))
	return h
}

// ServeHTTP serves the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Routes lists the registered route patterns, for the OpenAPI check.
func (h *Handler) Routes() []string { return h.router.Routes() }

// paymentView is a payment as API.md's payment; the internal routes add
// customer_id and refunded, and only the owner sees client_secret.
type paymentView struct {
	ID           string    `json:"id"`
	OrderID      string    `json:"order_id"`
	CustomerID   string    `json:"customer_id,omitempty"`
	Provider     string    `json:"provider"`
	Amount       Money     `json:"amount"`
	Refunded     *Money    `json:"refunded,omitempty"`
	Status       string    `json:"status"`
	ClientSecret string    `json:"client_secret,omitempty"`
	FailureCode  *string   `json:"failure_code"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// publicView is p as its owner (withSecret) or an admin sees it.
func publicView(p *Payment, withSecret bool) paymentView {
	v := paymentView{ID: p.ID, OrderID: p.OrderID, Provider: p.Provider, Amount: p.Amount, Status: p.Status,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if withSecret {
		v.ClientSecret = p.ClientSecret
	}
	if p.FailureCode != "" {
		code := p.FailureCode
		v.FailureCode = &code
	}
	return v
}

// internalView is p as other services see it.
func internalView(p *Payment) paymentView {
	v := publicView(p, false)
	v.CustomerID = p.CustomerID
	v.Refunded = &Money{Amount: p.Refunded, Currency: p.Amount.Currency}
	return v
}

func (h *Handler) payment(w http.ResponseWriter, r *http.Request) error {
	c, _ := auth.CallerFrom(r.Context())
	p, err := h.svc.Payment(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	owner := p.CustomerID == c.UserID
	if !owner && !c.IsAdmin() {
		return ErrNotFound // another customer's: not a 403, so ids cannot be probed
	}
	return web.JSON(w, http.StatusOK, publicView(p, owner))
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) error {
	var in ConfirmRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	c, _ := auth.CallerFrom(r.Context())
	p, err := h.svc.Confirm(r.Context(), c, r.PathValue("id"), in.PaymentMethod)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, publicView(p, true))
}

// webhook takes a Stripe event: the raw body (at most web.MaxBodyBytes, as
// every body) is verified against the Stripe-Signature header before anything
// reads it as JSON.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, web.MaxBodyBytes))
	if err != nil {
		return errs.E(errs.TooLarge, "body_too_large", "the body is larger than 1 MiB", err)
	}
	ev, err := h.svc.provider.ParseWebhook(body, r.Header.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	if err := h.svc.HandleEvent(r.Context(), ev); err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]bool{"received": true})
}

// InternalHandler serves the routes the orders service calls.
func InternalHandler(svc *Service) *web.Router {
	r := web.NewRouter()
	r.HandleFunc("POST /internal/payments", func(w http.ResponseWriter, r *http.Request) error {
		var in CreateRequest
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p, created, err := svc.Create(r.Context(), in)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		// The orders service answers checkout with it to the customer, who
		// needs the client secret to confirm a Stripe payment in the browser.
		v := internalView(p)
		v.ClientSecret = p.ClientSecret
		return web.JSON(w, status, v)
	})
	r.HandleFunc("GET /internal/payments/{id}", func(w http.ResponseWriter, r *http.Request) error {
		p, err := svc.Payment(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return web.JSON(w, http.StatusOK, internalView(p))
	})
	r.HandleFunc("POST /internal/payments/{id}/cancel", func(w http.ResponseWriter, r *http.Request) error {
		p, err := svc.Cancel(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return web.JSON(w, http.StatusOK, internalView(p))
	})
	r.HandleFunc("POST /internal/payments/{id}/refund", func(w http.ResponseWriter, r *http.Request) error {
		var in RefundRequest
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		p, err := svc.Refund(r.Context(), r.PathValue("id"), in)
		if err != nil {
			return err
		}
		return web.JSON(w, http.StatusOK, internalView(p))
	})
	return r
}
