package metering_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
)

// kv is one GGUF metadata entry for ggufBytes.
type kv struct {
	key string
	val any // uint32, bool, string, []string, []float32, []int32
}

// ggufBytes is a GGUF v3 file with the given metadata and no tensors:
// enough for a counter, which reads only the metadata.
func ggufBytes(kvs []kv) []byte {
	var b bytes.Buffer
	u32 := func(v uint32) { _ = binary.Write(&b, binary.LittleEndian, v) }
	u64 := func(v uint64) { _ = binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { u64(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	u32(3)
	u64(0)
	u64(uint64(len(kvs)))
	for _, e := range kvs {
		str(e.key)
		switch v := e.val.(type) {
		case uint32:
			u32(4)
			u32(v)
		case bool:
			u32(7)
			if v {
				b.WriteByte(1)
			} else {
				b.WriteByte(0)
			}
		case string:
			u32(8)
			str(v)
		case []string:
			u32(9)
			u32(8)
			u64(uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		case []float32:
			u32(9)
			u32(6)
			u64(uint64(len(v)))
			for _, f := range v {
				u32(math.Float32bits(f))
			}
		case []int32:
			u32(9)
			u32(5)
			u64(uint64(len(v)))
			for _, i := range v {
				u32(uint32(i))
			}
		default:
			panic("ggufBytes: unsupported type")
		}
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// layer is one manifest layer for writeModel; data nil with digest set
// names a blob that does not exist.
type layer struct {
	media  string
	data   []byte
	digest string
}

// writeModel writes name (NAME[:TAG]) into the models directory dir with
// the given layers, as Ollama lays it out, and returns its manifest digest.
func writeModel(t testing.TB, dir, name string, layers []layer) string {
	t.Helper()
	type mlayer struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	var ls []mlayer
	for _, l := range layers {
		d := l.digest
		if l.data != nil {
			sum := sha256.Sum256(l.data)
			d = "sha256:" + hex.EncodeToString(sum[:])
			p := filepath.Join(dir, "blobs", "sha256-"+d[7:])
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, l.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ls = append(ls, mlayer{MediaType: l.media, Digest: d, Size: int64(len(l.data))})
	}
	raw, err := json.Marshal(map[string]any{"schemaVersion": 2, "layers": ls})
	if err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir, name, raw)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func writeManifest(t testing.TB, dir, name string, raw []byte) {
	t.Helper()
	model, tag, _ := strings.Cut(name, ":")
	if tag == "" {
		tag = "latest"
	}
	p := filepath.Join(dir, "manifests", "registry.ollama.ai", "library", model, tag)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	mediaModel    = "application/vnd.ollama.image.model"
	mediaTemplate = "application/vnd.ollama.image.template"
	mediaSystem   = "application/vnd.ollama.image.system"
)

// tinyVocab is the tiny model's vocabulary as GGUF metadata, with the
// tokenizer kind tm.
func tinyVocab(tm string) []kv {
	tokens, scores, types := tinymodel.Vocabulary()
	return []kv{
		{"general.architecture", "llama"},
		{"tokenizer.ggml.model", tm},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", uint32(tinymodel.BOSTokenID)},
		{"tokenizer.ggml.eos_token_id", uint32(tinymodel.EOSTokenID)},
	}
}

// bpeVocab is a small byte-level BPE vocabulary (GPT-2 style: a space is
// "Ġ"): the letters, "Ġ", a few merged words and one control token.
func bpeVocab(arch string) []kv {
	tokens := []string{"<|bos|>", "<|eot|>"}
	types := []int32{3, 3}
	for c := 'a'; c <= 'z'; c++ {
		tokens = append(tokens, string(c))
		types = append(types, 1)
	}
	merges := []string{"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"}
	for _, w := range []string{"Ġ", "he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld", ".", ","} {
		tokens = append(tokens, w)
		types = append(types, 1)
	}
	return []kv{
		{"general.architecture", arch},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "llama-bpe"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", merges},
		{"tokenizer.ggml.bos_token_id", uint32(0)},
		{"tokenizer.ggml.eos_token_id", uint32(1)},
		{"tokenizer.ggml.add_bos_token", true},
	}
}
