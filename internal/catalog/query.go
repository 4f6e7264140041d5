package catalog

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// Query is a product listing request: filters, a sort and a page.
type Query struct {
	Category string // slug; the category and its descendants
	Text     string // q: case-insensitive substring of name or description
	MinPrice *int64
	MaxPrice *int64
	InStock  *bool
	Sort     string // price, -price, name, -created_at
	Status   string // active for the public; admins may ask for draft, archived or any
	Limit    int
	After    *cursor
}

// cursor is the sort keys of the last product of a page.
type cursor struct {
	ID        string     `json:"id"`
	Price     *int64     `json:"p,omitempty"`
	Name      *string    `json:"n,omitempty"`
	CreatedAt *time.Time `json:"c,omitempty"`
	Sort      string     `json:"s"` // price and -price share a key: the sort tells them apart
}

// sorts are the listing's orders. Each has an index of its own (led by
// status, see the migrations), and its keyset condition starts with a bound
// on the key alone, so that a later page seeks into that index instead of
// walking it from the start.
var sorts = map[string]struct {
	order string                      // ORDER BY
	after string                      // keyset condition, with $K for the key and $I for the id
	key   func(*Product) cursor       // the cursor after p
	arg   func(c *cursor) (any, bool) // the cursor's key, and whether it has one
}{
	"-created_at": {"p.created_at DESC, p.id",
		"p.created_at <= $K AND (p.created_at < $K OR (p.created_at = $K AND p.id > $I))",
		func(p *Product) cursor { t := p.CreatedAt; return cursor{ID: p.ID, CreatedAt: &t} },
		func(c *cursor) (any, bool) { return deref(c.CreatedAt) }},
	"price": {"p.price_amount, p.id",
		"p.price_amount >= $K AND (p.price_amount > $K OR (p.price_amount = $K AND p.id > $I))",
		func(p *Product) cursor { a := p.Price.Amount; return cursor{ID: p.ID, Price: &a} },
		func(c *cursor) (any, bool) { return deref(c.Price) }},
	"-price": {"p.price_amount DESC, p.id",
		"p.price_amount <= $K AND (p.price_amount < $K OR (p.price_amount = $K AND p.id > $I))",
		func(p *Product) cursor { a := p.Price.Amount; return cursor{ID: p.ID, Price: &a} },
		func(c *cursor) (any, bool) { return deref(c.Price) }},
	"name": {"p.sort_name, p.id",
		"p.sort_name >= $K AND (p.sort_name > $K OR (p.sort_name = $K AND p.id > $I))",
		func(p *Product) cursor { n := strings.ToLower(p.Name); return cursor{ID: p.ID, Name: &n} },
		func(c *cursor) (any, bool) { return deref(c.Name) }},
}

func deref[T any](p *T) (any, bool) {
	if p == nil {
		return nil, false
	}
	return *p, true
}

// ParseQuery reads a listing request. admin says whether the caller may list
// products that are not active.
func ParseQuery(r url.Values, page web.Page, after func(any) (bool, error), admin bool) (Query, error) {
	q := Query{Category: r.Get("category"), Text: strings.TrimSpace(r.Get("q")), Sort: r.Get("sort"),
		Status: StatusActive, Limit: page.Limit}
	var v errs.Validation
	if q.Sort == "" {
		q.Sort = "-created_at"
	}
	if _, ok := sorts[q.Sort]; !ok {
		v.Add("sort", `must be "price", "-price", "name" or "-created_at"`)
	}
	checkText(&v, "q", q.Text, 0, 100)
	q.MinPrice = intParam(&v, r, "min_price")
	q.MaxPrice = intParam(&v, r, "max_price")
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MinPrice > *q.MaxPrice {
		v.Add("max_price", "must not be less than min_price")
	}
	if s := r.Get("in_stock"); s != "" {
		b, err := strconv.ParseBool(s)
		v.Check(err == nil, "in_stock", "must be true or false")
		if b { // false filters nothing (the OpenAPI document)
			q.InStock = &b
		}
	}
	if s := r.Get("status"); s != "" && admin {
		v.Check(s == "any" || s == StatusActive || s == StatusDraft || s == StatusArchived, "status",
			`must be "active", "draft", "archived" or "any"`)
		q.Status = s
	}
	if err := v.Err(); err != nil {
		return Query{}, err
	}
	var c cursor
	ok, err := after(&c)
	if err != nil {
		return Query{}, err
	}
	if ok {
		if _, has := sorts[q.Sort].arg(&c); !has || c.ID == "" || c.Sort != q.Sort {
			return Query{}, errs.Invalidf("cursor", "belongs to another sort")
		}
		q.After = &c
	}
	return q, nil
}

func intParam(v *errs.Validation, r url.Values, name string) *int64 {
	s := r.Get(name)
	if s == "" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		v.Add(name, "must be a non-negative integer (minor units)")
		return nil
	}
	return &n
}

// cursorAfter is the cursor of the page that follows p in sort.
func cursorAfter(sort string, p *Product) string {
	c := sorts[sort].key(p)
	c.Sort = sort
	return web.Cursor(c)
}

// key is the query in a canonical form, for cache keys.
func (q Query) key() string {
	var b strings.Builder
	b.WriteString(q.Category + "|" + q.Text + "|" + q.Sort + "|" + q.Status + "|" + itoa(int64(q.Limit)) + "|")
	for _, n := range []*int64{q.MinPrice, q.MaxPrice} {
		if n != nil {
			b.WriteString(itoa(*n))
		}
		b.WriteString("|")
	}
	if q.InStock != nil {
		b.WriteString(strconv.FormatBool(*q.InStock))
	}
	b.WriteString("|")
	if q.After != nil {
		b.WriteString(web.Cursor(q.After))
	}
	return b.String()
}
