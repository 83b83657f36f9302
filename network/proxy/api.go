package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// apiKeyState is a configured API key with its rate limiter and its
// concurrency cap (limits.go).
type apiKeyState struct {
	digest string
	name   string

	maxInflight int
	inflight    atomic.Int64 // chat requests running or queued

	mu     sync.Mutex
	rate   float64 // tokens per second; 0: unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newAPIKeyState(digest, name string, perMin int) *apiKeyState {
	k := &apiKeyState{digest: digest, name: name}
	if perMin > 0 {
		k.rate = float64(perMin) / 60
		k.burst = float64(perMin)
		k.tokens = k.burst
	}
	return k
}

// allow takes one request from the key's token bucket; when it is empty it
// returns how long until the next request is allowed.
func (k *apiKeyState) allow(now time.Time) (bool, time.Duration) {
	if k.rate == 0 {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.last.IsZero() {
		k.tokens = math.Min(k.burst, k.tokens+now.Sub(k.last).Seconds()*k.rate)
	}
	k.last = now
	if k.tokens >= 1 {
		k.tokens--
		return true, 0
	}
	return false, time.Duration((1 - k.tokens) / k.rate * float64(time.Second))
}

// apiError is OpenAI's error shape.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func errorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusNotFound:
		return "invalid_request_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

// writeError answers with OpenAI's {"error":{message,type,param,code}}.
func writeError(w http.ResponseWriter, status int, code, param, msg string) {
	writeJSON(w, status, map[string]apiError{"error": {Message: msg, Type: errorType(status), Param: strPtr(param), Code: strPtr(code)}})
}

func (p *Proxy) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", p.handleChat)
	mux.HandleFunc("/v1/models", p.handleModels)
	mux.HandleFunc("/v1/models/", p.handleModel)           // endpoints.go
	mux.HandleFunc("/v1/completions", p.handleCompletions) // endpoints.go
	mux.HandleFunc("/v1/embeddings", p.handleEmbeddings)   // endpoints.go
	mux.HandleFunc("/v1/usage", p.handleUsage)             // endpoints.go
	mux.HandleFunc("/v1/status", p.handleStatus)
	mux.HandleFunc("/v1/admin/trust/release", p.handleTrustRelease)
	mux.HandleFunc("/healthz", p.handleHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "unknown endpoint "+truncateStr(r.URL.Path, 64))
	})
	return p.withRequestID(mux) // requestid.go
}

func allowMethod(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m {
		return true
	}
	w.Header().Set("Allow", m)
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "", r.Method+" is not allowed here; use "+m)
	return false
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authKey returns the API key state of the request's bearer token.
func (p *Proxy) authKey(w http.ResponseWriter, r *http.Request) *apiKeyState {
	tok := bearer(r)
	if tok == "" {
		writeError(w, http.StatusUnauthorized, "missing_api_key", "", "no API key: send Authorization: Bearer <key>")
		return nil
	}
	k := p.keys[KeyDigest(tok)] // looked up by digest: no timing leak of the key itself
	if k == nil {
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "", "invalid API key")
		return nil
	}
	ok, wait := k.allow(time.Now())
	k.setRateHeaders(w.Header()) // requestid.go
	if !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "", "rate limit of this API key reached; retry later")
		return nil
	}
	return k
}

func (p *Proxy) handleHealth(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	n := len(p.workers)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "workers": n})
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (p *Proxy) handleModels(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) || p.authKey(w, r) == nil {
		return
	}
	data := []modelObject{}
	for _, m := range p.servableModels() {
		data = append(data, modelObject{ID: m, Object: "model", Created: 0, OwnedBy: "cocoon"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// chatRequest is OpenAI's chat completion request as far as the proxy
// carries it; any other field or value is refused out loud (chatreq.go,
// ChatCompletionFields).
type chatRequest struct {
	Model         *string         `json:"model"`
	Messages      []chatMessageIn `json:"messages"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int     `json:"max_tokens"`
	MaxCompletionTokens *int     `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
	TopP                *float64 `json:"top_p"`
	Seed                *int     `json:"seed"`
	N                   *int     `json:"n"`
	MaxCoefficientMilli *int64   `json:"max_coefficient_milli"` // the client's price cap (pricecap.go)
	chatSurface                  // chatreq.go
}

type chatMessageIn struct {
	Role               string          `json:"role"`
	Content            json.RawMessage `json:"content"`
	chatMessageSurface                 // chatreq.go
}

type badRequest struct {
	param, msg  string
	unsupported bool // a field or value the proxy does not carry (chatreq.go)
}

func (e *badRequest) Error() string { return e.msg }

func bad(param, format string, args ...any) error {
	return &badRequest{param: param, msg: fmt.Sprintf(format, args...)}
}

// messageText accepts a string, null, or an array of text parts.
func messageText(raw json.RawMessage, i int) (string, error) {
	param := fmt.Sprintf("messages[%d].content", i)
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", bad(param, "%s is not a string", param)
		}
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", bad(param, "%s must be a string or an array of text parts", param)
	}
	var sb strings.Builder
	for _, pt := range parts {
		if pt.Type != "text" {
			return "", bad(param, "%s: only text parts are supported, not %q", param, truncateStr(pt.Type, 32))
		}
		sb.WriteString(pt.Text)
	}
	return sb.String(), nil
}

// toJob validates the request and builds the job (without id and deadline).
func (req *chatRequest) toJob() (network.Job, error) {
	var job network.Job
	if req.Model == nil || *req.Model == "" {
		return job, bad("model", "model is required")
	}
	job.Model = *req.Model
	if len(req.Messages) == 0 {
		return job, bad("messages", "messages must be a non-empty array")
	}
	if len(req.Messages) > network.MaxMessages {
		return job, bad("messages", "at most %d messages", network.MaxMessages)
	}
	for i, m := range req.Messages {
		role := m.Role
		switch role {
		case "system", "user", "assistant", "tool":
		case "developer":
			role = "system"
		case "":
			return job, bad(fmt.Sprintf("messages[%d].role", i), "messages[%d].role is required", i)
		default:
			return job, bad(fmt.Sprintf("messages[%d].role", i), "role %q is not supported (system, developer, user, assistant, tool)", truncateStr(role, 32))
		}
		text, err := messageText(m.Content, i)
		if err != nil {
			return job, err
		}
		if !utf8.ValidString(text) {
			return job, bad(fmt.Sprintf("messages[%d].content", i), "content is not valid UTF-8")
		}
		cm := network.ChatMessage{Role: role, Content: text}
		if err := m.toWire(i, &cm, job.Messages); err != nil { // chatreq.go
			return job, err
		}
		job.Messages = append(job.Messages, cm)
	}
	maxTok := req.MaxCompletionTokens
	if maxTok == nil {
		maxTok = req.MaxTokens
	}
	if maxTok != nil {
		if *maxTok < 1 || *maxTok > network.MaxMaxTokens {
			return job, bad("max_tokens", "max_tokens must be 1..%d", network.MaxMaxTokens)
		}
		job.MaxTokens = *maxTok
	}
	if t := req.Temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 2 {
			return job, bad("temperature", "temperature must be 0..2")
		}
		job.Options.Temperature = t
	}
	if tp := req.TopP; tp != nil {
		if math.IsNaN(*tp) || *tp < 0 || *tp > 1 {
			return job, bad("top_p", "top_p must be 0..1")
		}
		job.Options.TopP = tp
	}
	job.Options.Seed = req.Seed
	if req.N != nil && *req.N != 1 {
		return job, unsupported("n", "only n=1 is supported")
	}
	return job, req.chatSurface.toJob(&job) // chatreq.go
}

func newCompletionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "chatcmpl-" + hex.EncodeToString(b)
}

func (p *Proxy) handleChat(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodPost) {
		return
	}
	key := p.authKey(w, r)
	if key == nil {
		return
	}
	done, ok := p.admitChat(w, key)
	if !ok {
		return
	}
	defer done()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", "", fmt.Sprintf("request body over %d bytes", p.cfg.MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "bad_request", "", "could not read the request body")
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "", "request body is not valid JSON for a chat completion: "+truncateStr(err.Error(), 200))
		return
	}
	var job network.Job
	err = checkChatFields(body) // chatreq.go: nothing the proxy does not carry passes silently
	if err == nil {
		job, err = req.toJob()
	}
	if err != nil {
		var br *badRequest
		errors.As(err, &br)
		writeError(w, http.StatusBadRequest, br.errCode(), br.param, br.msg)
		return
	}
	price, ok := p.cfg.Models[job.Model]
	if !ok {
		writeError(w, http.StatusNotFound, "model_not_found", "model", fmt.Sprintf("model %q is not served by this proxy", truncateStr(job.Model, 64)))
		return
	}
	job.Options = explicitSampling(job.Options)
	if req.User != nil {
		// The developer's end-user id: metadata for the proxy's log, never sent to the worker.
		p.log.Info("chat request", "user", truncateStr(*req.User, 64), "key", key.name, "model", job.Model)
	}
	c := &completion{
		p:       p,
		w:       w,
		id:      newCompletionID(),
		created: time.Now().Unix(),
		model:   job.Model,
		stream:  req.Stream,
		key:     key,
		price:   price,

		offeredTools: len(job.Tools) > 0,
		wantLogprobs: job.Logprobs,
	}
	if req.StreamOptions != nil {
		c.includeUsage = req.StreamOptions.IncludeUsage
	}
	if c.maxCoef, err = requestPriceCap(r, req.MaxCoefficientMilli); err != nil {
		var br *badRequest
		errors.As(err, &br)
		writeError(w, http.StatusBadRequest, "invalid_value", br.param, br.msg)
		return
	}
	p.serveCompletion(r.Context(), c, job)
}

// WorkerStatus is one connected worker in GET /v1/status.
type WorkerStatus struct {
	ID               string              `json:"id"`
	GPU              network.GPUInfo     `json:"gpu"`
	Models           []network.ModelInfo `json:"models"`
	Registered       bool                `json:"registered"`
	State            string              `json:"state"`
	Running          int                 `json:"running"`
	MaxConcurrent    int                 `json:"max_concurrent"`
	AvgJobMS         int64               `json:"avg_job_ms"`
	JobsDone         int64               `json:"jobs_done"`
	CoefficientMilli int64               `json:"coefficient_milli"`
	ConnectedSince   time.Time           `json:"connected_since"`
	Trust            *TrustStatus        `json:"trust,omitempty"` // trust_admin.go
}

// Status is GET /v1/status.
type Status struct {
	PublicKey   string         `json:"public_key"`
	WorkerURL   string         `json:"worker_url"`
	Workers     []WorkerStatus `json:"workers"`
	JobsRunning int            `json:"jobs_running"`
	Queued      int            `json:"queued"` // requests waiting for a busy model
	Totals      Totals         `json:"totals"`
	// Quarantined lists every quarantined worker, connected or not, with
	// its evidence.
	Quarantined []TrustStatus `json:"quarantined"`
}

// Status reports connected workers, running jobs and lifetime totals.
func (p *Proxy) Status(ctx context.Context) (Status, error) {
	st := Status{PublicKey: hex.EncodeToString(p.pub), WorkerURL: p.workerURL, Workers: []WorkerStatus{}}
	p.mu.Lock()
	for _, w := range p.workers {
		st.Workers = append(st.Workers, WorkerStatus{
			ID:               w.id,
			GPU:              w.reg.GPU,
			Models:           append([]network.ModelInfo{}, w.reg.Models...),
			Registered:       w.registered,
			State:            w.state,
			Running:          w.running,
			MaxConcurrent:    w.reg.MaxConcurrent,
			AvgJobMS:         int64(w.avgMS),
			JobsDone:         w.jobsDone,
			CoefficientMilli: w.reg.CoefficientMilli,
			ConnectedSince:   w.since.UTC(),
		})
	}
	st.JobsRunning = p.jobsRunning
	st.Queued = p.queued
	p.mu.Unlock()
	sortWorkers(st.Workers)
	if err := p.addTrustStatus(ctx, &st); err != nil {
		return st, err
	}
	t, err := p.store.Totals(ctx)
	st.Totals = t
	return st, err
}

func sortWorkers(ws []WorkerStatus) {
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].ID < ws[j-1].ID; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
}

func (p *Proxy) handleStatus(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	// Always the admin key, loopback included: a reverse proxy on the same
	// host makes every request look local.
	if p.adminDigest == "" {
		writeError(w, http.StatusForbidden, "status_disabled", "", "status is off: set admin_key (or admin_key_sha256) in the proxy config")
		return
	}
	tok := bearer(r)
	if tok == "" || subtle.ConstantTimeCompare([]byte(KeyDigest(tok)), []byte(p.adminDigest)) != 1 {
		writeError(w, http.StatusUnauthorized, "admin_key_required", "", "status needs the admin key: send Authorization: Bearer <admin key>")
		return
	}
	st, err := p.Status(r.Context())
	if err != nil {
		p.log.Error("status: store", "err", err)
		writeError(w, http.StatusInternalServerError, "store_error", "", "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, st)
}
