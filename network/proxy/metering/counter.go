package metering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/model/renderers"
	"github.com/ollama/ollama/template"
	"github.com/ollama/ollama/thinking"
	"github.com/ollama/ollama/tokenizer"
)

// Errors of Load. Each is wrapped with the model's name and what failed.
var (
	// ErrModelNotFound: the models directory has no manifest for the model
	// (not pulled or created yet).
	ErrModelNotFound = errors.New("metering: model not in the models directory")
	// ErrUnsupportedTokenizer: the model's vocabulary is of a kind Ollama's
	// pure-Go tokenizer package cannot read (it reads SentencePiece
	// "llama", byte-pair "gpt2" and WordPiece "bert" vocabularies).
	ErrUnsupportedTokenizer = errors.New("metering: unsupported tokenizer")
	// ErrBadModel: the manifest, a blob, the GGUF metadata or the chat
	// template is unreadable or inconsistent.
	ErrBadModel = errors.New("metering: unusable model")
)

// Message is one chat message as the proxy sends it to a worker.
type Message struct {
	Role    string
	Content string
	// ToolCalls are an assistant message's calls; ToolName names the tool
	// a tool message answers (the chat template renders both).
	ToolCalls []ToolCall
	ToolName  string
}

// ToolCall is a function call in a message: Arguments is a JSON object.
type ToolCall struct {
	Name      string
	Arguments string
}

// Tool is a function offered to the model: Parameters is its JSON schema.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// apiTools converts tools for Ollama's templates and renderers.
func apiTools(tools []Tool) (api.Tools, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make(api.Tools, 0, len(tools))
	for _, t := range tools {
		at := api.Tool{Type: "function", Function: api.ToolFunction{Name: t.Name, Description: t.Description}}
		if len(t.Parameters) > 0 {
			if err := json.Unmarshal(t.Parameters, &at.Function.Parameters); err != nil {
				return nil, fmt.Errorf("metering: tool %s: parameters: %w", t.Name, err)
			}
		}
		out = append(out, at)
	}
	return out, nil
}

// apiMessage converts a message for Ollama's templates and renderers.
func apiMessage(m Message) (api.Message, error) {
	am := api.Message{Role: m.Role, Content: m.Content, ToolName: m.ToolName}
	for i, tc := range m.ToolCalls {
		call := api.ToolCall{Function: api.ToolCallFunction{Index: i, Name: tc.Name}}
		if err := json.Unmarshal([]byte(tc.Arguments), &call.Function.Arguments); err != nil {
			return am, fmt.Errorf("metering: tool call %s: arguments: %w", tc.Name, err)
		}
		am.ToolCalls = append(am.ToolCalls, call)
	}
	return am, nil
}

// ToolCallsText is the text the proxy counts as completion tokens for the
// tool calls a model made: each as the JSON object {"name", "arguments"}
// that the common chat templates (llama 3, qwen, mistral) have the model
// write. A model's own markers around it are a few tokens the tolerance
// covers.
func ToolCallsText(calls []ToolCall) string {
	var b strings.Builder
	for _, c := range calls {
		name, _ := json.Marshal(c.Name)
		b.WriteString(`{"name":`)
		b.Write(name)
		b.WriteString(`,"arguments":`)
		b.WriteString(c.Arguments)
		b.WriteString("}")
	}
	return b.String()
}

// Counter counts the tokens of one model. It is safe for concurrent use.
type Counter struct {
	name      string // as the proxy serves it
	digest    string // hex sha256 of the manifest
	kind      string // "sentencepiece", "bpe" or "wordpiece"
	tok       tokenizer.Tokenizer
	specials  []string // the special tokens split out of text, in the order the runner tries them
	addBOS    bool
	addEOS    bool
	maxPiece  int  // longest token text in bytes
	llamaCpp  bool // Ollama runs the model on its llama.cpp runner
	spaceLead bool // llama.cpp puts a space before text at the start and after a special token

	tmpl     *template.Template
	renderer string
	system   string
	preset   []api.Message // the model's own messages, before the request's
	think    bool          // Ollama turns thinking on for this model by default
	family   string
	base     string // the model part of the name, for Ollama's deepseek-r1 rule
}

// Name is the model's name as the proxy serves it.
func (c *Counter) Name() string { return c.name }

// Digest is the hex sha256 of the model's manifest: the digest Ollama's
// /api/tags reports for it.
func (c *Counter) Digest() string { return c.digest }

// Tokenizer names the vocabulary's kind: "sentencepiece", "bpe" or "wordpiece".
func (c *Counter) Tokenizer() string { return c.kind }

// MaxTokenBytes is the most bytes of text one token of the vocabulary can
// decode to (its longest token text; byte tokens and the replacement of a
// broken UTF-8 sequence stay under it). A worker that relays more than
// MaxTokenBytes × tokens cannot have generated them with this model.
func (c *Counter) MaxTokenBytes() int { return c.maxPiece }

// Render returns the prompt as Ollama renders it for msgs: the model's
// system prompt when the first message is not a system message, its preset
// messages, then msgs, through its template or built-in renderer.
func (c *Counter) Render(msgs []Message) (string, error) {
	return c.RenderTools(msgs, nil)
}

// RenderTools is Render with the tools offered to the model, which the
// template renders into the prompt (a model without tool support in its
// template leaves them out, as Ollama does).
func (c *Counter) RenderTools(msgs []Message, tools []Tool) (string, error) {
	all := make([]api.Message, 0, len(c.preset)+len(msgs)+1)
	all = append(all, c.preset...)
	for _, m := range msgs {
		am, err := apiMessage(m)
		if err != nil {
			return "", err
		}
		all = append(all, am)
	}
	atools, err := apiTools(tools)
	if err != nil {
		return "", err
	}
	if (len(msgs) == 0 || msgs[0].Role != "system") && c.system != "" {
		all = append([]api.Message{{Role: "system", Content: c.system}}, all...)
	}
	all = c.filterThinkTags(all)
	var think *api.ThinkValue
	if c.think {
		think = &api.ThinkValue{Value: true}
	}
	if c.renderer != "" {
		s, err := renderers.RenderWithRenderer(c.renderer, all, atools, think)
		if err != nil {
			return "", fmt.Errorf("metering: %s: render: %w", c.name, err)
		}
		return s, nil
	}
	var b bytes.Buffer
	err = c.tmpl.Execute(&b, template.Values{Messages: all, Tools: atools, Think: c.think, IsThinkSet: c.think})
	if err != nil {
		return "", fmt.Errorf("metering: %s: template: %w", c.name, err)
	}
	return b.String(), nil
}

// filterThinkTags drops the thinking of earlier assistant turns, as
// Ollama's chat handler does for qwen3 and deepseek-r1 models.
func (c *Counter) filterThinkTags(msgs []api.Message) []api.Message {
	if c.family != "qwen3" && c.base != "deepseek-r1" {
		return msgs
	}
	last := -1
	for i, m := range msgs {
		if m.Role == "user" {
			last = i
		}
	}
	for i, m := range msgs {
		if m.Role == "assistant" && i < last {
			p := &thinking.Parser{OpeningTag: "<think>", ClosingTag: "</think>"}
			_, msgs[i].Content = p.AddContent(m.Content)
		}
	}
	return msgs
}

// Prompt counts the tokens of the prompt the model sees for msgs (before
// any truncation to the context window, which only lowers the model's own
// count).
func (c *Counter) Prompt(msgs []Message) (int, error) {
	return c.PromptTools(msgs, nil)
}

// PromptTools is Prompt with the tools offered to the model.
func (c *Counter) PromptTools(msgs []Message, tools []Tool) (int, error) {
	s, err := c.RenderTools(msgs, tools)
	if err != nil {
		return 0, err
	}
	return c.promptTokens(s)
}

// promptTokens counts a rendered prompt with the special tokens the runner
// adds.
func (c *Counter) promptTokens(s string) (int, error) {
	n, err := c.encodedLen(s, c.spaceLead)
	if err != nil {
		return 0, err
	}
	if c.addBOS {
		n++
	}
	if c.addEOS {
		n++
	}
	return n, nil
}

// Text counts the tokens of generated text (no BOS or EOS added; special
// tokens written out in the text count as one token each).
func (c *Counter) Text(s string) (int, error) {
	return c.encodedLen(s, false)
}

// encodedLen counts the tokens of s without BOS or EOS. Special tokens are
// split out here, in passes linear in the text, and only the raw fragments
// between them go to Ollama's tokenizer: its own split copies the fragment
// list at every occurrence, quadratic in the number of special tokens in
// the text (256 KiB of "<s>a" took minutes), which a client's prompt or a
// worker's stream must not be able to cost the proxy. spaceLead puts a
// space before a raw fragment at the start or right after a special token,
// as llama.cpp's SentencePiece tokenizer does (llama-vocab.cpp,
// add_space_prefix). WordPiece has no special tokens in text in Ollama's
// tokenizer, so its text goes to it whole.
func (c *Counter) encodedLen(s string, spaceLead bool) (int, error) {
	if s == "" {
		return 0, nil
	}
	if c.kind == "wordpiece" {
		ids, err := c.tok.Encode(s, false)
		if err != nil {
			return 0, fmt.Errorf("metering: %s: tokenize: %w", c.name, err)
		}
		return len(ids), nil
	}
	n := 0
	prevSpecial := true
	for _, f := range splitSpecials(s, c.specials) {
		if f.special {
			n++
			prevSpecial = true
			continue
		}
		text := f.text
		if spaceLead && prevSpecial {
			text = " " + text
		}
		ids, err := c.tok.Encode(text, false)
		if err != nil {
			return 0, fmt.Errorf("metering: %s: tokenize: %w", c.name, err)
		}
		n += len(ids)
		prevSpecial = false
	}
	return n, nil
}

type fragment struct {
	text    string
	special bool
}

// splitSpecials splits s on every occurrence of the special tokens, in the
// order given (each one over the raw fragments the earlier ones left), as
// Ollama's tokenizer package and llama.cpp do.
func splitSpecials(s string, specials []string) []fragment {
	frags := []fragment{{text: s}}
	for _, sp := range specials {
		if sp == "" || !strings.Contains(s, sp) {
			continue // the common case: no fragment can hold it
		}
		out := make([]fragment, 0, len(frags)+2)
		for _, f := range frags {
			if f.special {
				out = append(out, f)
				continue
			}
			rest := f.text
			for {
				i := strings.Index(rest, sp)
				if i < 0 {
					if rest != "" {
						out = append(out, fragment{text: rest})
					}
					break
				}
				if i > 0 {
					out = append(out, fragment{text: rest[:i]})
				}
				out = append(out, fragment{text: sp, special: true})
				rest = rest[i+len(sp):]
			}
		}
		frags = out
	}
	return frags
}
