package openapitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestCheckRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	all := []string{"GET /widgets", "POST /widgets", "GET /widgets/{id}", "DELETE /widgets/{id}"}
	tests := []struct {
		name       string
		registered []string
		ignore     []string
		want       []string // one failure per string, each containing it
	}{
		{"same routes in another order", []string{"DELETE /widgets/{id}", "GET /widgets",
			"GET /widgets/{id}", "POST /widgets"}, nil, nil},
		{"served but undocumented", append(slices.Clone(all), "GET /livez", "PUT /widgets/{id}"),
			nil, []string{"served but not documented:\n\tGET /livez\n\tPUT /widgets/{id}"}},
		{"ignored", append(slices.Clone(all), "GET /livez"), []string{"GET /livez"}, nil},
		{"documented but not served", all[:2], nil,
			[]string{"documented but not served:\n\tDELETE /widgets/{id}\n\tGET /widgets/{id}"}},
		{"wildcard renamed", []string{"GET /widgets", "POST /widgets", "GET /widgets/{wid}",
			"DELETE /widgets/{id}"}, nil,
			[]string{"not documented:\n\tGET /widgets/{wid}", "not served:\n\tGET /widgets/{id}"}},
		{"both directions", []string{"GET /widgets", "GET /gadgets"}, []string{"POST /widgets"},
			[]string{"not documented:\n\tGET /gadgets",
				"not served:\n\tDELETE /widgets/{id}\n\tGET /widgets/{id}"}},
	}
	for _, tt := range tests {
		rec := &recorder{TB: t}
		CheckRoutes(rec, doc, tt.registered, tt.ignore...)
		got := rec.failures()
		if len(got) != len(tt.want) {
			t.Errorf("%s: failures = %q, want %d", tt.name, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: failure %q does not contain %q", tt.name, got[i], w)
			}
		}
	}
}

// widgetService serves the widgets document's routes, some of them wrongly,
// plus a health route the document does not describe.
func widgetService() http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, status int, ct, body string) {
		w.Header().Set("X-Request-ID", "r1")
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	mux.HandleFunc("GET /widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "good":
			write(w, 200, "application/json", `{"id":"good","name":"Bolt","count":1}`)
		case "bad":
			write(w, 200, "application/json", `{"id":"bad","name":"Bolt","count":"one"}`)
		default:
			write(w, 404, "application/problem+json", notFound)
		}
	})
	mux.HandleFunc("DELETE /widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, "", "") // documented: 204
	})
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		write(w, 200, "text/plain", "ok")
	})
	return mux
}

// exchange is one request of the transport and handler tests.
type exchange struct {
	method, path string
	wantFailure  string // "" when the response matches the document
}

var exchanges = []exchange{
	{"GET", "/widgets/good", ""},
	{"GET", "/widgets/missing", ""},
	{"GET", "/livez", ""}, // ignored
	{"GET", "/widgets/bad", "/count"},
	{"DELETE", "/widgets/good", "status is not documented"},
}

func TestValidatingTransport(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	srv := httptest.NewServer(widgetService())
	t.Cleanup(srv.Close)
	for _, ex := range exchanges {
		rec := &recorder{TB: t}
		client := &http.Client{Transport: ValidatingTransport(rec, doc, nil, "GET /livez")}
		req, err := http.NewRequest(ex.method, srv.URL+ex.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", ex.method, ex.path, err)
		}
		body, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the body after validation: %v", ex.method, ex.path, err)
		}
		if ex.path == "/widgets/good" && ex.method == "GET" && !strings.Contains(string(body),
			`"name":"Bolt"`) {
			t.Errorf("GET /widgets/good body = %q: the caller lost the body", body)
		}
		checkFailures(t, ex, rec.failures())
	}
}

func TestValidatingHandler(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	for _, ex := range exchanges {
		rec := &recorder{TB: t}
		h := ValidatingHandler(rec, doc, widgetService(), "GET /livez")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(ex.method, ex.path, nil))
		if ex.path == "/widgets/good" && ex.method == "GET" && w.Code != 200 {
			t.Errorf("GET /widgets/good = %d: the wrapped handler's answer was lost", w.Code)
		}
		checkFailures(t, ex, rec.failures())
	}
}

func TestValidatingHandlerDefaultStatus(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	rec := &recorder{TB: t}
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	ValidatingHandler(rec, doc, silent).ServeHTTP(httptest.NewRecorder(),
		httptest.NewRequest("DELETE", "/widgets/w1", nil))
	checkFailures(t, exchange{"DELETE", "/widgets/w1", "answered 200"}, rec.failures())
}

func TestIgnorePatternMustBeValid(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	rec := &recorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != errFatal {
				t.Errorf("recovered %v, want the recorder's Fatalf", r)
			}
		}()
		ValidatingTransport(rec, doc, nil, "GET /{bad-name}")
	}()
	if got := rec.failures(); len(got) != 1 || !strings.Contains(got[0], "ignore pattern") {
		t.Errorf("failures = %q, want one about the ignore pattern", got)
	}
}

func checkFailures(t *testing.T, ex exchange, got []string) {
	t.Helper()
	switch {
	case ex.wantFailure == "" && len(got) > 0:
		t.Errorf("%s %s: unexpected failures %q", ex.method, ex.path, got)
	case ex.wantFailure != "" && (len(got) != 1 || !strings.Contains(got[0], ex.wantFailure)):
		t.Errorf("%s %s: failures %q, want one containing %q", ex.method, ex.path, got,
			ex.wantFailure)
	}
}

// conformingDoc keeps every house rule CheckConventions checks.
const conformingDoc = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /things:
    get:
      operationId: listThings
      summary: List things
      description: Lists the things.
      security: [{bearerAuth: []}]
      responses:
        "200": {description: ok, headers: {X-Request-ID: {$ref: "#/components/headers/RequestID"}}}
        "401":
          description: no token
          headers:
            X-Request-ID: {$ref: "#/components/headers/RequestID"}
            WWW-Authenticate: {schema: {type: string}}
          content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}
        "500": {$ref: "#/components/responses/Internal"}
        "503":
          description: down
          headers:
            X-Request-ID: {$ref: "#/components/headers/RequestID"}
            Retry-After: {schema: {type: integer}}
          content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}
components:
  securitySchemes: {bearerAuth: {type: http, scheme: bearer}}
  headers:
    RequestID: {required: true, schema: {type: string}}
  responses:
    Internal:
      description: error
      headers: {X-Request-ID: {$ref: "#/components/headers/RequestID"}}
      content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}
  schemas:
    Problem:
      type: object
      required: [type, title, status, code]
      properties:
        type: {type: string}
        title: {type: string}
        status: {type: integer}
        code: {type: string}
`

func TestCheckConventions(t *testing.T) {
	good, err := Load([]byte(conformingDoc))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	CheckConventions(rec, good)
	if got := rec.failures(); len(got) > 0 {
		t.Errorf("a conforming document was reported:\n%s", strings.Join(got, "\n"))
	}
	tests := []struct{ name, from, to, want string }{
		{"no request id", "required: true", "required: false", "X-Request-ID"},
		{"no description", "description: Lists the things.", "", "no description"},
		{"no Retry-After", "Retry-After:", "X-Retry:", "Retry-After"},
		{"no WWW-Authenticate", "WWW-Authenticate:", "X-Auth:", "WWW-Authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Load([]byte(strings.Replace(conformingDoc, tt.from, tt.to, 1)))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{TB: t}
			CheckConventions(rec, doc)
			if got := strings.Join(rec.failures(), "\n"); !strings.Contains(got, tt.want) {
				t.Errorf("failures %q do not mention %q", got, tt.want)
			}
		})
	}
}

// TestCheckConventions401: an operation that needs a bearer token documents
// 401; one that also serves requests without a token need not, since a bad
// token counts as none there.
func TestCheckConventions401(t *testing.T) {
	const block = `        "401":
          description: no token
          headers:
            X-Request-ID: {$ref: "#/components/headers/RequestID"}
            WWW-Authenticate: {schema: {type: string}}
          content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}
`
	if !strings.Contains(conformingDoc, block) {
		t.Fatal("conformingDoc has no 401 block to remove")
	}
	no401 := strings.Replace(conformingDoc, block, "", 1)
	tests := []struct {
		name, security string
		wantFailure    bool
	}{
		{"token required", "security: [{bearerAuth: []}]", true},
		{"token optional", "security: [{}, {bearerAuth: []}]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Load([]byte(strings.Replace(no401, "security: [{bearerAuth: []}]",
				tt.security, 1)))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{TB: t}
			CheckConventions(rec, doc)
			got := strings.Join(rec.failures(), "\n")
			if strings.Contains(got, "documents no 401") != tt.wantFailure {
				t.Errorf("failures %q; want a missing 401 reported: %v", got, tt.wantFailure)
			}
		})
	}
}
