// Package modeldigest names a model by the digest of its weights, the same
// on every machine.
//
// The digest Ollama's /api/tags reports is that of the model's manifest,
// and Ollama (v0.17.4) writes the absolute path of the GGUF blob into the
// manifest of a model made with `ollama create`: the same weights created
// on two machines get two manifest digests. The weights blob's own digest
// does not move; /api/show gives it in its Modelfile's FROM line
// ("FROM /…/models/blobs/sha256-<hex>"), for created and pulled models
// alike. Workers report it (network.ModelInfo.Digest) and the proxy pins
// canary jobs to it.
package modeldigest

import (
	"strings"
)

// blobPrefix starts the file name of an Ollama blob: "sha256-<64 hex>".
const blobPrefix = "sha256-"

// FromModelfile returns "sha256:<hex>" of the weights a Modelfile (as
// /api/show returns it) names in its first FROM line, or false when that
// line names no Ollama blob (e.g. a remote model).
func FromModelfile(modelfile string) (string, bool) {
	for line := range strings.Lines(modelfile) {
		line = strings.TrimSpace(line)
		if len(line) < 5 || !strings.EqualFold(line[:5], "FROM ") {
			continue
		}
		arg := strings.Trim(strings.TrimSpace(line[5:]), `"`)
		i := strings.LastIndex(arg, blobPrefix)
		if i < 0 {
			return "", false
		}
		hex := arg[i+len(blobPrefix):]
		if !isHex64(hex) {
			return "", false
		}
		return "sha256:" + strings.ToLower(hex), true
	}
	return "", false
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}
