// Package proxy is the reference Cocoon Desktop network proxy.
//
// App developers call it with an OpenAI-compatible HTTP API
// (POST /v1/chat/completions, GET /v1/models, API keys in
// "Authorization: Bearer"). Desktop workers connect outbound to it over one
// TLS WebSocket each (GET /v1/worker) and speak the protocol of package
// network. The proxy routes each job to the eligible worker with the lowest
// running × average-job-time load (Cocoon's rule), retries on another worker
// while no token has been relayed yet, meters the job (prompt and completion
// tokens × per-model price × the worker's coefficient, less the proxy's
// commission), stores a receipt with the worker's new cumulative total in one
// store transaction, signs it with the proxy's ed25519 key and sends it to
// the worker.
//
// The proxy pays only for work it has checked (docs/trust.md): it counts the
// tokens itself with each model's own tokenizer (package metering) and bills
// a worker's claim only up to that count plus a tolerance, bounds the bytes
// of every job, checks workers with canary jobs whose answers it knows,
// keeps a trust record per worker (new identities' earnings held and capped,
// liars quarantined), and limits what clients and connections can take.
//
// The worker listener's TLS certificate is self-signed with that same
// ed25519 key, so a worker that pins the proxy's public key can check the
// TLS leaf directly (network.Client does; PinnedTLSConfig is the same check
// for tests and tools).
//
// Money is integer nanoTON everywhere. Prompt and completion text is never
// logged nor stored: the store holds only metadata (token counts, amounts).
//
// State lives behind the Store interface; BoltStore is the single-machine
// implementation (one bbolt file in the data directory).
package proxy
