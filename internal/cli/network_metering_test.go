package cli

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// TestLocalNetworkMetersItsModel: the app's local network (the embedded
// proxy next to the managed Ollama) counts the built-in model's tokens
// itself: it finds the model the worker created after the proxy started,
// logs its digest, and bills the prompt at its own count, which is
// Ollama's to the token.
func TestLocalNetworkMetersItsModel(t *testing.T) {
	needOllama(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := l.Addr().String()
	l.Close()
	cmd := program(t, "--no-attach", "--data-dir", dir, "--api-addr", apiAddr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	serving := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			if !closed && strings.Contains(sc.Text(), "[serving]") {
				close(serving)
				closed = true
			}
		}
	}()
	select {
	case <-serving:
	case <-time.After(90 * time.Second):
		t.Fatalf("the app did not serve within 90 s; stderr:\n%s", stderr.String())
	}
	key, err := os.ReadFile(filepath.Join(dir, "local-network", "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	client := openai.NewClient(option.WithBaseURL("http://"+apiAddr+"/v1/"), option.WithAPIKey(strings.TrimSpace(string(key))), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The worker's availability may trail its status line by a moment.
	for {
		page, err := client.Models.List(ctx)
		if err == nil && len(page.Data) == 1 && page.Data[0].ID == "cocoon-tiny" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the local network never offered cocoon-tiny: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:     "cocoon-tiny",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count me")},
		MaxTokens: openai.Int(8),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(filepath.Join(dir, "ollama", "models"), "cocoon-tiny")
	if err != nil {
		t.Fatalf("the managed Ollama's model is not where the local network looks: %v", err)
	}
	want, err := c.Prompt([]metering.Message{{Role: "user", Content: "count me"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens != int64(want) {
		t.Errorf("billed %d prompt tokens, the proxy's count is %d", resp.Usage.PromptTokens, want)
	}
	// The log line says the proxy metered with that very model.
	logPath := filepath.Join(dir, "logs", "cocoon-desktop.log")
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "metering model") && strings.Contains(string(b), c.Digest()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"metering model\" line with digest %s in the log:\n%s", c.Digest(), b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
