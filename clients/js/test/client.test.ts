// The Codama-generated TypeScript client against a real local validator (Surfpool, in process,
// as scripts/localnet/localnet.js runs it) with the committed binaries: initialize, deposit,
// withdraw, the owner's approval and a position-manager lock, every account the IDL can derive
// left to the client. Then the same instructions built by @coral-xyz/anchor from the IDL (its
// resolver must find the same accounts), and a failing withdraw whose logs AnchorError.parse
// reads. Run: `npx tsx --test clients/js/test/*.test.ts` (part of `make test`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import {
  address,
  appendTransactionMessageInstructions,
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  createTransactionMessage,
  generateKeyPairSigner,
  getAddressEncoder,
  getBase58Decoder,
  getBase64EncodedWireTransaction,
  getProgramDerivedAddress,
  getSignatureFromTransaction,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  some,
  type Address,
  type Instruction,
  type KeyPairSigner,
} from '@solana/kit';
import * as anchor from '@coral-xyz/anchor';
import { Keypair, PublicKey } from '@solana/web3.js';

import * as vault from '../src/generated/collateral_vault/index.js';
import * as pm from '../src/generated/position_manager/index.js';

const require = createRequire(import.meta.url);
const { Surfnet } = require('@solana/surfpool-linux-x64-gnu');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TOKEN_PROGRAM = address('TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA');
const ATA_PROGRAM = address('ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL');
const UPGRADEABLE_LOADER = 'BPFLoaderUpgradeab1e11111111111111111111111';
const DECIMALS = 6;

type Rpc = ReturnType<typeof createSolanaRpc>;

let surfnet: any;
let drain: NodeJS.Timeout;
let rpc: Rpc;
let send: ReturnType<typeof sendAndConfirmTransactionFactory>;
let admin: KeyPairSigner;
let user: KeyPairSigner;
let mint: Address;
let userTokenAccount: Address;

async function raw(method: string, params: unknown[]): Promise<any> {
  const response = await fetch(surfnet.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function signed(payer: KeyPairSigner, instructions: Instruction[]) {
  const { value: blockhash } = await rpc.getLatestBlockhash({ commitment: 'confirmed' }).send();
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(payer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  return signTransactionMessageWithSigners(message);
}

async function sendIxs(payer: KeyPairSigner, instructions: Instruction[]): Promise<string> {
  const transaction = await signed(payer, instructions);
  await send(transaction as any, { commitment: 'confirmed' });
  return getSignatureFromTransaction(transaction);
}

async function ata(owner: Address, tokenMint: Address): Promise<Address> {
  const encoder = getAddressEncoder();
  const [found] = await getProgramDerivedAddress({
    programAddress: ATA_PROGRAM,
    seeds: [encoder.encode(owner), encoder.encode(TOKEN_PROGRAM), encoder.encode(tokenMint)],
  });
  return found;
}

/** An SPL token account (165 bytes), initialized, holding `amount`. */
function tokenAccountData(tokenMint: Address, owner: Address, amount: bigint): number[] {
  const data = Buffer.alloc(165);
  Buffer.from(getAddressEncoder().encode(tokenMint)).copy(data, 0);
  Buffer.from(getAddressEncoder().encode(owner)).copy(data, 32);
  data.writeBigUInt64LE(amount, 64);
  data[108] = 1;
  return Array.from(data);
}

function mintData(authority: Address): number[] {
  const data = Buffer.alloc(82);
  data.writeUInt32LE(1, 0);
  Buffer.from(getAddressEncoder().encode(authority)).copy(data, 4);
  data.writeBigUInt64LE(10n ** 15n, 36);
  data[44] = DECIMALS;
  data[45] = 1;
  return Array.from(data);
}

/** Deploys through the upgradeable loader with `authority` as upgrade authority; returns the
 * ProgramData address the program account points to. */
async function deploy(programId: Address, so: string, authority: Address): Promise<Address> {
  surfnet.deploy({ programId, soPath: path.join(ROOT, 'programs', 'deploy', so) });
  await raw('surfnet_setProgramAuthority', [programId, authority]);
  const info = await raw('getAccountInfo', [programId, { encoding: 'base64' }]);
  assert.equal(info.value.owner, UPGRADEABLE_LOADER);
  const bytes = Buffer.from(info.value.data[0], 'base64').subarray(4, 36);
  return address(getBase58Decoder().decode(bytes));
}

before(async () => {
  surfnet = Surfnet.start();
  drain = setInterval(() => surfnet.drainEvents(), 200);
  rpc = createSolanaRpc(surfnet.rpcUrl);
  send = sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions: createSolanaRpcSubscriptions(surfnet.wsUrl) } as any);
  admin = await generateKeyPairSigner();
  user = await generateKeyPairSigner();
  for (const wallet of [admin, user]) surfnet.fundSol(wallet.address, 100_000_000_000);
  mint = (await generateKeyPairSigner()).address;
  surfnet.setAccount(mint, 1_461_600, mintData(admin.address), TOKEN_PROGRAM);
  userTokenAccount = await ata(user.address, mint);
  surfnet.setAccount(userTokenAccount, 2_039_280, tokenAccountData(mint, user.address, 5_000_000n), TOKEN_PROGRAM);
});

after(() => {
  clearInterval(drain);
  surfnet?.stop();
});

describe('generated client on the local validator', () => {
  let vaultAddress: Address;

  test('initializes the program, the position manager and a vault', async () => {
    const vaultProgramData = await deploy(vault.COLLATERAL_VAULT_PROGRAM_ADDRESS, 'collateral_vault.so', admin.address);
    const pmProgramData = await deploy(pm.POSITION_MANAGER_PROGRAM_ADDRESS, 'position_manager.so', admin.address);

    // The client derives the ProgramData account (and every other PDA) itself.
    const init = await vault.getInitializeAuthorityInstructionAsync({ admin, collateralMint: mint });
    assert.equal(init.accounts[3].address, vaultProgramData);
    await sendIxs(admin, [
      init,
      vault.getAddAuthorizedProgramInstruction({ admin, programId: pm.POSITION_MANAGER_PROGRAM_ADDRESS }),
    ]);
    const pmInit = await pm.getInitializeInstructionAsync({ admin, keeper: admin.address });
    assert.equal(pmInit.accounts[3].address, pmProgramData);
    await sendIxs(admin, [pmInit]);

    const authority = await vault.fetchVaultAuthority(rpc, init.accounts[1].address);
    assert.equal(authority.data.admin, admin.address);
    assert.equal(authority.data.collateralMint, mint);
    assert.equal(authority.data.authorizedProgramCount, 1);

    const initVault = await vault.getInitializeVaultInstructionAsync({ owner: user, collateralMint: mint });
    await sendIxs(user, [initVault]);
    [vaultAddress] = await vault.findVaultPda({ owner: user.address });
    const state = await vault.fetchCollateralVault(rpc, vaultAddress);
    assert.equal(state.data.owner, user.address);
    assert.equal(state.data.tokenAccount, await ata(vaultAddress, mint));
    assert.equal(state.data.eventSeq, (state.data.generation << 20n) + 1n);
  });

  test('deposits and withdraws', async () => {
    await sendIxs(user, [await vault.getDepositInstructionAsync({ owner: user, userTokenAccount, collateralMint: mint, amount: 1_000_000 })]);
    await sendIxs(user, [await vault.getWithdrawInstructionAsync({ owner: user, userTokenAccount, collateralMint: mint, amount: 250_000 })]);
    const state = await vault.fetchCollateralVault(rpc, vaultAddress);
    assert.deepEqual(
      [state.data.totalBalance, state.data.lockedBalance, state.data.availableBalance, state.data.totalWithdrawn],
      [750_000n, 0n, 750_000n, 250_000n],
    );
  });

  test('locks through the position manager within the owner approval', async () => {
    await sendIxs(user, [
      await vault.getApproveCallerInstructionAsync({ owner: user, programId: pm.POSITION_MANAGER_PROGRAM_ADDRESS, cap: some(600_000) }),
      await pm.getCreateMarginAccountInstructionAsync({ owner: user }),
      await pm.getOpenPositionInstructionAsync({ owner: user, amount: 400_000, size: 2_000_000 }),
    ]);
    const state = await vault.fetchCollateralVault(rpc, vaultAddress);
    assert.deepEqual([state.data.lockedBalance, state.data.availableBalance], [400_000n, 350_000n]);
    const [lockAddress] = await vault.findCallerLockPda({ vault: vaultAddress, programId: pm.POSITION_MANAGER_PROGRAM_ADDRESS });
    const record = await vault.fetchCallerLock(rpc, lockAddress);
    assert.deepEqual([record.data.locked, record.data.cap, record.data.callerProgram], [400_000n, 600_000n, pm.POSITION_MANAGER_PROGRAM_ADDRESS]);
    const [marginAddress] = await pm.findMarginAccountPda({ owner: user.address });
    const margin = await pm.fetchMarginAccount(rpc, marginAddress);
    assert.deepEqual([margin.data.locked, margin.data.positionSize], [400_000n, 2_000_000n]);
  });

  test('a failing withdraw logs an error AnchorError.parse reads, and the client names it', async () => {
    const failing = await signed(user, [
      await vault.getWithdrawInstructionAsync({ owner: user, userTokenAccount, collateralMint: mint, amount: 350_001 }),
    ]);
    const { value } = await rpc
      .simulateTransaction(getBase64EncodedWireTransaction(failing), { encoding: 'base64', sigVerify: false })
      .send();
    assert.ok(value.err);
    const parsed = anchor.AnchorError.parse(value.logs as string[]);
    assert.ok(parsed, `no AnchorError in ${JSON.stringify(value.logs)}`);
    assert.equal(parsed.error.errorCode.code, 'InsufficientAvailableBalance');
    assert.equal(parsed.error.errorCode.number, 6021);
    assert.equal(parsed.error.errorMessage, "The amount exceeds the vault's available balance");
    assert.equal(parsed.program.toBase58(), vault.COLLATERAL_VAULT_PROGRAM_ADDRESS);
    assert.equal(vault.getCollateralVaultErrorMessage(6021 as any), "The amount exceeds the vault's available balance");
  });

  test('@coral-xyz/anchor resolves the same accounts from the IDL', async () => {
    const connection = new anchor.web3.Connection(surfnet.rpcUrl, 'confirmed');
    const provider = new anchor.AnchorProvider(connection, new anchor.Wallet(Keypair.generate()), {});
    const idl = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'idl', `${name}.json`), 'utf8'));
    const vaultProgram = new anchor.Program(idl('collateral_vault'), provider);
    const pmProgram = new anchor.Program(idl('position_manager'), provider);
    const owner = new PublicKey(user.address);

    // Only the signer and the user's own token account: the vault, its token account (the ATA
    // PDA), the collateral mint (through the vault authority's relation) and the fixed
    // addresses are resolved by Anchor.
    const deposit = await vaultProgram.methods
      .deposit(new anchor.BN(1))
      .accountsPartial({ owner, userTokenAccount: new PublicKey(userTokenAccount) })
      .instruction();
    const codama = await vault.getDepositInstructionAsync({ owner: user, userTokenAccount, collateralMint: mint, amount: 1 });
    assert.deepEqual(deposit.keys.map((k) => k.pubkey.toBase58()), codama.accounts.map((a) => a.address));

    // The position manager's lock: the vault (a PDA of the vault program), this program's
    // CallerLock there, its caller PDA, config and margin account.
    const open = await pmProgram.methods.openPosition(new anchor.BN(1), new anchor.BN(0)).accountsPartial({ owner }).instruction();
    const codamaOpen = await pm.getOpenPositionInstructionAsync({ owner: user, amount: 1, size: 0 });
    assert.deepEqual(open.keys.map((k) => k.pubkey.toBase58()), codamaOpen.accounts.map((a) => a.address));
    assert.equal(open.keys[3].pubkey.toBase58(), vaultAddress);
  });
});
