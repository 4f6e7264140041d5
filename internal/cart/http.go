package cart

import (
	"net/http"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/openapi"
	"emporium/internal/platform/web"
)

// TokenHeader names a guest cart, in requests, and answers the token of a
// new guest cart.
const TokenHeader = "Cart-Token"

// Handler serves the cart's public routes.
type Handler struct {
	svc    *Service
	router *web.Router
}

// NewHandler routes the public API of API.md's Cart section to svc. Every
// route but merge serves a customer (a valid access token) or a guest (no
// Authorization header; the Cart-Token header names the cart). A token that
// fails verification is 401, never a guest; a customer's request that also
// sends a Cart-Token is about the customer's cart, and the header is ignored
// (merge brings the guest lines over).
func NewHandler(svc *Service) *Handler {
	h := &Handler{svc: svc, router: web.NewRouter()}
	r := h.router
	r.HandleFunc("GET /api/v1/cart", h.cart)
	r.HandleFunc("DELETE /api/v1/cart", h.empty)
	r.HandleFunc("POST /api/v1/cart/items", h.addItem)
	r.HandleFunc("PATCH /api/v1/cart/items/{product_id}", h.setQuantity)
	r.HandleFunc("DELETE /api/v1/cart/items/{product_id}", h.removeItem)
	r.HandleFunc("POST /api/v1/cart/merge", auth.RequireUser(h.merge))
	r.Handle("GET /openapi/cart.yaml", openapi.Handler(OpenAPI))
	return h
}

// ServeHTTP serves the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Routes lists the registered route patterns, for the OpenAPI check.
func (h *Handler) Routes() []string { return h.router.Routes() }

// ownerOf names the cart r is about. An empty Cart-Token counts as none; a
// repeated one names no cart.
func ownerOf(r *http.Request) (owner, error) {
	c, ok, err := auth.CallerOrGuest(r.Context())
	switch {
	case err != nil:
		return owner{}, err
	case ok:
		return customer(c.UserID), nil
	}
	values := r.Header.Values(TokenHeader)
	switch {
	case len(values) == 0 || len(values) == 1 && values[0] == "":
		return owner{}, nil
	case len(values) > 1:
		return owner{sent: true}, nil
	}
	return owner{token: values[0], sent: true}, nil
}

// answer writes a cart. A cart is one person's and changes often: no cache
// may keep it.
func answer(w http.ResponseWriter, v any) error {
	w.Header().Set("Cache-Control", "no-store")
	return web.JSON(w, http.StatusOK, v)
}

func (h *Handler) cart(w http.ResponseWriter, r *http.Request) error {
	o, err := ownerOf(r)
	if err != nil {
		return err
	}
	c, err := h.svc.Cart(r.Context(), o)
	if err != nil {
		return err
	}
	return answer(w, c)
}

func (h *Handler) addItem(w http.ResponseWriter, r *http.Request) error {
	o, err := ownerOf(r)
	if err != nil {
		return err
	}
	var in AddItemRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	c, token, err := h.svc.AddItem(r.Context(), o, in)
	if err != nil {
		return err
	}
	if token != "" {
		w.Header().Set(TokenHeader, token)
	}
	return answer(w, c)
}

func (h *Handler) setQuantity(w http.ResponseWriter, r *http.Request) error {
	o, err := ownerOf(r)
	if err != nil {
		return err
	}
	var in UpdateItemRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.SetQuantity(r.Context(), o, r.PathValue("product_id"), *in.Quantity)
	if err != nil {
		return err
	}
	return answer(w, c)
}

func (h *Handler) removeItem(w http.ResponseWriter, r *http.Request) error {
	o, err := ownerOf(r)
	if err != nil {
		return err
	}
	c, err := h.svc.RemoveItem(r.Context(), o, r.PathValue("product_id"))
	if err != nil {
		return err
	}
	return answer(w, c)
}

func (h *Handler) empty(w http.ResponseWriter, r *http.Request) error {
	o, err := ownerOf(r)
	if err != nil {
		return err
	}
	if err := h.svc.Empty(r.Context(), o); err != nil {
		return err
	}
	return web.NoContent(w)
}

func (h *Handler) merge(w http.ResponseWriter, r *http.Request) error {
	c, _ := auth.CallerFrom(r.Context())
	var in MergeRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	m, err := h.svc.Merge(r.Context(), c.UserID, in.CartToken)
	if err != nil {
		return err
	}
	return answer(w, m)
}

// InternalHandler serves the route the orders service calls at checkout.
func InternalHandler(svc *Service) *web.Router {
	r := web.NewRouter()
	r.HandleFunc("GET /internal/carts/{customer_id}", func(w http.ResponseWriter, r *http.Request) error {
		c, err := svc.Stored(r.Context(), r.PathValue("customer_id"))
		if err != nil {
			return err
		}
		return web.JSON(w, http.StatusOK, c)
	})
	return r
}
