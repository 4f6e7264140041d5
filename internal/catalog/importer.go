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
	"emporium/internal/platform/sqldb"
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

// importBatch is how many products Import creates in one transaction.
const importBatch = 250

// Import creates the file's categories that do not exist yet, then each
// product with its starting stock, both in one transaction, so a failure
// leaves neither and the row can be imported again. A product that cannot be
// created — bad data, a taken SKU, an unknown category — is reported and
// skipped; the rest go on. progress, if not nil, is called after each product.
//
// Products are created importBatch at a time in one transaction (a commit
// each is what an import of many rows would spend its time on); a batch in
// which one row fails is rolled back and created again one row at a time,
// so each good row is still imported and each bad one reported.
func (s *Service) Import(ctx context.Context, f ImportFile, progress func(done, total int)) (ImportResult, error) {
	var res ImportResult
	slugs, err := s.ensureCategories(ctx, f.Categories)
	if err != nil {
		return res, fmt.Errorf("import categories: %w", err)
	}
	for start := 0; start < len(f.Products); start += importBatch {
		end := min(start+importBatch, len(f.Products))
		if rejected, ok := s.importBatch(ctx, f.Products[start:end], slugs); ok {
			for i := range rejected {
				rejected[i].Row += start
			}
			res.Imported += end - start - len(rejected)
			res.Rejected = append(res.Rejected, rejected...)
			if progress != nil {
				for i := start; i < end; i++ {
					progress(i+1, len(f.Products))
				}
			}
			continue
		}
		for i := start; i < end; i++ {
			row := f.Products[i]
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
	}
	return res, nil
}

// importBatch creates the good rows of a batch in one transaction, and
// returns the rows it rejected before touching the database (Row counted
// from 1 in the batch). It reports false, having created nothing, when a
// row fails in the database: the caller goes one row at a time.
func (s *Service) importBatch(ctx context.Context, rows []ImportProduct,
	categories map[string]string) ([]Rejected, bool) {
	type good struct {
		p          *Product
		deriveSlug bool
		stock      int64
	}
	var goods []good
	var rejected []Rejected
	for i, row := range rows {
		in, err := s.importRequest(row, categories)
		var p *Product
		if err == nil {
			p, err = s.newProduct(in)
		}
		if err != nil {
			rejected = append(rejected, Rejected{Row: i + 1, SKU: row.SKU, Reason: reason(err), Err: err})
			continue
		}
		goods = append(goods, good{p, in.Slug == "", row.Stock})
	}
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		for _, g := range goods {
			if err := s.insertNew(ctx, tx, g.p, g.deriveSlug, g.stock, "imported"); err != nil {
				return err
			}
		}
		return nil
	})
	return rejected, err == nil
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
	in, err := s.importRequest(row, categories)
	if err != nil {
		return err
	}
	_, err = s.createProduct(ctx, in, row.Stock, "imported")
	return err
}

// importRequest is a row as a request to create a product.
func (s *Service) importRequest(row ImportProduct, categories map[string]string) (CreateProductRequest, error) {
	in := CreateProductRequest{SKU: row.SKU, Name: row.Name, Price: Money{Amount: row.Price, Currency: s.currency},
		Slug: row.Slug, Description: row.Description, Attributes: row.Attributes, Images: row.Images, Status: row.Status}
	for _, slug := range row.Categories {
		id, ok := categories[slug]
		if !ok {
			return in, errs.Invalidf("categories", "no category has the slug %q", slug)
		}
		in.CategoryIDs = append(in.CategoryIDs, id)
	}
	if row.Stock < 0 || row.Stock > 1_000_000 {
		return in, errs.Invalidf("stock", "must be from 0 to 1000000")
	}
	return in, nil
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
