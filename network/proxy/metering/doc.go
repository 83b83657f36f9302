// Package metering counts tokens the way the model a proxy serves counts
// them, so the proxy bills what it checked rather than what a worker claims.
//
// A Counter is built from an Ollama models directory (the OLLAMA_MODELS
// layout: manifests/<host>/<namespace>/<model>/<tag> and
// blobs/sha256-<hex>). It reads the model's GGUF vocabulary with Ollama's own
// pure-Go packages (fs/ggml for the metadata, tokenizer for SentencePiece,
// byte-pair and WordPiece vocabularies), renders the chat prompt as Ollama's
// server does (the template or built-in renderer, the model's own system
// prompt and preset messages), and counts:
//
//   - Prompt: the tokens of the rendered prompt, with the BOS token when the
//     vocabulary adds one, and, for SentencePiece models that Ollama runs on
//     its llama.cpp runner, the leading space llama.cpp puts before text at
//     the start and after each special token;
//   - Text: the tokens of a piece of generated text (the completion the proxy
//     relayed), without special tokens added.
//
// Counts of generated text can differ from what the model generated: a model
// may emit a token sequence that re-tokenizes into fewer (or more) tokens.
// The proxy therefore bills within a tolerance of the count (see package
// proxy's MeteringConfig); this package only counts.
//
// The manifest digest (sha256 of the manifest file's bytes, the digest
// Ollama's /api/tags reports) identifies the exact model the counter was
// built from.
//
// Prompt and completion text is never logged nor kept by this package.
// It does not import package proxy.
package metering
