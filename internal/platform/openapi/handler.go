package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"emporium/internal/platform/web"
)

// Handler serves doc, a service's OpenAPI document, as it is: Content-Type
// application/json when it is JSON and application/yaml otherwise,
// Cache-Control "public, max-age=300", and an ETag, so that If-None-Match gets
// 304. It answers GET and HEAD; other methods get a 405 problem. Handler does
// not parse doc: the service's tests load it with Load. It serves doc itself,
// not a copy (the services' documents are embedded, 224 KiB together): the
// caller must not change it.
func Handler(doc []byte) http.Handler {
	sum := sha256.Sum256(doc)
	h := &docHandler{
		doc:         doc,
		etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
		contentType: "application/yaml",
	}
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		h.contentType = "application/json"
	}
	return h
}

type docHandler struct {
	doc         []byte
	etag        string
	contentType string
}

func (h *docHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		web.WriteProblem(w, web.Problem{
			Type:   "/problems/method_not_allowed",
			Title:  http.StatusText(http.StatusMethodNotAllowed),
			Status: http.StatusMethodNotAllowed,
			Detail: "the document is read with GET",
			Code:   "method_not_allowed",
		})
		return
	}
	w.Header().Set("Content-Type", h.contentType)
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("ETag", h.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.doc))
}
