package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

const e2eKey = "sk-e2e-test-key-0123456789"

// e2eProxy is a real proxy on loopback that can be stopped and started
// again on the same ports and data dir.
type e2eProxy struct {
	t       *testing.T
	cfg     proxy.Config
	p       *proxy.Proxy
	cancel  context.CancelFunc
	done    chan error
	apiAddr string
	log     *lockedBuffer // everything the proxy logs, debug included
}

func startE2EProxy(t *testing.T) *e2eProxy { return startE2EProxyWith(t, nil) }

func startE2EProxyWith(t *testing.T, mutate func(*proxy.Config)) *e2eProxy {
	t.Helper()
	cfg := proxy.DefaultConfig()
	cfg.APIAddr, cfg.WorkerAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	cfg.Models = LocalPrices
	cfg.APIKeys = []proxy.APIKey{{Key: e2eKey, Name: "e2e"}}
	cfg.Heartbeat = time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	e := &e2eProxy{t: t, cfg: cfg, log: &lockedBuffer{}}
	e.start()
	// Restarts reuse the same ports, like a proxy restarted by its operator.
	e.cfg.APIAddr = e.p.APIAddr()
	e.cfg.WorkerAddr = strings.TrimSuffix(strings.TrimPrefix(e.p.WorkerURL(), "wss://"), "/v1/worker")
	t.Cleanup(e.stop)
	return e
}

func (e *e2eProxy) start() {
	e.t.Helper()
	p, err := proxy.New(e.cfg, slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		e.t.Fatalf("start proxy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.p, e.cancel, e.done, e.apiAddr = p, cancel, make(chan error, 1), p.APIAddr()
	go func() { e.done <- p.Run(ctx) }()
}

func (e *e2eProxy) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	e.cancel = nil
}

func (e *e2eProxy) client() openai.Client {
	return openai.NewClient(option.WithBaseURL("http://"+e.apiAddr+"/v1/"), option.WithAPIKey(e2eKey), option.WithMaxRetries(0))
}

// e2eWorker is the real program, headless, in its own process with its own
// managed Ollama, connected to the proxy.
type e2eWorker struct {
	cmd     *exec.Cmd
	dataDir string
	mu      sync.Mutex
	out     []string
	lines   chan string
}

func startE2EWorker(t *testing.T, e *e2eProxy) *e2eWorker {
	t.Helper()
	return startE2EWorkerIn(t, e, t.TempDir())
}

// startE2EWorkerIn is startE2EWorker with the worker's data dir given.
func startE2EWorkerIn(t *testing.T, e *e2eProxy, dataDir string) *e2eWorker {
	t.Helper()
	needOllama(t)
	w := &e2eWorker{dataDir: dataDir, lines: make(chan string, 1000)}
	w.cmd = program(t, "--headless", "--no-attach", "--data-dir", w.dataDir,
		"--network", e.p.WorkerURL(), "--proxy-key", hex.EncodeToString(e.p.PublicKey()))
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stderr = &bytes.Buffer{}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.mu.Lock()
			w.out = append(w.out, sc.Text())
			w.mu.Unlock()
			select {
			case w.lines <- sc.Text():
			default:
			}
		}
		close(w.lines)
	}()
	t.Cleanup(func() { w.stop(t) })
	w.waitLine(t, "[serving]", "network connected")
	e.waitModel(t, "cocoon-tiny", w)
	return w
}

// waitModel waits until the proxy offers model from worker w (its
// availability message may trail the status line by a moment).
func (e *e2eProxy) waitModel(t *testing.T, model string, w *e2eWorker) {
	t.Helper()
	id := workerID(t, w.dataDir)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, _ := e.p.Status(context.Background())
		for _, ws := range st.Workers {
			if ws.ID == id && ws.State == network.Accepting && slices.ContainsFunc(ws.Models, func(m network.ModelInfo) bool { return m.Name == model }) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the proxy never offered %s from worker %s", model, id)
}

// waitLine waits for a status line containing every one of parts.
func (w *e2eWorker) waitLine(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("worker exited before a line with %q:\n%s", parts, w.output())
			}
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				return l
			}
		case <-deadline:
			t.Fatalf("no worker line with %q within 90 s:\n%s", parts, w.output())
		}
	}
}

func (w *e2eWorker) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.out, "\n")
}

func (w *e2eWorker) stop(t *testing.T) {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
		t.Errorf("worker did not stop within 30 s of SIGINT")
	}
}

func (w *e2eWorker) kill() {
	_ = w.cmd.Process.Kill()
	_, _ = w.cmd.Process.Wait()
}

func workerID(t *testing.T, dataDir string) string {
	t.Helper()
	key, err := network.LoadOrCreateKey(filepath.Join(dataDir, "keys", "worker.key"))
	if err != nil {
		t.Fatal(err)
	}
	return network.WorkerID(key.Public().(ed25519.PublicKey))
}

// TestEndToEnd: the official OpenAI Go client → proxy → headless worker →
// real Ollama, streaming and not; receipts verify against the proxy key and
// every amount is exactly what the price list, the worker's coefficient, the
// commission and the reported token counts make it, in the proxy's store and
// the worker's ledger; prompts and outputs never reach disk or the proxy's log.
func TestEndToEnd(t *testing.T) {
	e := startE2EProxy(t)
	w := startE2EWorker(t, e)
	client := e.client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secret := fmt.Sprintf("PRIVATE-PROMPT-%d-do-not-store", time.Now().UnixNano())
	var outputs []string

	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:     "cocoon-tiny",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(secret)},
		MaxTokens: openai.Int(40),
	})
	if err != nil {
		t.Fatalf("non-streaming completion: %v", err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Usage.PromptTokens <= 0 || resp.Usage.CompletionTokens <= 0 {
		t.Fatalf("response = %+v", resp)
	}
	outputs = append(outputs, resp.Choices[0].Message.Content)

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:         "cocoon-tiny",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are terse."), openai.UserMessage(secret + " again")},
		MaxTokens:     openai.Int(60),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	acc := openai.ChatCompletionAccumulator{}
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if chunks < 2 || acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens <= 0 {
		t.Fatalf("stream: %d chunks, %+v", chunks, acc.Usage)
	}
	outputs = append(outputs, acc.Choices[0].Message.Content)

	var b bill
	b.add(t, e, "cocoon-tiny", resp.Usage)
	b.add(t, e, "cocoon-tiny", acc.Usage)
	// The worker shows both jobs and their earnings.
	w.waitLine(t, "2 jobs", "(2 receipts)")
	b.checkProxy(t, ctx, e, w)
	w.stop(t)
	b.checkLedgers(t, ctx, e, w)

	// Privacy: neither the prompt nor any output is in any file the worker wrote.
	needles := [][]byte{[]byte(secret)}
	for _, o := range outputs {
		if len(o) >= 24 {
			needles = append(needles, []byte(o[:24]))
		}
	}
	assertNotOnDisk(t, w.dataDir, needles)
	assertNotOnDisk(t, e.cfg.DataDir, needles) // the proxy keeps metering, never content
	for _, n := range needles {
		if strings.Contains(e.log.String(), string(n)) {
			t.Errorf("the proxy's log contains %q: prompts and outputs must never be logged", n)
		}
	}
	assertPrivateKeys(t, w.dataDir)
}

func assertNotOnDisk(t *testing.T, root string, needles [][]byte) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(data, n) {
				t.Errorf("%s contains %q: prompts and outputs must never touch disk", path, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("only %d files under %s: the search would prove nothing", files, root)
	}
}

func assertPrivateKeys(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{filepath.Join(root, "keys", "worker.key"), filepath.Join(root, worker.LedgerFile), filepath.Join(root, "logs", "cocoon-desktop.log")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", p, fi.Mode().Perm())
		}
	}
}

// TestWorkerKilledMidStream: the client gets a clean error, not a hang, and
// the failed job earns nothing.
func TestWorkerKilledMidStream(t *testing.T) {
	e := startE2EProxy(t)
	w := startE2EWorker(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := e.client()
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:     "cocoon-tiny",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a long story")},
		MaxTokens: openai.Int(200_000),
	})
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	w.kill()
	start := time.Now()
	for stream.Next() {
		if time.Since(start) > time.Minute {
			t.Fatal("stream still running a minute after the worker was killed")
		}
	}
	if stream.Err() == nil {
		t.Fatal("the stream ended without an error after the worker died")
	}
	t.Logf("client saw %v %v after the kill", stream.Err(), time.Since(start))
	totals, err := e.p.Store().Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if totals.Jobs != 0 {
		t.Fatalf("a job whose worker died was credited: %+v", totals)
	}
}

// TestProxyRestart: the worker reconnects by itself and serves again, and
// the job is billed and credited exactly.
func TestProxyRestart(t *testing.T) {
	e := startE2EProxy(t)
	w := startE2EWorker(t, e)
	e.stop()
	w.waitLine(t, "network not connected")
	e.start()
	w.waitLine(t, "network connected")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var resp *openai.ChatCompletion
	var err error
	client := e.client()
	for i := 0; i < 50; i++ { // the worker registers right after connecting
		resp, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, MaxTokens: openai.Int(8),
		})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || resp.Usage.CompletionTokens == 0 {
		t.Fatalf("after the proxy restart: %v", err)
	}
	var b bill
	b.add(t, e, "cocoon-tiny", resp.Usage)
	w.waitLine(t, "1 jobs", "(1 receipts)")
	b.checkProxy(t, ctx, e, w)
	w.stop(t)
	b.checkLedgers(t, ctx, e, w)
}

// TestTwoWorkersConcurrentRequests: 20 requests at once over two real
// workers all succeed, both workers take a share, and each job is billed
// and credited exactly.
func TestTwoWorkersConcurrentRequests(t *testing.T) {
	e := startE2EProxy(t)
	w1 := startE2EWorker(t, e)
	w2 := startE2EWorker(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := e.client()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	usages := make(chan openai.CompletionUsage, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("request %d", i))},
				MaxTokens: openai.Int(32),
			})
			if err == nil && resp.Usage.CompletionTokens == 0 {
				err = fmt.Errorf("request %d: no tokens", i)
			}
			if err == nil {
				usages <- resp.Usage
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	close(usages)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	var b bill
	for u := range usages {
		b.add(t, e, "cocoon-tiny", u)
	}
	b.checkProxy(t, ctx, e, w1, w2)
	for _, w := range []*e2eWorker{w1, w2} {
		rec, ok, err := e.p.Store().Worker(ctx, workerID(t, w.dataDir))
		if err != nil || !ok || rec.LastSeq == 0 {
			t.Fatalf("worker %s took no job (routing by load should spread 20 requests): %+v %v", w.dataDir, rec, err)
		}
		w.waitLine(t, fmt.Sprintf("(%d receipts)", rec.LastSeq))
		w.stop(t)
	}
	b.checkLedgers(t, ctx, e, w1, w2)
}
