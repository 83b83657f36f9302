package proxy_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
)

// docRow is one table row of docs/api.md.
type docRow struct {
	section string
	names   []string // the backticked names of the first column
	cocoon  string   // what the Cocoon proxy does
	tests   []string // the tests the row names
}

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	testName   = regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`")
)

// apiDocRows parses the tables of docs/api.md (those with a "Cocoon proxy"
// column: the fourth).
func apiDocRows(t *testing.T) []docRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []docRow
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
			continue
		}
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			t.Fatalf("docs/api.md: a row of %d cells, want 5: %s", len(cells), line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[3] == "Cocoon proxy" {
			continue // a header
		}
		r := docRow{section: section, cocoon: cells[3]}
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			r.names = append(r.names, m[1])
		}
		for _, m := range testName.FindAllStringSubmatch(cells[4], -1) {
			r.tests = append(r.tests, m[1])
		}
		rows = append(rows, r)
	}
	return rows
}

// repoTests are the Test and Fuzz functions of every test file in the repository.
func repoTests(t *testing.T) map[string]bool {
	t.Helper()
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	out := map[string]bool{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			out[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAPIDocMatchesProxy: docs/api.md says what the proxy does. Each
// endpoint row is served, or answered 404 not_found, as it says; each
// chat, completions and embeddings field row is carried (in the proxy's
// field list) or refused with 400 unsupported_parameter as it says, and every
// field the proxy carries has a row; every test a row names exists.
func TestAPIDocMatchesProxy(t *testing.T) {
	rows := apiDocRows(t)
	tests := repoTests(t)
	tp := startProxy(t, "", nil)
	tp.worker(t, proxytest.Options{Features: allFeatures})
	var chatKnown []string
	for _, f := range proxy.ChatCompletionFields() {
		if f.Support != proxy.SupportRefused {
			chatKnown = append(chatKnown, f.Name)
		}
	}
	fieldLists := map[string][]string{
		"Chat completions: `POST /v1/chat/completions`": chatKnown,
		"Completions: `POST /v1/completions`":           proxy.CompletionFields,
		"Embeddings: `POST /v1/embeddings`":             proxy.EmbeddingFields,
	}
	baseBody := map[string]string{
		"Chat completions: `POST /v1/chat/completions`": `{"model":"tiny","messages":[{"role":"user","content":"a"}]`,
		"Completions: `POST /v1/completions`":           `{"model":"tiny","prompt":"a"`,
		"Embeddings: `POST /v1/embeddings`":             `{"model":"tiny","input":"a"`,
	}
	endpoints, documented := 0, map[string][]string{}
	for _, r := range rows {
		for _, name := range r.tests {
			if !tests[name] {
				t.Errorf("docs/api.md (%s, %v) names %s, which is no test", r.section, r.names, name)
			}
		}
		switch {
		case r.section == "Endpoints":
			endpoints++
			if len(r.names) == 0 {
				t.Fatalf("an endpoint row without an endpoint: %+v", r)
			}
			method, path, _ := strings.Cut(r.names[0], " ")
			path = strings.ReplaceAll(path, "{id}", model)
			resp, body := do(t, tp, method, path, testKey, `{}`, nil)
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(body, &e)
			unknown := resp.StatusCode == http.StatusNotFound && e.Error.Code == "not_found"
			if served := strings.HasPrefix(r.cocoon, "served"); served == unknown {
				t.Errorf("%s %s: docs say %q, the proxy answered %d %s", method, path, r.cocoon, resp.StatusCode, body)
			}
		case fieldLists[r.section] != nil:
			list := fieldLists[r.section]
			for _, f := range r.names {
				documented[r.section] = append(documented[r.section], f)
				switch {
				case strings.HasPrefix(r.cocoon, "carried"), strings.HasPrefix(r.cocoon, "accepted"), strings.HasPrefix(r.cocoon, "partly"):
					if !slices.Contains(list, f) {
						t.Errorf("%s: docs say %s is %q, the proxy's list %v lacks it", r.section, f, r.cocoon, list)
					}
				case strings.HasPrefix(r.cocoon, "refused 400"):
					resp, body := do(t, tp, "POST", strings.TrimPrefix(strings.Trim(backticked.FindString(r.section), "`"), "POST "), testKey, baseBody[r.section]+`,"`+f+`":1}`, nil)
					if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"param":"`+f+`"`) ||
						!strings.Contains(string(body), proxy.CodeUnsupportedParameter) {
						t.Errorf("%s: %s is documented as refused, the proxy answered %d %s", r.section, f, resp.StatusCode, body)
					}
				default:
					t.Errorf("%s: %s: %q is neither carried, partly, accepted nor refused 400", r.section, f, r.cocoon)
				}
			}
		}
	}
	if endpoints < 6 {
		t.Errorf("docs/api.md lists %d endpoints", endpoints)
	}
	for section, list := range fieldLists {
		for _, f := range list {
			if !slices.Contains(documented[section], f) {
				t.Errorf("%s: the proxy carries %s, docs/api.md has no row for it", section, f)
			}
		}
	}
}
