package catalog

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"emporium/internal/platform/errs"
)

// ImportFile is a catalog to import: categories (parents before children) and
// products. The demo catalog is one, and so is a JSON file given to the
// import command; a CSV file holds products only.
type ImportFile struct {
	Categories []ImportCategory `json:"categories"`
	Products   []ImportProduct  `json:"products"`
}

// ImportCategory is a category to create, found by slug when it exists.
type ImportCategory struct {
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	Parent   string `json:"parent"` // the parent's slug; empty for a root
	Position int    `json:"position"`
}

// ImportProduct is one product row: prices in minor units of the store
// currency, categories by slug, stock as the starting on-hand quantity.
type ImportProduct struct {
	SKU         string            `json:"sku"`
	Name        string            `json:"name"`
	Price       int64             `json:"price"`
	Slug        string            `json:"slug"`
	Description string            `json:"description"`
	Categories  []string          `json:"categories"`
	Attributes  map[string]string `json:"attributes"`
	Images      []string          `json:"images"`
	Status      string            `json:"status"`
	Stock       int64             `json:"stock"`
}

// Rejected is an input row that was not imported, and why.
type Rejected struct {
	Row    int    // 1-based row of the input (CSV: the line after the header)
	SKU    string // as given
	Reason string
	Err    error // the reason as an error, for errors.Is
}

// ImportResult tells what an import did.
type ImportResult struct {
	Imported int
	Rejected []Rejected
}

// Import creates the file's categories that do not exist yet, then each
// product with its starting stock, both in one transaction, so a failure
// leaves neither and the row can be imported again. A product that cannot be
// created — bad data, a taken SKU, an unknown category — is reported and
// skipped; the rest go on. progress, if not nil, is called after each product.
func (s *Service) Import(ctx context.Context, f ImportFile, progress func(done, total int)) (ImportResult, error) {
	var res ImportResult
	slugs, err := s.ensureCategories(ctx, f.Categories)
	if err != nil {
		return res, fmt.Errorf("import categories: %w", err)
	}
	for i, row := range f.Products {
		if err := s.importProduct(ctx, row, slugs); err != nil {
			if errs.KindOf(err) == errs.Other {
				return res, fmt.Errorf("import row %d: %w", i+1, err)
			}
			res.Rejected = append(res.Rejected, Rejected{Row: i + 1, SKU: row.SKU, Reason: reason(err),
				Err: err})
		} else {
			res.Imported++
		}
		if progress != nil {
			progress(i+1, len(f.Products))
		}
	}
	return res, nil
}

func (s *Service) ensureCategories(ctx context.Context, cats []ImportCategory) (map[string]string, error) {
	all, err := allCategories(ctx, s.db)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, c := range all {
		ids[c.Slug] = c.ID
	}
	for _, c := range cats {
		if _, ok := ids[c.Slug]; ok {
			continue
		}
		in := CategoryRequest{Name: c.Name, Slug: c.Slug, Position: c.Position}
		if c.Parent != "" {
			parent, ok := ids[c.Parent]
			if !ok {
				return nil, fmt.Errorf("category %s: parent %s comes later or does not exist", c.Slug, c.Parent)
			}
			in.ParentID = &parent
		}
		if err := in.Validate(); err != nil {
			return nil, fmt.Errorf("category %s: %w", c.Slug, err)
		}
		created, err := s.CreateCategory(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("category %s: %w", c.Slug, err)
		}
		ids[c.Slug] = created.ID
	}
	return ids, nil
}

func (s *Service) importProduct(ctx context.Context, row ImportProduct, categories map[string]string) error {
	in := CreateProductRequest{SKU: row.SKU, Name: row.Name, Price: Money{Amount: row.Price, Currency: s.currency},
		Slug: row.Slug, Description: row.Description, Attributes: row.Attributes, Images: row.Images, Status: row.Status}
	for _, slug := range row.Categories {
		id, ok := categories[slug]
		if !ok {
			return errs.Invalidf("categories", "no category has the slug %q", slug)
		}
		in.CategoryIDs = append(in.CategoryIDs, id)
	}
	if row.Stock < 0 || row.Stock > 1_000_000 {
		return errs.Invalidf("stock", "must be from 0 to 1000000")
	}
	_, err := s.createProduct(ctx, in, row.Stock, "imported")
	return err
}

// reason renders a kinded error as one line for the import report.
func reason(err error) string {
	var e *errs.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return strings.Join(parts, "; ")
}

// ParseImport reads a JSON import file, or a CSV one with the header
// sku,name,price[,description,categories,status,stock,images,attributes,slug]
// where lists are separated by ";" and attributes are key=value pairs.
func ParseImport(name string, data []byte) (ImportFile, error) {
	if strings.HasSuffix(strings.ToLower(name), ".json") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		var f ImportFile
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return f, fmt.Errorf("%s: %w", name, err)
		}
		return f, nil
	}
	return parseCSV(name, data)
}

func parseCSV(name string, data []byte) (ImportFile, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return ImportFile{}, fmt.Errorf("%s: header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, required := range []string{"sku", "name", "price"} {
		if _, ok := col[required]; !ok {
			return ImportFile{}, fmt.Errorf("%s: the header has no %q column", name, required)
		}
	}
	var f ImportFile
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return f, fmt.Errorf("%s: %w", name, err)
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		p := ImportProduct{SKU: get("sku"), Name: get("name"), Slug: get("slug"), Description: get("description"),
			Status: get("status"), Categories: list(get("categories")), Images: list(get("images")),
			Attributes: map[string]string{}}
		p.Price, _ = strconv.ParseInt(get("price"), 10, 64) // 0 is refused by validation, with a reason
		if s := get("stock"); s != "" {
			if p.Stock, err = strconv.ParseInt(s, 10, 64); err != nil {
				p.Stock = -1 // refused by validation, with a reason
			}
		}
		for _, kv := range list(get("attributes")) {
			k, v, _ := strings.Cut(kv, "=")
			p.Attributes[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		f.Products = append(f.Products, p)
	}
}

func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ";") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
