// sandbox.mjs: the real TON wallet contract (@ton/sandbox emulator) behind a
// line-delimited JSON protocol on stdin/stdout, for the Go tests of the payout
// code (internal/tonsandbox drives it).
//
// Request:  {"id": 1, "cmd": "seqno", ...args}
// Response: {"id": 1, "ok": true, "result": {...}} or {"id": 1, "ok": false, "error": "..."}
//
// Commands:
//   deployWalletV5R1 {publicKeyHex, network: "mainnet"|"testnet", balanceNano, deploy?: bool}
//       -> {address (raw), friendly, deployed}
//       deploy=false only funds the address (account stays uninitialised).
//   seqno {address} -> {seqno}            (0 for an uninitialised wallet)
//   sendExternal {bocBase64, gasLog?} -> {accepted, msgHash, exitCode?, error?, gasBeforeAccept?, transactions: [...]}
//       gasLog: also report the gas spent before accept_message (or before
//       the refusal), out of the 10,000 credit.
//   balance {address} -> {balanceNano, status}
//   transactions {address} -> {transactions: [...]}   (oldest first)
//   setNow {unix} -> {}                   (0 = follow the real clock)
//   treasury {name} -> {address}          a funded wallet per name (e.g. an operator)
//   deployContract {codeBoc64, dataBoc64, valueNano, from?} -> {address, transactions}
//       an internal message with the state init from treasury `from`
//       (default "deployer"): the way a contract is deployed on chain.
//   setContract {codeBoc64, dataBoc64, balanceNano} -> {address}
//       puts an active contract straight into the state (no message: for
//       states larger than a deploy message may carry).
//   sendInternal {from, to, valueNano, bodyBoc64?, bounce?} -> {transactions}
//       from treasury `from`; transactions as in sendExternal.
//   runGetMethod {address, method, stackBoc64} -> {exitCode, gasUsed, stackBoc64}
//       stacks are TVM stack cells (VmStack, as liteservers send them).
//
// Transactions carry gasUsed (compute phase), totalFees and the action
// phase's forward fees, in nanoTON.
//
// Nothing is written to stdout except responses; diagnostics go to stderr.
import { createInterface } from 'node:readline';
import { Blockchain, createShardAccount } from '@ton/sandbox';
import { Address, Cell, beginCell, loadMessage, parseTuple, serializeTuple, contractAddress } from '@ton/core';
import { WalletContractV5R1 } from '@ton/ton';

const blockchain = await Blockchain.create();
blockchain.verbosity = { print: false, blockchainLogs: false, vmLogs: 'none', debugLogs: false };
const treasury = await blockchain.treasury('cocoon-sandbox-treasury', { balance: 1_000_000_000_000_000n });
const history = new Map(); // raw address -> [tx json]

const NETWORK_IDS = { mainnet: -239, testnet: -3 };

function raw(addr) {
  return addr ? addr.toRawString() : null;
}

function commentOf(body) {
  if (!body) return null;
  try {
    const s = body.beginParse();
    if (s.remainingBits < 32) return null;
    if (s.loadUint(32) !== 0) return null;
    return s.loadStringTail();
  } catch {
    return null;
  }
}

function msgJSON(m) {
  const info = m.info;
  const out = { type: info.type, src: null, dest: null, value: '0', bounce: false, bounced: false, comment: commentOf(m.body) };
  if (info.type === 'internal') {
    out.src = raw(info.src);
    out.dest = raw(info.dest);
    out.value = info.value.coins.toString();
    out.bounce = info.bounce;
    out.bounced = info.bounced;
  } else if (info.type === 'external-in') {
    out.dest = raw(info.dest);
  } else if (info.type === 'external-out') {
    out.src = raw(info.src);
  }
  return out;
}

function txJSON(tx) {
  const d = tx.description;
  const j = {
    hash: tx.hash().toString('hex'),
    lt: tx.lt.toString(),
    now: tx.now,
    account: null,
    origStatus: tx.oldStatus,
    endStatus: tx.endStatus,
    in: tx.inMessage ? msgJSON(tx.inMessage) : null,
    out: [],
    success: false,
    aborted: null,
    computeSkipped: null,
    exitCode: null,
    actionResultCode: null,
    gasUsed: null,
    totalFees: tx.totalFees.coins.toString(),
    fwdFees: null,
  };
  if (tx.inMessage) j.account = j.in.dest;
  for (const m of tx.outMessages.values()) j.out.push(msgJSON(m));
  if (d.type === 'generic') {
    j.aborted = d.aborted;
    if (d.computePhase.type === 'vm') {
      j.exitCode = d.computePhase.exitCode;
      j.gasUsed = d.computePhase.gasUsed.toString();
    } else {
      j.computeSkipped = d.computePhase.reason;
    }
    if (d.actionPhase) {
      j.actionResultCode = d.actionPhase.resultCode;
      j.fwdFees = (d.actionPhase.totalFwdFees ?? 0n).toString();
    }
    j.success = !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success && (!d.actionPhase || d.actionPhase.success);
  }
  return j;
}

function record(txs) {
  const list = txs.map(txJSON);
  for (const t of list) {
    if (!t.account) continue;
    if (!history.has(t.account)) history.set(t.account, []);
    history.get(t.account).push(t);
  }
  return list;
}

// TEP-467 normalized hash of an external-in message (tonutils-go's
// ExternalMessage.NormalizedHash computes the same).
function normalizedHash(msg) {
  return beginCell()
    .storeUint(2, 2)
    .storeUint(0, 2) // src: addr_none
    .storeAddress(msg.info.dest)
    .storeCoins(0) // import fee
    .storeBit(0) // no state init
    .storeBit(1) // body in a ref
    .storeRef(msg.body)
    .endCell()
    .hash()
    .toString('hex');
}

// GAS_CREDIT is what an external message may spend before accept_message.
const GAS_CREDIT = 10000;

// gasBeforeAccept reads a 'vm_logs_gas' VM log: the gas spent up to ACCEPT
// (accepted) or up to the end (refused), out of the credit.
function gasBeforeAccept(log, accepted) {
  let remaining = null;
  for (const line of log.split('\n')) {
    if (accepted && line.startsWith('execute ACCEPT')) break;
    const m = /^gas remaining: (-?\d+)/.exec(line);
    if (m) remaining = Number(m[1]);
  }
  return remaining === null ? null : GAS_CREDIT - remaining;
}

const treasuries = new Map();
async function treasuryNamed(name) {
  if (!treasuries.has(name)) {
    treasuries.set(name, await blockchain.treasury('cocoon-' + name, { balance: 1_000_000_000_000_000n }));
  }
  return treasuries.get(name);
}

function oneCell(b64, what) {
  const cells = Cell.fromBoc(Buffer.from(b64 ?? '', 'base64'));
  if (cells.length !== 1) throw new Error(`${what} must hold one root cell`);
  return cells[0];
}

function parseAddr(s) {
  if (typeof s !== 'string' || s === '') throw new Error('address is required');
  return Address.parse(s);
}

const handlers = {
  async deployWalletV5R1({ publicKeyHex, network = 'mainnet', balanceNano = '0', deploy = true }) {
    const networkGlobalId = NETWORK_IDS[network];
    if (networkGlobalId === undefined) throw new Error(`unknown network ${network}`);
    const publicKey = Buffer.from(publicKeyHex ?? '', 'hex');
    if (publicKey.length !== 32) throw new Error('publicKeyHex must be 32 bytes of hex');
    const w = WalletContractV5R1.create({
      publicKey,
      walletId: { networkGlobalId, context: { workchain: 0, subwalletNumber: 0, walletVersion: 'v5r1' } },
    });
    const balance = BigInt(balanceNano);
    if (deploy) {
      await blockchain.setShardAccount(
        w.address,
        createShardAccount({ address: w.address, code: w.init.code, data: w.init.data, balance, workchain: 0 }),
      );
    } else if (balance > 0n) {
      // fund only: a non-bounceable transfer to an address with no code
      const res = await treasury.send({ to: w.address, value: balance, bounce: false });
      record(res?.transactions ?? []);
    }
    const c = await blockchain.getContract(w.address);
    return {
      address: raw(w.address),
      friendly: w.address.toString({ bounceable: false, testOnly: network === 'testnet' }),
      deployed: c.accountState?.type === 'active',
    };
  },

  async seqno({ address }) {
    const c = await blockchain.getContract(parseAddr(address));
    if (c.accountState?.type !== 'active') return { seqno: 0, deployed: false };
    const r = await c.get('seqno');
    return { seqno: Number(r.stackReader.readBigNumber()), deployed: true };
  },

  async sendExternal({ bocBase64, gasLog = false }) {
    const cells = Cell.fromBoc(Buffer.from(bocBase64 ?? '', 'base64'));
    if (cells.length !== 1) throw new Error('bocBase64 must hold one root cell');
    const msg = loadMessage(cells[0].beginParse());
    if (msg.info.type !== 'external-in') throw new Error(`not an external-in message: ${msg.info.type}`);
    const msgHash = normalizedHash(msg);
    // gasLog: run with the VM's per-instruction gas log to report the gas
    // spent before accept_message (an external may spend at most the gas
    // credit, 10,000, before it is accepted).
    if (gasLog) blockchain.verbosity = { ...blockchain.verbosity, vmLogs: 'vm_logs_gas' };
    try {
      const res = await blockchain.sendMessage(msg);
      const first = res.transactions[0];
      return { accepted: true, msgHash, gasBeforeAccept: gasLog ? gasBeforeAccept(first?.vmLogs ?? '', true) : null, transactions: record(res.transactions) };
    } catch (e) {
      // The contract did not accept the message: nothing was committed, as
      // on a real network, where a liteserver refuses to relay it.
      return {
        accepted: false, msgHash, exitCode: e.exitCode ?? null, error: String(e.error ?? e.message ?? e), transactions: [],
        gasBeforeAccept: gasLog ? gasBeforeAccept(e.vmLogs ?? '', false) : null,
      };
    } finally {
      if (gasLog) blockchain.verbosity = { ...blockchain.verbosity, vmLogs: 'none' };
    }
  },

  async balance({ address }) {
    const c = await blockchain.getContract(parseAddr(address));
    return { balanceNano: c.balance.toString(), status: c.accountState?.type ?? 'nonexist' };
  },

  async transactions({ address }) {
    return { transactions: history.get(raw(parseAddr(address))) ?? [] };
  },

  async treasury({ name }) {
    if (typeof name !== 'string' || name === '') throw new Error('name is required');
    return { address: raw((await treasuryNamed(name)).address) };
  },

  async deployContract({ codeBoc64, dataBoc64, valueNano = '0', from = 'deployer' }) {
    const code = oneCell(codeBoc64, 'codeBoc64');
    const data = oneCell(dataBoc64, 'dataBoc64');
    const address = contractAddress(0, { code, data });
    const t = await treasuryNamed(from);
    const res = await t.send({ to: address, value: BigInt(valueNano), init: { code, data }, bounce: false });
    return { address: raw(address), transactions: record(res?.transactions ?? []) };
  },

  async setContract({ codeBoc64, dataBoc64, balanceNano = '0' }) {
    const code = oneCell(codeBoc64, 'codeBoc64');
    const data = oneCell(dataBoc64, 'dataBoc64');
    const address = contractAddress(0, { code, data });
    await blockchain.setShardAccount(address, createShardAccount({ address, code, data, balance: BigInt(balanceNano), workchain: 0 }));
    return { address: raw(address) };
  },

  async sendInternal({ from, to, valueNano = '0', bodyBoc64, bounce = true }) {
    const t = await treasuryNamed(from);
    const body = bodyBoc64 ? oneCell(bodyBoc64, 'bodyBoc64') : undefined;
    const res = await t.send({ to: parseAddr(to), value: BigInt(valueNano), body, bounce });
    return { transactions: record(res?.transactions ?? []) };
  },

  async runGetMethod({ address, method, stackBoc64 }) {
    const args = stackBoc64 ? parseTuple(oneCell(stackBoc64, 'stackBoc64')) : [];
    try {
      const r = await blockchain.runGetMethod(parseAddr(address), method, args);
      return { exitCode: r.exitCode, gasUsed: r.gasUsed.toString(), stackBoc64: serializeTuple(r.stack).toBoc().toString('base64') };
    } catch (e) {
      if (e.exitCode !== undefined) return { exitCode: e.exitCode, gasUsed: String(e.gasUsed ?? 0), stackBoc64: null };
      throw e;
    }
  },

  async setNow({ unix }) {
    blockchain.now = unix ? Number(unix) : undefined;
    return {};
  },
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      reply({ id: null, ok: false, error: `bad JSON: ${e.message}` });
      return;
    }
    const h = handlers[req.cmd];
    if (!h) {
      reply({ id: req.id ?? null, ok: false, error: `unknown command ${JSON.stringify(req.cmd)}` });
      return;
    }
    try {
      reply({ id: req.id ?? null, ok: true, result: await h(req) });
    } catch (e) {
      reply({ id: req.id ?? null, ok: false, error: String(e?.message ?? e) });
    }
  });
});
rl.on('close', () => {
  chain.then(() => process.exit(0));
});
reply({ id: 0, ok: true, result: { ready: true } });
