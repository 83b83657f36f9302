package network

import (
	"context"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"
	"time"
)

// embedHandler is a JobHandler that also runs embedding jobs.
type embedHandler struct {
	handlerFunc
	embed func(ctx context.Context, job Job, emit func(int, []float32) error) (Usage, error)
}

func (h embedHandler) RunEmbed(ctx context.Context, job Job, emit func(int, []float32) error) (Usage, error) {
	return h.embed(ctx, job, emit)
}

func embedJob(id string, inputs ...string) *Job {
	j := job(id, time.Minute)
	j.Messages, j.Kind, j.Input = nil, JobEmbedding, inputs
	return j
}

// TestClientEmbeddingJob: an embedding job is answered with one embedding
// message per input, in order, then done with the handler's usage; a
// handler that emits out of order, too few vectors, or fails, or that
// cannot embed at all, ends the job with job_error runtime_error.
func TestClientEmbeddingJob(t *testing.T) {
	vec := func(i int) []float32 { return []float32{float32(i), 0.5, -1} }
	tests := []struct {
		name    string
		handler JobHandler
		vectors int // embedding messages before the final one
		code    string
	}{
		{"one per input", embedHandler{embed: func(ctx context.Context, job Job, emit func(int, []float32) error) (Usage, error) {
			for i := range job.Input {
				if err := emit(i, vec(i)); err != nil {
					return Usage{}, err
				}
			}
			return Usage{PromptTokens: 9}, nil
		}}, 3, ""},
		{"out of order", embedHandler{embed: func(ctx context.Context, job Job, emit func(int, []float32) error) (Usage, error) {
			if err := emit(0, vec(0)); err != nil {
				return Usage{}, err
			}
			return Usage{}, emit(2, vec(2))
		}}, 1, CodeRuntime},
		{"too few", embedHandler{embed: func(ctx context.Context, job Job, emit func(int, []float32) error) (Usage, error) {
			return Usage{PromptTokens: 1}, emit(0, vec(0))
		}}, 1, CodeRuntime},
		{"runtime fails", embedHandler{embed: func(ctx context.Context, job Job, emit func(int, []float32) error) (Usage, error) {
			return Usage{}, errors.New("ollama exited")
		}}, 0, CodeRuntime},
		{"cannot embed", handlerFunc(func(ctx context.Context, job Job, emit func(string) error) (Usage, string, error) {
			t.Error("an embedding job reached RunJob")
			return Usage{}, "", nil
		}), 0, CodeRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			proxy := testKey(1)
			stub := newStub(t, proxy)
			h := startClient(t, stub, proxy.Public().(ed25519.PublicKey), tc.handler)
			reg := testRegistration
			reg.Features = []string{FeatureEmbeddings} // a worker runs only the kinds it registered
			h.c.SetRegistration(reg)
			sc := stub.accept(t)
			for r := expectType[*Register](t, sc.nextOf(t, TypeRegister), TypeRegister); !r.HasFeature(FeatureEmbeddings); {
				r = expectType[*Register](t, sc.nextOf(t, TypeRegister), TypeRegister)
			}
			sc.send(t, TypeJob, embedJob("e1", "a", "b", "c"))
			for i := 0; i < tc.vectors; i++ {
				e := expectType[*Embedding](t, sc.nextOf(t, TypeEmbedding), TypeEmbedding)
				if e.JobID != "e1" || e.Index != i || !slices.Equal(e.Embedding, vec(i)) {
					t.Fatalf("embedding %d: %+v", i, e)
				}
			}
			f := sc.next(t)
			if tc.code == "" {
				if d := expectType[*Done](t, f, TypeDone); d.JobID != "e1" || d.Usage.PromptTokens != 9 || d.FinishReason != "stop" {
					t.Fatalf("done %+v", d)
				}
				return
			}
			if je := expectType[*JobError](t, f, TypeJobError); je.JobID != "e1" || je.Code != tc.code {
				t.Fatalf("job_error %+v, want %s", je, tc.code)
			}
		})
	}
}
