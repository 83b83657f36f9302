#!/usr/bin/env bash
# Escrow gas (ton/escrow, docs/settlement.md): gas and fees per claim on the
# real TVM (@ton/sandbox) with 0, 1,000 and 10,000 workers already paid,
# per operator message, and the storage rent of the per-worker totals.
# Prints them and rewrites the "Escrow gas" section of docs/BENCHMARKS.md.
# usage: scripts/bench-escrow.sh   (needs the sandbox: make tonsandbox)
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
echo "running cmd/cocoon-escrow-gas..."
table=$("$GO" run ./cmd/cocoon-escrow-gas)
echo "$table"
section="<!-- escrow-gas: start (scripts/bench-escrow.sh) -->
## Escrow gas (ton/escrow)

Measured by \`make bench\` (scripts/bench-escrow.sh, cmd/cocoon-escrow-gas), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown):
the compiled contract (code hash \`$(grep -o '"[0-9a-f]\{64\}"' ton/escrow/contract.go | tr -d '"')\`) on the real TVM in @ton/sandbox
with its default (mainnet-like) config. A claim's cost is what the escrow's balance lost besides the payout (gas,
storage, the payout's forward fee): the claim fee pays for it (the owner receives exactly the difference minus the fee,
$(awk '/DefaultClaimFee *=/{print $3}' ton/escrow/contract.go) nanoTON by default). A claim refused before
\`accept_message\` (stale, replayed, forged, underfunded) costs nothing: the message is never accepted. An
external message may spend at most 10,000 gas before it is accepted (the gas credit); the gas the checks spend
of it is read from the VM's gas log. Storage rent uses the basechain prices (1 nanoTON per bit and 500 per cell
per 65,536 s).

${table}

<!-- escrow-gas: end -->"
python3 scripts/bench-section.py escrow-gas "$section" docs/BENCHMARKS.md
