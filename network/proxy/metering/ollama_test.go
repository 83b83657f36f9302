package metering_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// specialTemplate writes the tiny vocabulary's special tokens around every
// message, so the counter must split them out and add llama.cpp's leading
// space after each.
const specialTemplate = "<s>{{ .System }}</s>{{ range .Messages }}<s>{{ .Role }}: {{ .Content }}</s>\n{{ end }}assistant:"

// conversations are the prompts the counts are checked on.
var conversations = []struct {
	name string
	msgs []metering.Message
}{
	{"one word", []metering.Message{{Role: "user", Content: "hi"}}},
	{"system and user", []metering.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}},
	{"a sentence", []metering.Message{{Role: "user", Content: "Hello there, how are you doing today? The quick brown fox."}}},
	{"spaces and unicode", []metering.Message{{Role: "user", Content: "  leading spaces and ünïcödé ☃ 日本語"}}},
	{"special tokens written in the text", []metering.Message{{Role: "user", Content: "<s> special </s> inside<unk>"}}},
	{"empty message", []metering.Message{{Role: "user", Content: ""}}},
	{"several turns", []metering.Message{{Role: "user", Content: "one"}, {Role: "assistant", Content: "two"}, {Role: "user", Content: "three\n\nfour"}}},
}

func chat(t *testing.T, ctx context.Context, c *api.Client, model string, msgs []metering.Message, opts map[string]any) (api.ChatResponse, string) {
	t.Helper()
	am := make([]api.Message, len(msgs))
	for i, m := range msgs {
		am[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	stream := true
	var final api.ChatResponse
	var text strings.Builder
	err := c.Chat(ctx, &api.ChatRequest{Model: model, Messages: am, Stream: &stream, Options: opts}, func(r api.ChatResponse) error {
		text.WriteString(r.Message.Content)
		if r.Done {
			final = r
		}
		return nil
	})
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	return final, text.String()
}

// TestPromptMatchesOllama: the proxy's prompt count is exactly Ollama's
// prompt_eval_count on the real Ollama, for the model as `ollama create`
// makes it, for one with its own system prompt and special tokens in its
// template, and its digest is what /api/tags reports. Under Ollama's new
// engine (Go tokenizer, no leading space) it stays within the tolerance.
func TestPromptMatchesOllama(t *testing.T) {
	for _, srv := range []struct {
		name  string
		env   []string
		exact bool
	}{
		{"llama.cpp runner", nil, true},
		{"new engine", []string{"OLLAMA_NEW_ENGINE=1"}, false},
	} {
		t.Run(srv.name, func(t *testing.T) {
			ol := testollama.StartWith(t, testollama.Options{Env: srv.env})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			gguf := filepath.Join(t.TempDir(), "tiny.gguf")
			if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
				t.Fatal(err)
			}
			if err := tinymodel.Register(ctx, ol.Client(), "created", gguf); err != nil {
				t.Fatal(err)
			}
			if _, err := tinymodel.WriteModelsDir(ol.ModelsDir(), "written", tinymodel.Options{Seed: 2},
				tinymodel.Layout{System: "You are a tiny model. Answer in noise.", Template: specialTemplate}); err != nil {
				t.Fatal(err)
			}
			tags, err := ol.Client().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, model := range []string{"created", "written"} {
				t.Run(model, func(t *testing.T) {
					start := time.Now()
					c, err := metering.Load(ol.ModelsDir(), model)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("loaded in %v", time.Since(start))
					i := slices.IndexFunc(tags.Models, func(m api.ListModelResponse) bool { return m.Name == model+":latest" })
					if i < 0 || tags.Models[i].Digest != c.Digest() {
						t.Errorf("digest %s, /api/tags %+v", c.Digest(), tags.Models)
					}
					for _, conv := range conversations {
						own, err := c.Prompt(conv.msgs)
						if err != nil {
							t.Fatal(err)
						}
						resp, _ := chat(t, ctx, ol.Client(), model, conv.msgs, map[string]any{"num_predict": 1})
						got := int64(resp.PromptEvalCount)
						if srv.exact && int64(own) != got {
							t.Errorf("%s: counted %d prompt tokens, Ollama %d", conv.name, own, got)
						}
						if !srv.exact && got > int64(own)+proxy.DefaultToleranceTokens {
							t.Errorf("%s: counted %d prompt tokens, Ollama %d: over the tolerance", conv.name, own, got)
						}
						if !srv.exact && int64(own) != got {
							t.Logf("%s: counted %d, Ollama's new engine %d", conv.name, own, got)
						}
					}
				})
			}
		})
	}
}

// TestHonestDisagreement measures how far the proxy's count of what an
// honest worker produced is from the worker's own count, on the real
// Ollama with the tiny model over hundreds of jobs of varied max_tokens,
// and checks the documented tolerance covers every one of them (an honest
// worker is never billed less than it served). The figures are in
// docs/trust.md and DefaultToleranceTokens' comment.
func TestHonestDisagreement(t *testing.T) {
	jobs := 300
	if testing.Short() {
		jobs = 60
	}
	ol := testollama.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gguf := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(gguf, tinymodel.Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, ol.Client(), "cocoon-tiny", gguf); err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(ol.ModelsDir(), "cocoon-tiny")
	if err != nil {
		t.Fatal(err)
	}
	tolerated := func(n int64) int64 {
		return n + proxy.DefaultToleranceTokens + n*proxy.DefaultTolerancePercent/100
	}
	rng := rand.New(rand.NewPCG(11, 12))
	words := []string{"hello", "world", "the", "cat", "☃", "日本", "x", "  ", "\n", "model", "?"}
	maxes := []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 500}
	byMax := map[int][]int64{}
	var under, promptOff int
	var counting time.Duration // the proxy's cost: counting the relayed text
	var generated int64
	for i := 0; i < jobs; i++ {
		var content strings.Builder
		for j := rng.IntN(30); j >= 0; j-- {
			content.WriteString(words[rng.IntN(len(words))] + " ")
		}
		maxTok := maxes[i%len(maxes)]
		msgs := []metering.Message{{Role: "user", Content: content.String()}}
		resp, text := chat(t, ctx, ol.Client(), "cocoon-tiny", msgs,
			map[string]any{"num_predict": maxTok, "seed": rng.IntN(1 << 20), "temperature": rng.Float64()})
		ownPrompt, _ := c.Prompt(msgs)
		if ownPrompt != resp.PromptEvalCount {
			promptOff++
		}
		st := time.Now()
		own, _ := c.Text(text)
		counting += time.Since(st)
		claimed := int64(resp.EvalCount)
		generated += claimed
		byMax[maxTok] = append(byMax[maxTok], claimed-int64(own))
		if claimed > tolerated(int64(own)) {
			under++
			t.Errorf("job %d (max_tokens %d): worker's %d completion tokens over the tolerated %d (counted %d)", i, maxTok, claimed, tolerated(int64(own)), own)
		}
	}
	if promptOff != 0 {
		t.Errorf("%d of %d prompts counted differently from Ollama", promptOff, jobs)
	}
	var all []int64
	for _, m := range maxes {
		d := byMax[m]
		slices.Sort(d)
		all = append(all, d...)
		if len(d) > 0 {
			t.Logf("max_tokens %3d: %3d jobs, worker − proxy completion tokens: min %4d median %4d p90 %4d max %3d", m, len(d), d[0], d[len(d)/2], d[len(d)*9/10], d[len(d)-1])
		}
	}
	slices.Sort(all)
	t.Logf("all %d jobs: worker − proxy: min %d median %d p90 %d p99 %d max %d; under-billed with the tolerance: %d",
		len(all), all[0], all[len(all)/2], all[len(all)*9/10], all[len(all)*99/100], all[len(all)-1], under)
	t.Logf("counting the completions cost %v for %d generated tokens (%.0f µs per 1,000)",
		counting, generated, float64(counting.Microseconds())*1000/float64(generated))
}
