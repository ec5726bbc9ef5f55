// The export surface of the engine module; the contract is src/engine/wasm/abi.ts.

export { abiLayoutHash, abiVersion } from "./layout";
export { scratchPtr, infoPtr, inputPtr } from "./input";
export { allocSlot, freeSlot, slotPtr, resetSlot, slotCount } from "./slots";
export { validateScratch } from "./validate";
export { foldScratch } from "./fold";
export { decodeFold } from "./decode";
export {
  routerCreate, workerCreate, workerClose, workerFree, workerPending, trackSlot, workerSlotRelease, slotMetaPtr,
} from "./registry";
export {
  drainList, drainEncode, drainCount, outputPtr, freedPtr, freedSlots, lendOutput, returnOutput,
} from "./encode";
export { ingestBatch, batchResultPtr } from "./batch";
export { setProfile, slotExtPtr, profileScratchPtr, mimeScratchPtr } from "./profile";
