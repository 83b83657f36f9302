// Package memtrim gives a process's idle memory back to the system on Linux:
// it asks the kernel to page out read-only file mappings (PageOut) or to drop
// this process's own mapping of their pages (DropFileMappings), so that a
// program that has nothing to do (a hidden window, the Ollama guard) keeps
// resident only what it touches again. Elsewhere it has nothing to offer.
package memtrim
