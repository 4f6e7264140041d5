package notifications

import (
	"net/http"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/openapi"
	"emporium/internal/platform/web"
)

// roleAdmin is the role that reads the whole delivery log.
const roleAdmin = "admin"

// Handler serves the notifications service's public routes.
type Handler struct {
	svc    *Service
	router *web.Router
}

// NewHandler routes the delivery log of API.md's Notifications section to svc.
func NewHandler(svc *Service) *Handler {
	h := &Handler{svc: svc, router: web.NewRouter()}
	r := h.router
	r.HandleFunc("GET /api/v1/users/me/notifications", auth.RequireUser(h.mine))
	r.HandleFunc("GET /api/v1/admin/notifications", auth.RequireRole(roleAdmin, h.all))
	r.Handle("GET /openapi/notifications.yaml", openapi.Handler(OpenAPI))
	return h
}

// ServeHTTP serves the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Routes lists the registered route patterns, for the OpenAPI check.
func (h *Handler) Routes() []string { return h.router.Routes() }

// mine lists the caller's own deliveries, recipients masked.
func (h *Handler) mine(w http.ResponseWriter, r *http.Request) error {
	in, err := listRequestFrom(r, false)
	if err != nil {
		return err
	}
	c, _ := auth.CallerFrom(r.Context())
	l, err := h.svc.CustomerDeliveries(r.Context(), c.UserID, in.filter, in.page)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, l)
}

// all lists every delivery, recipients whole.
func (h *Handler) all(w http.ResponseWriter, r *http.Request) error {
	in, err := listRequestFrom(r, true)
	if err != nil {
		return err
	}
	l, err := h.svc.ListDeliveries(r.Context(), in.filter, in.page)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, l)
}
