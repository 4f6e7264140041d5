package openapitest

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := loadFile(t, "testdata/widgets.yaml")
	got := doc.Routes()
	want := []string{"GET /widgets", "POST /widgets", "DELETE /widgets/{id}", "GET /widgets/{id}"}
	if !slices.Equal(got, want) {
		t.Errorf("Routes() = %q, want %q", got, want)
	}
	got[0] = "changed"
	if doc.Routes()[0] != want[0] {
		t.Error("Routes() exposes the document's own slice")
	}
}

// minimal builds a one-operation document around the given path item body.
func minimal(version, paths, schemas string) string {
	return "openapi: " + version + "\ninfo: {title: t, version: '1'}\npaths:\n" + paths +
		"components:\n  schemas:\n" + schemas
}

const (
	problem  = "    Problem: {type: object}\n"
	okResp   = "      responses:\n        '204': {description: done}\n"
	getThing = "  /things:\n    get:\n      operationId: getThing\n      summary: Read\n" + okResp
)

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string // a part of the error; "" means Load succeeds
	}{
		{"valid", minimal("3.1.0", getThing, problem), ""},
		{"json", `{"openapi":"3.1.1","info":{"title":"t","version":"1"},"paths":{},` +
			`"components":{"schemas":{"Problem":{"type":"object"}}}}`, ""},
		{"no paths", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n" +
			"components:\n  schemas:\n" + problem, ""},
		{"not yaml", "{{{", "openapi: load"},
		{"openapi 3.0", minimal("3.0.3", getThing, problem), `version "3.0.3"`},
		{"no Problem schema", minimal("3.1.0", getThing, "    Other: {type: object}\n"),
			"components/schemas/Problem is missing"},
		{"no operationId", minimal("3.1.0",
			"  /things:\n    get:\n      summary: Read\n"+okResp, problem), "no operationId"},
		{"no summary", minimal("3.1.0",
			"  /things:\n    get:\n      operationId: a\n"+okResp, problem), "no summary"},
		{"no responses", minimal("3.1.0",
			"  /things:\n    get:\n      operationId: a\n      summary: s\n", problem), "responses"},
		{"unknown type", minimal("3.1.0", getThing, "    Problem: {type: objekt}\n"), "objekt"},
		{"dangling ref", minimal("3.1.0", getThing,
			"    Problem: {$ref: '#/components/schemas/Nope'}\n"), "Nope"},
		{"undeclared path parameter", minimal("3.1.0",
			"  /things/{id}:\n    get:\n      operationId: a\n      summary: s\n"+okResp,
			problem), "path parameters"},
		{"wildcard not a Go identifier", minimal("3.1.0",
			"  /things/{thing-id}:\n    get:\n      operationId: a\n      summary: s\n"+
				"      parameters:\n        - {name: thing-id, in: path, required: true, "+
				"schema: {type: string}}\n"+okResp, problem), "not a usable ServeMux pattern"},
		{"duplicate operationId", minimal("3.1.0", getThing+
			"  /others:\n    get:\n      operationId: getThing\n      summary: s\n"+okResp,
			problem), "same operation id"},
	}
	for _, tt := range tests {
		_, err := Load([]byte(tt.doc))
		checkErr(t, tt.name, err, tt.want)
	}
}

func TestLoadListsEveryBrokenOperation(t *testing.T) {
	t.Parallel()
	paths := "  /a:\n    get:\n      summary: s\n" + okResp +
		"  /b:\n    put:\n      operationId: b\n" + okResp
	_, err := Load([]byte(minimal("3.1.0", paths, problem)))
	if err == nil {
		t.Fatal("Load accepted operations without operationId and summary")
	}
	for _, want := range []string{"GET /a: no operationId", "PUT /b: no summary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
