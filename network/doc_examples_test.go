package network

import (
	"os"
	"regexp"
	"testing"
)

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// docExamples returns the JSON examples of docs/protocol.md.
func docExamples(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		tb.Fatalf("docs/protocol.md: %v", err)
	}
	var out []string
	for _, m := range jsonBlock.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// TestDocExamplesDecode: every example in docs/protocol.md is a valid frame,
// and every message type has one.
func TestDocExamplesDecode(t *testing.T) {
	seen := map[string]bool{}
	for i, ex := range docExamples(t) {
		env, _, err := Decode([]byte(ex))
		if err != nil {
			t.Errorf("example %d does not decode: %v\n%s", i+1, err, ex)
			continue
		}
		seen[env.Type] = true
	}
	for typ := range knownTypes {
		if !seen[typ] {
			t.Errorf("docs/protocol.md has no example of %s", typ)
		}
	}
}
