package identity

import (
	"net/http"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/openapi"
	"emporium/internal/platform/web"
)

// Handler serves the identity service's public routes.
type Handler struct {
	svc     *Service
	proxies web.TrustedProxies
	router  *web.Router
}

// NewHandler routes the public API of API.md's Identity section to svc.
func NewHandler(svc *Service, proxies web.TrustedProxies) *Handler {
	h := &Handler{svc: svc, proxies: proxies, router: web.NewRouter()}
	r := h.router
	r.HandleFunc("POST /api/v1/auth/register", h.register)
	r.HandleFunc("POST /api/v1/auth/login", h.login)
	r.HandleFunc("POST /api/v1/auth/refresh", h.refresh)
	r.HandleFunc("POST /api/v1/auth/logout", h.logout)
	r.HandleFunc("GET /api/v1/users/me", auth.RequireUser(h.me))
	r.HandleFunc("PATCH /api/v1/users/me", auth.RequireUser(h.updateMe))
	r.HandleFunc("POST /api/v1/users/me/password", auth.RequireUser(h.changePassword))
	r.HandleFunc("GET /.well-known/jwks.json", h.jwks)
	r.HandleFunc("GET /api/v1/admin/users", auth.RequireRole(RoleAdmin, h.listUsers))
	r.HandleFunc("PUT /api/v1/admin/users/{id}/roles", auth.RequireRole(RoleAdmin, h.setRoles))
	r.Handle("GET /openapi/identity.yaml", openapi.Handler(OpenAPI))
	return h
}

// ServeHTTP serves the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Routes lists the registered route patterns, for the OpenAPI check.
func (h *Handler) Routes() []string { return h.router.Routes() }

func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	var in RegisterRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	sess, err := h.svc.Register(r.Context(), in, h.proxies.ClientIP(r))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusCreated, sess)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	var in LoginRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	sess, err := h.svc.Login(r.Context(), in, h.proxies.ClientIP(r))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, sess)
}

func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) error {
	var in RefreshRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	sess, err := h.svc.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, sess)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	var in LogoutRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	if err := h.svc.Logout(r.Context(), in.RefreshToken, in.All); err != nil {
		return err
	}
	return web.NoContent(w)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.Me(r.Context(), callerID(r))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, u)
}

func (h *Handler) updateMe(w http.ResponseWriter, r *http.Request) error {
	var in UpdateMeRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	u, err := h.svc.UpdateMe(r.Context(), callerID(r), in)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, u)
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	var in ChangePasswordRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	if err := h.svc.ChangePassword(r.Context(), callerID(r), in); err != nil {
		return err
	}
	return web.NoContent(w)
}

func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) error {
	// Verifiers cache the set; a key is published well before it signs.
	w.Header().Set("Cache-Control", "public, max-age=300")
	return web.JSON(w, http.StatusOK, h.svc.keys.JWKS())
}

type userCursor struct {
	ID string `json:"id"`
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	page, err := web.PageFrom(r)
	if err != nil {
		return err
	}
	var after userCursor
	if _, err := page.After(&after); err != nil {
		return err
	}
	users, err := h.svc.ListUsers(r.Context(), r.URL.Query().Get("email"), after.ID, page.Limit)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, web.NewList(users, page.Limit,
		func(u *User) any { return userCursor{ID: u.ID} }))
}

func (h *Handler) setRoles(w http.ResponseWriter, r *http.Request) error {
	var in SetRolesRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	u, err := h.svc.SetRoles(r.Context(), callerID(r), r.PathValue("id"), in.Roles)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, u)
}

// callerID is the authenticated caller's user id; routes behind RequireUser
// always have one.
func callerID(r *http.Request) string {
	c, _ := auth.CallerFrom(r.Context())
	return c.UserID
}
