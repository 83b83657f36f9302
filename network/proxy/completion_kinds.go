package proxy

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// The answers of the job kinds beyond chat: OpenAI's legacy text completion
// (object "text_completion", streamed as chunks of the same object) and
// its embeddings list. They ride on the chat completion's machinery
// (serveCompletion, follow, metering, credit): only the shape differs.

const evEmbedding = evOversize + 1 // a worker's embedding message (router.go's events)

// maxEmbeddingBytes caps the vectors one embedding job may relay (float32
// bytes), whatever its inputs: the proxy holds them until the answer.
const maxEmbeddingBytes = 32 << 20

// Encoding formats of an embeddings request.
const (
	encodingFloat  = "float"
	encodingBase64 = "base64"
)

// embedAnswer is an embedding job's vectors as they arrive.
type embedAnswer struct {
	inputs  int
	format  string // encodingFloat or encodingBase64
	vectors [][]float32
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type textCompletionOut struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []textChoice `json:"choices"`
	Usage   *usageOut    `json:"usage,omitempty"`
}

type embeddingOut struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string of little-endian float32
}

type embeddingUsage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
	TotalCost    int64 `json:"total_cost"` // nanoTON charged, as in chat usage
}

type embeddingsOut struct {
	Object string         `json:"object"`
	Data   []embeddingOut `json:"data"`
	Model  string         `json:"model"`
	Usage  embeddingUsage `json:"usage"`
}

func (c *completion) textChunk(text string, finish *string, u *usageOut) textCompletionOut {
	out := textCompletionOut{ID: c.id, Object: "text_completion", Created: c.created, Model: c.model, Usage: u}
	if u == nil {
		out.Choices = []textChoice{{Text: text, FinishReason: finish}}
	} else {
		out.Choices = []textChoice{}
	}
	return out
}

// textDelta relays (stream) or keeps one piece of a text completion.
func (c *completion) textDelta(text string) error {
	if c.stream {
		c.startTextSSE()
		if err := c.writeEvent(c.textChunk(text, nil, nil)); err != nil {
			return err
		}
	}
	c.text.WriteString(text)
	return nil
}

// startTextSSE starts the event stream (no role chunk: a text completion
// has no message).
func (c *completion) startTextSSE() {
	if c.sseStarted {
		return
	}
	c.sseStarted = true
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
}

// finishKind ends a successful text completion or embeddings answer.
func (c *completion) finishKind(finishReason string, u usageOut) {
	if c.kind == network.JobEmbedding {
		c.armWrite()
		writeJSON(c.w, http.StatusOK, c.embed.out(c.model, u))
		return
	}
	if !c.stream {
		c.armWrite()
		out := c.textChunk(c.text.String(), &finishReason, nil)
		out.Usage = &u
		writeJSON(c.w, http.StatusOK, out)
		return
	}
	c.startTextSSE()
	_ = c.writeEvent(c.textChunk("", &finishReason, nil))
	if c.includeUsage {
		_ = c.writeEvent(c.textChunk("", nil, &u))
	}
	_ = c.writeFlush([]byte("data: [DONE]\n\n"))
}

// embedding takes one vector of an embedding job: in input order, all of
// one width. Index 0 starts afresh (a retry on another worker).
func (c *completion) embedding(e network.Embedding) error {
	ea := c.embed
	if ea == nil {
		return fmt.Errorf("an embedding for a %s job", c.kind)
	}
	if e.Index == 0 {
		ea.vectors = ea.vectors[:0]
	}
	if e.Index != len(ea.vectors) || e.Index >= ea.inputs {
		return fmt.Errorf("embedding %d out of order (expected %d of %d)", e.Index, len(ea.vectors), ea.inputs)
	}
	if len(ea.vectors) > 0 && len(e.Embedding) != len(ea.vectors[0]) {
		return fmt.Errorf("embedding %d has %d dimensions, the first had %d", e.Index, len(e.Embedding), len(ea.vectors[0]))
	}
	ea.vectors = append(ea.vectors, e.Embedding)
	return nil
}

// complete reports whether every input has its vector.
func (ea *embedAnswer) complete() bool { return ea != nil && len(ea.vectors) == ea.inputs }

func (ea *embedAnswer) out(model string, u usageOut) embeddingsOut {
	out := embeddingsOut{Object: "list", Model: model, Data: make([]embeddingOut, len(ea.vectors)),
		Usage: embeddingUsage{PromptTokens: u.PromptTokens, TotalTokens: u.PromptTokens, TotalCost: u.TotalCost}}
	for i, v := range ea.vectors {
		var enc any = v
		if ea.format == encodingBase64 {
			b := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			enc = base64.StdEncoding.EncodeToString(b)
		}
		out.Data[i] = embeddingOut{Object: "embedding", Index: i, Embedding: enc}
	}
	return out
}

// startKindMetering meters a job of a kind beyond chat (startMetering's
// part for them): a completion's prompt is counted as the raw text the
// worker's Ollama reads (no template), an embedding's inputs each so; an
// embedding has no completion and its byte bound is on its vectors.
func (p *Proxy) startKindMetering(jm *jobMeter, job *network.Job) {
	texts := []string{job.Prompt}
	if job.Kind == network.JobEmbedding {
		texts = job.Input
		jm.maxTokens = 0
		job.MaxTokens = 0 // an embedding generates nothing
		jm.maxBytes = min(int64(len(job.Input))*network.MaxEmbeddingDims*4, maxEmbeddingBytes)
	}
	jm.promptBound = 0
	for _, t := range texts {
		jm.promptBound = satSum(jm.promptBound, int64(len(t))+uncountedMessageTokens)
	}
	if jm.counter == nil {
		return
	}
	jm.promptDone = make(chan struct{})
	go func(c *metering.Counter) {
		defer close(jm.promptDone)
		var total int64
		for _, t := range texts {
			n, err := c.Raw(t)
			if err != nil {
				jm.promptErr = err
				return
			}
			total += int64(n)
		}
		jm.promptCount = total
	}(jm.counter)
}
