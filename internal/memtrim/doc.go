// Package memtrim gives a process's idle memory back to the system on Linux:
// it asks the kernel to page out the file pages of its mappings (PageOut) or
// drops its own mapping of such pages (DropUnsharedFilePages, for the pages
// only this process maps; DropFileMappings, for all of them), so that a
// program that has nothing to do (a hidden window, the Ollama guard) keeps
// resident only what it touches again. Elsewhere it has nothing to offer.
package memtrim
