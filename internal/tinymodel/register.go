package tinymodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ollama/ollama/api"
)

// FileDigest returns the "sha256:<hex>" digest of the file at path, the form
// Ollama uses for blobs.
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Register creates the model name in the Ollama behind client from the GGUF
// file at ggufPath: it uploads the file as a blob, then creates the model
// with the chat Template and Parameters. It is what `ollama create name -f
// Modelfile` does with the text of Modelfile(ggufPath). Registering the same
// name again is fine (the blob upload is skipped when Ollama has it already,
// and the model is recreated).
func Register(ctx context.Context, client *api.Client, name, ggufPath string) error {
	if client == nil {
		return errors.New("tinymodel: nil Ollama client")
	}
	digest, err := FileDigest(ggufPath)
	if err != nil {
		return fmt.Errorf("tinymodel: %w", err)
	}
	f, err := os.Open(ggufPath)
	if err != nil {
		return fmt.Errorf("tinymodel: %w", err)
	}
	err = client.CreateBlob(ctx, digest, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("tinymodel: upload blob %s: %w", digest, err)
	}
	req := &api.CreateRequest{
		Model:      name,
		Files:      map[string]string{"model.gguf": digest},
		Template:   Template,
		Parameters: Parameters(),
	}
	var last string
	err = client.Create(ctx, req, func(p api.ProgressResponse) error {
		last = p.Status
		return nil
	})
	if err != nil {
		return fmt.Errorf("tinymodel: create %s: %w", name, err)
	}
	if last != "success" {
		return fmt.Errorf("tinymodel: create %s: ended with status %q, want \"success\"", name, last)
	}
	return nil
}
