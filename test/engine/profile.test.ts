import { suite, test } from "node:test";
import assert from "node:assert/strict";
import { LIMITS, isArgumentError, loadEngine } from "../../src/index.ts";
import { EXT, PSTATUS } from "../../src/engine/wasm/abi.ts";
import { DEFAULT_PROFILE, PROFILES, checkProfile, profileLifecycle } from "../../src/engine/profile.ts";
import { PROFILE_KINDS, profileEngine } from "./profile-fixtures.ts";

suite("loadEngine() profiles", () => {
  for (const kind of PROFILE_KINDS) {
    test(`engine.profile says which rules a ${kind} engine follows; the default is livekit-v1.2`, async () => {
      assert.equal((await loadEngine(kind)).profile, "livekit-v1.2");
      assert.equal((await loadEngine(kind, {})).profile, "livekit-v1.2");
      assert.equal((await profileEngine(kind, "livekit-v1.2")).profile, "livekit-v1.2");
      assert.equal((await profileEngine(kind, "livekit-current")).profile, "livekit-current");
    });

    test(`an unknown profile rejects with an ArgumentError naming it [${kind}]`, async () => {
      for (const profile of ["livekit", "LIVEKIT-CURRENT", 1, null]) {
        await assert.rejects(loadEngine(kind, { profile: profile as never }), (err: unknown) => {
          assert.ok(isArgumentError(err));
          assert.match((err as Error).message, new RegExp(`invalid profile: ${String(profile)}`));
          return true;
        });
      }
    });
  }

  test("the wasm module's score bound is LIMITS.maxScoresPerWindow", () => {
    assert.equal(EXT.MAX_SCORES, LIMITS.maxScoresPerWindow);
    assert.equal(PSTATUS.TOO_MANY_SCORES < 0, true);
  });

  test("the main entry exports the profile names and the guard", async () => {
    const api = await import("../../src/index.ts");
    assert.deepEqual(api.PROFILES, PROFILES);
    assert.equal(api.DEFAULT_PROFILE, "livekit-v1.2");
    assert.equal(api.isProfile("livekit-current"), true);
    assert.equal(api.isProfile("livekit"), false);
  });

  test("PROFILES lists both profiles, the default first", () => {
    assert.deepEqual(PROFILES, ["livekit-v1.2", "livekit-current"]);
    assert.equal(DEFAULT_PROFILE, PROFILES[0]);
    assert.equal(checkProfile(undefined), "livekit-v1.2");
  });

  test("the lifecycle of each profile: LiveKit's current one reports after close and reaps in flush every 30 s", () => {
    assert.deepEqual(profileLifecycle("livekit-v1.2"), { reportsAfterClose: false, reapsInFlush: false, flushIntervalMs: 10_000 });
    assert.deepEqual(profileLifecycle("livekit-current"), { reportsAfterClose: true, reapsInFlush: true, flushIntervalMs: 30_000 });
    // an engine made before profiles existed follows the default
    assert.equal(profileLifecycle(undefined), profileLifecycle("livekit-v1.2"));
  });
});
