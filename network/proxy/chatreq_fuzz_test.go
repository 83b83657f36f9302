package proxy

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzChatRequest: an app developer's request body never panics the
// proxy; it is refused with a badRequest naming a parameter, or it becomes
// a job the protocol's codec accepts (so the worker can be sent it).
func FuzzChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b"],"presence_penalty":1,"frequency_penalty":-1,"top_p":0.5,"seed":3,"user":"u"}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"},"logprobs":true,"top_logprobs":3}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","content":"r","tool_call_id":"c1"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto"}`,
		`{"model":"m","messages":[{"role":"user","content":"hi","name":"x"}],"logit_bias":{"1":2},"n":2}`,
		`{"model":"m","messages":[{"role":"tool","content":"r","tool_call_id":"nobody"}]}`,
		`{"model":"m","messages":[],"stop":"","tools":[{"type":"custom"}],"tool_choice":{"type":"function"}}`,
		`[]`, `null`, `{"frobnicate":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req chatRequest
		if json.Unmarshal(body, &req) != nil {
			return // answered invalid_json before any of this
		}
		err := checkChatFields(body)
		var job = req
		if err == nil {
			j, jerr := job.toJob()
			if jerr == nil {
				j.JobID, j.Deadline = "fuzz", 1
				if verr := j.Validate(); verr != nil {
					t.Fatalf("accepted request makes a job the codec refuses: %v\n%s", verr, body)
				}
				return
			}
			err = jerr
		}
		var br *badRequest
		if !errors.As(err, &br) || br.msg == "" {
			t.Fatalf("refusal %v is not a badRequest with a message", err)
		}
	})
}
