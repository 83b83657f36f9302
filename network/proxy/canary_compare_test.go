package proxy

import (
	"strings"
	"testing"
	"time"
)

// tok is a reference token for tests: its piece, log probability and
// alternatives as "piece=logprob" pairs (the chosen token is added).
func tok(piece string, lp float64, alts ...refAlt) refToken {
	t := refToken{piece: piece, logprob: lp}
	t.alts = append(t.alts, refAlt{piece, lp})
	t.alts = append(t.alts, alts...)
	return t
}

func alt(piece string, lp float64) refAlt { return refAlt{piece, lp} }

// refOf builds a reference streaming one chunk per token.
func refOf(finish string, toks ...refToken) *reference {
	r := &reference{finish: finish}
	var text strings.Builder
	for _, t := range toks {
		r.chunks = append(r.chunks, refChunk{text: t.piece, tokens: []refToken{t}})
		text.WriteString(t.piece)
		r.tokens++
	}
	r.text = text.String()
	return r
}

func TestCompareCanary(t *testing.T) {
	const margin, slack = 0.1, 2.0
	// " The cat sat down": clear winners except at "sat", where " ran" is
	// 0.002 nats behind (a near-tie), and " stood" 1.5 nats behind.
	ref := refOf("length",
		tok(" The", -0.2, alt(" A", -2.0)),
		tok(" cat", -0.5, alt(" dog", -1.4), alt(" c", -3)),
		tok(" sat", -1.000, alt(" ran", -1.002), alt(" stood", -2.5)),
		tok(" down", -0.3, alt(" up", -2.0)),
	)
	// A byte-level chunk: two tokens of one character whose bytes Ollama
	// does not report.
	multi := &reference{finish: "length", tokens: 3, text: " é!", chunks: []refChunk{
		{text: " ", tokens: []refToken{tok(" ", -0.1, alt(" x", -3))}},
		{text: "é", tokens: []refToken{tok("\uFFFD", -0.3, alt("\uFFFD", -0.35)), tok("\uFFFD", -0.2, alt("\uFFFD", -4))}},
		{text: "!", tokens: []refToken{tok("!", -0.1)}},
	}}
	endTie := refOf("stop", tok(" Yes", -0.1), tok(".", -0.50, alt("", -0.55), alt("!", -2)))
	textOnly := &reference{text: "Hello, world", finish: "stop"}
	cases := []struct {
		name     string
		ref      *reference
		prompt   string
		answer   string
		pass     bool
		evidence string
	}{
		{"exact", ref, "", " The cat sat down", true, "matched all 4 tokens"},
		{"near-tie flip then anything", ref, "", " The cat ran away quickly", true, "diverged at token 2 of 4 at a near-tie (gap 0.002 nats, margin 0.1)"},
		{"flip to a far alternative", ref, "", " The cat stood up", false, "diverged at token 2 of 4: its token trails the reference's by 1.500 nats (margin 0.1)"},
		{"random text", ref, "", "qz8#k", false, "diverged at token 0 of 4: its token is not among the reference's top 2"},
		{"different first token", ref, "", " A cat sat down", false, "diverged at token 0 of 4: its token trails the reference's by 1.800 nats (margin 0.1)"},
		{"truncated", ref, "", " The cat", false, "truncated: the answer ends at token 2 of 4"},
		{"empty answer", ref, "", "", false, "truncated: the answer ends at token 0 of 4"},
		{"ends inside a token", ref, "", " The ca", false, "truncated: the answer ends at token 1 of 4"},
		{"longer than the reference", ref, "", " The cat sat down and slept", false, "all 4 tokens matched, then 10 bytes more than the reference"},
		// " cat" occurs in the prompt: a repeat penalty may have lowered
		// it, so its best alternative " dog" (0.9 nats behind) may be the
		// real runner-up.
		{"penalized token, runner-up", ref, "user: my cat\n", " The dog sat", true, "diverged at token 1 of 4 at a near-tie (gap 0.900 nats, margin 0.1)"},
		{"penalized token, far alternative", ref, "user: my cat\n", " The c is", false, "diverged at token 1 of 4: its token trails the reference's by 2.500 nats (margin 0.1)"},
		{"longer near-tie token", refOf("length", tok(" t", -1.0, alt(" the", -1.05)), tok("o", -0.1, alt("x", -5))), "", " the end", true, "diverged at token 0 of 2 at a near-tie (gap 0.050 nats, margin 0.1)"},
		{"longer far token", refOf("length", tok(" t", -1.0, alt(" the", -3)), tok("o", -0.1, alt("x", -5))), "", " the end", false, "diverged at token 1 of 2: its token is not among the reference's top 2"},
		{"unknown bytes within margin", multi, "", " è!", true, "diverged at token 1 of 3 at a near-tie (gap 0.050 nats, margin 0.1)"},
		{"unknown bytes exact", multi, "", " é!", true, "matched all 3 tokens"},
		{"ended at an end near-tie", endTie, "", " Yes", true, "ended at token 1 of 2 where an end token was a near-tie"},
		{"ended early without a tie", endTie, "", "", false, "truncated: the answer ends at token 0 of 2"},
		{"text-only exact", textOnly, "", "Hello, world", true, "matched the trusted answer (12 bytes)"},
		{"text-only flip", textOnly, "", "Hello, there", false, "diverged at byte 7 of 12 of the trusted answer (exact match required)"},
		{"text-only truncated", textOnly, "", "Hello", false, "truncated: the answer ends at byte 5 of 12 of the trusted answer (exact match required)"},
		{"text-only longer", textOnly, "", "Hello, world!", false, "the trusted answer's 12 bytes matched, then 1 bytes more"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := compareCanary(tc.ref, tc.prompt, tc.answer, margin, slack)
			if v.passed != tc.pass || v.evidence != tc.evidence {
				t.Errorf("got passed=%v %q, want passed=%v %q", v.passed, v.evidence, tc.pass, tc.evidence)
			}
		})
	}
}

// FuzzCompareCanary: a worker's answer is outside input. No answer makes
// the comparison panic; the reference's own text always passes; an answer
// that differs from it before the near-tie never passes.
func FuzzCompareCanary(f *testing.F) {
	ref := refOf("length",
		tok(" The", -0.2, alt(" A", -2.0)),
		tok(" cat", -0.5, alt(" dog", -1.4)),
		tok(" sat", -1.000, alt(" ran", -1.002)),
		tok("é", -0.3, alt("\uFFFD", -0.31)),
	)
	for _, s := range []string{"", " The cat sat", " The cat ran", "\xff\xfe", " The cat satéé", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		v := compareCanary(ref, "", answer, 0.1, 2)
		if v.evidence == "" || strings.Contains(v.evidence, answer) && len(answer) > 8 {
			t.Fatalf("evidence %q (must be words and numbers, not the answer)", v.evidence)
		}
		if answer == ref.text && !v.passed {
			t.Fatalf("the reference itself failed: %s", v.evidence)
		}
		if v.passed && !strings.HasPrefix(answer, " The cat ") && answer != " The cat" {
			t.Fatalf("passed %q, which leaves the reference before its near-tie: %s", answer, v.evidence)
		}
		exact := compareCanary(&reference{text: ref.text}, "", answer, 0.1, 2)
		if exact.passed != (answer == ref.text) {
			t.Fatalf("text-only comparison of %q: %v", answer, exact)
		}
	})
}

func TestBuiltinCorpus(t *testing.T) {
	if len(builtinCorpus) < 24 {
		t.Fatalf("built-in corpus has %d entries, want a few dozen", len(builtinCorpus))
	}
	shapes := map[string]int{}
	for i, e := range builtinCorpus {
		if err := e.validate(); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		roles := ""
		for _, m := range e.Messages {
			roles += m.Role[:1]
		}
		shapes[roles]++
	}
	// Varied like client traffic: user only, system + user, multi-turn.
	for _, want := range []string{"u", "su", "uau"} {
		if shapes[want] == 0 {
			t.Errorf("no entry shaped %q (roles' initials); shapes %v", want, shapes)
		}
	}
}

func TestParseCorpus(t *testing.T) {
	cases := []struct {
		name, in string
		want     int
		err      string
	}{
		{"two entries and a blank line", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}` + "\n\n" +
			`{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"why?"}],"max_tokens":64}`, 2, ""},
		{"empty", "\n \n", 0, "no entries"},
		{"unknown field", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":8,"temperature":0}`, 0, `line 1: json: unknown field "temperature"`},
		{"no max_tokens", `{"messages":[{"role":"user","content":"hi"}]}`, 0, "line 1: max_tokens: 0 out of range 1..4096"},
		{"ends with the assistant", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"max_tokens":8}`, 0, "line 1: the last message is assistant, not user"},
		{"bad role", `{"messages":[{"role":"tool","content":"x"}],"max_tokens":8}`, 0, `line 1: messages[0]: role "tool" is not system, user or assistant`},
		{"no messages", `{"messages":[],"max_tokens":8}`, 0, "line 1: messages: 1..512 required"},
		{"trailing data", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":8} {}`, 0, "line 1: trailing data after the JSON object"},
		{"not JSON on line 2", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}` + "\nnope", 0, "line 2: invalid character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCorpus([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || len(c) != tc.want {
				t.Fatalf("got %d entries, %v; want %d", len(c), err, tc.want)
			}
		})
	}
}

// FuzzParseCorpus: a corpus file is the operator's input. Nothing panics,
// and every entry accepted is valid.
func FuzzParseCorpus(f *testing.F) {
	f.Add(builtinCorpusJSONL)
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}`))
	f.Add([]byte("{}\n{\"messages\":null}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCorpus(b)
		if err != nil {
			return
		}
		if len(c) == 0 {
			t.Fatal("no entries and no error")
		}
		for i, e := range c {
			if err := e.validate(); err != nil {
				t.Fatalf("entry %d accepted but invalid: %v", i, err)
			}
		}
	})
}

func TestCanaryConfig(t *testing.T) {
	const id = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
	base := `{"data_dir":"/tmp/x","models":{"m":{"price_prompt":1,"price_completion":1}},"canary":`
	cases := []struct {
		name, canary string
		check        func(*CanaryConfig) bool
		err          string
	}{
		{"defaults", `{"reference_ollama":"http://127.0.0.1:11434"}`, func(c *CanaryConfig) bool {
			d := DefaultCanaryConfig()
			d.ReferenceOllama = "http://127.0.0.1:11434"
			return c.ShareBPS == d.ShareBPS && c.MinPerPeriod == d.MinPerPeriod && c.Period == d.Period &&
				c.MaxDelay == d.MaxDelay && c.Margin == d.Margin && c.PenaltySlack == d.PenaltySlack && c.ReferenceOllama == d.ReferenceOllama
		}, ""},
		{"every field", `{"trusted_workers":["` + id + `"],"share_bps":50,"min_per_period":0,"period":"2h","max_delay":"0s","margin":0.5,"penalty_slack":0,"corpus_file":"c.jsonl"}`,
			func(c *CanaryConfig) bool {
				return len(c.TrustedWorkers) == 1 && c.ShareBPS == 50 && c.MinPerPeriod == 0 && c.Period == 2*time.Hour &&
					c.MaxDelay == 0 && c.Margin == 0.5 && c.PenaltySlack == 0 && c.CorpusFile == "c.jsonl"
			}, ""},
		{"no reference", `{}`, nil, "reference_ollama or trusted_workers is required"},
		{"bad URL", `{"reference_ollama":"127.0.0.1:11434"}`, nil, "is not an http(s) URL"},
		{"bad worker id", `{"trusted_workers":["abc"]}`, nil, `trusted_workers[0]: "abc" is not a worker id`},
		{"share over 100%", `{"reference_ollama":"http://h:1","share_bps":10001}`, nil, "share_bps: 10001 out of range"},
		{"nothing would be sent", `{"reference_ollama":"http://h:1","share_bps":0,"min_per_period":0}`, nil, "no canary would ever be sent"},
		{"bad period", `{"reference_ollama":"http://h:1","period":"soon"}`, nil, `period: "soon" is not a duration`},
		{"zero margin", `{"reference_ollama":"http://h:1","margin":0}`, nil, "margin: 0 out of range"},
		{"negative slack", `{"reference_ollama":"http://h:1","penalty_slack":-1}`, nil, "penalty_slack: -1 out of range"},
		{"unknown field", `{"reference_ollama":"http://h:1","rate":3}`, nil, `unknown field "rate"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(base + tc.canary + "}"))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Canary == nil || !tc.check(cfg.Canary) {
				t.Fatalf("parsed %+v", cfg.Canary)
			}
		})
	}
}
