package metering_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/tinymodel"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy/metering"
)

// toolsTemplate renders tools, tool calls and tool results, as the chat
// templates of tool-calling models do.
const toolsTemplate = `{{- if .Tools }}[TOOLS]{{ range .Tools }}{{ .Function.Name }}: {{ .Function.Description }} {{ json .Function.Parameters }}
{{ end }}[/TOOLS]{{ end }}
{{- range .Messages }}<{{ .Role }}>{{ .Content }}{{ range .ToolCalls }}[CALL]{"name":"{{ .Function.Name }}","arguments":{{ json .Function.Arguments }}}{{ end }}{{ if .ToolName }}({{ .ToolName }}){{ end }}
{{ end }}<assistant>`

// TestToolsPromptMatchesOllama: tool definitions and tool-call messages
// count toward the prompt exactly as Ollama renders and counts them (its
// prompt_eval_count on the real Ollama), and they do count: the prompt
// with them is longer than without.
func TestToolsPromptMatchesOllama(t *testing.T) {
	ol := testollama.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := tinymodel.WriteModelsDir(ol.ModelsDir(), "tooly", tinymodel.Options{Seed: 3}, tinymodel.Layout{Template: toolsTemplate}); err != nil {
		t.Fatal(err)
	}
	c, err := metering.Load(ol.ModelsDir(), "tooly")
	if err != nil {
		t.Fatal(err)
	}
	params := `{"type":"object","properties":{"city":{"type":"string","description":"the city"}},"required":["city"]}`
	tools := []metering.Tool{{Name: "get_weather", Description: "The weather in a city", Parameters: json.RawMessage(params)}}
	msgs := []metering.Message{
		{Role: "user", Content: "Weather in Paris?"},
		{Role: "assistant", ToolCalls: []metering.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
		{Role: "tool", Content: `{"temp":21}`, ToolName: "get_weather"},
	}
	for _, tc := range []struct {
		name  string
		msgs  []metering.Message
		tools []metering.Tool
	}{
		{"tools offered", msgs[:1], tools},
		{"tool call and result", msgs, tools},
		{"tool messages without tools", msgs, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			own, err := c.PromptTools(tc.msgs, tc.tools)
			if err != nil {
				t.Fatal(err)
			}
			var at api.Tools
			for _, tl := range tc.tools {
				tool := api.Tool{Type: "function", Function: api.ToolFunction{Name: tl.Name, Description: tl.Description}}
				if err := json.Unmarshal(tl.Parameters, &tool.Function.Parameters); err != nil {
					t.Fatal(err)
				}
				at = append(at, tool)
			}
			am := make([]api.Message, len(tc.msgs))
			for i, m := range tc.msgs {
				am[i] = api.Message{Role: m.Role, Content: m.Content, ToolName: m.ToolName}
				for _, call := range m.ToolCalls {
					args := api.NewToolCallFunctionArguments()
					if err := json.Unmarshal([]byte(call.Arguments), &args); err != nil {
						t.Fatal(err)
					}
					am[i].ToolCalls = append(am[i].ToolCalls, api.ToolCall{Function: api.ToolCallFunction{Name: call.Name, Arguments: args}})
				}
			}
			stream := false
			var final api.ChatResponse
			err = ol.Client().Chat(ctx, &api.ChatRequest{Model: "tooly", Messages: am, Tools: at, Stream: &stream,
				Options: map[string]any{"num_predict": 1}}, func(r api.ChatResponse) error { final = r; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if own != final.PromptEvalCount {
				t.Errorf("counted %d prompt tokens, Ollama %d", own, final.PromptEvalCount)
			}
			plain := make([]metering.Message, len(tc.msgs))
			for i, m := range tc.msgs {
				plain[i] = metering.Message{Role: m.Role, Content: m.Content}
			}
			without, err := c.Prompt(plain)
			if err != nil {
				t.Fatal(err)
			}
			if without >= own {
				t.Errorf("without tools and calls %d tokens, with %d: they were not counted", without, own)
			}
			t.Logf("%d prompt tokens (%d without the tools and calls)", own, without)
		})
	}
}
