// Package ton is Cocoon Desktop's side of the TON blockchain: which network
// money moves on (Net), owners' addresses parsed and checked as Tonkeeper
// shows them (ParseAddress), amounts formatted for people (Format), the
// proxy's payout wallet (PayoutWallet, a wallet V5R1), and the chain itself
// behind a small interface (Chain) with its liteserver implementation
// (LiteChain).
//
// Amounts are integer nanoTON (1 TON = 1e9) everywhere; floats never carry
// money. The chain is the one boundary the tests cannot reach for real: they
// run the real wallet contract in a sandbox behind the same interface.
package ton
