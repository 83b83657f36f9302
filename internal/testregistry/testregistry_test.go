package testregistry

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
)

// TestRegistryAlone checks the front without Ollama: the API answers
// through it, and blob GETs are redirected to localhost.
func TestRegistryAlone(t *testing.T) {
	r := Start(t)
	resp, err := http.Get(r.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/: %s", resp.Status)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	blob := "/v2/library/tiny/blobs/sha256:" + strings.Repeat("ab", 32)
	resp, err = c.Get(r.URL() + blob)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "http://" + r.BlobAddr() + blob; resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("blob GET: %s Location=%q, want 307 to %q", resp.Status, resp.Header.Get("Location"), want)
	}
	resp, err = http.Get(r.URL() + blob) // followed: unknown blob
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown blob via redirect: %s", resp.Status)
	}
}

func listed(t *testing.T, c *api.Client, name string) bool {
	t.Helper()
	l, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(l.Models, func(m api.ListModelResponse) bool { return m.Name == name || m.Model == name })
}

// TestOllamaPushPull pushes the tiny model into the registry with a real
// Ollama, pulls it back, then pulls it throttled and cancels half-way.
func TestOllamaPushPull(t *testing.T) {
	srv := testollama.Start(t)
	reg := Start(t)
	c := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(path, tinymodel.Options{Seed: 42}); err != nil {
		t.Fatal(err)
	}
	layer, err := tinymodel.FileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, c, "tiny", path); err != nil {
		t.Fatal(err)
	}
	ref := reg.Reference("library/tiny", "latest")
	if err := c.Copy(ctx, &api.CopyRequest{Source: "tiny", Destination: ref}); err != nil {
		t.Fatal(err)
	}
	var pushStatus string
	if err := c.Push(ctx, &api.PushRequest{Model: ref, Insecure: true}, func(p api.ProgressResponse) error {
		pushStatus = p.Status
		return nil
	}); err != nil {
		t.Fatalf("push: %v", err)
	}
	if pushStatus != "success" {
		t.Fatalf("push ended with %q", pushStatus)
	}
	for _, m := range []string{ref, "tiny"} {
		if err := c.Delete(ctx, &api.DeleteRequest{Model: m}); err != nil {
			t.Fatalf("delete %s: %v", m, err)
		}
	}
	if listed(t, c, ref) {
		t.Fatal("still listed after delete")
	}

	// Pull, full speed.
	var layerDone bool
	var last api.ProgressResponse
	if err := c.Pull(ctx, &api.PullRequest{Model: ref, Insecure: true}, func(p api.ProgressResponse) error {
		if p.Digest == layer && p.Total > 0 && p.Completed == p.Total {
			layerDone = true
		}
		last = p
		return nil
	}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if !layerDone || last.Status != "success" {
		t.Errorf("pull: model layer completed=%v, last status %q", layerDone, last.Status)
	}
	if !listed(t, c, ref) {
		t.Fatalf("%s not listed after pull", ref)
	}
	if reg.BlobRedirects() == 0 || reg.BlobBytesServed() < 500_000 {
		t.Errorf("redirects=%d blob bytes=%d: the pull did not go through the blob server", reg.BlobRedirects(), reg.BlobBytesServed())
	}
	stream := false
	var chat api.ChatResponse
	if err := c.Chat(ctx, &api.ChatRequest{Model: ref, Stream: &stream, Messages: []api.Message{{Role: "user", Content: "hi"}},
		Options: map[string]any{"num_predict": 8}}, func(r api.ChatResponse) error { chat = r; return nil }); err != nil {
		t.Fatalf("chat with pulled model: %v", err)
	}
	if chat.EvalCount == 0 {
		t.Errorf("chat with pulled model: %+v", chat.Metrics)
	}

	// Pull throttled, cancelled half-way.
	if err := c.Delete(ctx, &api.DeleteRequest{Model: ref}); err != nil {
		t.Fatal(err)
	}
	reg.Throttle(100_000) // ~6 s for the ~570 KB layer
	servedBefore := reg.BlobBytesServed()
	pctx, pcancel := context.WithCancel(ctx)
	var maxCompleted, total atomic.Int64
	start := time.Now()
	err = c.Pull(pctx, &api.PullRequest{Model: ref, Insecure: true}, func(p api.ProgressResponse) error {
		if p.Digest == layer && p.Total > 0 {
			total.Store(p.Total)
			maxCompleted.Store(max(maxCompleted.Load(), p.Completed))
			if p.Completed >= p.Total/3 {
				pcancel()
			}
		}
		return nil
	})
	pcancel()
	// Quirk of github.com/ollama/ollama/api v0.17.4: streaming calls ignore
	// the scanner's error, so a pull whose ctx is cancelled mid-stream
	// returns nil. Callers must check ctx.Err() themselves.
	if err == nil {
		err = pctx.Err()
	}
	t.Logf("cancelled pull after %v at %d/%d bytes: %v", time.Since(start).Round(time.Millisecond), maxCompleted.Load(), total.Load(), err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled pull: error %v, want context.Canceled", err)
	}
	if maxCompleted.Load() == 0 || maxCompleted.Load() >= total.Load() {
		t.Errorf("cancel was not half-way: %d/%d", maxCompleted.Load(), total.Load())
	}
	// Ollama abandons the download once no client waits for it: every blob
	// transfer ends, short of the whole layer.
	deadline := time.Now().Add(30 * time.Second)
	for reg.BlobTransfersInFlight() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d blob transfers still running 30 s after the cancel", reg.BlobTransfersInFlight())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if served := reg.BlobBytesServed() - servedBefore; served >= total.Load() {
		t.Errorf("the whole layer went out after the cancel: %d bytes (layer %d)", served, total.Load())
	}
	if listed(t, c, ref) {
		t.Error("model listed after a cancelled pull")
	}

	// A later pull at full speed completes (Ollama resumes the partial blob).
	reg.Throttle(0)
	start = time.Now()
	if err := c.Pull(ctx, &api.PullRequest{Model: ref, Insecure: true}, func(api.ProgressResponse) error { return nil }); err != nil {
		t.Fatalf("pull after cancel: %v", err)
	}
	if !listed(t, c, ref) {
		t.Fatal("not listed after the resumed pull")
	}
	t.Logf("resumed pull took %v", time.Since(start).Round(time.Millisecond))
}

// pushTiny registers the tiny model in Ollama, pushes it to the registry and
// deletes it locally; it returns the model reference and its layer digest.
func pushTiny(t *testing.T, ctx context.Context, c *api.Client, reg *Registry) (ref, layer string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := tinymodel.WriteFile(path, tinymodel.Options{Seed: 42}); err != nil {
		t.Fatal(err)
	}
	layer, err := tinymodel.FileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tinymodel.Register(ctx, c, "tiny", path); err != nil {
		t.Fatal(err)
	}
	ref = reg.Reference("library/tiny", "latest")
	if err := c.Copy(ctx, &api.CopyRequest{Source: "tiny", Destination: ref}); err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, &api.PushRequest{Model: ref, Insecure: true}, func(api.ProgressResponse) error { return nil }); err != nil {
		t.Fatalf("push: %v", err)
	}
	for _, m := range []string{ref, "tiny"} {
		if err := c.Delete(ctx, &api.DeleteRequest{Model: m}); err != nil {
			t.Fatalf("delete %s: %v", m, err)
		}
	}
	return ref, layer
}

// TestOllamaPullFailures breaks blob transfers part way and checks that the
// pull fails and the model is not listed.
func TestOllamaPullFailures(t *testing.T) {
	srv := testollama.Start(t)
	reg := Start(t)
	c := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ref, layer := pushTiny(t, ctx, c, reg)

	pull := func() (error, int64) {
		var completed int64
		err := c.Pull(ctx, &api.PullRequest{Model: ref, Insecure: true}, func(p api.ProgressResponse) error {
			if p.Digest == layer {
				completed = max(completed, p.Completed)
			}
			return nil
		})
		return err, completed
	}

	t.Run("corrupt", func(t *testing.T) {
		reg.CorruptBlobsAfter(200_000)
		defer reg.CorruptBlobsAfter(-1)
		start := time.Now()
		err, completed := pull()
		t.Logf("corrupted pull failed after %v at %d bytes: %v", time.Since(start).Round(time.Millisecond), completed, err)
		if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
			t.Errorf("corrupted pull: error %v, want a digest mismatch", err)
		}
		if listed(t, c, ref) {
			t.Error("listed after a corrupted pull")
		}
	})

	t.Run("cut", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: Ollama takes about a minute of retries to give up on a broken transfer")
		}
		reg.FailBlobsAfter(200_000)
		defer reg.FailBlobsAfter(-1)
		start := time.Now()
		err, completed := pull()
		t.Logf("cut pull failed after %v at %d bytes: %v", time.Since(start).Round(time.Millisecond), completed, err)
		if err == nil {
			t.Error("cut pull returned no error")
		}
		if completed >= 571_616 {
			t.Errorf("cut pull reported %d bytes", completed)
		}
		if listed(t, c, ref) {
			t.Error("listed after a cut pull")
		}
	})

	// The registry recovers: a clean pull works.
	if err, _ := pull(); err != nil {
		t.Fatalf("clean pull: %v", err)
	}
	if !listed(t, c, ref) {
		t.Fatal("not listed after a clean pull")
	}
}
