package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/modeldigest"

	"github.com/ollama/ollama/api"
)

// A canary's reference answer comes from a trusted source: the operator's
// own Ollama (with the log probability of every token and of its top
// alternatives, which the comparison needs to tell a float flip from a
// lie), or else a worker the operator marks trusted (text only). It is
// cached per (corpus entry, model digest): a greedy answer depends on
// nothing else (the seed does not matter at temperature 0).

// referenceTopLogprobs is how many alternatives the reference reports per
// token (Ollama's maximum).
const referenceTopLogprobs = 20

// ErrNoReference means no reference answer could be had for a canary now;
// the canary is not sent.
var ErrNoReference = errors.New("canary: no reference answer")

// reference is a canary's known answer.
type reference struct {
	text   string // the answer as the model's runtime streamed it
	finish string // stop or length
	// chunks are the streamed pieces with the tokens each carried; nil for
	// a text-only reference (a trusted worker's).
	chunks []refChunk
	tokens int // tokens in chunks
}

// refChunk is one streamed piece of the answer and its tokens (one token,
// or several when a character spans tokens).
type refChunk struct {
	text   string
	tokens []refToken
}

// refToken is one generated token: its bytes, log probability and the
// reference's top alternatives at its position.
type refToken struct {
	piece   string
	logprob float64
	alts    []refAlt
}

type refAlt struct {
	piece   string
	logprob float64
}

// ollamaReference asks the operator's Ollama.
type ollamaReference struct {
	base   *url.URL
	client *api.Client
}

func newOllamaReference(base *url.URL, hc *http.Client) *ollamaReference {
	return &ollamaReference{base: base, client: api.NewClient(base, hc)}
}

// digests returns the weights digests (package modeldigest: the GGUF
// blob's, the same on every machine, unlike the manifest's) of the named
// models that the reference Ollama holds ("name" matches "name" and
// "name:latest").
func (o *ollamaReference) digests(ctx context.Context, models []string) (map[string]string, error) {
	list, err := o.client.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("canary: reference Ollama: list models: %w", err)
	}
	out := map[string]string{}
	for _, want := range models {
		for _, m := range list.Models {
			if m.Name == want || m.Model == want || m.Name == want+":latest" || m.Model == want+":latest" {
				show, err := o.client.Show(ctx, &api.ShowRequest{Model: m.Name})
				if err != nil {
					return nil, fmt.Errorf("canary: reference Ollama: show %s: %w", m.Name, err)
				}
				if d, ok := modeldigest.FromModelfile(show.Modelfile); ok {
					out[want] = normalizeDigest(d)
				}
				break
			}
		}
	}
	return out, nil
}

// answer runs the canary prompt on the reference Ollama with the options a
// worker passes its Ollama for a canary (temperature 0, top_p, seed,
// num_predict = max_tokens), asking for log probabilities.
func (o *ollamaReference) answer(ctx context.Context, model string, prompt canaryPrompt) (*reference, error) {
	msgs := make([]api.Message, len(prompt.Messages))
	for i, m := range prompt.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	opts := canarySampling()
	stream := true
	req := &api.ChatRequest{
		Model: model, Messages: msgs, Stream: &stream,
		Options: map[string]any{
			"temperature": *opts.Temperature, "top_p": *opts.TopP, "seed": *opts.Seed,
			"num_predict": prompt.MaxTokens,
		},
		Logprobs: true, TopLogprobs: referenceTopLogprobs,
	}
	ref := &reference{}
	var text strings.Builder
	done := false
	err := o.client.Chat(ctx, req, func(r api.ChatResponse) error {
		if r.Message.Content != "" || len(r.Logprobs) > 0 {
			ch := refChunk{text: r.Message.Content}
			for _, lp := range r.Logprobs {
				t := refToken{piece: tokenBytes(lp.TokenLogprob), logprob: lp.Logprob}
				for _, alt := range lp.TopLogprobs {
					t.alts = append(t.alts, refAlt{piece: tokenBytes(alt), logprob: alt.Logprob})
				}
				ch.tokens = append(ch.tokens, t)
			}
			text.WriteString(ch.text)
			ref.tokens += len(ch.tokens)
			ref.chunks = append(ref.chunks, ch)
		}
		if r.Done {
			done = true
			ref.finish = r.DoneReason
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("canary: reference Ollama: chat %s: %w", truncateStr(model, 64), err)
	}
	if !done {
		return nil, fmt.Errorf("canary: reference Ollama: chat %s: the answer ended without its final message", truncateStr(model, 64))
	}
	ref.text = text.String()
	if ref.tokens == 0 && ref.text != "" {
		return nil, fmt.Errorf("canary: reference Ollama: chat %s: no log probabilities (Ollama older than v0.12?)", truncateStr(model, 64))
	}
	return ref, nil
}

// tokenBytes is a token's exact bytes: Ollama sends them as a list of
// byte values, since a token may hold part of a UTF-8 character, which
// its JSON text field cannot carry.
func tokenBytes(t api.TokenLogprob) string {
	if len(t.Bytes) == 0 {
		return t.Token
	}
	b := make([]byte, len(t.Bytes))
	for i, v := range t.Bytes {
		b[i] = byte(v)
	}
	return string(b)
}

func refKey(idx int, digest string) string { return strconv.Itoa(idx) + "|" + digest }

// reference returns the cached reference of corpus entry idx on the model
// with digest, or gets it from the trusted source.
func (c *canaries) reference(ctx context.Context, idx int, model, digest string) (*reference, error) {
	key := refKey(idx, digest)
	c.mu.Lock()
	ref := c.refs[key]
	c.mu.Unlock()
	if ref != nil {
		return ref, nil
	}
	select {
	case c.refSem <- struct{}{}:
		defer func() { <-c.refSem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rctx, cancel := context.WithTimeout(ctx, c.p.cfg.JobTimeout)
	defer cancel()
	var err error
	if c.ollama != nil {
		ref, err = c.ollama.answer(rctx, model, c.corpus[idx])
	} else {
		ref, err = c.trustedAnswer(rctx, idx, model, digest)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.refs) >= maxCachedReferences {
		for k := range c.refs { // forget one at random: the corpus is small, digests change rarely
			delete(c.refs, k)
			break
		}
	}
	c.refs[key] = ref
	c.mu.Unlock()
	return ref, nil
}

// trustedAnswer runs corpus entry idx as a canary on a connected trusted
// worker serving model with digest; its answer (credited like any job) is
// the reference.
func (c *canaries) trustedAnswer(ctx context.Context, idx int, model, digest string) (*reference, error) {
	p := c.p
	var cands []*workerConn
	p.mu.Lock()
	for id, w := range p.workers {
		if !c.trusted[id] || !w.registered {
			continue
		}
		for _, m := range w.reg.Models {
			if m.Name == model && normalizeDigest(m.Digest) == digest {
				cands = append(cands, w)
				break
			}
		}
	}
	p.mu.Unlock()
	for _, w := range cands {
		a := p.reserveOn(w, model)
		if a == nil {
			continue
		}
		start := time.Now()
		res, ok := p.runCanaryJob(ctx, a, model, c.corpus[idx])
		if !ok {
			return nil, fmt.Errorf("%w: the trusted worker's job failed (status %d)", ErrNoReference, res.status)
		}
		w.log.Info("canary reference from a trusted worker", "job", a.jobID, "model", model, "entry", idx,
			"ms", time.Since(start).Milliseconds())
		return &reference{text: res.text, finish: res.finish}, nil
	}
	return nil, fmt.Errorf("%w: no trusted worker with model %s (digest %s) has a free slot", ErrNoReference, truncateStr(model, 64), truncateStr(digest, 16))
}
