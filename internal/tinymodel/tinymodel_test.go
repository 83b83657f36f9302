package tinymodel

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
)

func TestWriteHeaderAndDeterminism(t *testing.T) {
	for _, f16 := range []bool{false, true} {
		var a, b, c bytes.Buffer
		if err := Write(&a, Options{Seed: 7, F16: f16}); err != nil {
			t.Fatal(err)
		}
		if err := Write(&b, Options{Seed: 7, F16: f16}); err != nil {
			t.Fatal(err)
		}
		if err := Write(&c, Options{Seed: 8, F16: f16}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("f16=%v: same seed gave different bytes", f16)
		}
		if bytes.Equal(a.Bytes(), c.Bytes()) {
			t.Errorf("f16=%v: different seeds gave identical bytes", f16)
		}
		data := a.Bytes()
		if string(data[:4]) != "GGUF" {
			t.Fatalf("magic = %q", data[:4])
		}
		if v := binary.LittleEndian.Uint32(data[4:]); v != 3 {
			t.Errorf("version = %d, want 3", v)
		}
		wantTensors := uint64(3 + 9*BlockCount)
		if n := binary.LittleEndian.Uint64(data[8:]); n != wantTensors {
			t.Errorf("tensor count = %d, want %d", n, wantTensors)
		}
		if n := binary.LittleEndian.Uint64(data[16:]); n != uint64(len(metadata(Options{}))) || n < 20 {
			t.Errorf("kv count = %d", n)
		}
		lo, hi := 550_000, 900_000
		if f16 {
			lo, hi = 280_000, 500_000
		}
		if len(data) < lo || len(data) > hi || len(data)%alignment != 0 {
			t.Errorf("f16=%v: size %d, want in [%d, %d] and a multiple of %d", f16, len(data), lo, hi, alignment)
		}
		t.Logf("f16=%v: %d bytes", f16, len(data))
	}
}

func TestVocabulary(t *testing.T) {
	tokens, scores, types := Vocabulary()
	if len(tokens) != VocabSize || len(scores) != VocabSize || len(types) != VocabSize {
		t.Fatalf("lengths %d %d %d", len(tokens), len(scores), len(types))
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		if seen[tok] {
			t.Errorf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
	if tokens[3] != "<0x00>" || tokens[3+0x0A] != "<0x0A>" || types[3] != tokenByte {
		t.Errorf("byte tokens misplaced: %q %q %d", tokens[3], tokens[13], types[3])
	}
	if !seen["▁the"] {
		t.Error("no ▁the")
	}
}

func TestF16(t *testing.T) {
	for f, want := range map[float32]uint16{0: 0, 1: 0x3c00, -2: 0xc000, 0.5: 0x3800, 65504: 0x7bff, 1e9: 0x7c00, 5.960464477539063e-08: 1} {
		if got := float32ToF16(f); got != want {
			t.Errorf("f16(%g) = %#x, want %#x", f, got, want)
		}
	}
}

func TestModelfile(t *testing.T) {
	mf := Modelfile("/x/tiny.gguf")
	for _, want := range []string{"FROM /x/tiny.gguf\n", "PARAMETER num_thread 1\n", "PARAMETER num_ctx 512\n", "TEMPLATE \"\"\"{{ range .Messages }}"} {
		if !strings.Contains(mf, want) {
			t.Errorf("Modelfile lacks %q:\n%s", want, mf)
		}
	}
}

// TestOllamaChat registers the model in a real Ollama and chats with it.
func TestOllamaChat(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		env  []string
	}{
		{"f32", Options{Seed: 1}, nil},
		{"f16", Options{Seed: 2, F16: true}, nil},
		{"f32-new-engine", Options{Seed: 3}, []string{"OLLAMA_NEW_ENGINE=1"}},
		{"larger shape", Options{Seed: 4, F16: true, Dim: 256, Blocks: 3, FFN: 512}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testollama.StartWith(t, testollama.Options{Env: tc.env})
			path := filepath.Join(t.TempDir(), "tiny.gguf")
			if err := WriteFile(path, tc.opts); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := srv.Client()
			if err := Register(ctx, c, "tiny", path); err != nil {
				t.Fatal(err)
			}
			if err := Register(ctx, c, "tiny", path); err != nil { // idempotent
				t.Fatalf("second Register: %v", err)
			}
			stream := true
			var chunks int
			var text strings.Builder
			var final api.ChatResponse
			err := c.Chat(ctx, &api.ChatRequest{
				Model:    "tiny",
				Messages: []api.Message{{Role: "user", Content: "Hello, who are you?"}},
				Stream:   &stream,
				Options:  map[string]any{"num_predict": 32},
			}, func(r api.ChatResponse) error {
				if r.Message.Content != "" {
					chunks++
					text.WriteString(r.Message.Content)
				}
				if r.Done {
					final = r
				}
				return nil
			})
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			if chunks < 1 {
				t.Errorf("no content streamed")
			}
			if !final.Done || final.EvalCount <= 0 || final.PromptEvalCount <= 0 {
				t.Errorf("final = %+v", final.Metrics)
			}
			tps := 0.0
			if final.EvalDuration > 0 {
				tps = float64(final.EvalCount) / final.EvalDuration.Seconds()
			}
			t.Logf("chunks=%d prompt_eval_count=%d eval_count=%d done_reason=%s eval=%v (%.0f tokens/s) text=%q",
				chunks, final.PromptEvalCount, final.EvalCount, final.DoneReason, final.EvalDuration, tps, text.String())
		})
	}
}

func TestShapeOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"defaults", Options{}, false},
		{"larger", Options{Dim: 256, Blocks: 3, FFN: 512}, false},
		{"dim not a multiple of 2×heads", Options{Dim: 100}, true},
		{"negative blocks", Options{Blocks: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Write err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			// The estimate is within the file's size less its header and padding.
			est := tc.opts.WeightBytes()
			if got := int64(b.Len()); got < est || got > est+est/4+64<<10 {
				t.Fatalf("file %d bytes, WeightBytes %d", got, est)
			}
			wantTensors := uint64(3 + 9*tc.opts.shape().blocks)
			if n := binary.LittleEndian.Uint64(b.Bytes()[8:]); n != wantTensors {
				t.Fatalf("tensor count = %d, want %d", n, wantTensors)
			}
		})
	}
}
