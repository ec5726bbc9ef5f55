// The export surface of the engine module; the contract is src/engine/wasm/abi.ts.

export { abiLayoutHash, abiVersion } from "./layout";
import { trimInput } from "./input";
import { trimOutput } from "./encode";

export { scratchPtr, infoPtr, inputPtr } from "./input";
export { heapFreeBytes, setHeapLimit } from "./heap";
export { allocSlot, freeSlot, slotPtr, resetSlot, slotCount } from "./slots";
export { validateScratch } from "./validate";
export { foldScratch } from "./fold";
export { decodeFold, setFastDecode, fastDecodeMisses } from "./decode";
export {
  hashKey, hashProbes, setBounds, routerCreate, routerFree, workerCreate, workerClose, workerFree, workerPending, trackSlot, workerSlotRelease, slotMetaPtr,
} from "./registry";
export {
  drainList, drainEncode, drainCount, outputPtr, freedPtr, freedSlots, lendOutput, returnOutput, idPoolPtr, idPoolFilled,
} from "./encode";
export { ingestBatch, batchResultPtr } from "./batch";
export { setProfile, slotExtPtr, profileScratchPtr, mimeScratchPtr } from "./profile";

/**
 * Gives the input buffer, the output buffers and the drain lists back to the heap when one big
 * input or drain grew them past 64 KiB. The next inputPtr() returns a new address: the host must
 * forget the old one, and hold no view of the last drain's output.
 */
export function trimBuffers(): void {
  trimInput();
  trimOutput();
}
