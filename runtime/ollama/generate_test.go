package ollama_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestGenerateAndEmbed: a raw text completion streams and stops at
// max_tokens; embeddings come one per input, of the model's width, the
// same input giving the same vector; an input past the model's context is
// an error (never a vector of part of it); an unknown model is
// ErrModelNotFound for both.
func TestGenerateAndEmbed(t *testing.T) {
	rt := startManaged(t, nil)
	registerTiny(t, rt, tiny)

	t.Run("generate streams within max_tokens", func(t *testing.T) {
		var text strings.Builder
		deltas := 0
		seed := 3
		u, err := rt.Generate(ctxT(t, time.Minute), ollama.Job{Model: tiny, MaxTokens: 12, Seed: &seed}, "Once upon a time",
			func(s string) error { deltas++; text.WriteString(s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.CompletionTokens > 12 || u.DoneReason == "" {
			t.Fatalf("usage = %+v", u)
		}
		t.Logf("%d deltas, %d bytes, usage %+v", deltas, text.Len(), u)
	})
	t.Run("embed", func(t *testing.T) {
		inputs := []string{"hello world", "the quick brown fox", "hello world"}
		e, err := rt.Embed(ctxT(t, time.Minute), tiny, inputs)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Vectors) != len(inputs) || e.PromptTokens <= len(inputs) {
			t.Fatalf("%d vectors for %d inputs, %d tokens", len(e.Vectors), len(inputs), e.PromptTokens)
		}
		for i, v := range e.Vectors {
			if len(v) != tinymodel.EmbeddingDim {
				t.Errorf("vector %d has %d dimensions, the model's embedding_length is %d", i, len(v), tinymodel.EmbeddingDim)
			}
		}
		if !slices.Equal(e.Vectors[0], e.Vectors[2]) || slices.Equal(e.Vectors[0], e.Vectors[1]) {
			t.Error("the same input must give the same vector, another input another")
		}
	})
	t.Run("embed past the context", func(t *testing.T) {
		long := strings.Repeat("word ", 40_000)
		if _, err := rt.Embed(ctxT(t, time.Minute), tiny, []string{long}); err == nil {
			t.Fatal("an input past the context was embedded (cut short)")
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		if _, err := rt.Generate(ctxT(t, time.Minute), ollama.Job{Model: "no-such-model"}, "x", nil); !errors.Is(err, ollama.ErrModelNotFound) {
			t.Errorf("generate: %v, want ErrModelNotFound", err)
		}
		if _, err := rt.Embed(ctxT(t, time.Minute), "no-such-model", []string{"x"}); !errors.Is(err, ollama.ErrModelNotFound) {
			t.Errorf("embed: %v, want ErrModelNotFound", err)
		}
	})
}
