package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// completion is one chat completion request being answered.
type completion struct {
	p            *Proxy
	w            http.ResponseWriter
	rc           *http.ResponseController // write deadlines and flushes (limits.go)
	id           string
	created      int64
	model        string
	stream       bool
	includeUsage bool
	key          *apiKeyState
	price        ModelPrice
	maxTokens    int
	maxCoef      int64     // the client's price cap (pricecap.go); 0: none
	meter        *jobMeter // the proxy's own count (meter.go)
	// canary, when set, is the slot a canary job (canary.go) booked on the
	// worker it checks: the job runs there and never moves to another.
	canary *attempt

	sseStarted bool
	text       strings.Builder // the answer relayed so far (non-stream: sent at the end)
	// offeredTools: the job gave the model tools; toolCalls are the calls
	// it answered with (chatmeter.go).
	offeredTools bool
	toolCalls    []network.ToolCall
	// wantLogprobs: the job asked for log probabilities; logprobs are the
	// ones relayed (kept for a non-streamed answer).
	wantLogprobs bool
	logprobs     []network.TokenLogprob

	kind  string       // network.JobChat, JobCompletion or JobEmbedding (completion_kinds.go)
	embed *embedAnswer // JobEmbedding: the vectors received
	reqID string       // the request's id (requestid.go)
}

type usageOut struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	TotalCost        int64 `json:"total_cost"` // nanoTON charged (before commission), as Cocoon reports
}

type chunkDelta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []toolCallDelta `json:"tool_calls,omitempty"`
}

type chunkChoice struct {
	Index        int          `json:"index"`
	Delta        chunkDelta   `json:"delta"`
	FinishReason *string      `json:"finish_reason"`
	Logprobs     *logprobsOut `json:"logprobs"`
}

// logprobsOut is OpenAI's choice.logprobs (chatmeter.go fills it).
type logprobsOut struct {
	Content []network.TokenLogprob `json:"content"`
	Refusal []network.TokenLogprob `json:"refusal"`
}

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *usageOut     `json:"usage,omitempty"`
}

type messageOut struct {
	Role      string             `json:"role"`
	Content   *string            `json:"content"` // null when the answer is tool calls only, as OpenAI's
	Refusal   *string            `json:"refusal"`
	ToolCalls []network.ToolCall `json:"tool_calls,omitempty"`
}

// toolCallDelta is a tool call in a stream: OpenAI's chunks number the
// calls of a choice by index.
type toolCallDelta struct {
	Index int `json:"index"`
	network.ToolCall
}

type choiceOut struct {
	Index        int          `json:"index"`
	Message      messageOut   `json:"message"`
	FinishReason string       `json:"finish_reason"`
	Logprobs     *logprobsOut `json:"logprobs"`
}

type completionOut struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	Model   string      `json:"model"`
	Choices []choiceOut `json:"choices"`
	Usage   usageOut    `json:"usage"`
}

func (c *completion) writeEvent(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeFlush(append(append([]byte("data: "), b...), '\n', '\n'))
}

func (c *completion) startSSE() {
	if c.sseStarted {
		return
	}
	c.sseStarted = true
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	// The first chunk carries the role, as OpenAI's does.
	empty := ""
	_ = c.writeEvent(chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
		Choices: []chunkChoice{{Delta: chunkDelta{Role: "assistant", Content: &empty}}}})
}

// delta relays one piece of text (stream) or keeps it (non-stream); the
// text kept is what the proxy meters.
func (c *completion) delta(text string, lps []network.TokenLogprob) error {
	if c.kind == network.JobCompletion {
		return c.textDelta(text) // completion_kinds.go
	}
	if !c.wantLogprobs {
		lps = nil // not asked for: not the model's to add
	}
	if c.stream {
		c.startSSE()
		ch := chunkChoice{Delta: chunkDelta{Content: &text}}
		if len(lps) > 0 {
			ch.Logprobs = &logprobsOut{Content: lps}
		}
		if err := c.writeEvent(chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
			Choices: []chunkChoice{ch}}); err != nil {
			return err
		}
	} else {
		c.logprobs = append(c.logprobs, lps...)
	}
	c.text.WriteString(text)
	return nil
}

// finish sends the end of a successful answer.
func (c *completion) finish(finishReason string, u usageOut) {
	if finishReason == "" {
		finishReason = "stop"
	}
	if c.kind != network.JobChat {
		c.finishKind(finishReason, u) // completion_kinds.go
		return
	}
	if !c.stream {
		c.armWrite()
		msg := messageOut{Role: "assistant", ToolCalls: c.toolCalls}
		if text := c.text.String(); text != "" || len(c.toolCalls) == 0 {
			msg.Content = &text
		}
		choice := choiceOut{Message: msg, FinishReason: finishReason}
		if c.wantLogprobs {
			choice.Logprobs = &logprobsOut{Content: c.logprobs}
		}
		writeJSON(c.w, http.StatusOK, completionOut{
			ID: c.id, Object: "chat.completion", Created: c.created, Model: c.model,
			Choices: []choiceOut{choice},
			Usage:   u,
		})
		return
	}
	c.startSSE()
	if len(c.toolCalls) > 0 {
		calls := make([]toolCallDelta, len(c.toolCalls))
		for i, tc := range c.toolCalls {
			calls[i] = toolCallDelta{Index: i, ToolCall: tc}
		}
		_ = c.writeEvent(chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
			Choices: []chunkChoice{{Delta: chunkDelta{ToolCalls: calls}}}})
	}
	_ = c.writeEvent(chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
		Choices: []chunkChoice{{Delta: chunkDelta{}, FinishReason: &finishReason}}})
	if c.includeUsage {
		_ = c.writeEvent(chunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
			Choices: []chunkChoice{}, Usage: &u})
	}
	_ = c.writeFlush([]byte("data: [DONE]\n\n"))
}

// fail ends the request with an error: a JSON error while nothing was sent,
// else an SSE error event (the stream then simply ends, without [DONE]).
func (c *completion) fail(status int, code, msg string) {
	if c.sseStarted {
		_ = c.writeEvent(map[string]apiError{"error": {Message: msg, Type: errorType(status), Code: strPtr(code)}})
		return
	}
	if status == http.StatusServiceUnavailable {
		c.w.Header().Set("Retry-After", "1")
	}
	c.armWrite()
	writeError(c.w, status, code, "", msg)
}

// outcome of one attempt.
type outcome int

const (
	outDone    outcome = iota // answered (or failed after output): stop
	outRetry                  // the worker failed before any output: try another
	outStopped                // the request's context ended
)

// serveCompletion runs the request on workers, retrying on another worker
// while no output has been relayed.
func (p *Proxy) serveCompletion(reqCtx context.Context, c *completion, job network.Job) {
	deadline := time.Now().Add(p.cfg.JobTimeout)
	ctx, cancel := context.WithDeadline(reqCtx, deadline)
	defer cancel()
	stop := context.AfterFunc(p.baseCtx, cancel) // proxy shutdown ends the request
	defer stop()
	c.reqID = requestID(reqCtx) // requestid.go
	c.meter = p.startMetering(&job)
	defer c.meter.wait()
	c.maxTokens = job.MaxTokens
	job.Deadline = deadline.UnixMilli()

	exclude := map[*workerConn]bool{}
	needs := job.Features() // features.go: workers without them are passed over
	lacking := 0
	lastFailure := ""
	attempts := p.cfg.MaxAttempts
	if c.canary != nil {
		attempts = 1
	}
	for try := 0; try < attempts; try++ {
		a := c.canary
		if a == nil {
			lacking = p.excludeLacking(job.Model, needs, exclude)
			a = p.reserveCapped(c.route(), exclude, c.maxCoef)
		}
		queued := false
		for a == nil {
			// Every worker with the model is busy: queue until a slot frees
			// up (Ollama would queue too), bounded by the request's deadline
			// and by MaxQueued waiting requests.
			freed, ok := p.queueForCapped(c.route(), exclude, c.maxCoef)
			if !ok {
				break
			}
			if !queued {
				if !p.joinQueue() {
					c.failQueueFull()
					return
				}
				queued = true
			}
			select {
			case <-freed:
			case <-time.After(100 * time.Millisecond): // a worker may have become accepting
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			lacking = p.excludeLacking(job.Model, needs, exclude)
			a = p.reserveCapped(c.route(), exclude, c.maxCoef)
		}
		if queued {
			p.leaveQueue()
		}
		if a == nil {
			if ctx.Err() != nil && reqCtx.Err() == nil && p.baseCtx.Err() == nil {
				c.fail(http.StatusGatewayTimeout, "worker_timeout", "no worker freed up for "+truncateStr(job.Model, 64)+" within "+p.cfg.JobTimeout.String())
				return
			}
			break
		}
		exclude[a.w] = true
		a.setMaxBytes(c.meter.maxBytes)
		a.setMaxLogprobs(job, p.cfg.Metering.MaxJobBytes) // chatmeter.go
		job.JobID = a.jobID
		log := a.w.log.With("job", a.jobID, "model", job.Model, "try", try+1, "request_id", c.reqID)
		if err := a.w.send(network.TypeJob, &job); err != nil {
			p.release(a, false)
			var pe *network.ProtocolError
			if errors.As(err, &pe) && pe.Code == network.CodeTooLarge {
				c.fail(http.StatusRequestEntityTooLarge, "request_too_large", "the conversation is too large for one job")
				return
			}
			log.Info("sending job failed", "err", err)
			lastFailure = "worker connection failed"
			continue
		}
		log.Debug("job sent")
		switch out, why := p.follow(ctx, c, a, log); out {
		case outDone:
			return
		case outRetry:
			lastFailure = why
			continue
		case outStopped:
			switch {
			case p.baseCtx.Err() != nil:
				c.fail(http.StatusServiceUnavailable, "proxy_shutting_down", "the proxy is shutting down")
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				c.fail(http.StatusGatewayTimeout, "worker_timeout", "the worker did not finish within "+p.cfg.JobTimeout.String())
			}
			return // else the app developer went away: nothing to answer
		}
	}
	if p.baseCtx.Err() != nil {
		c.fail(http.StatusServiceUnavailable, "proxy_shutting_down", "the proxy is shutting down")
		return
	}
	if lastFailure != "" {
		c.fail(http.StatusBadGateway, "worker_failed", "the worker failed before answering ("+lastFailure+") and no other worker could take the job")
		return
	}
	if lacking > 0 {
		c.fail(http.StatusServiceUnavailable, "feature_unavailable", noCapableWorkerMessage(job.Model, needs))
		return
	}
	c.fail(http.StatusServiceUnavailable, "no_worker_available", p.noWorkerFor(c))
}

// follow relays one attempt's events until it ends.
func (p *Proxy) follow(ctx context.Context, c *completion, a *attempt, log *slog.Logger) (outcome, string) {
	nextSeq := 0
	failed := func(why string) (outcome, string) {
		if nextSeq == 0 {
			log.Info("job failed before output, retrying", "why", why)
			return outRetry, why
		}
		log.Info("job failed mid-stream", "why", why, "deltas", nextSeq)
		c.fail(http.StatusBadGateway, "worker_failed", "the worker failed mid-answer: "+why)
		return outDone, why
	}
	cancelOnWorker := func(reason string) {
		p.release(a, false)
		if err := a.w.send(network.TypeCancel, &network.Cancel{JobID: a.jobID, Reason: reason}); err != nil {
			log.Debug("sending cancel failed", "err", err)
		}
	}
	handle := func(e event) (bool, outcome, string) {
		switch e.kind {
		case evDelta:
			if e.delta.Seq != nextSeq {
				cancelOnWorker("delta out of order")
				o, why := failed("delta out of order")
				return true, o, why
			}
			nextSeq++
			if err := c.delta(e.delta.Text, e.delta.Logprobs); err != nil {
				cancelOnWorker("client disconnected")
				p.settleRelayed(c, a, log, false)
				return true, outStopped, "client write failed"
			}
			c.meter.deltas += int64(e.textPieces())
		case evEmbedding:
			if err := c.embedding(e.emb); err != nil { // completion_kinds.go
				cancelOnWorker("bad embedding")
				p.strike(a.w, a.jobID, err.Error())
				o, why := failed(err.Error())
				return true, o, why
			}
		case evOversize:
			if c.embed != nil { // vectors past any real model's size: nothing to answer with
				cancelOnWorker("embeddings over their byte bound")
				p.strike(a.w, a.jobID, "embeddings over their byte bound")
				c.fail(http.StatusBadGateway, "worker_failed", "the worker sent more embedding data than the inputs allow")
				return true, outDone, ""
			}
			log.Info("stream over its byte bound: cancelled", "why", e.reason)
			cancelOnWorker("stream over its byte bound")
			p.strike(a.w, a.jobID, "stream over its byte bound")
			p.settleRelayed(c, a, log, true)
			return true, outDone, ""
		case evDone:
			if c.embed != nil && !c.embed.complete() {
				p.strike(a.w, a.jobID, "done before every embedding")
				o, why := failed("done before every embedding")
				return true, o, why
			}
			p.complete(c, a, e.done, log)
			return true, outDone, ""
		case evJobError:
			o, why := failed("job_error " + truncateStr(e.jobErr.Code, 32))
			return true, o, why
		case evGone:
			p.release(a, false)
			o, why := failed(e.reason)
			return true, o, why
		}
		return false, 0, ""
	}
	for {
		select {
		case <-a.notify:
			evs := a.pop()
			// Deltas that queued up while the client was being written to
			// go out as one chunk: under load the relay keeps pace with the
			// model instead of paying a write and a flush per token.
			for i := 0; i < len(evs); i++ {
				if e := evs[i]; e.kind == evDelta {
					j := i + 1
					for j < len(evs) && evs[j].kind == evDelta && evs[j].delta.Seq == evs[j-1].delta.Seq+1 {
						j++
					}
					if j > i+1 {
						var text strings.Builder
						merged := e
						merged.delta.Logprobs = nil
						for _, d := range evs[i:j] {
							text.WriteString(d.delta.Text)
							merged.delta.Logprobs = append(merged.delta.Logprobs, d.delta.Logprobs...)
							merged.pieces += d.textPieces()
						}
						merged.delta.Text = text.String()
						if end, o, why := handle(merged); end {
							return o, why
						}
						nextSeq = evs[j-1].delta.Seq + 1
						i = j - 1
						continue
					}
				}
				if end, o, why := handle(evs[i]); end {
					return o, why
				}
			}
		case <-ctx.Done():
			// A done that raced the end still counts: the work was delivered to us.
			if evs := a.pop(); hasDone(evs) {
				for _, e := range evs {
					if end, o, why := handle(e); end {
						return o, why
					}
				}
			}
			reason := "client disconnected"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				reason = "deadline passed"
			} else if p.baseCtx.Err() != nil {
				reason = "proxy shutting down"
			}
			log.Info("job cancelled", "reason", reason)
			cancelOnWorker(reason)
			if reason == "client disconnected" {
				p.settleRelayed(c, a, log, false) // it pays for what it got
			}
			return outStopped, reason
		}
	}
}

func hasDone(evs []event) bool {
	for _, e := range evs {
		if e.kind == evDone {
			return true
		}
	}
	return false
}

// complete meters a done job, records and signs its receipt, sends it to
// the worker and answers the app developer.
func (p *Proxy) complete(c *completion, a *attempt, d network.Done, log *slog.Logger) {
	p.release(a, true)                  // normally already released by the reader
	if !p.takeToolCalls(c, a, d, log) { // chatmeter.go
		return
	}
	switch {
	case len(c.toolCalls) > 0 && d.FinishReason == "stop":
		d.FinishReason = network.FinishToolCalls
	case len(c.toolCalls) == 0 && d.FinishReason == network.FinishToolCalls:
		d.FinishReason = "stop" // its calls were dropped (takeToolCalls)
	}
	prompt, compl := p.billedTokens(c, a, d.Usage, log)
	if u, ok := p.credit(c, a, prompt, compl, log); ok {
		c.finish(d.FinishReason, u)
	}
}

// credit prices a job at the billed token counts, records and signs its
// receipt and sends it to the worker. On failure it answers the app
// developer with the error and returns false.
func (p *Proxy) credit(c *completion, a *attempt, prompt, compl int64, log *slog.Logger) (usageOut, bool) {
	amount, err := receipt.Amount(prompt, compl, c.price.PricePrompt, c.price.PriceCompletion, a.coefficient, p.cfg.CommissionBPS)
	gross, gerr := receipt.Amount(prompt, compl, c.price.PricePrompt, c.price.PriceCompletion, a.coefficient, 0)
	if err != nil || gerr != nil {
		log.Info("metering failed", "err", errors.Join(err, gerr))
		c.fail(http.StatusBadGateway, "worker_failed", "the worker reported unusable usage figures")
		return usageOut{}, false
	}
	rec := JobRecord{
		JobID: a.jobID, WorkerID: a.w.id, Model: c.model,
		PromptTokens: prompt, CompletionTokens: compl,
		PricePrompt: c.price.PricePrompt, PriceCompletion: c.price.PriceCompletion,
		CoefficientMilli: a.coefficient, CommissionBPS: p.cfg.CommissionBPS,
		Amount: amount, Gross: gross,
		KeyDigest: c.key.digest, KeyName: c.key.name,
		Time: time.Now(),
		Hold: p.jobHold(a.w), // trust.go
	}
	// Not the request's context: a client leaving now must not lose the credit.
	rcpt, created, err := p.store.RecordJob(context.Background(), rec, func(r receipt.Receipt) receipt.Signed {
		return receipt.Sign(p.key, r)
	})
	if err != nil {
		log.Info("recording the job failed", "err", err)
		c.fail(http.StatusInternalServerError, "store_error", "the proxy could not record the job")
		return usageOut{}, false
	}
	if c.canary == nil {
		p.canary.afterClientJob(a.w)
	}
	if created {
		msg := network.SignedReceipt(rcpt)
		if err := a.w.send(network.TypeReceipt, &msg); err != nil {
			log.Info("sending the receipt failed; it stays in the store", "err", err)
		}
		p.credited(a.w, rec.Hold)
		p.sendVoucher(a.w) // escrow.go
	}
	log.Info("job done", "prompt_tokens", prompt, "completion_tokens", compl, "amount", amount,
		"cumulative", rcpt.Receipt.Cumulative, "seq", rcpt.Receipt.Seq, "ms", time.Since(a.started).Milliseconds())
	return usageOut{PromptTokens: prompt, CompletionTokens: compl, TotalTokens: prompt + compl, TotalCost: gross}, true
}
