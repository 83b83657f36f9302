package metering

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/fs/ggml"
	"github.com/ollama/ollama/model/parsers"
	"github.com/ollama/ollama/template"
	"github.com/ollama/ollama/thinking"
	"github.com/ollama/ollama/tokenizer"
	"github.com/ollama/ollama/types/model"
)

// Media types of the Ollama manifest layers a counter reads.
const (
	mediaModel    = "application/vnd.ollama.image.model"
	mediaTemplate = "application/vnd.ollama.image.template"
	mediaPrompt   = "application/vnd.ollama.image.prompt" // the template's older name
	mediaSystem   = "application/vnd.ollama.image.system"
	mediaMessages = "application/vnd.ollama.image.messages"
)

// Size limits of what Load reads whole (the GGUF is streamed).
const (
	maxManifestBytes = 1 << 20
	maxTextBlobBytes = 4 << 20 // template, system prompt, messages, config
)

type manifestLayer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifestFile struct {
	SchemaVersion int             `json:"schemaVersion"`
	Config        manifestLayer   `json:"config"`
	Layers        []manifestLayer `json:"layers"`
}

// ManifestPath is where the manifest of name (an Ollama model name such as
// "llama3.2:1b"; no tag means "latest") lies in the models directory dir.
func ManifestPath(dir, name string) (string, error) {
	n := model.ParseName(name)
	if !n.IsValid() {
		return "", fmt.Errorf("%w: %q is not an Ollama model name", ErrBadModel, name)
	}
	return filepath.Join(dir, "manifests", n.Filepath()), nil
}

// Load builds the counter of model name from the Ollama models directory
// dir (the OLLAMA_MODELS layout). The model's manifest, GGUF metadata,
// template, system prompt and preset messages are read once; the counter
// keeps only the vocabulary and the template.
func Load(dir, name string) (*Counter, error) {
	fail := func(err error) (*Counter, error) { return nil, fmt.Errorf("model %s: %w", name, err) }
	mpath, err := ManifestPath(dir, name)
	if err != nil {
		return fail(err)
	}
	raw, err := readLimited(mpath, maxManifestBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("%w: no manifest at %s", ErrModelNotFound, mpath))
	}
	if err != nil {
		return fail(fmt.Errorf("%w: manifest: %w", ErrBadModel, err))
	}
	sum := sha256.Sum256(raw)
	var mf manifestFile
	if err := json.Unmarshal(raw, &mf); err != nil {
		return fail(fmt.Errorf("%w: manifest %s: %w", ErrBadModel, mpath, err))
	}
	c := &Counter{name: name, digest: hex.EncodeToString(sum[:]), base: model.ParseName(name).Model}

	var cfg model.ConfigV2
	if mf.Config.Digest != "" {
		if err := readJSONBlob(dir, mf.Config.Digest, &cfg); err != nil {
			return fail(fmt.Errorf("config: %w", err))
		}
	}
	c.family, c.renderer = cfg.ModelFamily, cfg.Renderer
	var modelDigest, templateText string
	hasTemplate := false
	for _, l := range mf.Layers {
		switch l.MediaType {
		case mediaModel:
			modelDigest = l.Digest // Ollama uses the last one too
		case mediaTemplate, mediaPrompt:
			b, err := readBlob(dir, l.Digest)
			if err != nil {
				return fail(fmt.Errorf("template: %w", err))
			}
			templateText, hasTemplate = string(b), true
		case mediaSystem:
			b, err := readBlob(dir, l.Digest)
			if err != nil {
				return fail(fmt.Errorf("system prompt: %w", err))
			}
			c.system = string(b)
		case mediaMessages:
			var msgs []api.Message
			if err := readJSONBlob(dir, l.Digest, &msgs); err != nil {
				return fail(fmt.Errorf("messages: %w", err))
			}
			c.preset = msgs
		}
	}
	if modelDigest == "" {
		return fail(fmt.Errorf("%w: the manifest has no model layer", ErrBadModel))
	}
	if !hasTemplate {
		templateText = "{{ .Prompt }}" // Ollama's template.DefaultTemplate
	}
	if c.tmpl, err = template.Parse(templateText); err != nil {
		return fail(fmt.Errorf("%w: template: %w", ErrBadModel, err))
	}
	if err := c.loadVocabulary(dir, modelDigest); err != nil {
		return fail(err)
	}
	// Ollama's chat handler turns thinking on for a model that can think
	// (server/images.go Capabilities) when the request does not say.
	open, closing := thinking.InferTags(c.tmpl.Template)
	p := parsers.ParserForName(cfg.Parser)
	c.think = slices.Contains(cfg.Capabilities, "thinking") ||
		(open != "" && closing != "") ||
		c.family == "gptoss" || c.family == "gpt-oss" ||
		(p != nil && p.HasThinkingSupport())
	// A template that fails on a plain conversation would fail every job:
	// say so now rather than at the first request.
	if _, err := c.Render([]Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}}); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBadModel, err))
	}
	return c, nil
}

// loadVocabulary reads the GGUF's tokenizer metadata and builds the
// tokenizer as Ollama's model constructors do (model/models/llama,
// model/models/bert).
func (c *Counter) loadVocabulary(dir, digest string) error {
	path, err := blobPath(dir, digest)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: model file: %w", ErrBadModel, err)
	}
	defer f.Close()
	g, err := ggml.Decode(f, -1)
	if err != nil {
		return fmt.Errorf("%w: model file %s: %w", ErrBadModel, path, err)
	}
	kv := g.KV()
	vocab := &tokenizer.Vocabulary{
		Values: kv.Strings("tokenizer.ggml.tokens"),
		Scores: kv.Floats("tokenizer.ggml.scores"),
		Types:  kv.Ints("tokenizer.ggml.token_type"),
		Merges: kv.Strings("tokenizer.ggml.merges"),
		AddBOS: kv.Bool("tokenizer.ggml.add_bos_token", true),
		BOS:    []int32{int32(kv.Uint("tokenizer.ggml.bos_token_id"))},
		AddEOS: kv.Bool("tokenizer.ggml.add_eos_token", false),
		EOS:    append([]int32{int32(kv.Uint("tokenizer.ggml.eos_token_id"))}, kv.Ints("tokenizer.ggml.eos_token_ids")...),
	}
	tm := kv.String("tokenizer.ggml.model")
	n := len(vocab.Values)
	// NewSentencePiece indexes the first five tokens, and every token needs a type.
	if n < 5 || len(vocab.Types) != n {
		return fmt.Errorf("%w: vocabulary of %d tokens with %d token types", ErrBadModel, n, len(vocab.Types))
	}
	switch tm {
	case "llama":
		if len(vocab.Scores) != n {
			return fmt.Errorf("%w: SentencePiece vocabulary of %d tokens with %d scores", ErrBadModel, n, len(vocab.Scores))
		}
		c.kind, c.tok = "sentencepiece", tokenizer.NewSentencePiece(vocab)
	case "gpt2":
		if len(vocab.Merges) == 0 {
			return fmt.Errorf("%w: byte-pair vocabulary without merges", ErrBadModel)
		}
		c.kind, c.tok = "bpe", tokenizer.NewBytePairEncoding(vocab, pretokenizers(kv.String("tokenizer.ggml.pre"))...)
	case "bert":
		vocab.BOS = []int32{int32(firstNonZero(kv.Uint("tokenizer.ggml.cls_token_id"), kv.Uint("tokenizer.ggml.bos_token_id")))}
		vocab.AddEOS = kv.Bool("tokenizer.ggml.add_eos_token", true)
		vocab.EOS = []int32{int32(firstNonZero(kv.Uint("tokenizer.ggml.separator_token_id"), kv.Uint("tokenizer.ggml.seperator_token_id"), kv.Uint("tokenizer.ggml.eos_token_id")))}
		c.kind, c.tok = "wordpiece", tokenizer.NewWordPiece(vocab, true)
	case "":
		return fmt.Errorf("%w: the model file names no tokenizer (tokenizer.ggml.model)", ErrUnsupportedTokenizer)
	default:
		return fmt.Errorf("%w: %q (supported: llama SentencePiece, gpt2 byte-pair, bert WordPiece)", ErrUnsupportedTokenizer, tm)
	}
	for _, id := range append(slices.Clone(vocab.BOS), vocab.EOS...) {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("%w: special token id %d outside the vocabulary of %d", ErrBadModel, id, n)
		}
	}
	for i, v := range vocab.Values {
		c.maxPiece = max(c.maxPiece, len(v))
		if t := vocab.Types[i]; t == tokenizer.TOKEN_TYPE_CONTROL || t == tokenizer.TOKEN_TYPE_USER_DEFINED {
			if v == "" {
				// Ollama's tokenizer would split text on it forever.
				return fmt.Errorf("%w: special token %d is empty", ErrBadModel, i)
			}
		}
	}
	c.addBOS = vocab.AddBOS && len(vocab.BOS) > 0
	c.addEOS = vocab.AddEOS && len(vocab.EOS) > 0
	// Ollama runs these architectures on its own engine (Go tokenizer) and
	// the others on llama.cpp (llm/server.go NewLlamaServer, fs/ggml
	// OllamaEngineRequired), whose SentencePiece tokenizer adds a leading
	// space, and which splits out the unknown token too, longest special
	// token first (llama-vocab.cpp cache_special_tokens).
	c.llamaCpp = !kv.OllamaEngineRequired()
	c.spaceLead = c.llamaCpp && c.kind == "sentencepiece" && kv.Bool("tokenizer.ggml.add_space_prefix", true)
	if c.llamaCpp {
		for i, v := range vocab.Values {
			switch vocab.Types[i] {
			case tokenizer.TOKEN_TYPE_CONTROL, tokenizer.TOKEN_TYPE_USER_DEFINED, tokenizer.TOKEN_TYPE_UNKNOWN:
				if v != "" {
					c.specials = append(c.specials, v)
				}
			}
		}
		slices.SortStableFunc(c.specials, func(a, b string) int { return len(b) - len(a) })
	} else {
		c.specials = vocab.SpecialVocabulary()
	}
	return nil
}

// pretokenizers are the byte-pair splitting expressions Ollama's llama
// model uses for each tokenizer.ggml.pre (model/models/llama/model.go).
func pretokenizers(pre string) []string {
	switch pre {
	case "default":
		return nil
	case "qwen2":
		return []string{"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}
	case "refact":
		return []string{`\p{N}`, `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`}
	case "tekken":
		return []string{"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}
	default: // llama-bpe
		return []string{"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}
	}
}

func firstNonZero(vs ...uint32) uint32 {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}

// blobPath is where the blob of digest ("sha256:<64 hex>") lies.
func blobPath(dir, digest string) (string, error) {
	hexPart, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexPart) != 64 {
		return "", fmt.Errorf("%w: bad blob digest %q", ErrBadModel, truncate(digest, 80))
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", fmt.Errorf("%w: bad blob digest %q", ErrBadModel, truncate(digest, 80))
	}
	return filepath.Join(dir, "blobs", "sha256-"+strings.ToLower(hexPart)), nil
}

func readBlob(dir, digest string) ([]byte, error) {
	path, err := blobPath(dir, digest)
	if err != nil {
		return nil, err
	}
	b, err := readLimited(path, maxTextBlobBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	return b, nil
}

func readJSONBlob(dir, digest string, v any) error {
	b, err := readBlob(dir, digest)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: blob %s: %w", ErrBadModel, truncate(digest, 80), err)
	}
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: over %d bytes", path, limit)
	}
	return bytes.Clone(b), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
