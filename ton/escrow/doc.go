// Package escrow is the Go side of the proxy's settlement contract: the
// voucher the proxy signs for a worker's running total (Voucher, Sign,
// Verify, ParseVoucherCell), the external message anyone sends to claim it
// (ClaimMessage), the contract itself (Code, the compiled Tolk source in
// contract/escrow.tolk, and StateInit/AddressOf for deploying it), the
// operator's time-locked withdrawal messages, and decoding its get-methods
// (ReadState, PaidTotal) from any chain that can run them (Getter).
//
// The cell layouts, the contract's rules and exit codes, and the threat
// model are in docs/settlement.md. Amounts are integer nanoTON.
package escrow
