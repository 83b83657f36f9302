package worker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// wedgedOllama answers like Ollama but, as a wedged one does, streams one
// token of a chat and then nothing, while /api/version still answers.
func wedgedOllama(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/version":
			_ = json.NewEncoder(w).Encode(map[string]string{"version": "0.17.4"})
		case "/api/tags", "/api/ps":
			_ = json.NewEncoder(w).Encode(map[string]any{"models": []any{}})
		case "/api/chat":
			w.Header().Set("Content-Type", "application/x-ndjson")
			_ = json.NewEncoder(w).Encode(map[string]any{"model": "wedge", "message": map[string]string{"role": "assistant", "content": "Hel"}, "done": false})
			w.(http.Flusher).Flush()
			<-r.Context().Done() // and then nothing, until the client gives up
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestWedgedRuntimeFailsTheJob: a job whose runtime stops producing tokens
// fails within the stall bound (instead of hanging to the job timeout), and
// the owner is told; an attached Ollama is the owner's to restart.
func TestWedgedRuntimeFailsTheJob(t *testing.T) {
	srv := wedgedOllama(t)
	c := New(Config{
		Runtime:      ollama.Config{AttachAddr: srv.URL, NoManage: true},
		StallTimeout: 300 * time.Millisecond, FirstTokenTimeout: 300 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rtDone := make(chan error, 1)
	go func() { rtDone <- c.rt.Run(ctx) }()
	defer func() { cancel(); <-rtDone }()
	if err := c.rt.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.models = []ollama.Model{{Name: "wedge:latest"}}
	c.mu.Unlock()
	events, unsub := c.Subscribe(16)
	defer unsub()

	var got strings.Builder
	_, _, err := c.RunJob(ctx, network.Job{JobID: "j1", Model: "wedge", Messages: []network.ChatMessage{{Role: "user", Content: "hi"}}},
		func(s string) error { got.WriteString(s); return nil })
	if !errors.Is(err, ErrRuntimeStalled) {
		t.Fatalf("RunJob = %v, want ErrRuntimeStalled", err)
	}
	if got.String() != "Hel" {
		t.Fatalf("streamed %q before the stall", got.String())
	}
	for {
		select {
		case e := <-events:
			if s, _ := e.Data.(string); e.Type == EventError && strings.Contains(s, "restart Ollama") {
				if c.restarting.Load() {
					t.Fatal("an attached Ollama left the worker waiting for a restart that never comes")
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("the owner was not told")
		}
	}
}

// TestJobWatchKeepsAProgressingJob: a job that keeps producing tokens is
// never cut, however long it runs in all.
func TestJobWatchKeepsAProgressingJob(t *testing.T) {
	c := New(Config{StallTimeout: 100 * time.Millisecond, FirstTokenTimeout: 100 * time.Millisecond})
	jctx, w := c.watchJob(context.Background())
	for range 10 { // 10 × 40 ms: four times the stall bound in all
		select {
		case <-jctx.Done():
			t.Fatal("a progressing job was cancelled")
		case <-time.After(40 * time.Millisecond):
		}
		w.progress()
	}
	if stalled := w.stop(); stalled != 0 {
		t.Fatalf("stop = %v", stalled)
	}
}
