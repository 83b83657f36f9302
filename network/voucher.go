package network

import "encoding/hex"

// Settlement messages (docs/settlement.md): the proxy signs each worker's
// running total for its escrow contract, and the worker's owner claims it on
// chain without the proxy.
const (
	// TypeVoucher carries a signed voucher (proxy → worker): after every
	// receipt, and as the answer to a voucher_request.
	TypeVoucher = "voucher"
	// TypeVoucherRequest asks for the latest voucher for a payout address
	// (worker → proxy), e.g. after the owner changed it.
	TypeVoucherRequest = "voucher_request"
)

// CodeNoEscrow is the error code of a voucher_request to a proxy that has
// no escrow contract (the local test network).
const CodeNoEscrow = "no_escrow"

// MaxAddressLength bounds a TON address on the wire (48 characters
// user-friendly, 66 raw; a little room for spaces the codec refuses).
const MaxAddressLength = 80

// Voucher is the proxy's signature over a worker's running total for its
// escrow contract. The signature covers the voucher cell's hash (package
// ton/escrow builds the cell from these fields), not this JSON: the worker
// rebuilds the cell and checks it with the pinned proxy key before it
// stores the voucher.
//
// Cumulative is the receipts' cumulative total less what the proxy holds
// (Held: a new identity's credits inside the hold period, a quarantined
// worker's unpaid balance; docs/trust.md), so a voucher never signs
// unchecked work. It never decreases for a given escrow and worker.
type Voucher struct {
	Escrow     string `json:"escrow"`     // the escrow contract's address (user-friendly)
	WorkerID   string `json:"worker_id"`  // hex of the worker's ed25519 public key
	Payout     string `json:"payout"`     // the owner's address the escrow pays
	Cumulative int64  `json:"cumulative"` // nanoTON the escrow may pay this worker in all
	Signature  []byte `json:"signature"`  // ed25519 over the voucher cell's hash
	// Earned is the receipts' cumulative total when the voucher was signed
	// and Held what of it is not in the voucher yet (Earned − Cumulative,
	// less what earlier versions pushed from the hot wallet).
	Earned int64 `json:"earned"`
	Held   int64 `json:"held"`
	// Network is "mainnet" or "testnet"; ClaimFee the nanoTON the escrow
	// keeps from each claim for its gas.
	Network  string `json:"network"`
	ClaimFee int64  `json:"claim_fee"`
}

// VoucherRequest asks for the latest voucher, made out to PayoutAddress
// (the escrow keys what it paid by worker id, so the address may change
// between claims).
type VoucherRequest struct {
	PayoutAddress string `json:"payout_address"`
}

// Validate checks a voucher's shape; its signature is the worker's job.
func (m *Voucher) Validate() error {
	if err := checkAddress("escrow", m.Escrow); err != nil {
		return err
	}
	if err := checkAddress("payout", m.Payout); err != nil {
		return err
	}
	if b, err := hex.DecodeString(m.WorkerID); err != nil || len(b) != 32 {
		return protoErr(CodeBadMessage, "", "voucher worker_id must be 64 hex digits")
	}
	if err := checkLen("signature", m.Signature, 64); err != nil {
		return err
	}
	if m.Cumulative < 0 || m.Earned < 0 || m.Held < 0 || m.ClaimFee < 0 {
		return protoErr(CodeBadMessage, "", "voucher amounts must not be negative")
	}
	if m.Network != "mainnet" && m.Network != "testnet" {
		return protoErr(CodeBadMessage, "", "voucher network %q is not mainnet or testnet", truncate(m.Network, 16))
	}
	return nil
}

// Validate checks a voucher request's shape; the proxy parses the address.
func (m *VoucherRequest) Validate() error { return checkAddress("payout_address", m.PayoutAddress) }

func checkAddress(field, s string) error {
	if s == "" {
		return protoErr(CodeBadMessage, "", "%s is required", field)
	}
	return checkText(field, s, MaxAddressLength)
}
