package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"
)

// freshFor is how long an in-process cache serves a rendered answer as it
// is, without asking the database. So availability may lag a stock change
// made through another replica by at most this long (the OpenAPI document
// says so); a stock change made through this instance drops the product's
// answer at once, and reservations and checkout always read the database.
// Edits are not affected: they drop every answer they touch when they
// commit, here, and on other replicas when their event arrives.
const freshFor = time.Second

// answer is a product or a listing page ready to write: its JSON body and,
// for a product, its ETag. Answers are never changed once made: a recheck
// makes a new one.
type answer struct {
	body    []byte
	etag    string    // a product's
	status  string    // a product's: the public sees active ones only
	items   []item    // the products in it, to recheck them
	next    string    // a page's next cursor
	gen     uint64    // a page's listings generation, when the cache is shared
	checked time.Time // when versions and availability were last read from the database
	stock   uint64    // the instance's stock epoch then (pages only)
}

// item is one product of an answer: its JSON split around the value of
// "available", so that a new availability is written without encoding the
// product again.
type item struct {
	id         string
	version    int64
	available  int64
	head, tail []byte
	// summaryHead is the product's ProductSummary in JSON up to its
	// availability, which ends it.
	summaryHead []byte
}

// availableKey precedes the availability in a product's JSON. Only the
// times follow it there, so its last occurrence is the field itself (an
// attribute named "available" comes earlier).
var availableKey = []byte(`,"available":`)

func newItem(p *Product) (item, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return item{}, err
	}
	i := bytes.LastIndex(b, availableKey)
	if i < 0 {
		return item{}, errors.New("encode product: no availability in its JSON")
	}
	i += len(availableKey)
	j := bytes.IndexByte(b[i:], ',')
	if j < 0 {
		return item{}, errors.New("encode product: nothing after its availability")
	}
	sb, err := json.Marshal(p.Summary())
	if err != nil {
		return item{}, err
	}
	k := bytes.LastIndex(sb, availableKey)
	if k < 0 {
		return item{}, errors.New("encode product summary: no availability in its JSON")
	}
	return item{id: p.ID, version: p.Version, available: p.Available, head: b[:i], tail: b[i+j:],
		summaryHead: sb[:k+len(availableKey)]}, nil
}

// appendSummaryTo appends the product's ProductSummary in JSON.
func (it item) appendSummaryTo(b []byte) []byte {
	b = append(b, it.summaryHead...)
	b = strconv.AppendInt(b, it.available, 10)
	return append(b, '}')
}

func (it item) appendTo(b []byte) []byte {
	b = append(b, it.head...)
	b = strconv.AppendInt(b, it.available, 10)
	return append(b, it.tail...)
}

// productAnswer is one product's answer, as web.JSON writes it.
func productAnswer(it item, status string, checked time.Time) *answer {
	body := make([]byte, 0, len(it.head)+len(it.tail)+21)
	body = append(it.appendTo(body), '\n')
	etag := `"` + itoa(it.version) + "-" + itoa(it.available) + `"`
	return &answer{body: body, etag: etag, status: status, items: []item{it}, checked: checked}
}

// pageAnswer is a listing page's answer, as web.JSON writes a web.List.
func pageAnswer(items []item, next string, gen uint64, checked time.Time, stock uint64) *answer {
	n := 32 + len(next)
	for _, it := range items {
		n += len(it.head) + len(it.tail) + 21
	}
	body := make([]byte, 0, n)
	body = append(body, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			body = append(body, ',')
		}
		body = it.appendTo(body)
	}
	body = append(body, ']')
	if next != "" {
		body = append(body, `,"next_cursor":`...)
		body = strconv.AppendQuote(body, next) // a cursor is base64url: nothing to escape
	}
	body = append(body, "}\n"...)
	return &answer{body: body, items: items, next: next, gen: gen, checked: checked, stock: stock}
}

// setAnswer is the JSON of a web.List of the answers' products, or of their
// summaries, as web.JSON writes it: what GET /internal/products answers.
func setAnswer(as []*answer, summary bool) []byte {
	n := 16
	for _, a := range as {
		if summary {
			n += len(a.items[0].summaryHead) + 22
		} else {
			n += len(a.items[0].head) + len(a.items[0].tail) + 21
		}
	}
	body := make([]byte, 0, n)
	body = append(body, `{"items":[`...)
	for i, a := range as {
		if i > 0 {
			body = append(body, ',')
		}
		if summary {
			body = a.items[0].appendSummaryTo(body)
		} else {
			body = a.items[0].appendTo(body)
		}
	}
	return append(body, "]}\n"...)
}

// newPageAnswer renders a page of products.
func newPageAnswer(ps []*Product, next string, gen uint64, checked time.Time, stock uint64) (*answer, error) {
	items := make([]item, len(ps))
	for i, p := range ps {
		it, err := newItem(p)
		if err != nil {
			return nil, err
		}
		items[i] = it
	}
	return pageAnswer(items, next, gen, checked, stock), nil
}

// maxPages bounds the listing pages an instance keeps rendered: a page of
// 100 products is some 100 KB, and the popular pages are few.
const maxPages = 256

// answers holds an instance's rendered answers: products by id (up to
// maxProducts), listing pages by query (up to maxPages). A full map drops an
// arbitrary answer for a new one.
type answers struct {
	mu          sync.RWMutex
	products    map[string]*answer
	pages       map[string]*answer
	maxProducts int
	// epoch counts invalidations: an answer made from reads that began
	// before one is not kept, since it may hold what the write changed.
	epoch uint64
}

func newAnswers(maxProducts int) *answers {
	return &answers{products: map[string]*answer{}, pages: map[string]*answer{},
		maxProducts: max(maxProducts, 1)}
}

func (h *answers) product(id string) *answer {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.products[id]
}

// productsOf returns the answers of the products, nil where there is none,
// under one lock.
func (h *answers) productsOf(ids []string) []*answer {
	out := make([]*answer, len(ids))
	h.mu.RLock()
	defer h.mu.RUnlock()
	for i, id := range ids {
		out[i] = h.products[id]
	}
	return out
}

func (h *answers) page(key string) *answer {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.pages[key]
}

// currentEpoch is the epoch to pass to put for an answer made from reads
// that begin now.
func (h *answers) currentEpoch() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.epoch
}

// putProduct keeps a product's answer, unless an invalidation came after epoch.
func (h *answers) putProduct(id string, a *answer, epoch uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.epoch == epoch {
		put(h.products, id, a, h.maxProducts)
	}
}

// putPage keeps a page's answer, unless an invalidation came after epoch.
func (h *answers) putPage(key string, a *answer, epoch uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.epoch == epoch {
		put(h.pages, key, a, maxPages)
	}
}

func put(m map[string]*answer, key string, a *answer, limit int) {
	if _, ok := m[key]; !ok && len(m) >= limit {
		for k := range m {
			delete(m, k)
			break
		}
	}
	m[key] = a
}

// invalidate drops the answers of the products and every page.
func (h *answers) invalidate(productIDs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.epoch++
	for _, id := range productIDs {
		delete(h.products, id)
	}
	clear(h.pages)
}

// dropProducts drops the answers of the products, whose stock changed.
func (h *answers) dropProducts(productIDs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range productIDs {
		delete(h.products, id)
	}
}
