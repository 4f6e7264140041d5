package catalog

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/openapi"
	"emporium/internal/platform/web"
)

// Handler serves the catalog's public routes.
type Handler struct {
	svc    *Service
	router *web.Router
}

// NewHandler routes the public API of API.md's Catalog section to svc.
func NewHandler(svc *Service) *Handler {
	h := &Handler{svc: svc, router: web.NewRouter()}
	r := h.router
	admin := func(f web.HandlerFunc) web.HandlerFunc { return auth.RequireRole(auth.RoleAdmin, f) }
	r.HandleFunc("GET /api/v1/products", h.listProducts)
	r.HandleFunc("POST /api/v1/products", admin(h.createProduct))
	r.HandleFunc("GET /api/v1/products/{id}", h.product)
	r.HandleFunc("PATCH /api/v1/products/{id}", admin(h.updateProduct))
	r.HandleFunc("DELETE /api/v1/products/{id}", admin(h.archiveProduct))
	r.HandleFunc("GET /api/v1/products/{id}/inventory", admin(h.inventory))
	r.HandleFunc("POST /api/v1/products/{id}/inventory/adjustments", admin(h.adjust))
	r.HandleFunc("GET /api/v1/categories", h.categories)
	r.HandleFunc("POST /api/v1/categories", admin(h.createCategory))
	r.HandleFunc("PATCH /api/v1/categories/{id}", admin(h.updateCategory))
	r.HandleFunc("DELETE /api/v1/categories/{id}", admin(h.deleteCategory))
	r.Handle("GET /openapi/catalog.yaml", openapi.Handler(OpenAPI))
	return h
}

// ServeHTTP serves the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Routes lists the registered route patterns, for the OpenAPI check.
func (h *Handler) Routes() []string { return h.router.Routes() }

func isAdmin(r *http.Request) bool {
	c, ok := auth.CallerFrom(r.Context())
	return ok && c.IsAdmin()
}

func (h *Handler) listProducts(w http.ResponseWriter, r *http.Request) error {
	pg, err := web.PageFrom(r)
	if err != nil {
		return err
	}
	q, err := ParseQuery(r.URL.Query(), pg, pg.After, isAdmin(r))
	if err != nil {
		return err
	}
	a, err := h.svc.listAnswer(r.Context(), q)
	if err != nil {
		return err
	}
	return writeAnswer(w, a.body)
}

func (h *Handler) product(w http.ResponseWriter, r *http.Request) error {
	a, err := h.svc.productAnswer(r.Context(), r.PathValue("id"), isAdmin(r))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", a.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && web.ETagMatches(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeAnswer(w, a.body)
}

// writeAnswer writes a rendered JSON answer with 200.
func writeAnswer(w http.ResponseWriter, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

func (h *Handler) createProduct(w http.ResponseWriter, r *http.Request) error {
	var in CreateProductRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.CreateProduct(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/products/"+p.ID)
	w.Header().Set("ETag", p.ETag())
	return web.JSON(w, http.StatusCreated, p)
}

func (h *Handler) updateProduct(w http.ResponseWriter, r *http.Request) error {
	var in UpdateProductRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	p, err := h.svc.UpdateProduct(r.Context(), r.PathValue("id"), r.Header.Get("If-Match"), in)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", p.ETag())
	return web.JSON(w, http.StatusOK, p)
}

func (h *Handler) archiveProduct(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.ArchiveProduct(r.Context(), r.PathValue("id"), r.Header.Get("If-Match")); err != nil {
		return err
	}
	return web.NoContent(w)
}

func (h *Handler) inventory(w http.ResponseWriter, r *http.Request) error {
	inv, err := h.svc.Inventory(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, inv)
}

func (h *Handler) adjust(w http.ResponseWriter, r *http.Request) error {
	var in AdjustmentRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	inv, err := h.svc.Adjust(r.Context(), r.PathValue("id"), in.Delta, in.Reason)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, inv)
}

func (h *Handler) categories(w http.ResponseWriter, r *http.Request) error {
	tree, err := h.svc.Categories(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, web.List[*Category]{Items: tree})
}

func (h *Handler) createCategory(w http.ResponseWriter, r *http.Request) error {
	var in CategoryRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.CreateCategory(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/categories/"+c.ID)
	return web.JSON(w, http.StatusCreated, c)
}

func (h *Handler) updateCategory(w http.ResponseWriter, r *http.Request) error {
	var in UpdateCategoryRequest
	if err := web.Decode(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.UpdateCategory(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, c)
}

func (h *Handler) deleteCategory(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteCategory(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return web.NoContent(w)
}

// InternalHandler serves the routes other services call: product lookup and
// stock reservations.
func InternalHandler(svc *Service) *web.Router {
	r := web.NewRouter()
	r.HandleFunc("GET /internal/products", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		ids := slices.DeleteFunc(dedupe(strings.Split(q.Get("ids"), ",")),
			func(id string) bool { return id == "" })
		if len(ids) == 0 || len(ids) > 100 {
			return errs.Invalidf("ids", "must name 1 to 100 products, comma-separated")
		}
		var summary bool
		switch q.Get("view") {
		case "", "full":
		case "summary":
			summary = true
		default:
			return errs.Invalidf("view", "must be full or summary")
		}
		switch q.Get("cached") {
		case "", "false":
		case "true":
			body, err := svc.productsAnswer(r.Context(), ids, summary)
			if err != nil {
				return err
			}
			return writeAnswer(w, body)
		default:
			return errs.Invalidf("cached", "must be true or false")
		}
		ps, err := svc.Products(r.Context(), ids)
		if err != nil {
			return err
		}
		if summary {
			sums := make([]ProductSummary, len(ps))
			for i, p := range ps {
				sums[i] = p.Summary()
			}
			return web.JSON(w, http.StatusOK, web.List[ProductSummary]{Items: sums})
		}
		return web.JSON(w, http.StatusOK, web.List[*Product]{Items: ps})
	})
	r.HandleFunc("POST /internal/reservations", func(w http.ResponseWriter, r *http.Request) error {
		var in ReserveRequest
		if err := web.Decode(w, r, &in); err != nil {
			return err
		}
		res, created, err := svc.Reserve(r.Context(), in)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return web.JSON(w, status, res)
	})
	r.HandleFunc("GET /internal/reservations/{id}", func(w http.ResponseWriter, r *http.Request) error {
		res, err := svc.Reservation(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return web.JSON(w, http.StatusOK, res)
	})
	transitions := map[string]func(context.Context, string) (*Reservation, error){
		"commit": svc.Commit, "release": svc.Release, "restock": svc.Restock,
	}
	for verb, do := range transitions {
		r.HandleFunc("POST /internal/reservations/{id}/"+verb, func(w http.ResponseWriter, r *http.Request) error {
			res, err := do(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			return web.JSON(w, http.StatusOK, res)
		})
	}
	return r
}
