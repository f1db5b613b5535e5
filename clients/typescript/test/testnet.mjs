// A real testnet for the client's tests: two nodes (`vouch-testnet up`) and two wallet daemons
// (`vouch-testnet agents`) on loopback, in a temporary folder. The binaries come from
// VOUCH_BIN_DIR, else the shared target folder's debug build (scripts/test.sh builds them).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export function binDir() {
  if (process.env.VOUCH_BIN_DIR) return process.env.VOUCH_BIN_DIR;
  return join(process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "vouch-target"), "debug");
}

/** Starts the testnet; its agents, and a function that stops it. */
export function startTestnet() {
  const folder = mkdtempSync(join(tmpdir(), "vouch-ts-"));
  const testnet = (...args) =>
    execFileSync(join(binDir(), "vouch-testnet"), ["--dir", folder, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    });
  const stop = () => {
    try {
      testnet("down");
    } catch {
      // already down
    }
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    testnet("up", "--nodes", "2", "--suite", "eddsa-jcs-2022");
    testnet("agents");
    const path = join(folder, "agents.json");
    return { agents: JSON.parse(readFileSync(path, "utf8")), path, stop };
  } catch (error) {
    stop();
    throw error;
  }
}
