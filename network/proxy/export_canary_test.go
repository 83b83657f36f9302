package proxy

// CorpusSize is how many prompts the built-in canary corpus holds.
func CorpusSize() int { return len(builtinCorpus) }

// CorpusPrompt returns the built-in corpus entry i: its messages and max_tokens.
func CorpusPrompt(i int) (roles, contents []string, maxTokens int) {
	e := builtinCorpus[i]
	for _, m := range e.Messages {
		roles = append(roles, m.Role)
		contents = append(contents, m.Content)
	}
	return roles, contents, e.MaxTokens
}
