#!/usr/bin/env node
// Local Solana validator host for development and tests (Surfpool, in process).
//
// Starts a Surfnet, deploys both programs from the committed .so files at their fixed ids,
// creates a 6-decimal USDT-like mint, initializes the VaultAuthority with the position manager
// authorized, funds the dev wallets, then writes the URLs and the (dev-only, generated) keys to
// a JSON file that Django reads. It keeps draining Surfnet's event queue: without that the RPC
// stops answering after about 85 seconds.
//
// With --state FILE (make run passes DATA_DIR/localnet-state.json) the chain outlives the process:
// a clean stop (SIGINT/SIGTERM) saves every account the system needs (the vault program's and the
// position manager's accounts, the mint and every token account, the dev and user wallets) to
// FILE, and the next start loads it into a new Surfnet, after the same program binaries are
// deployed and the slot is moved past the saved one. A saved state is used once (renamed to
// FILE.restored); when it cannot be loaded the script says so and starts a fresh chain
// (`restored: false, restore_error` in the output file): never a mix of two chains.
//
// Every chain this script creates gets a random instance id in a marker account
// (CHAIN_MARKER_ADDRESS: Surfpool answers the same genesis hash for every instance), kept across
// restores, with the slot from which the running instance holds transaction history. The back
// office records it with its ledger (vaults/services/chain_identity.py).
//
// Usage: node scripts/localnet/localnet.js [--out .data/localnet.json] [--keys .data/localnet-keys.json]
//        [--state .data/localnet-state.json] [--programs programs/deploy] [--idl idl] [--wallets 3]
// Env overrides for the binaries: COLLATERAL_VAULT_SO, POSITION_MANAGER_SO.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { Surfnet } = require('@solana/surfpool-linux-x64-gnu');

const ROOT = path.resolve(__dirname, '..', '..');
const VAULT_PROGRAM_ID = '8vjbjPhoD2rav71J8mgbVxcYdbbqST78y2bzMPRqoGr9';
const POSITION_MANAGER_ID = 'GTYmhz8KtQhgKEgTvW644AfB9q3Jey3DeZpF6bum9vCT';
const TOKEN_PROGRAM_ID = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
const ATA_PROGRAM_ID = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';
const UPGRADEABLE_LOADER_ID = 'BPFLoaderUpgradeab1e11111111111111111111111';
const LOADER_V2_ID = 'BPFLoader2111111111111111111111111111111111';
const MINT_DECIMALS = 6;
const MINT_ACCOUNT_SIZE = 82;
const MINT_RENT_LAMPORTS = 1461600;
const DEV_WALLET_SOL = 100n * 1_000_000_000n;
const DEV_WALLET_TOKENS = 1_000_000n * 10n ** BigInt(MINT_DECIMALS);
const DRAIN_INTERVAL_MS = 200;
const STATE_VERSION = 1;
// Owners of the accounts a restart must keep (programs themselves are deployed again).
const TOKEN_2022_PROGRAM_ID = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PCnBqCXEpPxuEb';
const RESTORE_SLOT_MARGIN = 100; // the restored chain's slots start past every saved one
// The instance marker (see the header): MAGIC ++ instance id (32 bytes) ++ the genesis hash the chain
// was created with (32 bytes; Surfpool's own changes with every process, restored chains included)
// ++ history start slot (u64 LE).
const CHAIN_MARKER_SEED = 'collateral-vault:localnet-chain-instance';
const CHAIN_MARKER_MAGIC = Buffer.concat([Buffer.from('cvms-chain-v1'), Buffer.alloc(3)]);
const CHAIN_MARKER_LAMPORTS = 1_000_000_000;

function parseArgs(argv) {
  const args = {
    out: path.join(ROOT, '.data', 'localnet.json'),
    keys: null,
    state: null,
    programs: path.join(ROOT, 'programs', 'deploy'),
    idl: path.join(ROOT, 'idl'),
    wallets: 3,
    // upgradeable (loader v3, as on mainnet; the admin becomes upgrade authority) or v2 (immutable)
    loader: process.env.LOCALNET_PROGRAM_LOADER || 'upgradeable',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in args)) throw new Error(`unknown option ${argv[i]}`);
    if (name === 'wallets') args[name] = Number(argv[i + 1]);
    else if (name === 'loader') args[name] = argv[i + 1];
    else args[name] = path.resolve(argv[i + 1]);
  }
  args.keys = args.keys || path.join(path.dirname(args.out), 'localnet-keys.json');
  return args;
}

// ---- base58 and the legacy transaction wire format (no web3.js dependency) ----

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function b58encode(bytes) {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let out = '';
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = '1' + out;
  }
  return out;
}

function b58decode(text) {
  let n = 0n;
  for (const ch of text) {
    const digit = B58.indexOf(ch);
    if (digit < 0) throw new Error(`invalid base58: ${text}`);
    n = n * 58n + BigInt(digit);
  }
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const body = n === 0n ? Buffer.alloc(0) : Buffer.from(hex, 'hex');
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  return Buffer.concat([Buffer.alloc(zeros), body]);
}

function compactU16(n) {
  const out = [];
  for (;;) {
    let byte = n & 0x7f;
    n >>= 7;
    if (n === 0) {
      out.push(byte);
      return Buffer.from(out);
    }
    out.push(byte | 0x80);
  }
}

function u64le(value) {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(BigInt(value));
  return buf;
}

// Ed25519 signing with Node's crypto: a 32-byte seed wrapped in a fixed PKCS#8 header.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function sign(secretKey, message) {
  const seed = Buffer.from(secretKey).subarray(0, 32);
  const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return crypto.sign(null, message, key);
}

// instructions: [{programId, keys: [{pubkey, isSigner, isWritable}], data: Buffer}]
function compileLegacyMessage(feePayer, instructions, recentBlockhash) {
  const metas = new Map();
  const touch = (pubkey, isSigner, isWritable) => {
    const meta = metas.get(pubkey) || { pubkey, isSigner: false, isWritable: false };
    meta.isSigner = meta.isSigner || isSigner;
    meta.isWritable = meta.isWritable || isWritable;
    metas.set(pubkey, meta);
  };
  touch(feePayer, true, true);
  for (const ix of instructions) {
    for (const key of ix.keys) touch(key.pubkey, key.isSigner, key.isWritable);
    touch(ix.programId, false, false);
  }
  const rank = (m) => (m.pubkey === feePayer ? -1 : (m.isSigner ? 0 : 2) + (m.isWritable ? 0 : 1));
  const ordered = [...metas.values()].sort((a, b) => rank(a) - rank(b));
  const index = new Map(ordered.map((m, i) => [m.pubkey, i]));
  const signers = ordered.filter((m) => m.isSigner);
  const header = Buffer.from([
    signers.length,
    signers.filter((m) => !m.isWritable).length,
    ordered.filter((m) => !m.isSigner && !m.isWritable).length,
  ]);
  const parts = [header, compactU16(ordered.length), ...ordered.map((m) => b58decode(m.pubkey)), b58decode(recentBlockhash)];
  parts.push(compactU16(instructions.length));
  for (const ix of instructions) {
    parts.push(Buffer.from([index.get(ix.programId)]));
    parts.push(compactU16(ix.keys.length), Buffer.from(ix.keys.map((k) => index.get(k.pubkey))));
    parts.push(compactU16(ix.data.length), ix.data);
  }
  return { message: Buffer.concat(parts), signerKeys: signers.map((m) => m.pubkey) };
}

// ---- program-derived addresses ----

const ED25519_P = 2n ** 255n - 19n;
const ED25519_D = (-121665n * modInverse(121666n, ED25519_P)) % ED25519_P + ED25519_P;

function modPow(base, exp, mod) {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

function modInverse(a, mod) {
  return modPow(((a % mod) + mod) % mod, mod - 2n, mod);
}

// A PDA must not be a valid ed25519 point: y decodes iff (y^2-1)/(d*y^2+1) is a square mod p.
function isOnCurve(bytes) {
  const le = Buffer.from(bytes);
  le[31] &= 0x7f;
  const y = BigInt('0x' + Buffer.from(le).reverse().toString('hex'));
  if (y >= ED25519_P) return false;
  const y2 = (y * y) % ED25519_P;
  const u = (y2 - 1n + ED25519_P) % ED25519_P;
  const v = (ED25519_D * y2 + 1n) % ED25519_P;
  const x2 = (u * modInverse(v, ED25519_P)) % ED25519_P;
  return x2 === 0n || modPow(x2, (ED25519_P - 1n) / 2n, ED25519_P) === 1n;
}

function findProgramAddress(seeds, programId) {
  for (let bump = 255; bump >= 0; bump--) {
    const hash = crypto.createHash('sha256');
    for (const seed of seeds) hash.update(seed);
    hash.update(Buffer.from([bump])).update(b58decode(programId)).update('ProgramDerivedAddress');
    const candidate = hash.digest();
    if (!isOnCurve(candidate)) return b58encode(candidate);
  }
  throw new Error('no PDA found');
}

// ---- JSON-RPC ----

async function rpc(url, method, params) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function sendAndConfirm(url, feePayer, instructions, keypairs) {
  const { value } = await rpc(url, 'getLatestBlockhash', [{ commitment: 'confirmed' }]);
  const { message, signerKeys } = compileLegacyMessage(feePayer.publicKey, instructions, value.blockhash);
  const byKey = new Map(keypairs.map((kp) => [kp.publicKey, kp]));
  const signatures = signerKeys.map((key) => {
    if (!byKey.has(key)) throw new Error(`missing signer ${key}`);
    return sign(byKey.get(key).secretKey, message);
  });
  const wire = Buffer.concat([compactU16(signatures.length), ...signatures, message]);
  const signature = await rpc(url, 'sendTransaction', [wire.toString('base64'), { encoding: 'base64', preflightCommitment: 'confirmed' }]);
  for (let attempt = 0; attempt < 100; attempt++) {
    const statuses = await rpc(url, 'getSignatureStatuses', [[signature]]);
    const status = statuses.value[0];
    if (status && status.err) throw new Error(`transaction ${signature} failed: ${JSON.stringify(status.err)}`);
    if (status && ['confirmed', 'finalized'].includes(status.confirmationStatus)) return signature;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`transaction ${signature} not confirmed`);
}

// ---- setup steps ----

function loadOrCreateKeys(file, walletCount) {
  let keys = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const fresh = () => {
    const kp = Surfnet.newKeypair();
    return { publicKey: kp.publicKey, secretKey: Array.from(kp.secretKey) };
  };
  keys.admin = keys.admin || fresh();
  keys.mint = keys.mint || fresh();
  keys.wallets = keys.wallets || [];
  while (keys.wallets.length < walletCount) keys.wallets.push(fresh());
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Stable keys across restarts keep the mint and the dev wallets at the same addresses.
  fs.writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

function findBinary(envName, dir, name, required) {
  const candidates = [process.env[envName], path.join(dir, `${name}.so`)].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found && required) throw new Error(`${name}.so not found (looked in ${candidates.join(', ')})`);
  return found || null;
}

function instructionSpec(idl, name) {
  const ix = idl.instructions.find((i) => i.name === name);
  if (!ix) throw new Error(`instruction ${name} missing from IDL`);
  return ix;
}

// Like USDT's, the mint has a freeze authority (the dev admin), so a frozen vault token account
// (the vault program's TokenAccountFrozen, the back office's critical alert) can happen here too.
function mintAccountData(authority, supply) {
  const data = Buffer.alloc(MINT_ACCOUNT_SIZE);
  data.writeUInt32LE(1, 0);
  b58decode(authority).copy(data, 4);
  data.writeBigUInt64LE(supply, 36);
  data[44] = MINT_DECIMALS;
  data[45] = 1;
  data.writeUInt32LE(1, 46);
  b58decode(authority).copy(data, 50);
  return data;
}

async function deployProgram(surfnet, programId, soPath, upgradeAuthority, loader) {
  if (loader === 'v2') {
    // Immutable deployment: an executable account owned by BPF Loader 2 holding the ELF.
    const elf = fs.readFileSync(soPath);
    await rpc(surfnet.rpcUrl, 'surfnet_setAccount', [programId, { lamports: 1_000_000_000, data: elf.toString('hex'), owner: LOADER_V2_ID, executable: true }]);
    return programId; // initialize_authority accepts any program_data for a loader-v2 program
  }
  surfnet.deploy({ programId, soPath });
  // Surfpool deploys through the upgradeable loader with the all-zero key as upgrade authority,
  // which nobody can sign for; initialize_authority needs the real one, so hand it to our admin.
  await rpc(surfnet.rpcUrl, 'surfnet_setProgramAuthority', [programId, upgradeAuthority]);
  const info = await rpc(surfnet.rpcUrl, 'getAccountInfo', [programId, { encoding: 'base64' }]);
  if (info.value.owner !== UPGRADEABLE_LOADER_ID) return programId;
  return b58encode(Buffer.from(info.value.data[0], 'base64').subarray(4, 36));
}

async function initializeAuthority(surfnet, idl, admin, mint, programData) {
  const spec = instructionSpec(idl, 'initialize_authority');
  const fixed = { admin: admin.publicKey, collateral_mint: mint, program_data: programData };
  const keys = spec.accounts.map((a) => ({ pubkey: fixed[a.name] || a.address, isSigner: !!a.signer, isWritable: !!a.writable }));
  await sendAndConfirm(surfnet.rpcUrl, admin, [{ programId: VAULT_PROGRAM_ID, keys, data: Buffer.from(spec.discriminator) }], [admin]);
}

async function authorizeProgram(surfnet, idl, admin, programId) {
  const spec = instructionSpec(idl, 'add_authorized_program');
  const keys = spec.accounts.map((a) => ({ pubkey: a.name === 'admin' ? admin.publicKey : a.address, isSigner: !!a.signer, isWritable: !!a.writable }));
  const data = Buffer.concat([Buffer.from(spec.discriminator), b58decode(programId)]);
  await sendAndConfirm(surfnet.rpcUrl, admin, [{ programId: VAULT_PROGRAM_ID, keys, data }], [admin]);
}

// The position manager's `initialize` is gated like the vault's: only its upgrade authority (the
// admin, who deployed it) may call it, with the program and its ProgramData account.
async function initializePositionManager(surfnet, pmIdl, admin, keeper, programData) {
  const spec = instructionSpec(pmIdl, 'initialize');
  const config = findProgramAddress([Buffer.from('config')], POSITION_MANAGER_ID);
  const fixed = { admin: admin.publicKey, config, program: POSITION_MANAGER_ID, program_data: programData };
  const keys = spec.accounts.map((a) => ({ pubkey: fixed[a.name] || a.address, isSigner: !!a.signer, isWritable: !!a.writable }));
  const data = Buffer.concat([Buffer.from(spec.discriminator), b58decode(keeper)]);
  await sendAndConfirm(surfnet.rpcUrl, admin, [{ programId: POSITION_MANAGER_ID, keys, data }], [admin]);
  return config;
}

async function fundWallet(surfnet, admin, mint, wallet) {
  surfnet.fundSol(wallet, Number(DEV_WALLET_SOL));
  const ata = surfnet.getAta(wallet, mint);
  const createAta = {
    programId: ATA_PROGRAM_ID,
    keys: [
      { pubkey: admin.publicKey, isSigner: true, isWritable: true },
      { pubkey: ata, isSigner: false, isWritable: true },
      { pubkey: wallet, isSigner: false, isWritable: false },
      { pubkey: mint, isSigner: false, isWritable: false },
      { pubkey: SYSTEM_PROGRAM_ID, isSigner: false, isWritable: false },
      { pubkey: TOKEN_PROGRAM_ID, isSigner: false, isWritable: false },
    ],
    data: Buffer.from([1]), // CreateIdempotent
  };
  const mintTo = {
    programId: TOKEN_PROGRAM_ID,
    keys: [
      { pubkey: mint, isSigner: false, isWritable: true },
      { pubkey: ata, isSigner: false, isWritable: true },
      { pubkey: admin.publicKey, isSigner: true, isWritable: false },
    ],
    data: Buffer.concat([Buffer.from([7]), u64le(DEV_WALLET_TOKENS)]), // MintTo
  };
  await sendAndConfirm(surfnet.rpcUrl, admin, [createAta, mintTo], [admin]);
  return ata;
}

// ---- the chain's identity and its state across restarts ----

function chainMarkerAddress() {
  return b58encode(crypto.createHash('sha256').update(CHAIN_MARKER_SEED).digest());
}

async function writeChainMarker(surfnet, instance, genesisHash, historyStartSlot) {
  const data = Buffer.concat([CHAIN_MARKER_MAGIC, Buffer.from(instance, 'hex'), b58decode(genesisHash),
    u64le(historyStartSlot)]);
  await rpc(surfnet.rpcUrl, 'surfnet_setAccount', [chainMarkerAddress(), {
    lamports: CHAIN_MARKER_LAMPORTS, data: data.toString('hex'), owner: SYSTEM_PROGRAM_ID, executable: false }]);
}

function sha256File(file) {
  return file ? crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') : null;
}

function keptOwners() {
  return new Set([SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, VAULT_PROGRAM_ID, POSITION_MANAGER_ID]);
}

// Every account the system needs, from Surfnet's own snapshot: owned by the system program (wallets,
// the marker), the token programs (mint, token accounts) or one of our programs. Programs are not
// saved: the next start deploys the binaries again (and refuses a state saved with other ones).
async function saveState(surfnet, file, context) {
  const snapshot = await rpc(surfnet.rpcUrl, 'surfnet_exportSnapshot', [{ scope: 'network' }]);
  const slot = await rpc(surfnet.rpcUrl, 'getSlot', [{ commitment: 'processed' }]);
  const owners = keptOwners();
  const accounts = {};
  for (const [address, account] of Object.entries(snapshot.value)) {
    if (!owners.has(account.owner) || account.executable) continue;
    accounts[address] = { lamports: account.lamports, data: account.data, owner: account.owner, rentEpoch: account.rentEpoch };
  }
  const state = { version: STATE_VERSION, saved_at: new Date().toISOString(), slot, ...context, accounts };
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return Object.keys(accounts).length;
}

// Loads a saved state into a Surfnet whose programs were just deployed. Throws (with the reason)
// when the state does not belong to this setup; the caller then starts a fresh chain.
async function restoreState(surfnet, file, context) {
  const state = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (state.version !== STATE_VERSION) throw new Error(`state version ${state.version}, expected ${STATE_VERSION}`);
  for (const [name, expected] of Object.entries(context)) {
    if (JSON.stringify(state[name]) !== JSON.stringify(expected)) {
      throw new Error(`${name} differs from the saved chain's (saved ${JSON.stringify(state[name])}, now ${JSON.stringify(expected)})`);
    }
  }
  const marker = state.accounts[chainMarkerAddress()];
  if (!marker) throw new Error('the saved state has no chain marker');
  const body = Buffer.from(marker.data, 'base64').subarray(CHAIN_MARKER_MAGIC.length);
  const instance = body.subarray(0, 32).toString('hex');
  const genesisHash = b58encode(body.subarray(32, 64));
  // Past every saved slot, so the ledger's slot order stays the chain's order.
  surfnet.timeTravelToSlot(state.slot + RESTORE_SLOT_MARGIN);
  for (const [address, account] of Object.entries(state.accounts)) {
    await rpc(surfnet.rpcUrl, 'surfnet_setAccount', [address, {
      lamports: account.lamports, data: Buffer.from(account.data, 'base64').toString('hex'), owner: account.owner,
      executable: false, rentEpoch: account.rentEpoch }]);
  }
  // Every transaction the ledger holds from before is at or below the saved slot; this instance
  // knows none of them.
  const historyStart = state.slot + 1;
  await writeChainMarker(surfnet, instance, genesisHash, historyStart);
  const authority = findProgramAddress([Buffer.from('vault_authority')], VAULT_PROGRAM_ID);
  const check = await rpc(surfnet.rpcUrl, 'getAccountInfo', [authority, { encoding: 'base64' }]);
  if (!check.value || check.value.owner !== VAULT_PROGRAM_ID) throw new Error('the vault authority did not come back');
  return { instance, historyStart, accounts: Object.keys(state.accounts).length, savedAt: state.saved_at };
}

function startSurfnet() {
  // Feature gates to switch off (comma-separated names or ids), e.g. to match an older cluster.
  const disabled = (process.env.LOCALNET_DISABLE_FEATURES || '').split(',').map((f) => f.trim()).filter(Boolean);
  return disabled.length ? Surfnet.startWithConfig({ disableFeatures: disabled }) : Surfnet.start();
}

// Returns each program's ProgramData account (the deployer gates of both `initialize`s read it).
async function deployPrograms(surfnet, args, admin, vaultSo, positionManagerSo) {
  const programData = await deployProgram(surfnet, VAULT_PROGRAM_ID, vaultSo, admin.publicKey, args.loader);
  const pmProgramData = positionManagerSo
    ? await deployProgram(surfnet, POSITION_MANAGER_ID, positionManagerSo, admin.publicKey, args.loader)
    : null;
  if (!positionManagerSo) console.error('localnet: position_manager.so not found; the position manager is authorized but not deployed');
  return { programData, pmProgramData };
}

// A new chain: programs, mint, VaultAuthority, position manager, funded dev wallets, a new instance id.
async function setUpFreshChain(surfnet, args, idl, keys, vaultSo, positionManagerSo) {
  const admin = keys.admin;
  const mint = keys.mint.publicKey;
  surfnet.fundSol(admin.publicKey, Number(DEV_WALLET_SOL));
  const { programData, pmProgramData } = await deployPrograms(surfnet, args, admin, vaultSo, positionManagerSo);
  surfnet.setAccount(mint, MINT_RENT_LAMPORTS, Array.from(mintAccountData(admin.publicKey, 0n)), TOKEN_PROGRAM_ID);
  await initializeAuthority(surfnet, idl, admin, mint, programData);
  await authorizeProgram(surfnet, idl, admin, POSITION_MANAGER_ID);
  if (positionManagerSo) {
    const pmIdl = JSON.parse(fs.readFileSync(path.join(args.idl, 'position_manager.json'), 'utf8'));
    // The admin doubles as the liquidation keeper on localnet.
    await initializePositionManager(surfnet, pmIdl, admin, admin.publicKey, pmProgramData);
  }
  for (const wallet of keys.wallets) await fundWallet(surfnet, admin, mint, wallet.publicKey);
  const instance = crypto.randomBytes(32).toString('hex');
  await writeChainMarker(surfnet, instance, await rpc(surfnet.rpcUrl, 'getGenesisHash', []), 0);
  return { instance, historyStart: 0 };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const idl = JSON.parse(fs.readFileSync(path.join(args.idl, 'collateral_vault.json'), 'utf8'));
  const vaultSo = findBinary('COLLATERAL_VAULT_SO', args.programs, 'collateral_vault', true);
  const positionManagerSo = findBinary('POSITION_MANAGER_SO', args.programs, 'position_manager', false);
  const keys = loadOrCreateKeys(args.keys, args.wallets);
  // What a saved chain must have been built with to be loaded here.
  const context = {
    programs: { collateral_vault: sha256File(vaultSo), position_manager: sha256File(positionManagerSo) },
    loader: args.loader,
    admin: keys.admin.publicKey,
    mint: keys.mint.publicKey,
    wallets: keys.wallets.map((w) => w.publicKey),
  };

  let surfnet = startSurfnet();
  let drain = setInterval(() => surfnet.drainEvents(), DRAIN_INTERVAL_MS);
  const parentPid = process.ppid;
  let stopping = false;
  let ready = false;
  const stop = async (code, save) => {
    if (stopping) return;
    stopping = true;
    if (save && ready && args.state) {
      try {
        const saved = await saveState(surfnet, args.state, context);
        console.log(`localnet: saved ${saved} accounts to ${args.state}`);
      } catch (err) {
        console.error(`localnet: could not save the chain (${err.message}); the next start begins a fresh one`);
      }
    }
    clearInterval(drain);
    try {
      // Only our own description: another instance may have replaced it since.
      if (JSON.parse(fs.readFileSync(args.out, 'utf8')).pid === process.pid) fs.unlinkSync(args.out);
    } catch (_) { /* already gone */ }
    try { surfnet.stop(); } catch (err) { console.error(`localnet: stop failed: ${err.message}`); }
    process.exit(code);
  };
  // A clean stop saves the chain; a lost parent does not (whoever kept the books is gone too).
  process.on('SIGINT', () => stop(0, true));
  process.on('SIGTERM', () => stop(0, true));
  // An orphaned validator would hold its ports forever: leave when the parent is gone.
  setInterval(() => { if (process.ppid !== parentPid) stop(0, false); }, 1000).unref();

  try {
    const admin = keys.admin;
    const mint = keys.mint.publicKey;
    let chain = null;
    let restoreError = null;
    if (args.state && fs.existsSync(args.state)) {
      try {
        await deployPrograms(surfnet, args, admin, vaultSo, positionManagerSo);
        chain = await restoreState(surfnet, args.state, context);
        fs.renameSync(args.state, `${args.state}.restored`); // used once: a crash later cannot bring it back
        console.log(`localnet: restored ${chain.accounts} accounts saved ${chain.savedAt} (chain ${chain.instance.slice(0, 12)}…)`);
      } catch (err) {
        restoreError = err.message;
        fs.renameSync(args.state, `${args.state}.unusable`);
        console.error(`localnet: the saved chain cannot be restored (${restoreError}); starting a fresh chain`);
        clearInterval(drain);
        surfnet.stop();
        surfnet = startSurfnet();
        drain = setInterval(() => surfnet.drainEvents(), DRAIN_INTERVAL_MS);
      }
    }
    if (chain === null) chain = await setUpFreshChain(surfnet, args, idl, keys, vaultSo, positionManagerSo);
    const positionManagerConfig = positionManagerSo ? findProgramAddress([Buffer.from('config')], POSITION_MANAGER_ID) : null;
    const wallets = keys.wallets.map((wallet) => ({
      pubkey: wallet.publicKey, secret_key: wallet.secretKey, token_account: surfnet.getAta(wallet.publicKey, mint),
    }));

    const description = {
      rpc_url: surfnet.rpcUrl,
      ws_url: surfnet.wsUrl,
      program_id: VAULT_PROGRAM_ID,
      position_manager_id: POSITION_MANAGER_ID,
      position_manager_deployed: Boolean(positionManagerSo),
      position_manager_config: positionManagerConfig,
      keeper: admin.publicKey,
      program_loader: args.loader,
      usdt_mint: mint,
      mint_decimals: MINT_DECIMALS,
      admin: { pubkey: admin.publicKey, secret_key: admin.secretKey },
      wallets,
      chain_instance: chain.instance,
      history_start_slot: chain.historyStart,
      restored: chain.historyStart > 0,
      restore_error: restoreError,
      pid: process.pid,
      started_at: new Date().toISOString(),
    };
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    const tmp = `${args.out}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(description, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, args.out); // readers never see a half-written file
    ready = true;
    console.log(`localnet ready: rpc ${surfnet.rpcUrl} ws ${surfnet.wsUrl} mint ${mint} -> ${args.out}`);
  } catch (err) {
    console.error(`localnet: setup failed: ${err.stack || err.message}`);
    stop(1, false);
  }
}

main();
