package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Headers of well-formed responses.
var (
	jsonHeader    = http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}
	problemHeader = http.Header{"Content-Type": {"application/problem+json"},
		"X-Request-Id": {"r1"}}
	bareHeader = http.Header{"X-Request-Id": {"r1"}}
)

const notFound = `{"type":"/problems/not_found","title":"Not Found","status":404,` +
	`"detail":"no such widget","code":"not_found"}`

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	tests := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         string
		want         string // a part of the error; "" means valid
	}{
		{"valid list", "GET", "/widgets", 200, jsonHeader,
			`{"items":[{"id":"w1","name":"Bolt","count":3,"note":null,"tags":["a"]}]}`, ""},
		{"valid item", "GET", "/widgets/w1", 200, jsonHeader,
			`{"id":"w1","name":"Bolt","count":0,"note":"shiny"}`, ""},
		{"valid with charset", "GET", "/widgets/w1", 200,
			http.Header{"Content-Type": {"application/json; charset=utf-8"},
				"X-Request-Id": {"r1"}}, `{"id":"w1","name":"Bolt","count":0}`, ""},
		{"valid create", "POST", "/widgets", 201, jsonHeader,
			`{"id":"w1","name":"Bolt","count":1}`, ""},
		{"valid no content", "DELETE", "/widgets/w1", 204, bareHeader, "", ""},
		{"valid problem", "GET", "/widgets/w9", 404, problemHeader, notFound, ""},
		{"valid validation problem", "POST", "/widgets", 422, problemHeader,
			`{"type":"/problems/validation_failed","title":"Unprocessable Entity",` +
				`"status":422,"code":"validation_failed",` +
				`"errors":[{"field":"name","message":"is required"}]}`, ""},
		{"valid HEAD", "HEAD", "/widgets/w1", 200, jsonHeader, "", ""},

		{"wrong field type", "GET", "/widgets/w1", 200, jsonHeader,
			`{"id":"w1","name":"Bolt","count":"3"}`, "/count"},
		{"wrong type deep in a list", "GET", "/widgets", 200, jsonHeader,
			`{"items":[{"id":"w1","name":"Bolt","count":1,"tags":[7]}]}`, "/items/0/tags/0"},
		{"wrong type for a nullable in a list", "GET", "/widgets", 200, jsonHeader,
			`{"items":[{"id":"w1","name":"Bolt","count":1,"note":5}]}`, "/items/0/note"},
		{"unknown field in a list", "GET", "/widgets", 200, jsonHeader,
			`{"items":[{"id":"w1","name":"Bolt","count":1,"secret":"x"}]}`, "secret"},
		{"missing field in a list", "GET", "/widgets", 200, jsonHeader,
			`{"items":[{"id":"w1","count":1}]}`, "name"},
		{"wrong type for a nullable", "GET", "/widgets/w1", 200, jsonHeader,
			`{"id":"w1","name":"Bolt","count":1,"note":5}`, "/note"},
		{"missing required field", "GET", "/widgets/w1", 200, jsonHeader,
			`{"id":"w1","count":3}`, "name"},
		{"unknown field", "GET", "/widgets/w1", 200, jsonHeader,
			`{"id":"w1","name":"Bolt","count":3,"password_hash":"x"}`, "password_hash"},
		{"undocumented status", "GET", "/widgets/w1", 418, problemHeader,
			`{"type":"/problems/teapot","title":"I'm a teapot","status":418,"code":"teapot"}`,
			"status is not documented (documented: 200, 404)"},
		{"undocumented success status", "POST", "/widgets", 200, jsonHeader,
			`{"id":"w1","name":"Bolt","count":1}`, "status is not documented"},
		{"missing documented header", "GET", "/widgets/w1", 200,
			http.Header{"Content-Type": {"application/json"}},
			`{"id":"w1","name":"Bolt","count":1}`, `"X-Request-ID" missing`},
		{"undocumented content type", "GET", "/widgets/w1", 200,
			http.Header{"Content-Type": {"text/plain"}, "X-Request-Id": {"r1"}},
			`{"id":"w1","name":"Bolt","count":1}`, "text/plain"},
		{"not JSON", "GET", "/widgets/w1", 200, jsonHeader, `{"id":`, "decode"},
		{"empty body", "GET", "/widgets/w1", 200, jsonHeader, "", "empty body"},
		{"body on 204", "DELETE", "/widgets/w1", 204, jsonHeader, `{}`, "none is documented"},
		{"problem as plain JSON", "GET", "/widgets/w9", 404, jsonHeader, notFound,
			"want application/problem+json"},
		{"problem without code", "GET", "/widgets/w9", 404, problemHeader,
			`{"type":"/problems/not_found","title":"Not Found","status":404}`, "code"},
		{"problem with a bad code", "GET", "/widgets/w9", 404, problemHeader,
			`{"type":"/p","title":"Not Found","status":404,"code":"Not Found"}`, "/code"},
		{"problem status differs", "GET", "/widgets/w9", 404, problemHeader,
			`{"type":"/p","title":"Not Found","status":400,"code":"not_found"}`,
			"status member 400"},
		{"HEAD of a problem", "HEAD", "/widgets/w9", 404, problemHeader, "", ""},
		{"HEAD of an unknown route", "HEAD", "/nowhere", 404, problemHeader, "", ""},
		{"HEAD with undocumented status", "HEAD", "/widgets/w1", 202, jsonHeader, "",
			"status is not documented"},

		{"unknown route problem", "GET", "/nowhere", 404, problemHeader, notFound, ""},
		{"unknown route success", "GET", "/nowhere", 200, jsonHeader, `{}`,
			"no documented route"},
		{"unknown route text", "GET", "/nowhere", 404,
			http.Header{"Content-Type": {"text/plain"}}, "404 page not found", "problem+json"},
		{"wrong method with Allow", "PATCH", "/widgets/w1", 405,
			http.Header{"Content-Type": {"application/problem+json"}, "Allow": {"GET, DELETE"}},
			`{"type":"/p","title":"Method Not Allowed","status":405,` +
				`"code":"method_not_allowed"}`, ""},
		{"wrong method without Allow", "PATCH", "/widgets/w1", 405, problemHeader,
			`{"type":"/p","title":"Method Not Allowed","status":405,` +
				`"code":"method_not_allowed"}`, "Allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, "http://emporium.test"+tt.path, nil)
			err := doc.ValidateResponse(req, tt.status, tt.header, []byte(tt.body))
			checkErr(t, tt.name, err, tt.want)
		})
	}
}

func TestValidateResponseNamesTheRoute(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	req := httptest.NewRequest("GET", "/widgets/w1", nil)
	err := doc.ValidateResponse(req, 500, problemHeader, []byte(notFound))
	want := "openapi: GET /widgets/{id} answered 500: status is not documented"
	if err == nil || err.Error()[:len(want)] != want {
		t.Errorf("error = %v, want it to start with %q", err, want)
	}
}

func TestValidateResponseConcurrently(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Go(func() {
			req := httptest.NewRequest("GET", fmt.Sprintf("/widgets/w%d", i), nil)
			body := fmt.Sprintf(`{"id":"w%d","name":"Bolt","count":%d}`, i, i)
			errs <- doc.ValidateResponse(req, 200, jsonHeader, []byte(body))
			bad := fmt.Sprintf(`{"id":"w%d","name":"Bolt","count":"%d"}`, i, i)
			if doc.ValidateResponse(req, 200, jsonHeader, []byte(bad)) == nil {
				errs <- fmt.Errorf("bad body %s passed", bad)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
