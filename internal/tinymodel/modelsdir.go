package tinymodel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Layout is what WriteModelsDir puts beside the model file.
type Layout struct {
	// Template is the chat template; empty: Template.
	Template string
	// System is the model's own system prompt (Ollama's SYSTEM); empty: none.
	System string
}

// Media types of an Ollama manifest.
const (
	mediaManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaConfig   = "application/vnd.docker.container.image.v1+json"
	mediaModel    = "application/vnd.ollama.image.model"
	mediaTemplate = "application/vnd.ollama.image.template"
	mediaSystem   = "application/vnd.ollama.image.system"
	mediaParams   = "application/vnd.ollama.image.params"
)

type layer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// WriteModelsDir writes the tiny model of opts as name ("cocoon-tiny" or
// "cocoon-tiny:tag"; no host or namespace) into the Ollama models directory
// dir (the OLLAMA_MODELS layout), as `ollama create` with Modelfile would:
// the blobs (model, template, system prompt, parameters, config) and the
// manifest under manifests/registry.ollama.ai/library/<name>/<tag>. An
// Ollama serving from dir lists and runs it. It returns the manifest's
// digest: the hex sha256 of the manifest's bytes, as /api/tags reports it.
func WriteModelsDir(dir, name string, opts Options, l Layout) (string, error) {
	model, tag, _ := strings.Cut(name, ":")
	if tag == "" {
		tag = "latest"
	}
	if model == "" || strings.ContainsAny(model, `/\`) || strings.ContainsAny(tag, `/\:`) {
		return "", fmt.Errorf("tinymodel: %q: want NAME or NAME:TAG", name)
	}
	var gguf bytes.Buffer
	if err := Write(&gguf, opts); err != nil {
		return "", err
	}
	blob := func(mediaType string, b []byte) (layer, error) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		path := filepath.Join(dir, "blobs", "sha256-"+h)
		if err := writeFileAtomic(path, b); err != nil {
			return layer{}, err
		}
		return layer{MediaType: mediaType, Digest: "sha256:" + h, Size: int64(len(b))}, nil
	}
	tmpl := l.Template
	if tmpl == "" {
		tmpl = Template
	}
	params, err := json.Marshal(Parameters())
	if err != nil {
		return "", err
	}
	var layers []layer
	for _, b := range []struct {
		media string
		data  []byte
	}{
		{mediaModel, gguf.Bytes()},
		{mediaTemplate, []byte(tmpl)},
		{mediaSystem, []byte(l.System)},
		{mediaParams, params},
	} {
		if b.media == mediaSystem && l.System == "" {
			continue
		}
		ly, err := blob(b.media, b.data)
		if err != nil {
			return "", err
		}
		layers = append(layers, ly)
	}
	diffIDs := make([]string, len(layers))
	for i, ly := range layers {
		diffIDs[i] = ly.Digest
	}
	cfg, err := json.Marshal(map[string]any{
		"model_format": "gguf", "model_family": "llama", "model_families": []string{"llama"},
		"model_type": "140K", "file_type": "unknown", "architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return "", err
	}
	cfgLayer, err := blob(mediaConfig, cfg)
	if err != nil {
		return "", err
	}
	manifest, err := json.Marshal(struct {
		SchemaVersion int     `json:"schemaVersion"`
		MediaType     string  `json:"mediaType"`
		Config        layer   `json:"config"`
		Layers        []layer `json:"layers"`
	}{2, mediaManifest, cfgLayer, layers})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "manifests", "registry.ollama.ai", "library", model, tag)
	if err := writeFileAtomic(path, manifest); err != nil {
		return "", err
	}
	sum := sha256.Sum256(manifest)
	return hex.EncodeToString(sum[:]), nil
}

// writeFileAtomic writes b to path (creating its directory) via a
// temporary file renamed into place, so a reader never sees half a file.
func writeFileAtomic(path string, b []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
