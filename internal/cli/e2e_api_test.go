package cli

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// TestAPIEndpointsEndToEnd: the official OpenAI Go client → proxy →
// headless worker → real Ollama with the tiny model, for the endpoints
// beyond chat. Embeddings come back with the model's width (its GGUF
// embedding_length), batched and in base64 the same vectors; completions
// streamed and not, within max_tokens; both billed exactly as the price
// list says, signed receipts for each, and GET /v1/usage sums to the same;
// GET /v1/models/{id} finds the model and 404s another; the request id is
// echoed; no input or output reaches the proxy's log.
func TestAPIEndpointsEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	e := startE2EProxyWith(t, func(c *proxy.Config) {
		// The proxy counts the model's tokens itself (the worker creates it there).
		c.Metering.OllamaModels = []string{filepath.Join(dataDir, "ollama", "models")}
	})
	w := startE2EWorkerIn(t, e, dataDir)
	client := e.client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secret := fmt.Sprintf("PRIVATE-INPUT-%d", time.Now().UnixNano())
	price := e.cfg.Models["cocoon-tiny"]
	var charged, prompt, completion int64

	// Embeddings: one vector per input, of the model's width.
	inputs := []string{secret + " hello world", "the quick brown fox", "☃ snow"}
	var httpResp *http.Response
	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "cocoon-tiny",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs}},
		option.WithHeader(proxy.RequestIDHeader, "e2e-embed-1"), option.WithResponseInto(&httpResp))
	if err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	if got := httpResp.Header.Get(proxy.RequestIDHeader); got != "e2e-embed-1" {
		t.Errorf("request id %q, want e2e-embed-1", got)
	}
	if len(emb.Data) != len(inputs) {
		t.Fatalf("%d vectors for %d inputs", len(emb.Data), len(inputs))
	}
	for i, d := range emb.Data {
		if len(d.Embedding) != tinymodel.EmbeddingDim {
			t.Fatalf("vector %d has %d dimensions, the model's embedding_length is %d", i, len(d.Embedding), tinymodel.EmbeddingDim)
		}
		var norm float64
		for _, f := range d.Embedding {
			norm += f * f
		}
		if math.IsNaN(norm) || norm == 0 {
			t.Errorf("vector %d: norm² %v", i, norm)
		}
	}
	if same(emb.Data[0].Embedding, emb.Data[1].Embedding) {
		t.Error("two different inputs got the same vector")
	}
	embCost := usageCost(t, emb.Usage.JSON.ExtraFields["total_cost"].Raw())
	if emb.Usage.PromptTokens <= int64(len(inputs)) || embCost != emb.Usage.PromptTokens*price.EmbeddingPrice() {
		t.Errorf("embedding usage %+v, total_cost %d: want tokens × %d", emb.Usage, embCost, price.EmbeddingPrice())
	}
	charged += embCost
	prompt += emb.Usage.PromptTokens

	// The same input in base64 is the same vector, bit for bit.
	b64 := rawPost(t, ctx, e, "/v1/embeddings", fmt.Sprintf(`{"model":"cocoon-tiny","input":%q,"encoding_format":"base64"}`, inputs[1]))
	var out struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int64 `json:"prompt_tokens"`
			TotalCost    int64 `json:"total_cost"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(b64, &out); err != nil || len(out.Data) != 1 {
		t.Fatalf("base64 answer %v: %.300s", err, b64)
	}
	raw, err := base64.StdEncoding.DecodeString(out.Data[0].Embedding)
	if err != nil || len(raw) != 4*tinymodel.EmbeddingDim {
		t.Fatalf("base64 vector: %v, %d bytes", err, len(raw))
	}
	for j := range tinymodel.EmbeddingDim {
		if got, want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])), float32(emb.Data[1].Embedding[j]); got != want {
			t.Fatalf("base64 vector[%d] = %v, the float answer had %v", j, got, want)
		}
	}
	charged += out.Usage.TotalCost
	prompt += out.Usage.PromptTokens

	// Completions, not streamed and streamed, within max_tokens.
	params := openai.CompletionNewParams{Model: "cocoon-tiny",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(secret + " Once upon a time")}, MaxTokens: openai.Int(6)}
	cmpl, err := client.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("completion: %v", err)
	}
	if len(cmpl.Choices) != 1 || cmpl.Object != "text_completion" || cmpl.Usage.CompletionTokens < 1 || cmpl.Usage.CompletionTokens > 6 || cmpl.Usage.PromptTokens < 1 {
		t.Fatalf("completion = %s", cmpl.RawJSON())
	}
	c := usageCost(t, cmpl.Usage.JSON.ExtraFields["total_cost"].Raw())
	if want := cmpl.Usage.PromptTokens*price.PricePrompt + cmpl.Usage.CompletionTokens*price.PriceCompletion; c != want {
		t.Errorf("completion total_cost %d, want %d", c, want)
	}
	charged, prompt, completion = charged+c, prompt+cmpl.Usage.PromptTokens, completion+cmpl.Usage.CompletionTokens
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := client.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	var su openai.CompletionUsage
	var sCost int64
	for s.Next() {
		ch := s.Current()
		for _, x := range ch.Choices {
			text.WriteString(x.Text)
		}
		if ch.Usage.TotalTokens > 0 {
			su, sCost = ch.Usage, usageCost(t, ch.Usage.JSON.ExtraFields["total_cost"].Raw())
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("completion stream: %v", err)
	}
	if su.CompletionTokens < 1 || su.CompletionTokens > 6 {
		t.Fatalf("stream usage %+v (text %d bytes)", su, text.Len())
	}
	charged, prompt, completion = charged+sCost, prompt+su.PromptTokens, completion+su.CompletionTokens

	// GET /v1/models/{id}.
	if m, err := client.Models.Get(ctx, "cocoon-tiny"); err != nil || m.ID != "cocoon-tiny" {
		t.Errorf("models/cocoon-tiny: %+v, %v", m, err)
	}
	var ae *openai.Error
	if _, err := client.Models.Get(ctx, "no-such-model"); !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" {
		t.Errorf("models/no-such-model: %v", err)
	}

	// Four jobs, four signed receipts whose gross is what the key was charged.
	rs, err := e.p.Store().Receipts(ctx, workerID(t, dataDir), 0, 0)
	if err != nil || len(rs) != 4 {
		t.Fatalf("%d receipts (%v), want 4", len(rs), err)
	}
	var gross int64
	for _, r := range rs {
		if err := r.Verify(e.p.PublicKey()); err != nil {
			t.Error(err)
		}
		g, err := receipt.Amount(r.Receipt.PromptTokens, r.Receipt.CompletionTokens, r.Receipt.PricePrompt, r.Receipt.PriceCompletion, r.Receipt.CoefficientMilli, 0)
		if err != nil {
			t.Fatal(err)
		}
		gross += g
	}
	if gross != charged {
		t.Errorf("receipts' gross %d, the client was charged %d", gross, charged)
	}
	w.waitLine(t, "4 jobs", "(4 receipts)") // the worker's ledger took them
	var usage struct {
		Total proxy.DailyUsage `json:"total"`
	}
	if err := json.Unmarshal(rawGet(t, ctx, e, "/v1/usage"), &usage); err != nil {
		t.Fatal(err)
	}
	if u := usage.Total; u.Requests != 4 || u.Cost != charged || u.PromptTokens != prompt || u.CompletionTokens != completion {
		t.Errorf("GET /v1/usage total %+v, want 4 requests, %d prompt + %d completion tokens, %d nanoTON", u, prompt, completion, charged)
	}
	if strings.Contains(e.log.String(), secret) || strings.Contains(w.output(), secret) {
		t.Error("an input reached the proxy's log or the worker's output")
	}
	t.Logf("embeddings: %d×%d, %d tokens; completions: %d+%d and %d+%d tokens (%d bytes streamed); charged %d nanoTON",
		len(emb.Data), len(emb.Data[0].Embedding), emb.Usage.PromptTokens, cmpl.Usage.PromptTokens, cmpl.Usage.CompletionTokens,
		su.PromptTokens, su.CompletionTokens, text.Len(), charged)
	// The proxy counted every prompt itself (raw text, no template) and
	// the honest worker's counts were within its tolerance: billed in full.
	if strings.Contains(e.log.String(), "claimed more tokens") || !strings.Contains(e.log.String(), "metering model") {
		t.Errorf("the proxy did not meter with the model's tokenizer or billed less than the honest worker claimed:\n%s", e.log.String())
	}
	for _, l := range strings.Split(e.log.String(), "\n") {
		if strings.Contains(l, "metering disagreement") && strings.Contains(l, "kind=prompt") {
			t.Errorf("the proxy's prompt count differs from Ollama's: %s", l)
		}
	}
	if !strings.Contains(e.log.String(), "request_id=e2e-embed-1") {
		t.Error("the proxy's log has no line with the given request id")
	}
}

func same(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func usageCost(t *testing.T, raw string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		t.Fatalf("total_cost %q: %v", raw, err)
	}
	return n
}

func rawPost(t *testing.T, ctx context.Context, e *e2eProxy, path, body string) []byte {
	t.Helper()
	return rawDo(t, ctx, e, http.MethodPost, path, body)
}

func rawGet(t *testing.T, ctx context.Context, e *e2eProxy, path string) []byte {
	t.Helper()
	return rawDo(t, ctx, e, http.MethodGet, path, "")
}

func rawDo(t *testing.T, ctx context.Context, e *e2eProxy, method, path, body string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+e.apiAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %v: %.300s", method, path, resp.StatusCode, err, b)
	}
	return b
}
