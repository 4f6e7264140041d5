package openapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	yamlDoc := []byte("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n")
	jsonDoc := []byte(` {"openapi":"3.1.0"}`)
	yamlSrv := httptest.NewServer(Handler(yamlDoc))
	t.Cleanup(yamlSrv.Close)
	jsonSrv := httptest.NewServer(Handler(jsonDoc))
	t.Cleanup(jsonSrv.Close)

	res, body := get(t, yamlSrv.URL, "GET", nil)
	etag := res.Header.Get("ETag")
	tests := []struct {
		name     string
		url      string
		method   string
		header   http.Header
		status   int
		ct, body string
	}{
		{"yaml", yamlSrv.URL, "GET", nil, 200, "application/yaml", string(yamlDoc)},
		{"json", jsonSrv.URL, "GET", nil, 200, "application/json", string(jsonDoc)},
		{"head", yamlSrv.URL, "HEAD", nil, 200, "application/yaml", ""},
		{"not modified", yamlSrv.URL, "GET", http.Header{"If-None-Match": {etag}}, 304, "", ""},
		{"modified", yamlSrv.URL, "GET", http.Header{"If-None-Match": {`"other"`}}, 200,
			"application/yaml", string(yamlDoc)},
	}
	for _, tt := range tests {
		res, body := get(t, tt.url, tt.method, tt.header)
		if res.StatusCode != tt.status || string(body) != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.name, res.StatusCode, body, tt.status, tt.body)
		}
		if tt.ct != "" && res.Header.Get("Content-Type") != tt.ct {
			t.Errorf("%s: Content-Type %q, want %q", tt.name, res.Header.Get("Content-Type"), tt.ct)
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=300" {
			t.Errorf("%s: Cache-Control %q, want public, max-age=300", tt.name, got)
		}
	}
	if etag == "" || string(body) != string(yamlDoc) {
		t.Errorf("first GET: ETag %q, body %q", etag, body)
	}

	res, _ = get(t, yamlSrv.URL, "POST", nil)
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" ||
		res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST: %d, Allow %q, Content-Type %q; want a 405 problem allowing GET, HEAD",
			res.StatusCode, res.Header.Get("Allow"), res.Header.Get("Content-Type"))
	}
}

func get(t *testing.T, url, method string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}
