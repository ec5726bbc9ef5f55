export async function createWasmEngine(): Promise<never> { throw new Error("not yet"); }
