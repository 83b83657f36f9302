package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// The OpenAI endpoints beyond chat: GET /v1/models/{id}, POST
// /v1/completions (legacy text completions), POST /v1/embeddings and GET
// /v1/usage (the calling key's own usage by day and model). docs/api.md
// lists every field against OpenAI's and Ollama's own /v1.

// CodeUnsupportedParameter is the error code of a request field the proxy
// does not carry: refused with 400, never silently dropped.
const CodeUnsupportedParameter = "unsupported_parameter"

// CompletionFields and EmbeddingFields are the request fields each endpoint
// carries (or accepts, like user); any other field is refused with 400
// unsupported_parameter naming it. docs/api.md's tables are checked
// against them.
var (
	CompletionFields = []string{"model", "prompt", "stream", "stream_options", "max_tokens", "temperature",
		"top_p", "seed", "n", "user", PriceCapField}
	EmbeddingFields = []string{"model", "input", "encoding_format", "user", PriceCapField}
)

// checkFields refuses a JSON object with a field outside allowed (null
// counts as absent, as OpenAI treats it). It returns the decoded object.
func checkFields(body []byte, allowed []string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, bad("", "request body is not a JSON object: %s", truncateStr(err.Error(), 200))
	}
	var names []string
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names) // the same field named for the same body
	for _, k := range names {
		if !slices.Contains(allowed, k) && string(bytes.TrimSpace(obj[k])) != "null" {
			return nil, &badRequest{param: truncateStr(k, 64), msg: fmt.Sprintf("%s is not supported by this proxy (docs/api.md lists what is)", truncateStr(k, 64)),
				unsupported: true}
		}
	}
	return obj, nil
}

// readBody reads a request body within MaxBodyBytes, answering the error
// itself when it cannot.
func (p *Proxy) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", "", fmt.Sprintf("request body over %d bytes", p.cfg.MaxBodyBytes))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "", "could not read the request body")
		return nil, false
	}
	return body, true
}

// writeBad answers a *badRequest (invalid_value, or unsupported_parameter
// for a field the proxy does not carry).
func writeBad(w http.ResponseWriter, err error) {
	var br *badRequest
	if !errors.As(err, &br) {
		writeError(w, http.StatusBadRequest, "invalid_value", "", err.Error())
		return
	}
	writeError(w, http.StatusBadRequest, br.errCode(), br.param, br.msg)
}

// sampling validates the sampling fields shared with chat.
func sampling(maxTokens *int, temperature, topP *float64, seed *int, n *int) (int, network.SamplingOptions, error) {
	var o network.SamplingOptions
	mt := 0
	if maxTokens != nil {
		if *maxTokens < 1 || *maxTokens > network.MaxMaxTokens {
			return 0, o, bad("max_tokens", "max_tokens must be 1..%d", network.MaxMaxTokens)
		}
		mt = *maxTokens
	}
	if t := temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 2 {
			return 0, o, bad("temperature", "temperature must be 0..2")
		}
		o.Temperature = t
	}
	if tp := topP; tp != nil {
		if math.IsNaN(*tp) || *tp < 0 || *tp > 1 {
			return 0, o, bad("top_p", "top_p must be 0..1")
		}
		o.TopP = tp
	}
	o.Seed = seed
	if n != nil && *n != 1 {
		return 0, o, bad("n", "only n=1 is supported")
	}
	return mt, o, nil
}

// handleModel is GET /v1/models/{id}: the model object of a model GET
// /v1/models lists, else 404 model_not_found.
func (p *Proxy) handleModel(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) || p.authKey(w, r) == nil {
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	if slices.Contains(p.servableModels(), id) {
		writeJSON(w, http.StatusOK, modelObject{ID: id, Object: "model", Created: 0, OwnedBy: "cocoon"})
		return
	}
	writeError(w, http.StatusNotFound, "model_not_found", "model",
		fmt.Sprintf("the model %q does not exist or no worker serves it now", truncateStr(id, 64)))
}

type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int     `json:"max_tokens"`
	Temperature         *float64 `json:"temperature"`
	TopP                *float64 `json:"top_p"`
	Seed                *int     `json:"seed"`
	N                   *int     `json:"n"`
	User                string   `json:"user"`
	MaxCoefficientMilli *int64   `json:"max_coefficient_milli"`
}

// stringOrStrings decodes a string or an array of strings; token arrays
// (arrays of integers) are refused.
func stringOrStrings(raw json.RawMessage, param string) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, bad(param, "%s is required", param)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, bad(param, "%s is not a string", param)
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, bad(param, "%s must be a string or an array of strings (token arrays are not supported)", param)
	}
	return list, nil
}

// admitPost is the common start of a POST endpoint beyond chat: the
// method, the API key, the key's concurrency slot (done releases it), the
// body within the size limit, and no field outside allowed. When ok is
// false the answer has been written.
func (p *Proxy) admitPost(w http.ResponseWriter, r *http.Request, allowed []string) (key *apiKeyState, body []byte, done func(), ok bool) {
	if !allowMethod(w, r, http.MethodPost) {
		return nil, nil, nil, false
	}
	if key = p.authKey(w, r); key == nil {
		return nil, nil, nil, false
	}
	if done, ok = p.admitChat(w, key); !ok {
		return nil, nil, nil, false
	}
	if body, ok = p.readBody(w, r); !ok {
		done()
		return nil, nil, nil, false
	}
	if _, err := checkFields(body, allowed); err != nil {
		done()
		writeBad(w, err)
		return nil, nil, nil, false
	}
	return key, body, done, true
}

// handleCompletions is POST /v1/completions: OpenAI's legacy text
// completion. The prompt goes to the worker's Ollama as raw text (no chat
// template), as OpenAI's completions continue text; it is metered that way.
func (p *Proxy) handleCompletions(w http.ResponseWriter, r *http.Request) {
	key, body, done, ok := p.admitPost(w, r, CompletionFields)
	if !ok {
		return
	}
	defer done()
	var req completionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "", "request body is not valid JSON for a completion: "+truncateStr(err.Error(), 200))
		return
	}
	job, err := req.toJob()
	if err != nil {
		writeBad(w, err)
		return
	}
	price, ok := p.cfg.Models[job.Model]
	if !ok {
		writeError(w, http.StatusNotFound, "model_not_found", "model", fmt.Sprintf("model %q is not served by this proxy", truncateStr(job.Model, 64)))
		return
	}
	job.Options = explicitSampling(job.Options)
	c := &completion{p: p, w: w, id: "cmpl-" + newCompletionID()[len("chatcmpl-"):], created: time.Now().Unix(),
		model: job.Model, stream: req.Stream, key: key, price: price, kind: network.JobCompletion}
	if req.StreamOptions != nil {
		c.includeUsage = req.StreamOptions.IncludeUsage
	}
	if c.maxCoef, err = requestPriceCap(r, req.MaxCoefficientMilli); err != nil {
		writeBad(w, err)
		return
	}
	p.serveCompletion(r.Context(), c, job)
}

func (req *completionRequest) toJob() (network.Job, error) {
	job := network.Job{Kind: network.JobCompletion, Model: req.Model}
	if job.Model == "" {
		return job, bad("model", "model is required")
	}
	prompts, err := stringOrStrings(req.Prompt, "prompt")
	if err != nil {
		return job, err
	}
	if len(prompts) != 1 {
		return job, bad("prompt", "exactly one prompt per request is supported, not %d", len(prompts))
	}
	if prompts[0] == "" {
		return job, bad("prompt", "prompt must not be empty")
	}
	if !utf8.ValidString(prompts[0]) {
		return job, bad("prompt", "prompt is not valid UTF-8")
	}
	job.Prompt = prompts[0]
	job.MaxTokens, job.Options, err = sampling(req.MaxTokens, req.Temperature, req.TopP, req.Seed, req.N)
	return job, err
}

type embeddingRequest struct {
	Model               string          `json:"model"`
	Input               json.RawMessage `json:"input"`
	EncodingFormat      string          `json:"encoding_format"`
	User                string          `json:"user"`
	MaxCoefficientMilli *int64          `json:"max_coefficient_milli"`
}

// handleEmbeddings is POST /v1/embeddings: each input's vector from the
// worker's Ollama (/api/embed), priced per input token at the model's
// embedding price.
func (p *Proxy) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	key, body, done, ok := p.admitPost(w, r, EmbeddingFields)
	if !ok {
		return
	}
	defer done()
	var req embeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "", "request body is not valid JSON for embeddings: "+truncateStr(err.Error(), 200))
		return
	}
	job, format, err := req.toJob()
	if err != nil {
		writeBad(w, err)
		return
	}
	price, ok := p.cfg.Models[job.Model]
	if !ok {
		writeError(w, http.StatusNotFound, "model_not_found", "model", fmt.Sprintf("model %q is not served by this proxy", truncateStr(job.Model, 64)))
		return
	}
	c := &completion{p: p, w: w, id: newCompletionID(), created: time.Now().Unix(), model: job.Model, key: key,
		price: ModelPrice{PricePrompt: price.EmbeddingPrice()}, kind: network.JobEmbedding,
		embed: &embedAnswer{inputs: len(job.Input), format: format}}
	if c.maxCoef, err = requestPriceCap(r, req.MaxCoefficientMilli); err != nil {
		writeBad(w, err)
		return
	}
	p.serveCompletion(r.Context(), c, job)
}

func (req *embeddingRequest) toJob() (network.Job, string, error) {
	job := network.Job{Kind: network.JobEmbedding, Model: req.Model}
	if job.Model == "" {
		return job, "", bad("model", "model is required")
	}
	format := req.EncodingFormat
	switch format {
	case "":
		format = encodingFloat
	case encodingFloat, encodingBase64:
	default:
		return job, "", bad("encoding_format", "encoding_format must be float or base64")
	}
	inputs, err := stringOrStrings(req.Input, "input")
	if err != nil {
		return job, "", err
	}
	if len(inputs) == 0 || len(inputs) > network.MaxEmbedInputs {
		return job, "", bad("input", "input must hold 1..%d texts", network.MaxEmbedInputs)
	}
	for i, s := range inputs {
		if s == "" {
			return job, "", bad("input", "input[%d] is empty", i)
		}
		if !utf8.ValidString(s) {
			return job, "", bad("input", "input[%d] is not valid UTF-8", i)
		}
	}
	job.Input = inputs
	return job, format, nil
}

// usageOutList is GET /v1/usage's answer.
type usageOutList struct {
	Object string       `json:"object"` // "list"
	Key    string       `json:"key"`    // the key's name in the proxy's config
	From   string       `json:"from"`
	To     string       `json:"to"`
	Data   []DailyUsage `json:"data"`
	Total  DailyUsage   `json:"total"` // Date and Model empty
}

// handleUsage is GET /v1/usage?from=YYYY-MM-DD&to=YYYY-MM-DD: the calling
// key's own usage (only its own: the key is the one authenticated) by UTC
// day and model, tokens and nanoTON charged.
func (p *Proxy) handleUsage(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	key := p.authKey(w, r)
	if key == nil {
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "from" && k != "to" {
			writeError(w, http.StatusBadRequest, CodeUnsupportedParameter, truncateStr(k, 64), truncateStr(k, 64)+" is not supported (from, to)")
			return
		}
	}
	from, to, err := usageRange(q.Get("from"), q.Get("to"), time.Now())
	if err != nil {
		var re *usageRangeError
		errors.As(err, &re)
		writeError(w, http.StatusBadRequest, "invalid_value", re.param, err.Error())
		return
	}
	days, err := p.store.DailyUsage(r.Context(), key.digest, from, to)
	if err != nil {
		p.log.Error("usage: store", "err", err, "request_id", requestID(r.Context()))
		writeError(w, http.StatusInternalServerError, "store_error", "", "store unavailable")
		return
	}
	out := usageOutList{Object: "list", Key: key.name, From: from, To: to, Data: days}
	for _, d := range days {
		addSaturating(&out.Total.Requests, d.Requests)
		addSaturating(&out.Total.PromptTokens, d.PromptTokens)
		addSaturating(&out.Total.CompletionTokens, d.CompletionTokens)
		addSaturating(&out.Total.Cost, d.Cost)
	}
	writeJSON(w, http.StatusOK, out)
}
