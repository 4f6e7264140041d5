// Package catalog is the catalog service: products and their category tree,
// browsing with filters, sorts and keyset pages, and inventory with expiring
// stock reservations that never oversell — the database refuses a hold larger
// than what is available, whatever the number of replicas.
package catalog

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
)

// Product statuses. Only active products are listed publicly and can be reserved.
const (
	StatusDraft    = "draft"
	StatusActive   = "active"
	StatusArchived = "archived"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money = event.Money

// Product is an item for sale. Available is the stock that can be reserved
// now; in reads it may be up to a second old (freshFor).
type Product struct {
	ID          string            `json:"id"`
	SKU         string            `json:"sku"`
	Name        string            `json:"name"`
	Slug        string            `json:"slug"`
	Description string            `json:"description"`
	Price       Money             `json:"price"`
	CategoryIDs []string          `json:"category_ids"`
	Attributes  map[string]string `json:"attributes"`
	Images      []string          `json:"images"`
	Status      string            `json:"status"`
	Available   int64             `json:"available"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Version     int64             `json:"-"`
}

// ProductSummary is what a service that shows or prices a product needs of
// it: GET /internal/products?view=summary answers these. Available comes
// last, so that a rendered summary ends with it (answers.go).
type ProductSummary struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Price     Money  `json:"price"`
	Status    string `json:"status"`
	Available int64  `json:"available"`
}

// Summary is the product's ProductSummary.
func (p *Product) Summary() ProductSummary {
	return ProductSummary{ID: p.ID, SKU: p.SKU, Name: p.Name, Price: p.Price, Status: p.Status,
		Available: p.Available}
}

// ETag identifies this representation: it changes with an edit (the version)
// and with the availability.
func (p *Product) ETag() string {
	return `"` + itoa(p.Version) + "-" + itoa(p.Available) + `"`
}

// Category is a node of the category tree.
type Category struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Slug     string      `json:"slug"`
	ParentID *string     `json:"parent_id"`
	Position int         `json:"position"`
	Children []*Category `json:"children"`
}

// Inventory is a product's stock.
type Inventory struct {
	ProductID string `json:"product_id"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
}

// ShortLine is a line that cannot be reserved in full.
type ShortLine struct {
	ProductID string `json:"product_id"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// The service's errors, with API.md's codes.
var (
	ErrProductNotFound  = errs.New(errs.NotFound, "not_found", "no such product")
	ErrCategoryNotFound = errs.New(errs.NotFound, "not_found", "no such category")
	ErrSKUTaken         = errs.New(errs.Conflict, "sku_taken", "another product has this SKU")
	ErrSlugTaken        = errs.New(errs.Conflict, "slug_taken", "this slug is taken")
	ErrCategoryNotEmpty = errs.New(errs.Conflict, "category_not_empty", "the category still has products or children")
	ErrInsufficient     = errs.New(errs.Conflict, "insufficient_stock", "not enough stock")
	ErrStale            = errs.New(errs.PreconditionFailed, "precondition_failed", "the product changed since it was read")
	ErrReservationGone  = errs.New(errs.NotFound, "not_found", "no such reservation")
	ErrTransition       = errs.New(errs.Conflict, "invalid_transition", "the reservation is not in a state that allows this")
	ErrExpired          = errs.New(errs.Conflict, "reservation_expired", "the reservation expired before it was committed")
	ErrMismatch         = errs.New(errs.Conflict, "reservation_mismatch",
		"this reservation_id was used for other lines")
)

// insufficient is ErrInsufficient naming the short lines.
func insufficient(lines []ShortLine) error {
	return ErrInsufficient.With(map[string]any{"lines": lines})
}

// slugLetters are what a slug is made of, with the marks that follow them:
// lower-case and caseless letters, and decimal digits.
var slugLetters = []*unicode.RangeTable{unicode.Ll, unicode.Lm, unicode.Lo, unicode.Nd}

var (
	skuPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	// slugPattern is the OpenAPI document's Slug pattern.
	slugPattern = regexp.MustCompile(`^[\p{Ll}\p{Lm}\p{Lo}\p{Nd}][\p{Ll}\p{Lm}\p{Lo}\p{Nd}\p{M}]*` +
		`(-[\p{Ll}\p{Lm}\p{Lo}\p{Nd}][\p{Ll}\p{Lm}\p{Lo}\p{Nd}\p{M}]*)*$`)
)

func checkSKU(v *errs.Validation, field, sku string) {
	v.Check(skuPattern.MatchString(sku), field, "must be 1 to 64 letters, digits, '.', '_' or '-'")
}

// checkSlug checks a slug: 1 to 100 characters, runs of lower-case or
// caseless letters (each with its marks) and digits with single hyphens
// between them, in NFC — so that one slug has one spelling. Every slug
// Slugify derives passes.
func checkSlug(v *errs.Validation, field, slug string) {
	v.Check(utf8.RuneCountInString(slug) <= 100 && slugPattern.MatchString(slug) && norm.NFC.IsNormalString(slug),
		field, "must be 1 to 100 lower-case letters and digits (in Unicode NFC), with single hyphens between")
}

func checkText(v *errs.Validation, field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	if n < min || n > max {
		if min > 0 {
			v.Add(field, "must be "+itoa(int64(min))+" to "+itoa(int64(max))+" characters")
		} else {
			v.Add(field, "must be at most "+itoa(int64(max))+" characters")
		}
	}
}

// maxPosition bounds a category's position either way: far more places than
// any shelf has, and well inside the 32-bit integer PostgreSQL stores.
const maxPosition = 1_000_000

func checkPosition(v *errs.Validation, field string, position int) {
	v.Check(position >= -maxPosition && position <= maxPosition, field, "must be from -1000000 to 1000000")
}

// maxPrice bounds a price: a million in major units of a two-decimal currency.
const maxPrice = 100_000_000

func checkPrice(v *errs.Validation, field string, m Money, currency string) {
	v.Check(m.Amount >= 1 && m.Amount <= maxPrice, field+".amount", "must be from 1 to 100000000 minor units")
	v.Check(m.Currency == currency, field+".currency", "must be the store's currency, "+currency)
}

func checkAttributes(v *errs.Validation, field string, attrs map[string]string) {
	if len(attrs) > 50 {
		v.Add(field, "may have at most 50 keys")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) { // by key, the same order every time
		if n := utf8.RuneCountInString(k); n < 1 || n > 50 {
			v.Add(field, "keys must be 1 to 50 characters")
			return
		}
		if utf8.RuneCountInString(attrs[k]) > 500 {
			v.Add(field+"."+k, "must be at most 500 characters")
		}
	}
}

func checkImages(v *errs.Validation, field string, images []string) {
	if len(images) > 20 {
		v.Add(field, "may have at most 20 URLs")
		return
	}
	for _, s := range images {
		u, err := url.Parse(s)
		if err != nil || len(s) > 2048 || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Add(field, "must be absolute http or https URLs of at most 2048 characters")
			return
		}
	}
}

func checkStatus(v *errs.Validation, field, status string) {
	v.Check(status == StatusDraft || status == StatusActive || status == StatusArchived, field,
		`must be "draft", "active" or "archived"`)
}

// Slugify derives a slug from a name: its letters and digits, lower-cased,
// every other run of characters one hyphen, at most 90 characters; "product"
// when nothing is left. Compatibility forms are unfolded first (NFKD: "ﬁ" is
// "fi", "①" is "1", full-width letters are ASCII). Latin letters lose their
// accents ("Crème brûlée" → "creme-brulee"); letters of other scripts keep
// their marks, since there a mark often makes another letter (Russian й is
// not и) or is a vowel ("Чай зелёный" → "чай-зелёный", "日本語" → "日本語").
// The result is in NFC, and passes checkSlug.
func Slugify(name string) string {
	var b strings.Builder
	dash := false  // a hyphen is due before the next letter
	marks := false // the last rune written is a letter whose marks are kept
	for _, r := range norm.NFKD.String(name) {
		if unicode.Is(unicode.M, r) {
			if marks {
				b.WriteRune(r)
			}
			continue
		}
		if lower := unicode.ToLower(r); unicode.In(lower, slugLetters...) {
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(lower)
			marks = unicode.IsLetter(lower) && !unicode.Is(unicode.Latin, lower)
			continue
		}
		// Anything else separates, upper-case letters with no lower case too.
		dash, marks = b.Len() > 0, false
	}
	s := norm.NFC.String(b.String())
	if runes := []rune(s); len(runes) > 90 {
		s = norm.NFC.String(strings.TrimRight(string(runes[:90]), "-"))
	}
	if s == "" {
		s = "product"
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
