package orders

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// CheckoutRequest is the body of POST /api/v1/orders.
type CheckoutRequest struct {
	ShippingAddress *AddressRequest `json:"shipping_address"`
}

// AddressRequest is a shipping address as a client sends it.
type AddressRequest struct {
	Name       string  `json:"name"`
	Line1      string  `json:"line1"`
	Line2      *string `json:"line2"`
	City       string  `json:"city"`
	PostalCode string  `json:"postal_code"`
	Country    string  `json:"country"`
}

// Validate checks the address field by field. Every text is trimmed of
// surrounding spaces and may not hold control characters; name 1–100
// characters, line1 1–200, line2 (optional; empty or null means none) up to
// 200, city 1–100, postal_code 1–16 letters, digits, spaces and hyphens,
// country an assigned ISO 3166-1 alpha-2 code (any case; kept upper case).
func (r *CheckoutRequest) Validate() error {
	var v errs.Validation
	a := r.ShippingAddress
	if a == nil {
		v.Add("shipping_address", "is required")
		return v.Err()
	}
	const p = "shipping_address."
	a.Name = checkText(&v, p+"name", a.Name, 1, 100)
	a.Line1 = checkText(&v, p+"line1", a.Line1, 1, 200)
	if a.Line2 != nil {
		line2 := checkText(&v, p+"line2", *a.Line2, 0, 200)
		a.Line2 = &line2
		if line2 == "" {
			a.Line2 = nil
		}
	}
	a.City = checkText(&v, p+"city", a.City, 1, 100)
	a.PostalCode = strings.TrimSpace(a.PostalCode)
	v.Check(postalCode(a.PostalCode), p+"postal_code",
		"must be 1 to 16 letters, digits, spaces and hyphens")
	a.Country = strings.ToUpper(strings.TrimSpace(a.Country))
	v.Check(isCountry(a.Country), p+"country", "must be an ISO 3166-1 alpha-2 country code, such as US")
	return v.Err()
}

// address is the validated address.
func (r *CheckoutRequest) address() Address {
	a := r.ShippingAddress
	return Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, City: a.City,
		PostalCode: a.PostalCode, Country: a.Country}
}

// checkText trims s and checks its length in characters and that it has no
// control characters; it returns s trimmed.
func checkText(v *errs.Validation, field, s string, min, max int) string {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n < min || n > max:
		if min > 0 {
			v.Add(field, "must be "+strconv.Itoa(min)+" to "+strconv.Itoa(max)+" characters")
		} else {
			v.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
		}
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.Add(field, "must not contain control characters")
	}
	return s
}

func postalCode(s string) bool {
	if len(s) < 1 || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' ||
			r == '-') {
			return false
		}
	}
	return true
}

// maxKeyLength bounds an Idempotency-Key.
const maxKeyLength = 255

// checkKey checks an Idempotency-Key header: required (400
// idempotency_key_required), at most 255 visible ASCII characters (422
// naming the header).
func checkKey(key string) error {
	if key == "" {
		return ErrKeyRequired
	}
	if len(key) > maxKeyLength || strings.IndexFunc(key, func(r rune) bool { return r < '!' || r > '~' }) >= 0 {
		return errs.Invalidf("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
	}
	return nil
}

// requestHash is the SHA-256 of a JSON body in a canonical form — object
// members sorted by name, no insignificant space, numbers as written — so
// that two bodies that say the same are the same request whatever their
// layout or member order.
func requestHash(body []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	canonical, err := json.Marshal(v) // sorts the members of every object
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

// StatusRequest is the body of POST /api/v1/admin/orders/{id}/status.
type StatusRequest struct {
	Status         string  `json:"status"`
	TrackingNumber *string `json:"tracking_number"`
}

// Validate checks the fields: status shipped or delivered (anything else is
// 422 naming status); a tracking number, 1 to 100 visible characters, only
// with shipped.
func (r *StatusRequest) Validate() error {
	var v errs.Validation
	v.Check(r.Status == StatusShipped || r.Status == StatusDelivered, "status",
		`must be "shipped" or "delivered"`)
	if r.TrackingNumber != nil {
		t := checkText(&v, "tracking_number", *r.TrackingNumber, 1, 100)
		r.TrackingNumber = &t
		if r.Status == StatusDelivered {
			v.Add("tracking_number", "is given only with status shipped")
		}
	}
	return v.Err()
}

func (r *StatusRequest) tracking() string {
	if r.TrackingNumber == nil {
		return ""
	}
	return *r.TrackingNumber
}

// ListQuery is a request for a page of orders.
type ListQuery struct {
	CustomerID string // "" for every customer (admins only)
	Status     string // "" for every status
	Limit      int
	After      *listCursor
}

// ParseListQuery reads ?status= (one of the public statuses), and for
// admins ?customer_id=, with the page. customerID is the caller's own id for
// a customer's list, "" for an admin's.
func ParseListQuery(q url.Values, page web.Page, customerID string) (ListQuery, error) {
	lq := ListQuery{CustomerID: customerID, Status: q.Get("status"), Limit: page.Limit}
	var v errs.Validation
	if lq.Status != "" {
		v.Check(slices.Contains(publicStatuses, lq.Status), "status",
			"must be one of "+strings.Join(publicStatuses, ", "))
	}
	if customerID == "" {
		lq.CustomerID = q.Get("customer_id")
		v.Check(len(lq.CustomerID) <= 100, "customer_id", "must be at most 100 characters")
	}
	if err := v.Err(); err != nil {
		return ListQuery{}, err
	}
	var c listCursor
	ok, err := page.After(&c)
	if err != nil {
		return ListQuery{}, err
	}
	if ok {
		if c.ID == "" || c.CreatedAt.IsZero() {
			return ListQuery{}, errs.Invalidf("cursor", "is not a cursor this list returned")
		}
		lq.After = &c
	}
	return lq, nil
}
