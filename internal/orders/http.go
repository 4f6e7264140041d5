package orders

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/openapi"
	"emporium/internal/platform/web"
)

// Handler serves the orders service's public routes.
type Handler struct {
	svc    *Service
	router *web.Router
}

// NewHandler routes the public API of API.md's Orders section to svc.
func NewHandler(svc *Service) *Handler {
	h := &Handler{svc: svc, router: web.NewRouter()}
	r := h.router
	admin := func(f web.HandlerFunc) web.HandlerFunc { return auth.RequireRole(auth.RoleAdmin, f) }
	r.HandleFunc("POST /api/v1/orders", auth.RequireUser(h.checkout))
	r.HandleFunc("GET /api/v1/orders", auth.RequireUser(h.list))
	r.HandleFunc("GET /api/v1/orders/{id}", auth.RequireUser(h.order))
	r.HandleFunc("POST /api/v1/orders/{id}/cancel", auth.RequireUser(h.cancel))
	r.HandleFunc("GET /api/v1/admin/orders", admin(h.adminList))
	r.HandleFunc("POST /api/v1/admin/orders/{id}/status", admin(h.setStatus))
	r.Handle("GET /openapi/orders.yaml", openapi.Handler(OpenAPI))
	return h
}

// ServeHTTP serves the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Routes lists the registered route patterns, for the OpenAPI check.
func (h *Handler) Routes() []string { return h.router.Routes() }

// viewer is the request's caller, whom RequireUser has verified.
func viewer(r *http.Request) Viewer {
	c, _ := auth.CallerFrom(r.Context())
	return Viewer{UserID: c.UserID, Admin: c.IsAdmin()}
}

func (h *Handler) checkout(w http.ResponseWriter, r *http.Request) error {
	key := r.Header.Get("Idempotency-Key")
	if err := checkKey(key); err != nil {
		return err
	}
	// The body is read whole first: its canonical form is the request's
	// identity under the key. Decode then holds it to the usual rules.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, web.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errs.E(errs.TooLarge, "body_too_large", "the body is larger than 1 MiB", err)
	} else if err != nil {
		return errs.E(errs.Malformed, "malformed_json", "the body could not be read", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in CheckoutRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	hash, err := requestHash(body)
	if err != nil {
		return err
	}
	reply, err := h.svc.Checkout(r.Context(), viewer(r).UserID, key, hash, in.address())
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) && errors.Is(err, ErrInProgress) {
			w.Header().Set("Retry-After", strconv.Itoa(seconds(e.RetryAfter)))
		}
		return err
	}
	if reply.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if reply.Status == http.StatusCreated {
		w.Header().Set("Location", "/api/v1/orders/"+reply.OrderID)
	}
	contentType := "application/json"
	if reply.Status >= 400 {
		contentType = "application/problem+json"
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(reply.Status)
	_, err = w.Write(reply.Body)
	return err
}

// seconds rounds d up to whole seconds, at least one.
func seconds(d time.Duration) int { return max(1, int((d+time.Second-1)/time.Second)) }

func (h *Handler) list(w http.ResponseWriter, r *http.Request) error {
	return h.listFor(w, r, viewer(r).UserID)
}

func (h *Handler) adminList(w http.ResponseWriter, r *http.Request) error {
	return h.listFor(w, r, "")
}

// listFor answers a page of customerID's orders, or of every customer's
// when it is "".
func (h *Handler) listFor(w http.ResponseWriter, r *http.Request, customerID string) error {
	page, err := web.PageFrom(r)
	if err != nil {
		return err
	}
	q, err := ParseListQuery(r.URL.Query(), page, customerID)
	if err != nil {
		return err
	}
	list, err := h.svc.List(r.Context(), q)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, list)
}

// order answers an order with its ETag: 304 when If-None-Match names it as
// it stands, after waiting up to "Prefer: wait=N" seconds for it to change.
func (h *Handler) order(w http.ResponseWriter, r *http.Request) error {
	inm := r.Header.Get("If-None-Match")
	var wait time.Duration
	if inm != "" {
		wait = web.PreferredWait(r, maxOrderWait)
	}
	a, changed, err := h.svc.WaitOrder(r.Context(), viewer(r), r.PathValue("id"), inm, wait)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", a.ETag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if wait > 0 {
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(wait/time.Second)))
	}
	if !changed {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(a.Body)
	return err
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) error {
	o, err := h.svc.Cancel(r.Context(), viewer(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, o)
}

func (h *Handler) setStatus(w http.ResponseWriter, r *http.Request) error {
	var in StatusRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	o, err := h.svc.SetStatus(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, o)
}
