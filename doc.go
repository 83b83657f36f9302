// Command cocoon-desktop is the Cocoon Desktop app: a tray app that rents an
// idle NVIDIA GPU to an AI-inference network. All the work is in internal/cli
// and the packages it drives; main stays thin. The design is in
// docs/design.md, the wire protocol in docs/protocol.md.
//
// # Glossary
//
// One name per thing, in code, protocol, UI and docs:
//
//   - owner: the person whose computer and GPU this is.
//   - worker: this app's core (package worker) that serves jobs on the
//     owner's GPU; also the app as the proxy sees it.
//   - proxy: the network side that app developers call (package
//     network/proxy); it routes jobs to workers, meters them and signs receipts.
//   - network: the Cocoon network of proxies and workers; the local network is
//     a proxy embedded in the app on loopback. Never the blockchain.
//   - chain: the TON blockchain; its mainnet or testnet is a ton.Net. Money
//     moves on the chain, jobs on the network.
//   - model runtime: Ollama as the worker drives it (package runtime/ollama);
//     managed when the app starts it, attached when it uses the owner's own.
//   - job: one completion request served by one worker.
//   - receipt: the proxy's signed statement of one paid job, carrying the
//     worker's cumulative total (package receipt).
//   - ledger: the owner's local store of receipts and payouts (package
//     earnings).
//   - payout: money the proxy sends from its wallet to the owner's wallet on
//     the chain, out of what the ledger shows as available. The owner
//     requests one with one click; the ledger records it by its payout id
//     (pending → sent → confirmed, or failed) and the protocol carries its
//     request and status. The UI, code and docs say payout, never withdrawal.
//   - idle policy: the state machine that decides when the worker may serve
//     (idle.Policy); its saved settings are worker.IdleSettings.
//   - pause: the worker stops serving because the owner came back (or another
//     reason); the model is unloaded so the VRAM is free.
//   - placement: where the served model runs, GPU or CPU (worker.Placement).
package main
