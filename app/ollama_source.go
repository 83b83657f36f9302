package app

import "github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"

// ollamaSourceSuffix names which Ollama a managed one is, so an owner who
// installed ollama.com's Ollama (with CUDA) can see that it is the one used.
func ollamaSourceSuffix(source string) string {
	switch source {
	case "":
		return ""
	case ollama.SourceOfficial:
		return " · your Ollama install (ollama.com)"
	case ollama.SourceBundled:
		return " · the Ollama bundled with Cocoon"
	case ollama.SourcePath:
		return " · the Ollama on your PATH"
	default:
		return " · " + source
	}
}
