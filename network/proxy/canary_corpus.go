package proxy

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// The canary corpus: ordinary chat requests, one JSON object a line:
//
//	{"messages": [{"role": "system", "content": "…"}, {"role": "user", "content": "…"}], "max_tokens": 128}
//
// Roles are system, user and assistant (multi-turn conversations end with
// a user message), as a client job's are after the API's checks; max_tokens
// (1..4096) is set on every entry, drawn like clients' values, since a
// canary must stop where its reference stopped.

//go:embed canary/corpus.jsonl
var builtinCorpusJSONL []byte

// builtinCorpus is the corpus shipped in the binary, checked at start-up
// (TestBuiltinCorpus checks it too).
var builtinCorpus = mustParseCorpus(builtinCorpusJSONL)

// Corpus limits.
const (
	maxCorpusEntries   = 10_000
	maxCorpusBytes     = 16 << 20
	maxCanaryMaxTokens = 4096
	maxCanaryPrompt    = 64 << 10 // bytes of message text per entry
)

// ErrBadCorpus means a canary corpus could not be used; the error names
// the line.
var ErrBadCorpus = errors.New("canary corpus")

// canaryPrompt is one corpus entry.
type canaryPrompt struct {
	Messages  []network.ChatMessage `json:"messages"`
	MaxTokens int                   `json:"max_tokens"`
}

// messages returns a copy of the conversation for a job.
func (c canaryPrompt) messages() []network.ChatMessage {
	return append([]network.ChatMessage(nil), c.Messages...)
}

// text is every role and content of the conversation, for the comparison's
// "has this token been seen" test (a superset of the prompt's tokens).
func (c canaryPrompt) text() string {
	var b strings.Builder
	for _, m := range c.Messages {
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

func (c canaryPrompt) validate() error {
	if len(c.Messages) == 0 || len(c.Messages) > network.MaxMessages {
		return fmt.Errorf("messages: 1..%d required", network.MaxMessages)
	}
	size := 0
	for i, m := range c.Messages {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return fmt.Errorf("messages[%d]: role %q is not system, user or assistant", i, truncateStr(m.Role, 32))
		}
		if !utf8.ValidString(m.Content) {
			return fmt.Errorf("messages[%d]: content is not valid UTF-8", i)
		}
		size += len(m.Content)
	}
	if size > maxCanaryPrompt {
		return fmt.Errorf("messages: %d bytes, limit %d", size, maxCanaryPrompt)
	}
	if last := c.Messages[len(c.Messages)-1].Role; last != "user" {
		return fmt.Errorf("the last message is %s, not user", last)
	}
	if c.MaxTokens < 1 || c.MaxTokens > maxCanaryMaxTokens {
		return fmt.Errorf("max_tokens: %d out of range 1..%d", c.MaxTokens, maxCanaryMaxTokens)
	}
	return nil
}

// parseCorpus reads a JSON-lines corpus; blank lines are skipped. Unknown
// fields are errors, as in the config.
func parseCorpus(b []byte) ([]canaryPrompt, error) {
	if len(b) > maxCorpusBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadCorpus, len(b), maxCorpusBytes)
	}
	var out []canaryPrompt
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxCorpusBytes)
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var e canaryPrompt
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadCorpus, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: line %d: trailing data after the JSON object", ErrBadCorpus, line)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadCorpus, line, err)
		}
		if len(out) == maxCorpusEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrBadCorpus, maxCorpusEntries)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCorpus, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrBadCorpus)
	}
	return out, nil
}

func mustParseCorpus(b []byte) []canaryPrompt {
	c, err := parseCorpus(b)
	if err != nil {
		panic("built-in " + err.Error())
	}
	return c
}

// loadCorpusFile reads a corpus file (config corpus_file).
func loadCorpusFile(path string) ([]canaryPrompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCorpus, err)
	}
	defer f.Close()
	b, err := readLimited(f, maxCorpusBytes)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadCorpus, path, err)
	}
	c, err := parseCorpus(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
