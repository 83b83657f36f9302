package proxy_test

import (
	"context"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/proxytest"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// TestNotBilledPastMaxTokens: a worker that streams and reports more tokens
// than the job's max_tokens is paid, and the API key charged, for
// max_tokens at most — the app developer never allowed more.
func TestNotBilledPastMaxTokens(t *testing.T) {
	const maxTokens = 5
	for _, tc := range []struct {
		name     string
		reported int // completion tokens the worker streams and reports
		stream   bool
		billed   int64
	}{
		{"past the limit", 9, false, maxTokens},
		{"past the limit, streamed", 9, true, maxTokens},
		{"at the limit", maxTokens, false, maxTokens},
		{"under the limit", 3, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, "", nil)
			deltas := make([]string, tc.reported)
			for i := range deltas {
				deltas[i] = "tok "
			}
			w := tp.worker(t, proxytest.Options{Script: func(network.Job) proxytest.Behavior {
				return proxytest.Behavior{Deltas: deltas, Usage: network.Usage{PromptTokens: 12, CompletionTokens: tc.reported}, FinishReason: "length"}
			}})
			p := chatParams()
			p.MaxTokens = openai.Int(maxTokens)
			usage, _, _ := chatAnswer(t, tp, p, tc.stream)
			if jobs := w.Jobs(); len(jobs) != 1 || jobs[0].MaxTokens != maxTokens {
				t.Fatalf("jobs %+v: want one with max_tokens %d", jobs, maxTokens)
			}
			wantWorker, wantGross := amount(12, tc.billed)
			if usage.CompletionTokens != tc.billed {
				t.Errorf("the client was told %d completion tokens, want %d", usage.CompletionTokens, tc.billed)
			}
			// The stream accumulator keeps no total_cost; the key's usage below checks the charge.
			if !tc.stream {
				if got := totalCost(t, usage); got != wantGross {
					t.Errorf("total_cost %d, want %d", got, wantGross)
				}
			}
			rs := checkReceipts(t, tp, w, 1)
			if r := rs[0].Receipt; r.CompletionTokens != tc.billed || r.Amount != wantWorker {
				t.Errorf("receipt for %d completion tokens, %d nanoTON; want %d, %d", r.CompletionTokens, r.Amount, tc.billed, wantWorker)
			}
			u, err := tp.Store().Usage(context.Background(), proxy.KeyDigest(testKey))
			if err != nil {
				t.Fatal(err)
			}
			if u.CompletionTokens != tc.billed || u.Cost != wantGross {
				t.Errorf("API key charged for %d completion tokens, %d nanoTON; want %d, %d", u.CompletionTokens, u.Cost, tc.billed, wantGross)
			}
		})
	}
}

// TestWorkerCoefficientPriced: a job is priced at the coefficient its
// worker registered, for the worker's credit and the key's charge alike.
func TestWorkerCoefficientPriced(t *testing.T) {
	for _, tc := range []struct {
		name        string
		coefficient int64
	}{
		{"cheaper", 500},
		{"dearer", 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, "", nil)
			w := tp.worker(t, proxytest.Options{CoefficientMilli: tc.coefficient, Script: func(network.Job) proxytest.Behavior {
				return proxytest.Behavior{Usage: network.Usage{PromptTokens: 12, CompletionTokens: 3}}
			}})
			resp, err := tp.client().Chat.Completions.New(testCtx(t), chatParams())
			if err != nil {
				t.Fatal(err)
			}
			wantWorker, _ := receipt.Amount(12, 3, pPrompt, pComplete, tc.coefficient, proxy.DefaultCommissionBPS)
			wantGross, _ := receipt.Amount(12, 3, pPrompt, pComplete, tc.coefficient, 0)
			if got := totalCost(t, resp.Usage); got != wantGross {
				t.Errorf("total_cost %d, want %d", got, wantGross)
			}
			rs := checkReceipts(t, tp, w, 1)
			if r := rs[0].Receipt; r.CoefficientMilli != tc.coefficient || r.Amount != wantWorker {
				t.Errorf("receipt at coefficient %d for %d nanoTON, want %d, %d", r.CoefficientMilli, r.Amount, tc.coefficient, wantWorker)
			}
			u, err := tp.Store().Usage(context.Background(), proxy.KeyDigest(testKey))
			if err != nil || u.Cost != wantGross {
				t.Errorf("API key charged %d nanoTON, want %d (%v)", u.Cost, wantGross, err)
			}
		})
	}
}

// chatAnswer sends p (streaming or not, with usage asked for in a stream)
// through the real OpenAI client and returns the usage, the text and the
// finish reason the client got.
func chatAnswer(t *testing.T, tp *testProxy, p openai.ChatCompletionNewParams, stream bool) (usage openai.CompletionUsage, content, finish string) {
	t.Helper()
	if !stream {
		resp, err := tp.client().Chat.Completions.New(testCtx(t), p)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Usage, resp.Choices[0].Message.Content, resp.Choices[0].FinishReason
	}
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := tp.client().Chat.Completions.NewStreaming(testCtx(t), p)
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return acc.Usage, acc.Choices[0].Message.Content, acc.Choices[0].FinishReason
}
