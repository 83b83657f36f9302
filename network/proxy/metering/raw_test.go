package metering_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// rawTexts are the legacy completion prompts and embedding inputs the raw
// count is checked on.
var rawTexts = []struct{ name, text string }{
	{"one word", "hi"},
	{"a sentence", "Once upon a time, the quick brown fox jumped."},
	{"spaces and unicode", "  leading spaces and ünïcödé ☃ 日本語"},
	{"special tokens written in the text", "<s> special </s> inside<unk>"},
	{"newlines", "one\n\ntwo\n"},
}

// TestRawMatchesOllama: the proxy's count of a prompt read without a chat
// template (Counter.Raw) is exactly Ollama's prompt_eval_count for a raw
// generate (a legacy completion) and, summed over the inputs, for an
// embed (an embeddings request), on the real Ollama with the tiny model.
func TestRawMatchesOllama(t *testing.T) {
	ol := testollama.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gguf := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, ol.Client(), "tiny", gguf); err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(ol.ModelsDir(), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	total := 0
	for _, tc := range rawTexts {
		t.Run(tc.name, func(t *testing.T) {
			own, err := c.Raw(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			stream := false
			var got int
			err = ol.Client().Generate(ctx, &api.GenerateRequest{Model: "tiny", Prompt: tc.text, Raw: true, Stream: &stream,
				Options: map[string]any{"num_predict": 1}}, func(r api.GenerateResponse) error {
				got = r.PromptEvalCount
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if own != got {
				t.Errorf("raw generate: counted %d prompt tokens, Ollama %d", own, got)
			}
			all = append(all, tc.text)
			total += own
		})
	}
	truncate := false
	resp, err := ol.Client().Embed(ctx, &api.EmbedRequest{Model: "tiny", Input: all, Truncate: &truncate})
	if err != nil {
		t.Fatal(err)
	}
	if resp.PromptEvalCount != total || len(resp.Embeddings) != len(all) {
		t.Errorf("embed: counted %d tokens, Ollama %d (%d vectors for %d inputs)", total, resp.PromptEvalCount, len(resp.Embeddings), len(all))
	}
	for i, v := range resp.Embeddings {
		if len(v) != tinymodel.EmbeddingDim {
			t.Errorf("vector %d has %d dimensions, the model's embedding_length is %d", i, len(v), tinymodel.EmbeddingDim)
		}
	}
}
