//go:build linux

package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// prompts are what the clients ask; each has a fixed prompt-token count
// (the chat template is fixed), learned from the answers.
var prompts = []string{
	"Tell me a story.",
	"What is a GPU? Answer at length, with examples and a short history of the field.",
	"Count to ten.",
}

// Most jobs are short, so that receipts are signed and stored many times a
// second and a kill often lands between the two (the window the
// receipts_request path exists for); the rest are long enough (about a
// second on this model) for a kill to land mid-stream.
var (
	shortTokens = []int64{1, 2, 4, 8}
	longTokens  = []int64{32, 128, 512, 1500}
)

func pickMaxTokens(rng *rand.Rand) int64 {
	if rng.IntN(10) < 7 {
		return shortTokens[rng.IntN(len(shortTokens))]
	}
	return longTokens[rng.IntN(len(longTokens))]
}

// requestBound only keeps a stuck request from hanging the run; the proxy's
// own job timeout (120 s) ends any real request before it.
const requestBound = 150 * time.Second

// answer is one request that succeeded, as the client saw it.
type answer struct {
	Prompt           int
	PromptTokens     int64
	CompletionTokens int64
	Cost             int64 // usage.total_cost: nanoTON charged to the key
}

// lost is a request that broke at the transport level (the proxy died
// under it): the proxy may have charged it without the client learning.
type lost struct {
	Prompt    int
	MaxTokens int64
	Err       string
}

// ClientTotals are the client side's figures.
type ClientTotals struct {
	Requests  int64          `json:"requests"`
	Answered  int64          `json:"answered"`  // successful answers
	Streamed  int64          `json:"streamed"`  // of which streamed
	Delivered int64          `json:"delivered"` // Σ usage.total_cost of the answers, nanoTON
	Refused   map[string]int `json:"refused"`   // clean API errors by code: never charged
	Broken    int64          `json:"broken"`    // transport errors: maybe charged, answer lost
	Hung      int64          `json:"hung"`      // requests still open after requestBound
}

// load drives chat completions from a few goroutines until stopped.
type load struct {
	client  openai.Client
	stopped atomic.Bool
	wg      sync.WaitGroup

	mu      sync.Mutex
	totals  ClientTotals
	answers []answer
	lost    []lost
	odd     []string // answers that contradict themselves
}

func startLoad(apiURL, key string, clients int, seed uint64) *load {
	l := &load{
		client: openai.NewClient(option.WithBaseURL(apiURL), option.WithAPIKey(key), option.WithMaxRetries(0)),
		totals: ClientTotals{Refused: map[string]int{}},
	}
	for i := range clients {
		l.wg.Add(1)
		go l.run(rand.New(rand.NewPCG(seed, uint64(i)+1)))
	}
	return l
}

// stop lets every client finish its request in flight and waits for them:
// cancelling a request would itself make answers the proxy charged but the
// client never saw.
func (l *load) stop() {
	l.stopped.Store(true)
	l.wg.Wait()
}

func (l *load) run(rng *rand.Rand) {
	defer l.wg.Done()
	for !l.stopped.Load() {
		prompt, maxTok, stream := rng.IntN(len(prompts)), pickMaxTokens(rng), rng.IntN(2) == 0
		ctx, cancel := context.WithTimeout(context.Background(), requestBound)
		a, err := l.request(ctx, prompt, maxTok, stream)
		hung := ctx.Err() != nil
		cancel()
		l.record(prompt, maxTok, stream, a, err, hung)
		if err != nil && !l.stopped.Load() {
			time.Sleep(100 * time.Millisecond) // the proxy is down or has no worker: do not spin
		}
	}
}

func (l *load) record(prompt int, maxTok int64, stream bool, a answer, err error, hung bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.totals.Requests++
	var apiErr *openai.Error
	var streamErr *ssestream.StreamError
	switch {
	case err == nil:
		l.totals.Answered++
		if stream {
			l.totals.Streamed++
		}
		l.totals.Delivered += a.Cost
		l.answers = append(l.answers, a)
		if want := a.PromptTokens*pricePrompt + a.CompletionTokens*priceCompletion; a.Cost != want {
			l.odd = append(l.odd, fmt.Sprintf("answer %+v: total_cost %d, but its usage × the prices is %d", a, a.Cost, want))
		}
		if a.CompletionTokens > maxTok {
			l.odd = append(l.odd, fmt.Sprintf("answer %+v: %d completion tokens billed, max_tokens was %d", a, a.CompletionTokens, maxTok))
		}
	case hung:
		l.totals.Hung++
	case errors.Is(err, errNoUsage):
		// The proxy always reports usage and cost: an answer without them is
		// money the client cannot check. It may have been charged.
		l.odd = append(l.odd, fmt.Sprintf("an answer (stream %v) without usage.total_cost", stream))
		l.totals.Broken++
		l.lost = append(l.lost, lost{Prompt: prompt, MaxTokens: maxTok, Err: err.Error()})
	case errors.As(err, &apiErr):
		l.totals.Refused[fmt.Sprintf("%d %s", apiErr.StatusCode, apiErr.Code)]++
	case errors.As(err, &streamErr):
		var ev struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(streamErr.Event.Data, &ev)
		l.totals.Refused["stream "+ev.Error.Code]++
	default:
		l.totals.Broken++
		l.lost = append(l.lost, lost{Prompt: prompt, MaxTokens: maxTok, Err: err.Error()})
	}
}

var errNoUsage = errors.New("answer without usage.total_cost")

// usageJSON is OpenAI's usage block with Cocoon's total_cost.
type usageJSON struct {
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	TotalCost        *int64 `json:"total_cost"`
}

func (l *load) request(ctx context.Context, prompt int, maxTok int64, stream bool) (answer, error) {
	params := openai.ChatCompletionNewParams{
		Model:     model,
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompts[prompt])},
		MaxTokens: openai.Int(maxTok),
	}
	a := answer{Prompt: prompt}
	var u struct {
		Usage *usageJSON `json:"usage"`
	}
	if !stream {
		resp, err := l.client.Chat.Completions.New(ctx, params)
		if err != nil {
			return a, err
		}
		if err := json.Unmarshal([]byte(resp.RawJSON()), &u); err != nil {
			return a, fmt.Errorf("answer: %w", err)
		}
	} else {
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := l.client.Chat.Completions.NewStreaming(ctx, params)
		for s.Next() {
			var c struct {
				Usage *usageJSON `json:"usage"`
			}
			if json.Unmarshal([]byte(s.Current().RawJSON()), &c) == nil && c.Usage != nil {
				u.Usage = c.Usage
			}
		}
		if err := s.Err(); err != nil {
			return a, err
		}
	}
	if u.Usage == nil || u.Usage.TotalCost == nil {
		return a, errNoUsage
	}
	a.PromptTokens, a.CompletionTokens, a.Cost = u.Usage.PromptTokens, u.Usage.CompletionTokens, *u.Usage.TotalCost
	return a, nil
}

func (l *load) snapshot() (ClientTotals, []answer, []lost, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.totals
	t.Refused = make(map[string]int, len(l.totals.Refused))
	for k, v := range l.totals.Refused {
		t.Refused[k] = v
	}
	return t, append([]answer(nil), l.answers...), append([]lost(nil), l.lost...), append([]string(nil), l.odd...)
}

func (l *load) answered() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.totals.Answered
}
