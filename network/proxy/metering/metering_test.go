package metering_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// plainTemplate renders the messages' contents back to back.
const plainTemplate = "{{ range .Messages }}{{ .Content }}{{ end }}"

func tinyCounter(t testing.TB) *metering.Counter {
	t.Helper()
	dir := t.TempDir()
	if _, err := tinymodel.WriteModelsDir(dir, "tiny", tinymodel.Options{Seed: 1}, tinymodel.Layout{}); err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(dir, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bpeCounter(t testing.TB) *metering.Counter {
	t.Helper()
	dir := t.TempDir()
	writeModel(t, dir, "bpe", []layer{{media: mediaModel, data: ggufBytes(bpeVocab("qwen3"))}, {media: mediaTemplate, data: []byte(plainTemplate)}})
	c, err := metering.Load(dir, "bpe")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLoadCounts: each supported vocabulary kind loads from a models
// directory and counts known texts exactly; the digest is the manifest's.
func TestLoadCounts(t *testing.T) {
	bert := []kv{
		{"general.architecture", "bert"},
		{"tokenizer.ggml.model", "bert"},
		{"tokenizer.ggml.tokens", []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hello", "▁world", "s", "."}},
		{"tokenizer.ggml.token_type", []int32{3, 2, 3, 3, 1, 1, 1, 1}},
		{"tokenizer.ggml.cls_token_id", uint32(2)},
		{"tokenizer.ggml.separator_token_id", uint32(3)},
	}
	for _, tc := range []struct {
		name       string
		gguf       []byte
		template   string
		kind       string
		text       string
		wantText   int
		msgs       []metering.Message
		wantPrompt int
	}{
		{"tiny SentencePiece, llama.cpp's leading space", mustTiny(t), "", "sentencepiece",
			" a b", 2, // ▁a ▁b
			nil, 0}, // the default template: TestPromptMatchesOllama checks prompts
		{"byte-pair", ggufBytes(bpeVocab("qwen3")), plainTemplate, "bpe",
			"hello world", 2, // hello Ġworld
			[]metering.Message{{Role: "user", Content: "hello"}, {Role: "user", Content: " world"}}, 3}, // <|bos|> hello Ġworld
		{"byte-pair with a special token in the text", ggufBytes(bpeVocab("qwen3")), plainTemplate, "bpe",
			"hello<|eot|>hello", 3,
			[]metering.Message{{Role: "user", Content: "<|eot|>"}}, 2},
		{"WordPiece", ggufBytes(bert), plainTemplate, "wordpiece",
			"hello worlds", 3, // ▁hello ▁world s
			[]metering.Message{{Role: "user", Content: "hello"}}, 3}, // [CLS] hello [SEP]
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			layers := []layer{{media: mediaModel, data: tc.gguf}}
			if tc.template != "" {
				layers = append(layers, layer{media: mediaTemplate, data: []byte(tc.template)})
			}
			digest := writeModel(t, dir, "m:v1", layers)
			c, err := metering.Load(dir, "m:v1")
			if err != nil {
				t.Fatal(err)
			}
			if c.Tokenizer() != tc.kind || c.Digest() != digest || c.Name() != "m:v1" {
				t.Errorf("kind %q digest %s name %q, want %q %s", c.Tokenizer(), c.Digest(), c.Name(), tc.kind, digest)
			}
			if n, err := c.Text(tc.text); err != nil || n != tc.wantText {
				t.Errorf("Text(%q) = %d, %v; want %d", tc.text, n, err, tc.wantText)
			}
			if tc.template == "" {
				return // the default template: checked against Ollama in TestPromptMatchesOllama
			}
			if n, err := c.Prompt(tc.msgs); err != nil || n != tc.wantPrompt {
				t.Errorf("Prompt = %d, %v; want %d", n, err, tc.wantPrompt)
			}
		})
	}
}

func mustTiny(t *testing.T) []byte {
	t.Helper()
	var b strings.Builder
	if err := tinymodel.Write(&b, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// TestLoadErrors: a model the proxy cannot count is a clear error naming
// it, of the documented kind.
func TestLoadErrors(t *testing.T) {
	tiny := ggufBytes(tinyVocab("llama"))
	emptySpecial := tinyVocab("llama")
	toks, _, _ := tinymodel.Vocabulary()
	toks = append([]string(nil), toks...)
	toks[tinymodel.EOSTokenID] = ""
	emptySpecial[2] = kv{"tokenizer.ggml.tokens", toks}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, dir string)
		want   error
		saying string
	}{
		{"not in the directory", func(t *testing.T, dir string) {}, metering.ErrModelNotFound, "no manifest"},
		{"unsupported tokenizer", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes(tinyVocab("t5"))}})
		}, metering.ErrUnsupportedTokenizer, `"t5"`},
		{"no tokenizer", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes(tinyVocab(""))}})
		}, metering.ErrUnsupportedTokenizer, "names no tokenizer"},
		{"template does not parse", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: tiny}, {media: mediaTemplate, data: []byte("{{ .Messages ")}})
		}, metering.ErrBadModel, "template"},
		{"template fails on a conversation", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: tiny}, {media: mediaTemplate, data: []byte(`{{ range .Messages }}{{ index .Content 99 }}{{ end }}`)}})
		}, metering.ErrBadModel, "template"},
		{"manifest is not JSON", func(t *testing.T, dir string) { writeManifest(t, dir, "m", []byte("{not json")) }, metering.ErrBadModel, "manifest"},
		{"no model layer", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaTemplate, data: []byte(plainTemplate)}})
		}, metering.ErrBadModel, "no model layer"},
		{"model blob missing", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, digest: "sha256:" + strings.Repeat("ab", 32)}})
		}, metering.ErrBadModel, "model file"},
		{"blob digest malformed", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, digest: "sha256:../../etc/passwd"}})
		}, metering.ErrBadModel, "bad blob digest"},
		{"not a GGUF", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: []byte("this is not a model file at all")}})
		}, metering.ErrBadModel, "model file"},
		{"empty special token", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes(emptySpecial)}})
		}, metering.ErrBadModel, "special token 2 is empty"},
		{"vocabulary too small", func(t *testing.T, dir string) {
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes([]kv{
				{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", []string{"a"}},
				{"tokenizer.ggml.scores", []float32{0}}, {"tokenizer.ggml.token_type", []int32{1}}})}})
		}, metering.ErrBadModel, "vocabulary of 1 tokens"},
		{"scores missing", func(t *testing.T, dir string) {
			v := tinyVocab("llama")
			v[3] = kv{"tokenizer.ggml.scores", []float32{1}}
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes(v)}})
		}, metering.ErrBadModel, "scores"},
		{"byte-pair without merges", func(t *testing.T, dir string) {
			v := bpeVocab("llama")
			v[5] = kv{"tokenizer.ggml.merges", []string{}}
			writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes(v)}})
		}, metering.ErrBadModel, "without merges"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			c, err := metering.Load(dir, "m")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load = %v, %v; want %v", c, err, tc.want)
			}
			if !strings.Contains(err.Error(), "model m:") || !strings.Contains(err.Error(), tc.saying) {
				t.Errorf("error %q does not name the model and say %q", err, tc.saying)
			}
		})
	}
	if _, err := metering.Load(t.TempDir(), "Not A Name!"); !errors.Is(err, metering.ErrBadModel) {
		t.Errorf("a bad model name: %v", err)
	}
}

// TestRenderLikeOllama: the model's own system prompt comes first when the
// request has none, and never twice; special tokens in text count once.
func TestRenderLikeOllama(t *testing.T) {
	dir := t.TempDir()
	const tmpl = "{{ range .Messages }}[{{ .Role }}]{{ .Content }}{{ end }}"
	writeModel(t, dir, "m", []layer{{media: mediaModel, data: ggufBytes(tinyVocab("llama"))},
		{media: mediaTemplate, data: []byte(tmpl)}, {media: mediaSystem, data: []byte("SYS")}})
	c, err := metering.Load(dir, "m")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msgs []metering.Message
		want string
	}{
		{"model's system prompt first", []metering.Message{{Role: "user", Content: "hi"}}, "[system]SYS[user]hi"},
		{"request's system prompt wins", []metering.Message{{Role: "system", Content: "mine"}, {Role: "user", Content: "hi"}}, "[system]mine[user]hi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Render(tc.msgs)
			if err != nil || got != tc.want {
				t.Errorf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// FuzzCount: any text a client or a worker sends is counted without a
// panic or a hang, deterministically, and never at more tokens than bytes
// (every token of these vocabularies is at least one byte of text; a
// prompt adds BOS and llama.cpp's leading space).
func FuzzCount(f *testing.F) {
	for _, s := range []string{"", "hi", "the world", " leading", "<s></s><unk>", "<|eot|>", "日本語 ☃", "\xff\xfe", strings.Repeat(" ", 300), "hello world, hello."} {
		f.Add(s, "user")
	}
	counters := []*metering.Counter{tinyCounter(f), bpeCounter(f)}
	f.Fuzz(func(t *testing.T, text, role string) {
		// Texts reach the proxy as valid UTF-8 (the API checks it, the
		// protocol's decoder replaces broken bytes).
		text, role = strings.ToValidUTF8(text, "\uFFFD"), strings.ToValidUTF8(role, "\uFFFD")
		for _, c := range counters {
			n, err := c.Text(text)
			if err != nil {
				t.Fatalf("%s: Text: %v", c.Name(), err)
			}
			if n > len(text) {
				t.Fatalf("%s: Text(%q) = %d tokens for %d bytes", c.Name(), text, n, len(text))
			}
			if again, _ := c.Text(text); again != n {
				t.Fatalf("%s: Text not deterministic: %d then %d", c.Name(), n, again)
			}
			msgs := []metering.Message{{Role: role, Content: text}}
			rendered, err := c.Render(msgs)
			if err != nil {
				t.Fatalf("%s: Render: %v", c.Name(), err)
			}
			p, err := c.Prompt(msgs)
			if err != nil {
				t.Fatalf("%s: Prompt: %v", c.Name(), err)
			}
			if p > len(rendered)+2 || (p == 0 && utf8.RuneCountInString(rendered) > 0) {
				t.Fatalf("%s: Prompt = %d tokens for %d bytes rendered", c.Name(), p, len(rendered))
			}
		}
	})
}

// meterText is about 1000 tokens of text in the tiny vocabulary: its word
// pieces and bytes in a fixed order.
func meterText(tb testing.TB) string {
	tb.Helper()
	tokens, _, types := tinymodel.Vocabulary()
	var b strings.Builder
	for i := 0; i < 1000; i++ {
		id := 3 + (i*131)%(len(tokens)-3)
		if types[id] == 6 { // a byte token: its byte, if printable
			if c := byte(id - 3); c >= ' ' && c < 0x7f {
				b.WriteByte(c)
			}
			continue
		}
		b.WriteString(strings.ReplaceAll(tokens[id], "▁", " "))
	}
	return b.String()
}

// BenchmarkMeterText is the cost of counting the completion text of a
// 1,000-token answer (the tiny model's SentencePiece vocabulary).
func BenchmarkMeterText(b *testing.B) {
	c := tinyCounter(b)
	text := meterText(b)
	n, _ := c.Text(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := c.Text(text); err != nil {
			b.Fatal(err)
		}
	}
	reportPer1000(b, n)
}

// reportPer1000 reports the cost per 1,000 tokens of an op that counted n.
func reportPer1000(b *testing.B, n int) {
	b.ReportMetric(float64(n), "tokens/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*1000/float64(n), "ns/1000tokens")
}

// BenchmarkMeterPrompt is the cost of rendering and counting a 1,000-token
// prompt (system + user message through the chat template).
func BenchmarkMeterPrompt(b *testing.B) {
	c := tinyCounter(b)
	msgs := []metering.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: meterText(b)}}
	n, _ := c.Prompt(msgs)
	for b.Loop() {
		if _, err := c.Prompt(msgs); err != nil {
			b.Fatal(err)
		}
	}
	reportPer1000(b, n)
}

// BenchmarkMeterTextBPE is BenchmarkMeterText with a byte-pair vocabulary
// (its splitting expressions are the costly part).
func BenchmarkMeterTextBPE(b *testing.B) {
	c := bpeCounter(b)
	text := strings.Repeat("hello world, ", 333)
	n, _ := c.Text(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := c.Text(text); err != nil {
			b.Fatal(err)
		}
	}
	reportPer1000(b, n)
}

// BenchmarkMeterLoad is the cost of loading the tiny model's counter from
// a models directory (the proxy does it once per model).
func BenchmarkMeterLoad(b *testing.B) {
	dir := b.TempDir()
	if _, err := tinymodel.WriteModelsDir(dir, "tiny", tinymodel.Options{Seed: 1}, tinymodel.Layout{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metering.Load(dir, "tiny"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestManySpecialTokens: a text full of special tokens (a client's prompt
// or a worker's stream can be) is counted in linear time: Ollama's own
// split took 8.5 minutes for 256 KiB of "<s>a" on the build machine.
func TestManySpecialTokens(t *testing.T) {
	const reps = 64 << 10
	for _, tc := range []struct {
		name string
		c    *metering.Counter
		unit string // a special token and a letter: two tokens
	}{
		{"sentencepiece", tinyCounter(t), "<s>a"},
		{"bpe", bpeCounter(t), "<|eot|>a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := tc.c.Text(strings.Repeat(tc.unit, reps))
				done <- result{n, err}
			}()
			select {
			case r := <-done:
				if r.err != nil || r.n != 2*reps {
					t.Errorf("Text = %d, %v; want %d", r.n, r.err, 2*reps)
				}
			case <-time.After(time.Minute):
				t.Fatal("counting 64 Ki special tokens took over a minute")
			}
		})
	}
}
